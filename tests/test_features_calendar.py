"""Calendar regressors agree with the `holidays` package and exist for any month."""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import DataError
from forecasting.features.calendar import (
    CALENDAR_COLUMNS,
    SPRING_FESTIVAL_LEAD_DAYS,
    calendar_features,
    working_days,
)


def _new_year_day(year: int) -> dt.date:
    """The first Spring Festival day of ``year`` according to the holidays package."""
    china = holidays.China(years=year, language="en_US")
    return min(d for d, name in china.items() if name.startswith("Chinese New Year (Spring Festival)"))


@pytest.mark.parametrize("year", [2023, 2024])
def test_spring_festival_days_land_in_the_month_the_package_says(year: int) -> None:
    start = _new_year_day(year)
    months = pd.period_range(f"{year}-01", f"{year}-03", freq="M")
    features = calendar_features(months).set_index("month")
    festival_month = pd.Period(start, freq="M")
    assert features.loc[festival_month, "spring_festival_days"] >= 7
    assert features["spring_festival_days"].drop(festival_month).sum() == 0
    assert {2023: "2023-01", 2024: "2024-02"}[year] == str(festival_month)


def test_spring_festival_break_includes_weekend_but_not_make_up_working_day() -> None:
    # 2024 break: holidays 10-16 Feb, Saturday 17 Feb off, Sunday 18 Feb a make-up working day.
    features = calendar_features(pd.period_range("2024-02", periods=1, freq="M"))
    assert features["spring_festival_days"].iloc[0] == 8
    # the 14 lead days before 10 Feb: 27 Jan..9 Feb -> 5 in January, 9 in February
    january = calendar_features(pd.period_range("2024-01", periods=2, freq="M"))
    assert january["days_before_spring_festival"].tolist() == [5.0, 9.0]
    assert january["days_before_spring_festival"].sum() == SPRING_FESTIVAL_LEAD_DAYS


def test_working_days_count_make_up_days_and_holidays() -> None:
    months = pd.PeriodIndex(["2023-01", "2024-02"], freq="M")
    china = working_days(months, "CN")
    # Jan 2023: 22 weekdays - 2 Jan - 23..27 Jan + make-up Sat 28 and Sun 29 Jan
    # Feb 2024: 21 weekdays - 12..16 Feb + make-up Sun 4 Feb and Sun 18 Feb
    assert china.tolist() == [18.0, 18.0]
    russia = working_days(pd.PeriodIndex(["2024-01"], freq="M"), "RU")
    assert russia.iloc[0] == 17.0  # 23 weekdays minus 1-5 and 8 January


def test_working_days_rejects_unknown_country() -> None:
    with pytest.raises(ValueError, match="country"):
        working_days(pd.period_range("2024-01", periods=2, freq="M"), "US")


def test_russian_holidays_and_days_in_month() -> None:
    features = calendar_features(pd.period_range("2024-01", "2024-12", freq="M")).set_index("month")
    assert features.loc[pd.Period("2024-01", "M"), "ru_new_year_holidays"] == 8
    outside = features.drop([pd.Period("2024-01", "M"), pd.Period("2024-12", "M")])
    assert outside["ru_new_year_holidays"].sum() == 0
    assert features.loc[pd.Period("2024-05", "M"), "ru_may_holidays"] >= 4
    assert features["days_in_month"].tolist() == [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_features_exist_for_far_future_months_and_are_finite() -> None:
    months = pd.period_range("2026-01", periods=120, freq="M")
    features = calendar_features(months)
    assert list(features.columns) == ["month", *CALENDAR_COLUMNS]
    assert len(features) == 120
    assert np.isfinite(features[list(CALENDAR_COLUMNS)].to_numpy()).all()
    # every future year has a Spring Festival break of at least 3 days in Jan or Feb
    per_year = features.groupby(features["month"].dt.year)["spring_festival_days"].sum()
    assert (per_year >= 3).all()


def test_months_before_1950_have_no_spring_festival_break_and_do_not_crash() -> None:
    """``holidays`` knows China's official breaks from 1950: a 1930s panel crashed the default model."""
    for first, last in (("1925-01", "1939-12"), ("1948-01", "1951-12")):
        features = calendar_features(pd.period_range(first, last, freq="M"))
        early = features["month"].dt.year < 1950
        assert (features.loc[early, ["spring_festival_days", "days_before_spring_festival"]] == 0).all().all()
        assert features.loc[~early, "spring_festival_days"].sum() == 6 * (~early).any()  # 3 a year
        assert np.isfinite(features[list(CALENDAR_COLUMNS)].to_numpy()).all()


def test_bad_months_raise_data_error() -> None:
    with pytest.raises(DataError, match="month"):
        calendar_features(["not a month"])
