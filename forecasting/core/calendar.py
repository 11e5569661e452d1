"""Public holidays and working days per country: calendar facts for data repairs and calendar features.

Calendars come from the ``holidays`` package and are known for any past or
future month.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

from forecasting.errors import DataError

COUNTRIES: tuple[str, ...] = ("CN", "RU")


@lru_cache(maxsize=32)
def national_calendar(country: str, first_year: int, last_year: int) -> holidays.HolidayBase:
    """The national calendar for a year range (padded by a year for breaks across New Year)."""
    if country not in COUNTRIES:
        raise ValueError(f"The 'country' parameter must be one of {COUNTRIES}. Got {country!r} instead.")
    return holidays.country_holidays(country, years=range(first_year - 1, last_year + 2), language="en_US")


def as_months(months: Iterable) -> pd.PeriodIndex:
    """``months`` as a monthly PeriodIndex; DataError when they are not months or hold gaps."""
    try:
        index = pd.PeriodIndex(months, freq="M")
    except (TypeError, ValueError) as error:
        raise DataError(f"months must be monthly periods: {error}", column="month") from error
    if index.hasnans:
        raise DataError("months hold missing values", column="month")
    return index


def calendar_days(months: pd.PeriodIndex) -> pd.DatetimeIndex:
    """Every calendar day in the span of ``months``."""
    return pd.date_range(months.min().start_time, months.max().end_time.normalize(), freq="D")


def is_non_working(calendar: holidays.HolidayBase, days: pd.DatetimeIndex) -> np.ndarray:
    """Weekend (less official make-up working days) or public holiday, per day."""
    for year in range(days.min().year, days.max().year + 1):  # expand to these years, as ``in`` would
        calendar.get(f"{year}-01-01")
    weekend = days.day_of_week.to_numpy() >= 5
    holiday = days.isin(pd.DatetimeIndex(list(calendar.keys())))
    make_up = days.isin(pd.DatetimeIndex(list(calendar.weekend_workdays)))
    return (weekend & ~make_up) | holiday


def calendar_years(months: pd.PeriodIndex) -> range:
    """The calendar years ``months`` span."""
    return range(int(months.year.min()), int(months.year.max()) + 1)


def working_days(months: pd.PeriodIndex, country: str) -> pd.Series:
    """Working days per month: Mon-Fri, minus public holidays, plus official make-up working days.

    ``country`` is ``"CN"`` or ``"RU"``. Indexed by ``months``.
    """
    months = as_months(months)
    years = calendar_years(months)
    calendar = national_calendar(country, years.start, years.stop - 1)
    days = calendar_days(months)
    working = pd.Series(~is_non_working(calendar, days), index=days.to_period("M"))
    counts = working.groupby(level=0).sum().reindex(months).astype("float64")
    return pd.Series(counts.to_numpy(), index=months, name=f"{country.lower()}_working_days")
