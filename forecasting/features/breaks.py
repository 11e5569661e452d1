"""Level shifts shared by many crossings of one measure: a change in what is counted, or an event.

A statistics office that changes how a measure is counted changes it at every
port at once. On the BTS file, inbound loaded truck containers rose by half
from 2023-07 at 85 ports together while trucks stayed flat: no model trained
on earlier years forecasts that, and an analyst should know it before reading
the forecasts. Border closures and reopenings look the same in the data and
are as worth knowing. One series' break is often noise; the same break in
most crossings of a measure in the same month is not.

The check, per group of per-crossing series that share every dimension but
the place (:data:`GROUP_KEYS`), on log values seasonally adjusted by each
series' median month-of-year deviation from its 12-month mean: a series
shifts at a month when the median of the next :data:`WINDOW` months differs
from the median of the previous :data:`WINDOW` by more than
:data:`MIN_RATIO` either way. A month is flagged when at least
:data:`MIN_SERIES` series and at least :data:`MIN_SHARE` of the group's
series observed there shift the same way; a run of flagged months is one
shift, dated at its month where the group's median shift between window
means is largest (where neither window straddles the break). Derived series
(sums, differences) and roll-ups are left out: they repeat what their parts
say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.report import LEVEL_SHIFT, LEVEL_SHIFT_NOTE, DataQualityReport
from forecasting.features.hierarchy import DERIVED_SOURCE
from forecasting.panel import SeriesPanel

GROUP_KEYS: tuple[str, ...] = ("flow", "measure", "direction", "unit", "currency")
WINDOW = 6
"""Months on each side of a candidate shift; the median of each side resists single outliers."""
MIN_RATIO = 1.25
"""A series shifts when its level after is at least 1.25x (or at most 1/1.25x) its level before."""
MIN_SERIES = 5
MIN_SHARE = 0.5
SHIFT_COLUMNS = ["group", "month", "direction", "series_shifting", "series_observed", "median_ratio"]


def shared_level_shifts(panel: SeriesPanel) -> pd.DataFrame:
    """One row per shift shared by a group of per-crossing series (:data:`SHIFT_COLUMNS`)."""
    metadata = panel.metadata
    reported = metadata[metadata["crossing"].notna() & metadata["source"].ne(DERIVED_SOURCE).fillna(True)]
    if reported.empty:
        return pd.DataFrame(columns=SHIFT_COLUMNS)
    wide = panel.wide()
    keys = reported.reindex(columns=list(GROUP_KEYS)).astype("string").fillna("")
    rows = []
    for group, members in keys.groupby(list(GROUP_KEYS), sort=True).groups.items():
        if len(members) < MIN_SERIES:
            continue
        adjusted = _seasonally_adjusted_logs(wide.reindex(columns=members))
        label = " ".join(part for part in group if part)
        shifts = _shared(_window_shifts(adjusted, "median"), _window_shifts(adjusted, "mean"))
        rows += [(label, *shift) for shift in shifts]
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def report_shared_level_shifts(panel: SeriesPanel, report: DataQualityReport) -> pd.DataFrame:
    """Flag each shared shift in ``report`` (no value is changed); returns them."""
    shifts = shared_level_shifts(panel)
    for row in shifts.itertuples(index=False):
        report.add(
            "flagged",
            f"level shift shared by {row.series_shifting} of {row.series_observed} crossings of "
            f"'{row.group}': {row.direction}, median x{row.median_ratio:.2f} ({WINDOW} months each side, "
            f"seasonally adjusted); {LEVEL_SHIFT_NOTE}",
            count=int(row.series_shifting),
            month=str(row.month),
            kind=LEVEL_SHIFT,
        )
    return shifts


def _seasonally_adjusted_logs(wide: pd.DataFrame) -> pd.DataFrame:
    """Log values (NaN where not positive) minus each series' seasonal index."""
    values = wide.astype("float64")
    logs = np.log(values.where(values > 0))
    return logs - _seasonal_index(logs)


def _window_shifts(adjusted: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """Per series and month, level of the next WINDOW months minus that of the previous WINDOW.

    ``statistic`` of each window: the median resists outliers (detection); the
    mean moves with every month of the window, so it peaks at the break (dating).
    """
    after = adjusted[::-1].rolling(WINDOW, min_periods=WINDOW - 2).agg(statistic)[::-1]
    before = adjusted.shift(1).rolling(WINDOW, min_periods=WINDOW - 2).agg(statistic)
    return after - before


def _seasonal_index(logs: pd.DataFrame) -> pd.DataFrame:
    """Each series' median deviation from its centred 12-month mean, by month of the year."""
    level = logs.rolling(12, center=True, min_periods=9).mean()
    calendar_month = pd.PeriodIndex(logs.index, freq="M").month
    index = (logs - level).groupby(calendar_month).median()
    return index.reindex(calendar_month).set_axis(logs.index).fillna(0.0)


def _shared(shifts: pd.DataFrame, dating: pd.DataFrame) -> list[tuple[str, str, int, int, float]]:
    """(month, direction, shifting, observed, median ratio) per run of months where most series shift one way.

    ``dating``: the window-mean shifts, whose group median peaks at the break month.
    """
    observed = shifts.notna().sum(axis=1)
    threshold = np.log(MIN_RATIO)
    typical = dating.median(axis=1).abs()
    found = []
    for direction, moved in (("up", shifts >= threshold), ("down", shifts <= -threshold)):
        counts = moved.sum(axis=1)
        flagged = (counts >= MIN_SERIES) & (counts >= MIN_SHARE * observed)
        runs = (flagged != flagged.shift(fill_value=False)).cumsum()[flagged]
        for _, run in counts[flagged].groupby(runs):
            month = typical[run.index].idxmax()
            ratio = float(np.exp(shifts.loc[month][moved.loc[month]].median()))
            found.append((str(month), direction, int(counts[month]), int(observed[month]), round(ratio, 3)))
    return sorted(found)
