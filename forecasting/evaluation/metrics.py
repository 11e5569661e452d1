"""Accuracy metrics as plain functions over the backtest table.

Every metric is computed per series first (over all its folds and steps) and
then averaged over series, so a series with large numbers weighs no more than
a small one. Scaled metrics divide each row by the scale of *its own fold's*
training window (``scale_mase``, ``scale_rmsse`` columns of the backtest):

- ``mase``: mean |actual - forecast| / scale_mase.
- ``rmsse``: sqrt(mean (actual - forecast)^2 / scale_rmsse).
- ``smape``: mean 2|e| / (|actual| + |forecast|) in percent (0 when both are 0).
- ``mape``: mean |e| / |actual| in percent, over rows with actual != 0 only.
- ``bias``: mean (forecast - actual) / scale_mase; positive means over-forecasting.
- ``coverage_<l>``: share of actuals inside the ``l``% interval.
- ``width_<l>``: mean (upper - lower) / scale_mase.
- ``msis_95``: mean scaled interval score (Gneiting & Raftery; M4):
  (u - l + 2/a (l - y)[y < l] + 2/a (y - u)[y > u]) / scale_mase with a = 0.05.

A series whose training window is constant has a zero scale; its scaled
metrics are undefined (NaN) and left out of the averages over series, while
``n_series`` still counts it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.core.scales import scaled_errors

LEADERBOARD_COLUMNS = [
    "mase",
    "rmsse",
    "smape",
    "mape",
    "bias",
    "coverage_80",
    "coverage_95",
    "width_80",
    "width_95",
    "msis_95",
]


def row_terms(results: pd.DataFrame) -> pd.DataFrame:
    """The per-row quantities every metric averages (a backtest row or a live accuracy row)."""
    actual = results["actual"].to_numpy(dtype="float64")
    forecast = results["forecast"].to_numpy(dtype="float64")
    error = forecast - actual
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = results["scale_mase"].to_numpy(dtype="float64")
        scale = np.where(scale > 0, scale, np.nan)
        scale_sq = results["scale_rmsse"].to_numpy(dtype="float64")
        scale_sq = np.where(scale_sq > 0, scale_sq, np.nan)
        denominator = np.abs(actual) + np.abs(forecast)
        terms = {
            "mase": scaled_errors(forecast, actual, scale),
            "rmsse": error**2 / scale_sq,
            "smape": np.where(denominator > 0, 200.0 * np.abs(error) / denominator, 0.0),
            "mape": np.where(actual != 0, 100.0 * np.abs(error) / np.abs(actual), np.nan),
            "bias": error / scale,
        }
        for level in (80, 95):
            lower = results[f"lower_{level}"].to_numpy(dtype="float64")
            upper = results[f"upper_{level}"].to_numpy(dtype="float64")
            terms[f"coverage_{level}"] = ((actual >= lower) & (actual <= upper)).astype("float64")
            terms[f"width_{level}"] = (upper - lower) / scale
            if level == 95:
                alpha = 0.05
                penalty = (2 / alpha) * (np.maximum(lower - actual, 0) + np.maximum(actual - upper, 0))
                terms["msis_95"] = (upper - lower + penalty) / scale
    return pd.DataFrame(terms, index=results.index)


def _per_series(results: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    keys = [*by, "series_id"]
    terms = row_terms(results)
    terms[keys] = results[keys]
    grouped = terms.groupby(keys, observed=True, sort=False)
    per_series = grouped[LEADERBOARD_COLUMNS].mean()
    per_series["rmsse"] = np.sqrt(per_series["rmsse"])
    per_series["n_forecasts"] = grouped.size()
    return per_series


def _check_results(results: pd.DataFrame, by: Sequence[str]) -> None:
    needed = {"series_id", "actual", "forecast", "scale_mase", "scale_rmsse", *by}
    needed |= {f"{side}_{level}" for level in (80, 95) for side in ("lower", "upper")}
    missing = sorted(needed - set(results.columns))
    if missing:
        raise ValueError(f"The 'results' parameter must be a backtest table. It lacks column(s) {missing}.")


def _aggregate(results: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    by = list(by)
    _check_results(results, by)
    per_series = _per_series(results, by).reset_index()
    grouped = per_series.groupby(by, observed=True, sort=False)
    table = grouped[LEADERBOARD_COLUMNS].mean()
    table["n_series"] = grouped.size()
    table["n_forecasts"] = grouped["n_forecasts"].sum()
    return table


def leaderboard(results: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """One row per ``by`` group (default per model), best MASE first."""
    table = _aggregate(results, by).reset_index()
    return table.sort_values(["mase", *by], kind="stable").reset_index(drop=True)


def metrics_by_horizon(results: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model and forecast step (index ``model, step``): how accuracy decays with lead."""
    return _aggregate(results, ("model", "step")).sort_index()


def metrics_by_series(results: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model and series (index ``model, series_id``): where each model wins or fails."""
    _check_results(results, ("model",))
    return _per_series(results, ("model",)).sort_index()
