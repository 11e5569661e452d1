"""Error scales and MASE: one definition for the backtest, the metrics, the models and ``auto``.

The MASE scale of a series is the mean absolute seasonal difference of its
training window (lag ``SEASON_LENGTH``), or the first difference when no
seasonal pair is observed (less than a season and a month). Differences are
taken on the regular monthly grid: a pair with a missing month is left out
rather than bridged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.core.constants import SEASON_LENGTH


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


def series_scales(wide: pd.DataFrame, season_length: int = SEASON_LENGTH) -> pd.DataFrame:
    """``scale_mase`` and ``scale_rmsse`` per series of a wide training frame (months x series)."""
    mae, mse = seasonal_scales(wide.to_numpy(dtype="float64"), season_length)
    return pd.DataFrame(
        {"scale_mase": mae, "scale_rmsse": mse},
        index=pd.Index(np.asarray(wide.columns, dtype=object), name="series_id"),
    )


def scaled_errors(forecast, actual, scale) -> np.ndarray:
    """``|forecast - actual| / scale`` per row; NaN where the scale is not positive (constant history)."""
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
