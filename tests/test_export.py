"""Forecast CSV exports: schema, formula neutralisation and atomic writes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from forecasting.cli import main  # noqa: E402
from forecasting.errors import ConfigError, DataError  # noqa: E402
from forecasting.export import (  # noqa: E402
    check_significant_digits,
    export_columns,
    export_forecasts,
    forecast_table,
    neutralise_formulas,
    read_export,
    restore_formulas,
    round_forecasts,
    round_significant,
    rounded_columns,
    utc_timestamp,
    write_csv_atomic,
)
from forecasting.files import csv_dialect_of, render_csv  # noqa: E402
from forecasting.jobs.config import parse_config  # noqa: E402
from forecasting.models.baselines import SeasonalNaive  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402


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
    table = _table()  # the table keeps its text; the writer neutralises it, once
    cargo = table[table["series_id"] == "manzhouli/cargo/import"]
    assert cargo["crossing"].unique().tolist() == ['=HYPERLINK("http://x")']
    frame = pd.DataFrame({"text": ["+1", "-2", "@x", "\tcmd", "\rcmd", "ok", "'q", None], "n": [-1.0] * 8})
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:7] == ["'+1", "'-2", "'@x", "'\tcmd", "'\rcmd", "ok", "''q"]
    assert pd.isna(out["text"].iloc[7])
    assert (out["n"] == -1.0).all()
    assert restore_formulas(out).equals(frame)


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


# --- --round and --csv-dialect (issue 29) ---------------------------------------------------
def _awkward_table() -> pd.DataFrame:
    """Forecasts with many digits, negatives, zeros, a NaN-free spread of magnitudes."""
    table = _table()
    rng = np.random.default_rng(0)
    numbers = rounded_columns(table)
    base = rng.lognormal(4, 3, len(table)) * np.where(rng.random(len(table)) < 0.2, -1, 1)
    base[0] = 0.0
    base[1] = 0.1 + 0.2  # 0.30000000000000004
    for offset, column in enumerate(sorted(numbers, key=lambda c: (c != "forecast", c))):
        table[column] = base * (1 + offset / 7)
    return table


def test_round_forecasts_rounds_forecast_and_bounds_to_significant_digits_only() -> None:
    table = _table()
    table[["forecast", "lower_80", "upper_95"]] = [[1234.5678, -0.000123456, 98765.4321]] * len(table)
    rounded = round_forecasts(table, 3)
    assert rounded["forecast"].iloc[0] == 1230.0
    assert rounded["lower_80"].iloc[0] == -0.000123
    assert rounded["upper_95"].iloc[0] == 98800.0
    untouched = [c for c in table.columns if c not in rounded_columns(table)]
    assert rounded_columns(table) == ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    pd.testing.assert_frame_equal(rounded[untouched], table[untouched])
    assert round_forecasts(table, None) is table  # the default: full precision
    assert table["forecast"].iloc[0] == 1234.5678  # a copy is rounded


def test_rounding_keeps_intervals_nested() -> None:
    table = _table()
    table[["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]] = [
        [99.94, 99.96, 100.04, 100.06, 101.0]
    ] * len(table)
    rounded = round_forecasts(table, 3)
    ordered = rounded[["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()


def test_round_significant_matches_printf_g() -> None:
    values = np.array([123456.789, 0.00098765, -5.55, 0.0, 1e-20, 9.995, np.nan])
    assert_array = [float(f"{v:.2g}") for v in values]
    np.testing.assert_array_equal(round_significant(values, 2), assert_array)


@pytest.mark.parametrize("digits", [0, -1, 2.5, True, "3"])
def test_bad_significant_digits_name_the_key(digits) -> None:
    with pytest.raises(ConfigError, match="key '--round'"):
        check_significant_digits(digits)


@pytest.mark.parametrize("dialect", ["default", "excel-eu"])
@pytest.mark.parametrize("digits", [None, 4])
def test_both_dialects_read_back_exactly(tmp_path, dialect, digits) -> None:
    table = round_forecasts(_awkward_table(), digits)
    path = write_csv_atomic(table, tmp_path / "f.csv", dialect=dialect)
    assert csv_dialect_of(path) == dialect
    back = read_export(path, dtype={"month": str, "series_id": str, "run_id": str})
    assert list(back.columns) == export_columns()
    for column in rounded_columns(table):
        np.testing.assert_array_equal(back[column].to_numpy(), table[column].to_numpy())  # bit for bit
    assert back["crossing"].tolist()[-1] == '=HYPERLINK("http://x")'  # read back as it was
    assert "'=HYPERLINK(" in path.read_text(encoding="utf-8")  # neutralised in the file


def test_excel_eu_uses_semicolons_and_decimal_commas(tmp_path) -> None:
    table = _table()
    table[["forecast", "lower_80"]] = [[1234.5, -0.25]] * len(table)
    table["crossing"] = "a;b"  # a separator inside a cell is quoted
    path = write_csv_atomic(table, tmp_path / "f.csv", dialect="excel-eu")
    header, first = path.read_text(encoding="utf-8").splitlines()[:2]
    assert header == ";".join(export_columns())
    assert ";1234,5;-0,25;" in first and '"a;b"' in first
    assert render_csv(table, "excel-eu") == path.read_text(encoding="utf-8")
    assert render_csv(table) == write_csv_atomic(table, tmp_path / "g.csv").read_text(encoding="utf-8")


def test_an_unknown_dialect_is_refused_before_writing(tmp_path) -> None:
    with pytest.raises(ConfigError, match="must be one of"):
        write_csv_atomic(_table(), tmp_path / "f.csv", dialect="excel")
    assert not list(tmp_path.iterdir())


def test_export_forecasts_writes_the_dialect_to_both_files(tmp_path) -> None:
    dated, latest = export_forecasts(_table(), tmp_path, "border", "2021-12", dialect="excel-eu")
    assert csv_dialect_of(dated) == csv_dialect_of(latest) == "excel-eu"
    assert dated.read_bytes() == latest.read_bytes()


def test_job_settings_round_and_csv_dialect_are_validated() -> None:
    config = parse_config({"job": {"round": 4, "csv_dialect": "excel-eu"}})
    assert (config.round_digits, config.csv_dialect) == (4, "excel-eu")
    assert (parse_config({}).round_digits, parse_config({}).csv_dialect) == (None, "default")
    for job, key in (
        ({"round": 0}, "job.round"),
        ({"round": "3"}, "job.round"),
        ({"csv_dialect": "excel"}, "job.csv_dialect"),
    ):
        with pytest.raises(ConfigError, match=f"key '{key}'"):
            parse_config({"job": job})


def _long_csv(path: Path) -> Path:
    records = _panel().to_long()
    records["month"] = records["month"].astype(str)
    records[["series_id", "month", "value", "flow", "unit"]].to_csv(path, index=False)
    return path


def test_forecast_refuses_bad_round_before_any_work(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    data = _long_csv(tmp_path / "panel.csv")
    argv = ["forecast", "--input", str(data), "--horizon", "2", "--model", "naive", "--output", "f.csv"]
    assert main([*argv, "--round", "0"]) == 2
    assert "key '--round'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.csv"]  # no store, no output
    with pytest.raises(SystemExit):
        main([*argv, "--csv-dialect", "excel"])


@pytest.mark.slow
def test_forecast_writes_rounded_excel_eu_csv(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    data = _long_csv(tmp_path / "panel.csv")
    argv = ["forecast", "--input", str(data), "--horizon", "2", "--model", "naive", "--output"]
    assert main([*argv, "full.csv"]) == 0
    assert main([*argv, "eu.csv", "--round", "2", "--csv-dialect", "excel-eu"]) == 0
    full, eu = read_export(tmp_path / "full.csv"), read_export(tmp_path / "eu.csv")
    assert csv_dialect_of(tmp_path / "eu.csv") == "excel-eu"
    for column in rounded_columns(full):
        np.testing.assert_array_equal(eu[column].to_numpy(), round_significant(full[column].to_numpy(), 2))
    assert eu["series_id"].tolist() == full["series_id"].tolist()
