"""Calibrate reconciled intervals on backtest errors: per hierarchy level, a scale and shares of it.

Reconciled sample paths are only as wide as the error covariance behind them
says. When that covariance is shrunk towards its diagonal (few residual rows),
a parent and a child with the same data look like two independent measurements
of one quantity, and MinT narrows both intervals by averaging them; a backtest
with shifting errors does the rest. On the BTS panel that left 95 % intervals
covering 88-89 %.

The remedy is split-conformal scaling: on reconciled backtest forecasts whose
actuals are known, each row's score is how far the actual lies from the
forecast in units of the *widest* interval's half-width on that side
(``(actual - forecast) / (upper - forecast)`` above the forecast, likewise
below). For a hierarchy level, the widest interval (95 %) is stretched by
``max(q_95, 1)``, where ``q_l`` is the ``ceil((n + 1) l / 100) / n``
empirical quantile of the ``n`` scores; a narrower interval ``l`` gets the
share ``q_l / q_95`` of that calibrated half-width. So the backtest coverage
of each level is at least 95 % at 95 %, and the narrower intervals follow the
errors' own shape rather than the Gaussian sample paths': border series have
many small errors and a few large ones, so Gaussian 80 % bounds (0.65 of the
95 % distance) over-cover. With ETS base forecasts and 2019 held out, MinT's
calibrated 80 % intervals covered 0.849 of the series-months with their own
factor and 0.792 with the share (docs/experiments/reconciliation.md,
"Narrower reconciled intervals as shares of the widest").

The scale only widens (``max(q_95, 1)``). The backtest folds are a
few recent months, and a level whose reconciled intervals over-covered there
may well under-cover next: on BTS with ETS base forecasts, MinT's intervals
over-covered the 2022 fold (quantiles 0.7-0.9) and under-covered 2023, so
narrowing them took 95 % coverage from 0.889 to 0.856. The raw sample paths
are the floor of the widest interval; evidence of too narrow intervals widens
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.intervals import bounds_at_multiple, interval_columns
from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.reconciliation.frames import UNRECONCILED

FACTOR_COLUMNS = ["level", "interval", "quantile", "factor", "n_scores"]
"""``quantile``: the conformal quantile of the scores (against the widest interval's half-width);
``factor``: what the widest interval's raw half-width is multiplied by to give this interval's."""


def interval_factors(
    results: pd.DataFrame, structure: SummingStructure, levels: Sequence[int] = DEFAULT_LEVELS
) -> pd.DataFrame:
    """Per hierarchy level and interval level, the multiple of the widest raw half-width to use.

    ``results`` needs ``series_id, actual, forecast, lower_<l>, upper_<l>``;
    rows without an actual, without width on the actual's side of the widest
    interval, or outside ``structure`` are not scores. Returns
    :data:`FACTOR_COLUMNS`; a level without scores, or whose scores are all
    zero, has no rows (its intervals stay as they are).
    """
    missing = [c for c in ("series_id", "actual", "forecast", *interval_columns(levels)) if c not in results]
    if missing:
        raise DataError(f"reconciled backtest rows lack column(s) {missing}")
    widest = max(levels)
    level_of = structure.level_of()
    rows = results[results["series_id"].astype(str).isin(level_of.index) & results["actual"].notna()]
    scores = _scores(
        rows["actual"].to_numpy(dtype="float64"),
        rows["forecast"].to_numpy(dtype="float64"),
        rows[f"lower_{widest}"].to_numpy(dtype="float64"),
        rows[f"upper_{widest}"].to_numpy(dtype="float64"),
    )
    hierarchy_level = rows["series_id"].astype(str).map(level_of).to_numpy()
    out = []
    for level, group in pd.Series(scores).groupby(hierarchy_level, sort=True):
        valid = np.sort(group.dropna().to_numpy())
        scale = _conformal_quantile(valid, widest) if len(valid) else 0.0
        if scale <= 0:
            continue
        for interval in sorted(levels):
            quantile = _conformal_quantile(valid, interval)
            out.append((level, interval, quantile, max(scale, 1.0) * quantile / scale, len(valid)))
    return pd.DataFrame(out, columns=FACTOR_COLUMNS)


def calibrate_intervals(
    forecasts: pd.DataFrame,
    factors: pd.DataFrame,
    structure: SummingStructure,
    *,
    nonnegative: bool = False,
) -> pd.DataFrame:
    """The forecast table with each reconciled row's intervals set from its level's ``factor``.

    An interval's half-width on each side becomes ``factor`` times the widest
    interval's (the largest in ``factors``) on that side. Rows outside
    ``structure``, of a level without factors, or marked ``reconciliation =
    none`` keep their base intervals. Point forecasts do not move; the
    intervals stay nested (a wider level never ends inside a narrower one);
    ``nonnegative`` keeps lower bounds at or above zero, as the reconciled
    forecasts are.
    """
    table = forecasts.copy()
    level_of = structure.level_of()
    hierarchy_level = table["series_id"].astype(str).map(level_of)
    if "reconciliation" in table:
        hierarchy_level = hierarchy_level.where(table["reconciliation"] != UNRECONCILED)
    forecast = table["forecast"].to_numpy(dtype="float64")
    intervals = sorted(int(i) for i in factors["interval"].unique())
    if not intervals:
        return table
    widest_lower = table[f"lower_{intervals[-1]}"].to_numpy(dtype="float64")
    widest_upper = table[f"upper_{intervals[-1]}"].to_numpy(dtype="float64")
    for interval in intervals:
        own = factors[factors["interval"] == interval].set_index("level")["factor"]
        factor = hierarchy_level.map(own).to_numpy(dtype="float64")
        calibrated = np.isfinite(factor)
        lower, upper = f"lower_{interval}", f"upper_{interval}"
        stretched_lower, stretched_upper = bounds_at_multiple(forecast, widest_lower, widest_upper, factor)
        table[lower] = np.where(calibrated, stretched_lower, table[lower].to_numpy(dtype="float64"))
        table[upper] = np.where(calibrated, stretched_upper, table[upper].to_numpy(dtype="float64"))
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
