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
- ``msis_<w>``: mean scaled interval score (Gneiting & Raftery; M4) at the
  widest level ``w``: (u - l + 2/a (l - y)[y < l] + 2/a (y - u)[y > u]) / scale_mase
  with a = 1 - w/100 (``msis_95``, a = 0.05, at the default levels).

The levels ``l`` are the forecast request's (:class:`forecasting.core.request.ForecastRequest`):
each function takes ``levels``, and without them scores every level whose
``lower_<l>``/``upper_<l>`` columns the table holds (:func:`table_levels`).

A series whose training window is all zero has a zero scale
(:mod:`forecasting.core.scales`); its scaled metrics are undefined (NaN) and
left out of the summaries over series, while ``n_series`` still counts it.

Summaries over series (:func:`leaderboard`): one series must not decide them.
A series scored on months its history gave no sign of (Tornillo's loaded truck
containers on BTS: zeros, years unreported, then thousands) can have a MASE in
the hundreds of thousands while the median series is near 1, and two such
series make a plain mean over a thousand series theirs
(docs/experiments/scale-floor.md). So the unbounded metrics (``mase``, ``rmsse``, ``mape``, ``bias``,
``width_<l>``, ``msis_<w>``) are the :data:`TRIM_SHARE` trimmed mean over
series (:func:`trimmed_mean`; with fewer than 10 series nothing is cut and it
is the mean); ``mase_median`` and ``mase_mean`` stand beside ``mase``. The bounded ones (``smape``,
``coverage_<l>``) stay plain means: no series moves them by more than its
share. Models are ranked by ``mase``, and the promotion gate compares it.
:func:`dominant_series` names the series that carry the mean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.intervals import frame_levels as table_levels
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
POINT_COLUMNS = ["mase", "rmsse", "smape", "mape", "bias"]
"""Per-series metrics of the point forecast."""


def score_columns(levels: Sequence[int]) -> list[str]:
    """Per-series metrics, each the mean of its rows' terms (:func:`row_terms`), at ``levels``."""
    levels = sorted(levels)
    columns = [
        *POINT_COLUMNS,
        *(f"coverage_{level}" for level in levels),
        *(f"width_{level}" for level in levels),
    ]
    return [*columns, f"msis_{levels[-1]}"] if levels else columns


def trimmed_columns(levels: Sequence[int]) -> list[str]:
    """Unbounded per-series metrics, summarised over series by :func:`trimmed_mean`."""
    return [c for c in score_columns(levels) if c not in ("smape",) and not c.startswith("coverage_")]


def leaderboard_columns(levels: Sequence[int]) -> list[str]:
    """A leaderboard row's metrics (logged to MLflow under these names)."""
    return ["mase", "mase_median", "mase_mean", *score_columns(levels)[1:]]


def metric_levels(names: Sequence[str]) -> tuple[int, ...]:
    """The levels of the ``coverage_<l>`` metrics among ``names`` (a leaderboard's columns), ascending."""
    found = (re.fullmatch(r"coverage_(\d+)", str(name)) for name in names)
    return tuple(sorted({int(match.group(1)) for match in found if match}))


SCORE_COLUMNS = score_columns(DEFAULT_LEVELS)
"""Per-series metrics at the default levels (:func:`score_columns`)."""
TRIMMED_COLUMNS = trimmed_columns(DEFAULT_LEVELS)
"""Unbounded per-series metrics at the default levels (:func:`trimmed_columns`)."""
LEADERBOARD_COLUMNS = leaderboard_columns(DEFAULT_LEVELS)
"""A leaderboard row's metrics at the default levels (:func:`leaderboard_columns`)."""


def _levels(results: pd.DataFrame, levels: Sequence[int] | None) -> tuple[int, ...]:
    return table_levels(results) if levels is None else tuple(sorted(int(level) for level in levels))


