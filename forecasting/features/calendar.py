"""Monthly calendar regressors for China-Russia border flows, from the ``holidays`` package.

Every feature is defined for any past or future month: holiday calendars are
known in advance, so forecasts never need an unknown regressor. Holiday
*breaks* are the contiguous runs of non-working days (weekends and public
holidays, minus the official make-up working Saturdays/Sundays the package
lists in ``weekend_workdays``) that contain an anchor holiday. For example the
2024 Spring Festival break is 10-17 February: the package lists 10-16 February
as holidays, 17 February is a Saturday and 18 February a make-up working day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import holidays
import numpy as np
import pandas as pd

from forecasting.core.calendar import (
    as_months,
    calendar_years,
    is_non_working,
    national_calendar,
    working_days,
)

SPRING_FESTIVAL_LEAD_DAYS = 14
"""Days before the Spring Festival break in which factories wind down and cargo slows."""

CALENDAR_COLUMNS: tuple[str, ...] = (
    "spring_festival_days",
    "days_before_spring_festival",
    "ru_new_year_holidays",
    "ru_may_holidays",
    "cn_working_days",
    "ru_working_days",
    "days_in_month",
)


def _break_days(country: str, years: range, anchors: Callable[[holidays.HolidayBase], list[dt.date]]) -> set:
    """Days of the contiguous non-working runs that contain an anchor holiday."""
    calendar = national_calendar(country, years.start, years.stop - 1)
    span = pd.date_range(dt.date(years.start - 1, 12, 1), dt.date(years.stop, 1, 31), freq="D")
    off = is_non_working(calendar, span)
    run_id = np.cumsum(np.r_[True, off[1:] != off[:-1]])
    anchor_days = pd.DatetimeIndex([pd.Timestamp(d) for d in anchors(calendar)])
    inside = anchor_days[(anchor_days >= span[0]) & (anchor_days <= span[-1])]
    in_break = off & np.isin(run_id, run_id[span.get_indexer(inside)])
    return set(span[in_break])


def _spring_festival_anchors(calendar: holidays.HolidayBase) -> list[dt.date]:
    return [d for d, name in calendar.items() if "Chinese New Year" in name]


def _russian_new_year_anchors(calendar: holidays.HolidayBase) -> list[dt.date]:
    return [dt.date(year, 1, 1) for year in calendar.years]


def _russian_may_anchors(calendar: holidays.HolidayBase) -> list[dt.date]:
    return [dt.date(year, 5, day) for year in calendar.years for day in (1, 9)]


def _count_per_month(days: Iterable[pd.Timestamp], months: pd.PeriodIndex) -> np.ndarray:
    counts = pd.Series(1, index=pd.DatetimeIndex(sorted(days)), dtype="int64")
    per_month = counts.groupby(counts.index.to_period("M")).sum() if len(counts) else counts
    return per_month.reindex(months, fill_value=0).to_numpy(dtype="float64")


def spring_festival_days(months: pd.PeriodIndex) -> pd.Series:
    """Days of the official Chinese Spring Festival break falling in each month."""
    months = as_months(months)
    days = _break_days("CN", calendar_years(months), _spring_festival_anchors)
    return pd.Series(_count_per_month(days, months), index=months, name="spring_festival_days")


def _days_before_spring_festival(months: pd.PeriodIndex) -> np.ndarray:
    breaks = pd.DatetimeIndex(sorted(_break_days("CN", calendar_years(months), _spring_festival_anchors)))
    # Compare timedeltas, not asi8 integers: their unit follows the resolution pandas infers (ns, s).
    # No break at all (years before 1950, which ``holidays`` has none for): no lead days either.
    starts = breaks[np.r_[True, (breaks[1:] - breaks[:-1]) > pd.Timedelta(days=1)]] if len(breaks) else breaks
    lead = [
        start - pd.Timedelta(days=offset)
        for start in starts
        for offset in range(1, SPRING_FESTIVAL_LEAD_DAYS + 1)
    ]
    return _count_per_month(lead, months)


def calendar_features(months: pd.PeriodIndex) -> pd.DataFrame:
    """Calendar regressors for each month: ``month`` plus the numeric :data:`CALENDAR_COLUMNS`.

    ``days_before_spring_festival`` counts the days of the month that fall in
    the :data:`SPRING_FESTIVAL_LEAD_DAYS` days before the break starts.
    """
    months = as_months(months)
    years = calendar_years(months)
    frame = pd.DataFrame({"month": months})
    frame["spring_festival_days"] = spring_festival_days(months).to_numpy()
    frame["days_before_spring_festival"] = _days_before_spring_festival(months)
    new_year = _break_days("RU", years, _russian_new_year_anchors)
    frame["ru_new_year_holidays"] = _count_per_month(new_year, months)
    frame["ru_may_holidays"] = _count_per_month(_break_days("RU", years, _russian_may_anchors), months)
    frame["cn_working_days"] = working_days(months, "CN").to_numpy()
    frame["ru_working_days"] = working_days(months, "RU").to_numpy()
    frame["days_in_month"] = months.days_in_month.to_numpy(dtype="float64")
    return frame
