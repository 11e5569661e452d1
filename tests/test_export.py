"""Forecast CSV exports: schema, formula neutralisation and atomic writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from forecasting.errors import DataError
from forecasting.export import (
    export_columns,
    export_forecasts,
    forecast_table,
    neutralise_formulas,
    utc_timestamp,
    write_csv_atomic,
)
from forecasting.models.baselines import SeasonalNaive
from forecasting.panel import SeriesPanel


def _panel() -> SeriesPanel:
    months = pd.period_range("2020-01", periods=24, freq="M")
    frames = [
        pd.DataFrame(
            {
                "series_id": "heihe/passengers/inbound",
                "month": months,
                "value": range(100, 124),
                "crossing": "heihe",
                "flow": "passengers",
                "direction": "inbound",
                "unit": "persons",
            }
        ),
        pd.DataFrame(
            {
                "series_id": "manzhouli/cargo/import",
                "month": months,
                "value": [float(v) for v in range(24)],
                "crossing": '=HYPERLINK("http://x")',
                "flow": "cargo",
                "unit": "tonnes",
            }
        ),
    ]
    return SeriesPanel(pd.concat(frames, ignore_index=True))


def _table(run_id: str = "run1") -> pd.DataFrame:
    panel = _panel()
    forecasts = SeasonalNaive().fit(panel).predict(3)
    return forecast_table(forecasts, panel.metadata, run_id=run_id, generated_at="2026-11-23T13:00:00Z")


def test_forecast_table_has_the_stable_schema_and_values() -> None:
    table = _table()
    assert list(table.columns) == [
        "series_id",
        "crossing",
        "region",
        "flow",
        "measure",
        "direction",
        "currency",
        "source",
        "month",
        "model",
        "forecast",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
        "unit",
        "run_id",
        "generated_at",
        "reconciliation",
    ]
    assert len(table) == 6
    heihe = table[table["series_id"] == "heihe/passengers/inbound"]
    assert heihe["month"].tolist() == ["2022-01", "2022-02", "2022-03"]
    # seasonal naive: same month last year (2021-01 = 112, ...)
    assert heihe["forecast"].tolist() == [112.0, 113.0, 114.0]
    assert heihe["unit"].unique().tolist() == ["persons"]
    assert heihe["direction"].unique().tolist() == ["inbound"]
    assert table["run_id"].unique().tolist() == ["run1"]


def test_formula_cells_are_neutralised_but_numbers_are_not() -> None:
    table = _table()
    cargo = table[table["series_id"] == "manzhouli/cargo/import"]
    assert cargo["crossing"].unique().tolist() == ['\'=HYPERLINK("http://x")']
    frame = pd.DataFrame({"text": ["+1", "-2", "@x", "\tcmd", "\rcmd", "ok", None], "n": [-1.0] * 7})
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:6] == ["'+1", "'-2", "'@x", "'\tcmd", "'\rcmd", "ok"]
    assert pd.isna(out["text"].iloc[6])
    assert (out["n"] == -1.0).all()


def test_forecast_table_rejects_series_without_metadata() -> None:
    panel = _panel()
    forecasts = SeasonalNaive().fit(panel).predict(2)
    with pytest.raises(DataError, match="without metadata"):
        forecast_table(forecasts, panel.metadata.iloc[:1], run_id="r")


def test_export_writes_dated_and_latest_files_that_read_back(tmp_path) -> None:
    table = _table()
    dated, latest = export_forecasts(table, tmp_path / "out", "border", pd.Period("2021-12", freq="M"))
    assert dated.name == "forecasts_border_2021-12.csv"
    assert latest.name == "forecasts_border_latest.csv"
    for path in (dated, latest):
        back = pd.read_csv(path, dtype={"month": str})
        assert list(back.columns) == export_columns()
        assert back["forecast"].tolist() == table["forecast"].tolist()
        assert back["month"].tolist() == table["month"].tolist()
    assert dated.read_bytes() == latest.read_bytes()
    assert not dated.read_text(encoding="utf-8").startswith("index")


def test_crash_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "forecasts_border_latest.csv"
    write_csv_atomic(pd.DataFrame({"a": [1, 2]}), path)
    before = path.read_bytes()

    def crash(self, handle, **kwargs):
        handle.write("a\n99\n")  # part of the new content reaches the disk, then the process dies
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    with pytest.raises(OSError, match="disk full"):
        write_csv_atomic(pd.DataFrame({"a": [3, 4, 5]}), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_utc_timestamp_is_iso_8601_z() -> None:
    assert utc_timestamp(datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
