"""Year-to-date -> monthly, combined January+February splits, daily/weekly -> monthly sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.report import DataQualityReport
from forecasting.data.transforms import daily_to_monthly, split_combined, ytd_to_monthly
from forecasting.errors import DataError
from forecasting.features.calendar import working_days


def frame(series: str, months: list[str], values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": series,
            "month": pd.PeriodIndex(months, freq="M"),
            "value": values,
            "flow": "trade_value",
        }
    )


def test_ytd_differences_reset_every_january() -> None:
    records = frame("x", ["2022-11", "2022-12", "2023-01", "2023-02", "2023-03"], [110, 125, 10, 22, 40])
    report = DataQualityReport()
    monthly = ytd_to_monthly(records, report)
    assert monthly["value"].tolist() == [110, 15, 10, 12, 18]
    flagged = report.to_frame().query("action == 'flagged'")
    # the series starts in November: its first value covers January..November 2022
    assert flagged[["series_id", "month"]].values.tolist() == [["x", "2022-11"]]
    assert report.count("converted") == 5


def test_ytd_decrease_is_an_error_or_flagged() -> None:
    records = frame("x", ["2023-01", "2023-02", "2023-03"], [10, 22, 20])
    with pytest.raises(DataError, match=r"series 'x'.*falls in 2023-03"):
        ytd_to_monthly(records, DataQualityReport())
    report = DataQualityReport()
    monthly = ytd_to_monthly(records, report, on_decrease="flag")
    assert monthly["value"].tolist() == [10, 12, -2]
    assert report.to_frame().query("action == 'flagged'")["month"].tolist() == ["2023-03"]


def test_ytd_skipped_month_inside_a_year_is_an_error() -> None:
    with pytest.raises(DataError, match="skip a month before 2023-04"):
        ytd_to_monthly(frame("x", ["2023-01", "2023-02", "2023-04"], [1, 2, 4]), DataQualityReport())


def test_ytd_then_split_combined_january_february() -> None:
    # China customs style: first release of the year is January-February combined
    records = frame("x", ["2023-02", "2023-03", "2024-02", "2024-03"], [30, 45, 40, 50])
    report = DataQualityReport()
    monthly = ytd_to_monthly(records, report)
    assert monthly["value"].tolist() == [30, 15, 40, 10]
    split = split_combined(monthly, report, rule="equal")
    assert list(split["month"].astype(str)) == [
        "2023-01",
        "2023-02",
        "2023-03",
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    assert split["value"].tolist() == [15, 15, 15, 20, 20, 10]
    assert (split["flow"] == "trade_value").all()
    splits = report.to_frame().query("reason.str.startswith('combined')", engine="python")
    assert splits["month"].tolist() == ["2023-01..2023-02", "2024-01..2024-02"]


def test_split_by_working_days_uses_the_chinese_calendar() -> None:
    records = frame("x", ["2023-02"], [380.0])
    split = split_combined(records, DataQualityReport(), rule="working_days", country="CN")
    days = working_days(pd.period_range("2023-01", periods=2, freq="M"), "CN").to_numpy()
    expected_january = 380.0 * days[0] / days.sum()
    assert split["value"].tolist() == pytest.approx([expected_january, 380.0 - expected_january])
    assert split["value"].iloc[0] != pytest.approx(190.0)  # Spring Festival 2023 fell in January


def test_split_by_reference_series_shares() -> None:
    reference = pd.Series([30.0, 10.0], index=pd.period_range("2023-01", periods=2, freq="M"))
    split = split_combined(
        frame("x", ["2023-02"], [100.0]), DataQualityReport(), rule="reference", reference=reference
    )
    assert split["value"].tolist() == [75.0, 25.0]
    with pytest.raises(DataError, match="no usable January and February 2024"):
        split_combined(
            frame("x", ["2024-02"], [1.0]), DataQualityReport(), rule="reference", reference=reference
        )


def test_split_leaves_series_with_january_alone() -> None:
    records = frame("x", ["2023-01", "2023-02"], [1.0, 2.0])
    assert split_combined(records, DataQualityReport()) is records


def daily(series: str, start: str, end: str, value: float = 1.0) -> pd.DataFrame:
    days = pd.date_range(start, end, freq="D")
    return pd.DataFrame({"series_id": series, "date": days, "value": value, "flow": "passengers"})


def test_daily_to_monthly_drops_partial_months_unless_asked() -> None:
    counts = daily("heihe", "2023-01-15", "2023-03-31", 2.0)
    report = DataQualityReport()
    monthly = daily_to_monthly(counts, report)
    assert list(monthly["month"].astype(str)) == ["2023-02", "2023-03"]
    assert monthly["value"].tolist() == [56.0, 62.0]
    assert (monthly["flow"] == "passengers").all()
    partial = report.to_frame().query("action == 'dropped'")
    assert partial[["month", "reason"]].values.tolist() == [
        ["2023-01", "partial month: 17 of 31 days covered (left missing)"]
    ]
    kept = daily_to_monthly(counts, DataQualityReport(), include_partial=True)
    assert kept["value"].tolist() == [34.0, 56.0, 62.0]


def test_daily_missing_day_inside_a_month_makes_it_partial() -> None:
    counts = daily("x", "2023-04-01", "2023-04-30").drop(index=10)
    report = DataQualityReport()
    assert daily_to_monthly(counts, report).empty
    assert "29 of 30 days" in report.issues[0].reason


def test_weekly_counts_spread_over_their_days() -> None:
    # weeks ending on Sundays; the week ending 2023-02-05 has 2 days in January and 5 in February
    ends = pd.date_range("2023-01-08", "2023-03-05", freq="W-SUN")
    weekly = pd.DataFrame({"series_id": "x", "date": ends, "value": 70.0})
    monthly = daily_to_monthly(weekly, DataQualityReport(), frequency="W", include_partial=True)
    assert list(monthly["month"].astype(str)) == ["2023-01", "2023-02", "2023-03"]
    # January 2..31 = 30 days, February 28 days, March 1..5 = 5 days, at 10 per day
    assert monthly["value"].to_numpy() == pytest.approx(np.array([300.0, 280.0, 50.0]))


def test_daily_duplicate_date_is_an_error() -> None:
    counts = pd.concat([daily("x", "2023-01-01", "2023-01-02"), daily("x", "2023-01-02", "2023-01-02")])
    with pytest.raises(DataError, match="series 'x': date 2023-01-02 appears twice"):
        daily_to_monthly(counts.reset_index(drop=True), DataQualityReport())