def row_terms(results: pd.DataFrame, levels: Sequence[int] | None = None) -> pd.DataFrame:
    """The per-row quantities every metric averages (a backtest row or a live accuracy row), with
    coverage and width at ``levels`` (default: the table's, :func:`table_levels`)."""
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
        levels = _levels(results, levels)
        for level in levels:
            lower = results[f"lower_{level}"].to_numpy(dtype="float64")
            upper = results[f"upper_{level}"].to_numpy(dtype="float64")
            terms[f"coverage_{level}"] = ((actual >= lower) & (actual <= upper)).astype("float64")
            terms[f"width_{level}"] = (upper - lower) / scale
            if level == levels[-1]:
                alpha = (100 - level) / 100
                penalty = (2 / alpha) * (np.maximum(lower - actual, 0) + np.maximum(actual - upper, 0))
                terms[f"msis_{level}"] = (upper - lower + penalty) / scale
    return pd.DataFrame(terms, index=results.index)


def _per_series(results: pd.DataFrame, by: Sequence[str], levels: Sequence[int]) -> pd.DataFrame:
    keys = [*by, "series_id"]
    terms = row_terms(results, levels)
    terms[keys] = results[keys]
    grouped = terms.groupby(keys, observed=True, sort=False)
    per_series = grouped[score_columns(levels)].mean()
    per_series["rmsse"] = np.sqrt(per_series["rmsse"])
    per_series["n_forecasts"] = grouped.size()
    return per_series


def _check_results(results: pd.DataFrame, by: Sequence[str], levels: Sequence[int]) -> None:
    needed = {"series_id", "actual", "forecast", "scale_mase", "scale_rmsse", *by}
    needed |= {f"{side}_{level}" for level in levels for side in ("lower", "upper")}
    missing = sorted(needed - set(results.columns))
    if missing:
        raise ValueError(f"The 'results' parameter must be a backtest table. It lacks column(s) {missing}.")


def trimmed_mean(values: pd.Series) -> float:
    """Mean of the finite values without the :data:`TRIM_SHARE` lowest and highest (NaN when none)."""
    finite = values.to_numpy(dtype="float64")
    finite = finite[np.isfinite(finite)]
    return float(trim_mean(finite, TRIM_SHARE)) if finite.size else float("nan")


def _aggregate(results: pd.DataFrame, by: Sequence[str], levels: Sequence[int] | None) -> pd.DataFrame:
    by, levels = list(by), _levels(results, levels)
    _check_results(results, by, levels)
    per_series = _per_series(results, by, levels).reset_index()
    grouped = per_series.groupby(by, observed=True, sort=False)
    table = grouped[score_columns(levels)].mean()
    table["mase_mean"] = table["mase"]
    table["mase_median"] = grouped["mase"].median()
    for column in trimmed_columns(levels):
        table[column] = grouped[column].agg(trimmed_mean)
    table = table[leaderboard_columns(levels)]
    table["n_series"] = grouped.size()
    table["n_forecasts"] = grouped["n_forecasts"].sum()
    return table


def leaderboard(
    results: pd.DataFrame, by: Sequence[str] = ("model",), levels: Sequence[int] | None = None
) -> pd.DataFrame:
    """One row per ``by`` group (default per model), best ``mase`` (the trimmed mean over series) first;
    interval metrics at ``levels`` (default: every level the table holds)."""
    table = _aggregate(results, by, levels).reset_index()
    return table.sort_values(["mase", *by], kind="stable").reset_index(drop=True)


def metrics_by_horizon(results: pd.DataFrame, levels: Sequence[int] | None = None) -> pd.DataFrame:
    """Metrics per model and forecast step (index ``model, step``): how accuracy decays with lead."""
    return _aggregate(results, ("model", "step"), levels).sort_index()


def metrics_by_series(results: pd.DataFrame, levels: Sequence[int] | None = None) -> pd.DataFrame:
    """Metrics per model and series (index ``model, series_id``): where each model wins or fails."""
    levels = _levels(results, levels)
    _check_results(results, ("model",), levels)
    return _per_series(results, ("model",), levels).sort_index()


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
