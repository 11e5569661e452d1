"""Accuracy metrics as plain functions over the backtest table.

Every metric is computed per series first (over all its folds and steps) and
then summarised over series, so a series with large numbers weighs no more than
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

A series whose training window is all zero has a zero scale
(:mod:`forecasting.core.scales`); its scaled metrics are undefined (NaN) and
left out of the summaries over series, while ``n_series`` still counts it.

Summaries over series (:func:`leaderboard`): one series must not decide them.
A series scored on months its history gave no sign of (Tornillo's loaded truck
containers on BTS: zeros, years unreported, then thousands) can have a MASE in
the hundreds of thousands while the median series is near 1, and two such
series make a plain mean over a thousand series theirs
(docs/experiments/scale-floor.md). So the unbounded metrics (``mase``, ``rmsse``, ``mape``, ``bias``,
``width_<l>``, ``msis_95``) are the :data:`TRIM_SHARE` trimmed mean over
series (:func:`trimmed_mean`; with fewer than 10 series nothing is cut and it
is the mean); ``mase_median`` and ``mase_mean`` stand beside ``mase``. The bounded ones (``smape``,
``coverage_<l>``) stay plain means: no series moves them by more than its
share. Models are ranked by ``mase``, and the promotion gate compares it.
:func:`dominant_series` names the series that carry the mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from forecasting.core.scales import scaled_errors

TRIM_SHARE = 0.1
"""Share of series cut from each end before averaging an unbounded metric over series.

A tenth each side outnumbers by far the few series of a large panel that fail
on months their history gave no sign of, while 80 % of the series still count
(the median keeps one). Per-series MASE is skewed to the right, so the trimmed
mean sits below the mean even without such series. Fewer than 10 series:
nothing is cut, it is the mean.
"""
MASE_AGGREGATE = f"{TRIM_SHARE:.0%} trimmed mean over series"
"""What the leaderboard's ``mase`` (and so the promotion gate and the MLflow metric ``mase``) is."""
TOP_SHARE = 0.01
""":func:`dominant_series`: the largest 1 % of a model's series (rounded down) ..."""
SUM_SHARE = 0.5
"""... dominate the mean when they carry more than half of its sum."""
SCORE_COLUMNS = [
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
"""Per-series metrics, each the mean of its rows' terms (:func:`row_terms`)."""
TRIMMED_COLUMNS = ["mase", "rmsse", "mape", "bias", "width_80", "width_95", "msis_95"]
"""Unbounded per-series metrics, summarised over series by :func:`trimmed_mean`."""
LEADERBOARD_COLUMNS = ["mase", "mase_median", "mase_mean", *SCORE_COLUMNS[1:]]
"""A leaderboard row's metrics (logged to MLflow under these names)."""


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
    per_series = grouped[SCORE_COLUMNS].mean()
    per_series["rmsse"] = np.sqrt(per_series["rmsse"])
    per_series["n_forecasts"] = grouped.size()
    return per_series


def _check_results(results: pd.DataFrame, by: Sequence[str]) -> None:
    needed = {"series_id", "actual", "forecast", "scale_mase", "scale_rmsse", *by}
    needed |= {f"{side}_{level}" for level in (80, 95) for side in ("lower", "upper")}
    missing = sorted(needed - set(results.columns))
    if missing:
        raise ValueError(f"The 'results' parameter must be a backtest table. It lacks column(s) {missing}.")


def trimmed_mean(values: pd.Series) -> float:
    """Mean of the finite values without the :data:`TRIM_SHARE` lowest and highest (NaN when none)."""
    finite = values.to_numpy(dtype="float64")
    finite = finite[np.isfinite(finite)]
    return float(trim_mean(finite, TRIM_SHARE)) if finite.size else float("nan")


def _aggregate(results: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    by = list(by)
    _check_results(results, by)
    per_series = _per_series(results, by).reset_index()
    grouped = per_series.groupby(by, observed=True, sort=False)
    table = grouped[SCORE_COLUMNS].mean()
    table["mase_mean"] = table["mase"]
    table["mase_median"] = grouped["mase"].median()
    for column in TRIMMED_COLUMNS:
        table[column] = grouped[column].agg(trimmed_mean)
    table = table[LEADERBOARD_COLUMNS]
    table["n_series"] = grouped.size()
    table["n_forecasts"] = grouped["n_forecasts"].sum()
    return table


def leaderboard(results: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """One row per ``by`` group (default per model), best ``mase`` (the trimmed mean over series) first."""
    table = _aggregate(results, by).reset_index()
    return table.sort_values(["mase", *by], kind="stable").reset_index(drop=True)


def metrics_by_horizon(results: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model and forecast step (index ``model, step``): how accuracy decays with lead."""
    return _aggregate(results, ("model", "step")).sort_index()


def metrics_by_series(results: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model and series (index ``model, series_id``): where each model wins or fails."""
    _check_results(results, ("model",))
    return _per_series(results, ("model",)).sort_index()


def dominant_series(
    results: pd.DataFrame, *, top_share: float = TOP_SHARE, sum_share: float = SUM_SHARE
) -> pd.DataFrame:
    """Per model, the few series whose MASE carries its mean: why the ranking uses the trimmed mean.

    When the largest ``top_share`` of a model's series (rounded down: panels of
    fewer than 1 / ``top_share`` series are never flagged, one series being
    more than that share) carry more than ``sum_share`` of its MASE summed over
    series, the fewest of them that do are returned, largest first, with
    ``mase``, ``share`` (of the sum) and ``n_series``.
    """
    per_series = metrics_by_series(results)["mase"].dropna()
    rows = []
    for model, values in per_series.groupby(level="model", observed=True, sort=False):
        values = values.droplevel("model").sort_values(ascending=False, kind="stable")
        total, top = float(values.sum()), int(len(values) * top_share)
        if top < 1 or total <= 0 or values.iloc[:top].sum() <= sum_share * total:
            continue
        shares = values / total
        count = int(np.searchsorted(shares.cumsum().to_numpy(), sum_share, side="right")) + 1
        for series_id, mase in values.iloc[:count].items():
            rows.append((model, series_id, float(mase), float(mase / total), len(values)))
    return pd.DataFrame(rows, columns=["model", "series_id", "mase", "share", "n_series"])
