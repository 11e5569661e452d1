"""Backtests for evaluation: the rolling-origin table of :mod:`forecasting.models.cv`, its log, a file runner.

The table (one row per series x model x cutoff x step, with actuals and the
fold's MASE/RMSSE scales) is built by :func:`forecasting.models.cv.backtest`,
which the combinations use too; :mod:`forecasting.evaluation.metrics` scores it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forecasting.core.checks import check_horizon_option
from forecasting.data.loaders import load
from forecasting.errors import ConfigError, DataError, shorten
from forecasting.evaluation.metrics import leaderboard
from forecasting.models.cv import BacktestLog, TooLittleHistoryError, backtest, fold_cutoffs, result_columns
from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel

__all__ = [
    "BacktestLog",
    "TooLittleHistoryError",
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

    Returns ``(leaderboard, results)``; what ``forecasting backtest`` prints. Bad options are
    :class:`ConfigError` naming the command-line option, too little data a :class:`DataError`.
    """
    check_horizon_option(horizon, key="--horizon")
    if folds < 1:
        raise ConfigError(f"must be a positive integer. Got {folds}", key="--folds")
    if n_jobs == 0:
        raise ConfigError("must not be 0 (1: serial, -1: all cores)", key="--n-jobs")
    unknown = [name for name in models if name not in available_models()]
    if unknown or not models:
        got = f"unknown model {shorten(unknown[0])}" if unknown else "no model named"
        raise ConfigError(f"{got}; known: {', '.join(available_models())}", key="--models")
    twice = sorted({name for name in models if models.count(name) > 1})
    if twice:  # one leaderboard row per model
        raise ConfigError(f"names {shorten(twice[0])} twice", key="--models")
    panel = SeriesPanel.from_load(load(path, format=format))
    estimators = [make_model(name, horizon=horizon) for name in models]
    try:
        results = backtest(estimators, panel, horizon=horizon, folds=folds, n_jobs=n_jobs)
    except DataError as error:
        raise DataError(str(error), file=path) from None
    return leaderboard(results), results
