"""Series that stopped reporting: found once, reported by every command, not forecast unless asked.

A series whose last observation is more than ``max_stale_months`` before the
panel's last month has ended (a port closed, a measure was discontinued, a
roll-up lost its reporting children). Forecasting it from its own end would put
a "12-month forecast" years in the past; forecasting it into the panel's window
extrapolates across years without data. So ``data check`` and ``series build``
flag it, and ``forecast`` and ``retrain`` leave it out (reported) unless told
``--include-stale`` (job setting ``series.include_stale``).
"""

from __future__ import annotations

import pandas as pd

from forecasting.core.constants import DEFAULT_MAX_STALE_MONTHS
from forecasting.data.report import DataQualityReport, some_of
from forecasting.errors import ConfigError

STALE_COLUMNS = ["series_id", "last", "months_behind"]


def check_max_stale_months(value: object, key: str = "--max-stale-months") -> int:
    """A non-negative int of months; ConfigError naming ``key`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"must be a non-negative integer (months). Got {value!r}", key=key)
    return int(value)


def last_observed(records: pd.DataFrame) -> pd.Series:
    """Each series' last month with a value (series_id -> Period)."""
    last = records.groupby("series_id", observed=True)["month"].max()
    last.index = last.index.astype(str)
    return last


def stale_series(records: pd.DataFrame, max_stale_months: int = DEFAULT_MAX_STALE_MONTHS) -> pd.DataFrame:
    """``series_id, last, months_behind`` of the series that ended more than ``max_stale_months``
    before the panel's last month, oldest end first."""
    last = last_observed(records)
    if last.empty:
        return pd.DataFrame(columns=STALE_COLUMNS)
    behind = (last.max().ordinal - last.map(lambda month: month.ordinal)).astype("int64")
    table = pd.DataFrame(
        {"series_id": last.index, "last": last.to_numpy(), "months_behind": behind.to_numpy()}
    )
    table = table[table["months_behind"] > max_stale_months]
    return table.sort_values(["months_behind", "series_id"], ascending=[False, True]).reset_index(drop=True)


def stale_reason(panel_last: pd.Period, max_stale_months: int) -> str:
    """The report's reason for a stale series (one text, so reports group them)."""
    return (
        f"series ended more than {max_stale_months} month(s) before the panel's last month {panel_last}: "
        "not forecast unless --include-stale (series.include_stale in a job), or by a one-off forecast "
        "with --align series (each series from its own last month)"
    )


def report_stale(
    report: DataQualityReport, stale: pd.DataFrame, panel_last: pd.Period, max_stale_months: int
) -> None:
    """One flagged issue per stale series (month = its last observation)."""
    reason = stale_reason(panel_last, max_stale_months)
    for row in stale.itertuples(index=False):
        report.add("flagged", reason, series_id=row.series_id, month=str(row.last))


def flag_stale(report: DataQualityReport, records: pd.DataFrame, max_stale_months: int) -> pd.DataFrame:
    """Find the stale series of ``records`` and flag them in ``report``; returns them."""
    stale = stale_series(records, max_stale_months)
    if not stale.empty:
        report_stale(report, stale, records["month"].max(), max_stale_months)
    return stale


def stale_summary(stale: pd.DataFrame, panel_last: pd.Period, max_stale_months: int) -> str:
    """One line: how many series ended, when most of them did, a few names."""
    if stale.empty:
        return f"no series ended more than {max_stale_months} month(s) before {panel_last}"
    ends = stale["last"].astype(str).value_counts()
    return (
        f"{len(stale):,} series ended more than {max_stale_months} month(s) before {panel_last} "
        f"(most often in {ends.index[0]}: {int(ends.iloc[0]):,}), e.g. {some_of(list(stale['series_id']))}"
    )


def valueless_summary(series_ids: list[str]) -> str:
    """One line on the series a panel cannot forecast because none of their rows holds a value
    (:meth:`~forecasting.panel.SeriesPanel.valueless`): how many, a few names, where to look."""
    return (
        f"{len(series_ids):,} series of the input hold no value (every row blank or dropped), "
        f"e.g. {some_of(series_ids)}: not forecast; `forecasting data check` lists their rows"
    )
