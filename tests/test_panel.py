"""The record schema, the quality report and SeriesPanel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.report import DataQualityReport
from forecasting.data.schema import RECORD_COLUMNS, empty_records, normalize_records, validate_records
from forecasting.errors import DataError
from forecasting.panel import SeriesPanel


def records(values: dict[str, list[float]], start: str = "2020-01", **dims: str) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "series_id": sid,
                "month": pd.period_range(start, periods=len(v), freq="M"),
                "value": v,
                **dims,
            }
        )
        for sid, v in values.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_normalize_adds_every_canonical_column_and_sorts():
    frame = records({"b": [1.0, 2.0], "a": [3.0, 4.0]})
    out = normalize_records(frame)
    assert list(out.columns[: len(RECORD_COLUMNS)]) == list(RECORD_COLUMNS)
    assert out["series_id"].tolist() == ["a", "a", "b", "b"]
    assert out["flow"].isna().all()


def test_month_must_be_monthly_period():
    frame = records({"a": [1.0]})
    frame["month"] = frame["month"].astype(str)
    with pytest.raises(DataError, match="column 'month'.*Period"):
        normalize_records(frame, file="x.csv")


@pytest.mark.parametrize(
    ("values", "flow", "message"),
    [
        ([1.0, np.nan], "cargo", "NaN or infinite"),
        ([1.0, np.inf], "trade_value", "NaN or infinite"),
        ([1.0, -3.0], "passengers", "negative count"),
    ],
)
def test_validation_names_the_series_and_month(values, flow, message):
    frame = normalize_records(records({"heihe/passengers": values}, flow=flow))
    with pytest.raises(DataError, match=message) as info:
        validate_records(frame, file="in.csv")
    assert info.value.series == "heihe/passengers"
    assert "heihe/passengers@2020-02" in str(info.value)
    assert "file in.csv" in str(info.value)


def test_negative_values_allowed_for_trade_balance():
    frame = normalize_records(records({"balance": [-5.0, 3.0]}, flow="trade_value"))
    validate_records(frame)


def test_duplicate_month_and_mixed_units_are_errors():
    frame = normalize_records(records({"a": [1.0, 2.0]}))
    doubled = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="duplicate"):
        validate_records(doubled)
    mixed = frame.copy()
    mixed["unit"] = ["tonnes", "thousand tonnes"]
    with pytest.raises(DataError, match="mixed units") as info:
        validate_records(mixed)
    assert info.value.series == "a"


def test_empty_input_is_an_error():
    with pytest.raises(DataError, match="empty"):
        validate_records(empty_records())


def test_panel_keeps_missing_months_missing():
    frame = records({"a": [1.0, 2.0, 3.0, 4.0]}, flow="cargo", unit="tonnes")
    frame = frame.drop(index=1)
    panel = SeriesPanel(frame)
    series = panel.series("a")
    assert series.index.astype(str).tolist() == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert np.isnan(series.iloc[1]) and series.iloc[2] == 3.0
    spans = panel.spans()
    assert spans.loc["a", "observed"] == 3 and spans.loc["a", "missing"] == 1
    assert panel.metadata.loc["a", "unit"] == "tonnes"


def test_wide_aligns_series_on_one_month_index():
    panel = SeriesPanel(
        records({"a": [1.0, 2.0, 3.0]}).pipe(lambda f: pd.concat([f, records({"b": [9.0]}, "2020-03")]))
    )
    wide = panel.wide()
    assert wide.shape == (3, 2)
    assert wide.loc[pd.Period("2020-03", "M"), "b"] == 9.0
    assert np.isnan(wide.loc[pd.Period("2020-01", "M"), "b"])


def test_filter_subset_until_and_iteration():
    frame = pd.concat(
        [records({"a": [1.0, 2.0, 3.0]}, flow="cargo"), records({"b": [4.0, 5.0, 6.0]}, flow="passengers")]
    )
    panel = SeriesPanel(frame)
    assert panel.filter(flow="cargo").series_ids == ["a"]
    assert len(panel.until("2020-02").records) == 4
    assert dict((sid, s.sum()) for sid, s in panel) == {"a": 6.0, "b": 15.0}
    with pytest.raises(DataError, match="unknown dimension"):
        panel.filter(colour="red")
    with pytest.raises(DataError, match="no data on or before"):
        panel.until("2019-01")


def test_a_part_of_a_panel_is_the_panel_its_rows_would_make():
    """``part`` skips validating rows already validated: it must build what the constructor builds."""
    frame = pd.concat(
        [
            records({"a": [1.0, 2.0, 3.0]}, flow="cargo", crossing="heihe"),
            records({"b": [4.0, 5.0, 6.0]}, start="2020-02", flow="passengers", crossing="suifenhe"),
            records({"c": [7.0, 8.0]}, flow="cargo", crossing="manzhouli"),
        ]
    )
    panel = SeriesPanel(frame, DataQualityReport(source="x.csv"))
    kept = (panel.records["series_id"] != "a") & (panel.records["month"] <= pd.Period("2020-03", "M"))
    rows = panel.records[kept]
    part, rebuilt = panel.part(rows), SeriesPanel(rows, panel.report)
    pd.testing.assert_frame_equal(part.records, rebuilt.records)
    pd.testing.assert_frame_equal(part.metadata, rebuilt.metadata)
    assert part.report is panel.report
    assert part.series_ids == ["b", "c"]
    assert not part.structure.aggregates
    with pytest.raises(DataError, match="no records"):
        panel.part(rows.iloc[:0])


def test_dimension_changing_within_series_is_an_error():
    frame = records({"a": [1.0, 2.0]})
    frame["crossing"] = ["heihe", "manzhouli"]
    with pytest.raises(DataError, match="'crossing' changes within the series") as info:
        SeriesPanel(frame)
    assert info.value.series == "a"


def test_from_long_parses_month_strings():
    frame = pd.DataFrame({"id": ["x", "x"], "date": ["2023-01-01", "2023-02-01"], "y": [1, 2]})
    panel = SeriesPanel.from_long(frame, series_col="id", month_col="date", value_col="y")
    assert str(panel.records["month"].iloc[1]) == "2023-02"


def test_quality_report_counts_and_formats():
    report = DataQualityReport(source="bts.csv", rows_read=10)
    report.add("dropped", "exact duplicate row", count=2, rows=[3, 7], file="bts.csv")
    report.add("flagged", "gap", series_id="a", month="2020-02")
    assert report.count() == 3 and report.count("dropped") == 2
    text = report.format()
    assert "rows read: 10" in text and "exact duplicate row" in text and "rows 3, 7" in text
    assert report.to_frame()["action"].tolist() == ["dropped", "flagged"]
    with pytest.raises(ValueError, match="must be one of"):
        report.add("ignored", "nope")
