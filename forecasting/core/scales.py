"""Error scales and MASE: one definition for the backtest, the metrics, the models and ``auto``.

The MASE scale of a series is the mean absolute seasonal difference of its
training window (lag ``SEASON_LENGTH``), or the first difference when no
seasonal pair is observed (less than a season and a month). Differences are
taken on the regular monthly grid: a pair with a missing month is left out
rather than bridged.

A scale that cannot vanish (:func:`floored_scales`, :data:`MIN_SCALE_SHARE`):
when the seasonal scale is below 1 % of the series' mean absolute level over
the training window, its seasonal differences say nothing about the series:
years of zeros or of one repeated value, then a new level after a gap with no
seasonal pair across it (Tornillo's loaded truck containers on BTS: zeros to
2017-03, unreported until 2023-07, then thousands). Dividing by it would turn
any error of the series into a MASE in the hundreds of thousands. Such a
series takes the naive (lag-1) scale instead, the month-to-month moves it did
show, floored at 1 % of the level; a window without a seasonal pair whose
naive scale is 0 (a repeated value) takes the floor too. An all-zero window
has level 0 and keeps scale 0: its scaled metrics are undefined (NaN, left out
of summaries and listed), never infinite. A window that is zero but for a
blip, scored on months after a jump it gave no sign of (Tornillo at the 2022
backtest cutoffs), has a level as tiny as its scale and keeps it: no in-sample
scale can foresee that jump, so summaries over series use a trimmed mean
(:mod:`forecasting.evaluation.metrics`).

Why 1 %: below it were only windows with no seasonal change at all and
Tornillo's container series after their jump; every ordinary series of the
development sets (BTS, M1 monthly, the trade tables, the sample) sits above it
at every origin measured, so their scales are unchanged
(docs/experiments/scale-floor.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.core.constants import SEASON_LENGTH

MIN_SCALE_SHARE = 0.01
"""Share of a series' mean absolute level below which its seasonal MASE scale counts as vanished.

At the floor an error of 1 % of the level is one unit of MASE; below this share
no ordinary series of the development sets had its scale (module docstring).
"""


def lagged_moments(values: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column, mean absolute and mean squared ``lag``-difference over the pairs observed at both ends."""
    diffs = values[lag:] - values[:-lag] if len(values) > lag else np.empty((0, values.shape[1]))
    observed = np.isfinite(diffs)
    count = observed.sum(axis=0)
    filled = np.where(observed, diffs, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mae = np.where(count > 0, np.abs(filled).sum(axis=0) / count, np.nan)
        mse = np.where(count > 0, (filled**2).sum(axis=0) / count, np.nan)
    return mae, mse


def seasonal_scales(values: np.ndarray, season_length: int = SEASON_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values`` (months x series, NaN where missing): the MASE and RMSSE scales.

    The in-sample seasonal-naive MAE and MSE, or the naive ones for a column
    with no observed seasonal pair; NaN for a column with no pair at all.
    """
    seasonal_mae, seasonal_mse = lagged_moments(values, season_length)
    naive_mae, naive_mse = lagged_moments(values, 1)
    seasonal = np.isfinite(seasonal_mae)
    return np.where(seasonal, seasonal_mae, naive_mae), np.where(seasonal, seasonal_mse, naive_mse)


def mean_levels(values: np.ndarray) -> np.ndarray:
    """Per column, the mean absolute observed value (NaN for a column with none): the floor's unit."""
    observed = np.isfinite(values)
    count = observed.sum(axis=0)
    total = np.abs(np.where(observed, values, 0.0)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def floored_scales(
    values: np.ndarray, season_length: int = SEASON_LENGTH, share: float = MIN_SCALE_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`seasonal_scales` that cannot vanish while the series has a level (module docstring).

    Where the seasonal MAE is below ``share`` of the mean absolute level, the
    naive MAE/MSE take over, floored at ``share * level`` (its square for the
    MSE); a window with no seasonal pair keeps its naive scale unless that is 0.
    """
    seasonal_mae, seasonal_mse = lagged_moments(values, season_length)
    naive_mae, naive_mse = lagged_moments(values, 1)
    floor = share * mean_levels(values)
    has_seasonal = np.isfinite(seasonal_mae)
    with np.errstate(invalid="ignore"):
        vanished = np.where(has_seasonal, seasonal_mae < floor, naive_mae == 0) & (floor > 0)
    mae = np.where(has_seasonal, seasonal_mae, naive_mae)
    mse = np.where(has_seasonal, seasonal_mse, naive_mse)
    floored_mae = np.fmax(np.where(has_seasonal, naive_mae, np.nan), floor)
    floored_mse = np.fmax(np.where(has_seasonal, naive_mse, np.nan), floor**2)
    return np.where(vanished, floored_mae, mae), np.where(vanished, floored_mse, mse)


def series_scales(wide: pd.DataFrame, season_length: int = SEASON_LENGTH) -> pd.DataFrame:
    """``scale_mase`` and ``scale_rmsse`` per series of a wide training frame (months x series).

    The seasonal-naive in-sample MAE and MSE, with the naive ones floored at 1 %
    of the series' mean absolute level when the seasonal ones vanish
    (:func:`floored_scales`); 0 for an all-zero window, NaN with no pair at all.
    """
    mae, mse = floored_scales(wide.to_numpy(dtype="float64"), season_length)
    return pd.DataFrame(
        {"scale_mase": mae, "scale_rmsse": mse},
        index=pd.Index(np.asarray(wide.columns, dtype=object), name="series_id"),
    )


def scaled_errors(forecast, actual, scale) -> np.ndarray:
    """``|forecast - actual| / scale`` per row; NaN where the scale is not positive (all-zero history)."""
    forecast = np.asarray(forecast, dtype="float64")
    actual = np.asarray(actual, dtype="float64")
    scale = np.asarray(scale, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(forecast - actual) / np.where(scale > 0, scale, np.nan)


def mase_by_series(results: pd.DataFrame) -> pd.Series:
    """MASE per ``(model, series_id)`` of a backtest table: the mean of its rows' scaled errors."""
    errors = pd.Series(
        scaled_errors(results["forecast"], results["actual"], results["scale_mase"]), index=results.index
    )
    return errors.groupby([results["model"], results["series_id"]], observed=True).mean().rename("mase")
