"""Calibrate reconciled intervals on backtest errors, one width factor per hierarchy level and level.

Reconciled sample paths are only as wide as the error covariance behind them
says. When that covariance is shrunk towards its diagonal (few residual rows),
a parent and a child with the same data look like two independent measurements
of one quantity, and MinT narrows both intervals by averaging them; a backtest
with shifting errors does the rest. On the BTS panel that left 95 % intervals
covering 88-89 %.

The remedy is split-conformal scaling: on reconciled backtest forecasts whose
actuals are known, each row's score is how far the actual lies from the
forecast in units of the interval's half-width on that side
(``(actual - forecast) / (upper - forecast)`` above the forecast, likewise
below); the factor for a hierarchy level and an interval level ``l`` is the
``ceil((n + 1) l / 100) / n`` empirical quantile of the ``n`` scores. Every
interval of that hierarchy level is then stretched by the factor around its
point forecast, so the backtest coverage of each level is at least ``l`` %.
A row whose interval has no width on the actual's side is no score: no factor
can widen it.

Calibration only widens (the factor is at least 1). The backtest folds are a
few recent months, and a level whose reconciled intervals over-covered there
may well under-cover next: on BTS with ETS base forecasts, MinT's intervals
over-covered the 2022 fold (quantiles 0.7-0.9) and under-covered 2023, so
narrowing them took 95 % coverage from 0.889 to 0.856. The raw sample paths
are the floor; evidence of too narrow intervals widens them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.core.intervals import interval_columns
from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.reconciliation.frames import UNRECONCILED

FACTOR_COLUMNS = ["level", "interval", "quantile", "factor", "n_scores"]
"""``quantile``: the conformal quantile of the scores; ``factor``: what widens, ``max(quantile, 1)``."""


def interval_factors(
    results: pd.DataFrame, structure: SummingStructure, levels: Sequence[int] = (80, 95)
) -> pd.DataFrame:
    """One width factor per hierarchy level and interval level, from reconciled forecasts with actuals.

    ``results`` needs ``series_id, actual, forecast, lower_<l>, upper_<l>``;
    rows without an actual or outside ``structure`` are not scores. Returns
    :data:`FACTOR_COLUMNS`; a level without scores has no row (its intervals
    stay as they are).
    """
    missing = [c for c in ("series_id", "actual", "forecast", *interval_columns(levels)) if c not in results]
    if missing:
        raise DataError(f"reconciled backtest rows lack column(s) {missing}")
    level_of = structure.level_of()
    rows = results[results["series_id"].astype(str).isin(level_of.index) & results["actual"].notna()]
    hierarchy_level = rows["series_id"].astype(str).map(level_of).to_numpy()
    actual = rows["actual"].to_numpy(dtype="float64")
    forecast = rows["forecast"].to_numpy(dtype="float64")
    out = []
    for interval in sorted(levels):
        scores = _scores(
            actual,
            forecast,
            rows[f"lower_{interval}"].to_numpy(dtype="float64"),
            rows[f"upper_{interval}"].to_numpy(dtype="float64"),
        )
        for level, group in pd.Series(scores).groupby(hierarchy_level, sort=True):
            valid = np.sort(group.dropna().to_numpy())
            if len(valid):
                quantile = _conformal_quantile(valid, interval)
                out.append((level, interval, quantile, max(quantile, 1.0), len(valid)))
    return pd.DataFrame(out, columns=FACTOR_COLUMNS)


def calibrate_intervals(
    forecasts: pd.DataFrame,
    factors: pd.DataFrame,
    structure: SummingStructure,
    *,
    nonnegative: bool = False,
) -> pd.DataFrame:
    """The forecast table with each reconciled row's intervals stretched by its level's ``factor``.

    Rows outside ``structure`` or marked ``reconciliation = none`` keep their
    base intervals. Point forecasts do not move; the intervals stay nested (a wider level
    never ends inside a narrower one); ``nonnegative`` keeps lower bounds at
    or above zero, as the reconciled forecasts are.
    """
    table = forecasts.copy()
    level_of = structure.level_of()
    hierarchy_level = table["series_id"].astype(str).map(level_of)
    if "reconciliation" in table:
        hierarchy_level = hierarchy_level.where(table["reconciliation"] != UNRECONCILED)
    forecast = table["forecast"].to_numpy(dtype="float64")
    intervals = sorted(int(i) for i in factors["interval"].unique())
    for interval in intervals:
        own = factors[factors["interval"] == interval].set_index("level")["factor"]
        factor = hierarchy_level.map(own).fillna(1.0).to_numpy(dtype="float64")
        lower, upper = f"lower_{interval}", f"upper_{interval}"
        table[lower] = forecast - factor * (forecast - table[lower].to_numpy(dtype="float64"))
        table[upper] = forecast + factor * (table[upper].to_numpy(dtype="float64") - forecast)
        if nonnegative:
            table[lower] = table[lower].clip(lower=0.0)
    for narrow, wide in zip(intervals, intervals[1:], strict=False):
        table[f"lower_{wide}"] = np.fmin(table[f"lower_{wide}"], table[f"lower_{narrow}"])
        table[f"upper_{wide}"] = np.fmax(table[f"upper_{wide}"], table[f"upper_{narrow}"])
    return table


def _scores(actual: np.ndarray, forecast: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Distance of the actual from the forecast in half-widths of the interval on its side (NaN: none)."""
    half_width = np.where(actual >= forecast, upper - forecast, forecast - lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(half_width > 0, np.abs(actual - forecast) / half_width, np.nan)


def _conformal_quantile(sorted_scores: np.ndarray, interval: int) -> float:
    """The ``ceil((n + 1) l / 100)``-th smallest score; the largest when that rank exceeds ``n``."""
    n = len(sorted_scores)
    rank = min(math.ceil((n + 1) * interval / 100), n)
    return float(sorted_scores[rank - 1])
