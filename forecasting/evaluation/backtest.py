"""Backtests for evaluation: the rolling-origin table of :mod:`forecasting.models.cv`, its log, a file runner.

The table (one row per series x model x cutoff x step, with actuals and the
fold's MASE/RMSSE scales) is built by :func:`forecasting.models.cv.backtest`,
which the combinations use too; :mod:`forecasting.evaluation.metrics` scores it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forecasting.data.loaders import load
from forecasting.evaluation.metrics import leaderboard
from forecasting.models.cv import BacktestLog, backtest, fold_cutoffs, result_columns
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

__all__ = [
    "BacktestLog",
    "backtest",
    "backtest_file",
    "fallbacks",
    "fold_cutoffs",
    "result_columns",
    "skipped",
]


def backtest_log(results: pd.DataFrame) -> BacktestLog:
    """The :class:`BacktestLog` of a backtest table."""
    log = results.attrs.get("backtest")
    if not isinstance(log, BacktestLog):
        raise ValueError("The 'results' parameter must be a backtest table; attrs['backtest'] is absent.")
    return log


def skipped(results: pd.DataFrame) -> pd.DataFrame:
    """The series/fold pairs (and unscored test months) a backtest left out, with the reason."""
    return backtest_log(results).skipped


def fallbacks(results: pd.DataFrame) -> pd.DataFrame:
    """Every fallback the backtest's fitted models reported, with its cutoff."""
    return backtest_log(results).fallbacks


def backtest_file(
    path: str,
    *,
    horizon: int,
    folds: int = 3,
    models: Sequence[str] = ("seasonal_naive", "ets", "theta", "arima"),
    format: str = "auto",
    n_jobs: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load ``path`` with the package loaders and backtest registry ``models`` on it.

    Returns ``(leaderboard, results)``; what ``forecasting backtest`` prints.
    """
    panel = SeriesPanel.from_load(load(path, format=format))
    estimators = [make_model(name, horizon=horizon) for name in models]
    results = backtest(estimators, panel, horizon=horizon, folds=folds, n_jobs=n_jobs)
    return leaderboard(results), results
