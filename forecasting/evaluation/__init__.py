"""Rolling-origin backtests and the accuracy metrics computed over them."""

from forecasting.evaluation.backtest import BacktestLog, backtest, fallbacks, fold_cutoffs, skipped
from forecasting.evaluation.metrics import leaderboard, metrics_by_horizon, metrics_by_series

__all__ = [
    "BacktestLog",
    "backtest",
    "fallbacks",
    "fold_cutoffs",
    "leaderboard",
    "metrics_by_horizon",
    "metrics_by_series",
    "skipped",
]
