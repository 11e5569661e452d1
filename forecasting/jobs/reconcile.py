"""Reconcile a job's forecasts to the hierarchy that travels with its panel.

The base forecasts are the chosen model's; the residuals that weight MinT
(and correlate the interval sample paths) are that model's backtest errors
over the last ``folds`` cutoffs, so they measure the errors of the forecasts
being reconciled. The same backtest calibrates the reconciled intervals: its
later folds are reconciled with the errors of the earlier ones, and a
hierarchy level whose intervals under-covered there is widened to its nominal
coverage (:mod:`forecasting.reconciliation.calibration`). Parents that are not the sum
of their children are logged and keep their base forecasts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from forecasting import plots, tracking
from forecasting.data.summing import SummingStructure
from forecasting.errors import ConfigError
from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import leaderboard
from forecasting.evaluation.reconciled import leaderboard_by_level, reconciled_backtest, reconciled_rows
from forecasting.models.base import PanelForecaster
from forecasting.panel import SeriesPanel
from forecasting.reconciliation import (
    METHODS,
    calibrate_intervals,
    interval_factors,
    reconcile_forecasts,
    residual_matrix,
    structure_to_reconcile,
)

logger = logging.getLogger("forecasting.jobs")
RESIDUAL_FOLDS = 2
"""Backtest folds whose errors estimate the base forecasts' error covariance (the second also
calibrates the reconciled intervals)."""


def check_reconcile_method(method: str, *, key: str = "--reconcile") -> str:
    if method not in METHODS:
        raise ConfigError(f"must be one of {', '.join(METHODS)}. Got {method!r}", key=key)
    return method


def required_structure(panel: SeriesPanel, *, key: str) -> SummingStructure:
    """The panel's structure to reconcile (mismatched parents logged and left out); ConfigError if none."""
    structure, mismatched = structure_to_reconcile(panel)
    for row in mismatched.itertuples(index=False):
        logger.warning(
            "event=not_reconciled series=%s reason='not the sum of its children' months=%d first=%s",
            row.parent,
            row.months,
            row.first_month,
        )
    if not structure.aggregates:
        raise ConfigError(
            "needs a hierarchy: none travels with this input (write one with "
            "'forecasting series build --output panel.csv', which also writes panel.hierarchy.csv)",
            key=key,
        )
    return structure


@dataclass(frozen=True)
class ReconciledScoring:
    """Backtests scored after reconciliation, as ``reconcile.choose_on = "reconciled"`` ranks models.

    Each model's folds are reconciled with the errors of its earlier folds
    (:func:`reconciled_backtest`), so the first fold only lends its errors and
    every model, candidate or champion, is scored on the same later folds.
    """

    structure: SummingStructure
    method: str
    nonnegative: bool = False
    levels: tuple[int, ...] = (80, 95)

    @classmethod
    def for_panel(
        cls, panel: SeriesPanel, method: str, *, nonnegative: bool = False, levels: Sequence[int] = (80, 95)
    ) -> ReconciledScoring:
        method = check_reconcile_method(method, key="reconcile.method")
        return cls(required_structure(panel, key="reconcile.choose_on"), method, nonnegative, tuple(levels))

    def leaderboard(self, results: pd.DataFrame) -> pd.DataFrame:
        """The leaderboard of the reconciled backtests, one row per base model name, best MASE first."""
        both = reconciled_backtest(
            results, self.structure, self.method, nonnegative=self.nonnegative, levels=self.levels
        )
        return leaderboard(reconciled_rows(both, self.method))

    def mase(self, results: pd.DataFrame) -> float:
        """The reconciled MASE of one model's backtest."""
        return float(self.leaderboard(results)["mase"].iloc[0])


def reconcile_job_forecasts(
    model: PanelForecaster,
    panel: SeriesPanel,
    forecasts: pd.DataFrame,
    *,
    method: str,
    horizon: int,
    levels: Sequence[int],
    nonnegative: bool = False,
    X: pd.DataFrame | None = None,
    folds: int = RESIDUAL_FOLDS,
    key: str = "--reconcile",
) -> pd.DataFrame:
    """The model's ``forecasts`` for ``panel`` reconciled with ``method``, plus ``reconciliation``.

    Intervals are calibrated level by level on the backtest's later folds;
    with fewer than two folds (short series) they are not, which is logged.
    """
    check_reconcile_method(method, key=key)
    structure = required_structure(panel, key=key)
    results = backtest(
        [model],
        panel.subset(structure.series),
        horizon=horizon,
        folds=folds,
        levels=levels,
        X=X if model.uses_exog else None,
    )
    residuals = residual_matrix(results) if len(results) else None
    logger.info(
        "event=reconcile method=%s parents=%d bottom=%d residual_rows=%d",
        method,
        len(structure.aggregates),
        len(structure.bottom),
        0 if residuals is None else len(residuals),
    )
    reconciled = reconcile_forecasts(
        forecasts, structure, method, residuals=residuals, nonnegative=nonnegative, levels=levels
    )
    if residuals is None or results["cutoff"].nunique() < 2:
        logger.warning("event=reconciled_intervals_not_calibrated reason='fewer than 2 backtest folds'")
        return reconciled
    # the later folds reconciled with the earlier folds' errors, scored against their actuals
    both = reconciled_backtest(results, structure, method, nonnegative=nonnegative, levels=levels)
    factors = interval_factors(reconciled_rows(both, method), structure, levels)
    for row in factors.itertuples(index=False):
        logger.info(
            "event=reconciled_interval_factor level=%s interval=%d quantile=%.3f factor=%.3f scores=%d",
            row.level,
            row.interval,
            row.quantile,
            row.factor,
            row.n_scores,
        )
    return calibrate_intervals(reconciled, factors, structure, nonnegative=nonnegative)


def log_reconciled_backtest(
    results: pd.DataFrame, panel: SeriesPanel, *, method: str, nonnegative: bool = False
) -> pd.DataFrame | None:
    """The per-level leaderboard of base vs reconciled backtests, logged to the active MLflow run.

    None (and nothing logged) without a hierarchy or with fewer than two folds.
    """
    structure, _ = structure_to_reconcile(panel)
    if not structure.aggregates or results["cutoff"].nunique() < 2:
        logger.info("event=reconciled_backtest_skipped reason='no hierarchy or fewer than 2 folds'")
        return None
    board = leaderboard_by_level(
        reconciled_backtest(results, structure, method, nonnegative=nonnegative), structure
    )
    tracking.log_level_metrics(board, plots.plot_reconciled_by_level(board))
    return board
