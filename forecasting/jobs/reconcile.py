"""Reconcile a job's forecasts to the hierarchy that travels with its panel.

The base forecasts are the chosen model's; the residuals that weight MinT
and WLS (and correlate the interval sample paths) are, by default
(``residuals="in_sample"``), that model's in-sample one-step errors over the
last ``RESIDUAL_MONTHS`` months, the textbook input with many more rows than a
backtest; a model without them (global or combined models), or
``residuals="backtest"``, uses its backtest errors over the last ``folds``
cutoffs. A backtest calibrates the reconciled intervals: its later folds are
reconciled with the same kind of errors known at their cutoffs; a hierarchy
level whose widest interval under-covered there is widened to its nominal
coverage, and its narrower intervals take the share of that width which
covered there (:mod:`forecasting.reconciliation.calibration`). Parents that are not the sum
of their children are logged and keep their base forecasts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from forecasting import progress, tracking
from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.data.summing import SummingStructure
from forecasting.errors import ConfigError
from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import leaderboard
from forecasting.evaluation.reconciled import (
    GUARDED,
    GUARDED_PROJECTION,
    RECONCILE_CHOICES,
    LevelGuard,
    guard_levels,
    leaderboard_by_level,
    reconciled_backtest,
    reconciled_rows,
)
from forecasting.models.base import PanelForecaster
from forecasting.panel import SeriesPanel
from forecasting.reconciliation import (
    RESIDUAL_MONTHS,
    RESIDUAL_SOURCES,
    UNRECONCILED,
    calibrate_intervals,
    interval_factors,
    recent_residuals,
    reconcile_forecasts,
    residual_matrix,
    structure_to_reconcile,
)

logger = logging.getLogger("forecasting.jobs")
UNWEIGHTED_METHODS = ("ols", "wls_struct")
"""Methods that share a parent's correction among its children without regard to their error sizes."""
RESIDUAL_FOLDS = 2
"""Backtest folds whose errors estimate the base forecasts' error covariance (the second also
calibrates the reconciled intervals)."""


def check_reconcile_method(method: str, *, key: str = "--reconcile") -> str:
    if method not in RECONCILE_CHOICES:
        raise ConfigError(f"must be one of {', '.join(RECONCILE_CHOICES)}. Got {method!r}", key=key)
    return method


def check_residual_source(source: str, *, key: str = "--residuals") -> str:
    if source not in RESIDUAL_SOURCES:
        raise ConfigError(f"must be one of {', '.join(RESIDUAL_SOURCES)}. Got {source!r}", key=key)
    return source


NEEDS_HIERARCHY = (
    "needs a hierarchy: none travels with this input (write one with "
    "'forecasting series build --output panel.csv', which also writes panel.hierarchy.csv)"
)


NOT_RECONCILED_FILE = "not_reconciled.csv"
"""The run's artifact listing every parent left at its base forecast (not the sum of its children)."""


def required_structure(panel: SeriesPanel, *, key: str) -> SummingStructure:
    """The panel's structure to reconcile (mismatched parents reported and left out); ConfigError if none."""
    structure, mismatched = structure_to_reconcile(panel)
    if not mismatched.empty:
        report_not_reconciled(mismatched)
    if not structure.aggregates:
        raise ConfigError(NEEDS_HIERARCHY, key=key)
    return structure


def report_not_reconciled(mismatched: pd.DataFrame) -> None:
    """One log line for the parents left at their base forecasts (on BTS, 121 of them), with the
    first three; every one in the active MLflow run's :data:`NOT_RECONCILED_FILE`."""
    examples = ", ".join(
        f"{row.parent} ({row.months} months from {row.first_month})"
        for row in mismatched.head(3).itertuples(index=False)
    )
    listed = tracking.in_run()
    if listed:
        tracking.log_frame(mismatched, NOT_RECONCILED_FILE)
    logger.warning(
        "event=not_reconciled parents=%d reason='not the sum of their children in some months' "
        "action=base_forecast_kept examples=%s%s",
        len(mismatched),
        examples,
        f" all_in={NOT_RECONCILED_FILE}" if listed else "",
    )


def check_hierarchy(panel: SeriesPanel, *, key: str) -> None:
    """Refuse to reconcile a panel without a hierarchy as soon as it is loaded, not after its backtests."""
    if not panel.structure.aggregates:
        raise ConfigError(NEEDS_HIERARCHY, key=key)


def resolve_nonnegative(setting: bool | None, panel: SeriesPanel, structure: SummingStructure) -> bool:
    """``setting``, or when None ("auto"): True if no series of ``structure`` has a negative value.

    Counts and trade values never go below zero, and the base models already
    clip such series' forecasts at zero; without the constraint MinT sent BTS
    series below zero (:func:`log_large_adjustments`; figures in
    ``docs/experiments/reconciliation.md``, "Series moved too far"). A panel
    with a signed series in its hierarchy keeps unconstrained reconciliation.
    """
    if setting is not None:
        return setting
    values = panel.records.loc[panel.records["series_id"].isin(structure.series), "value"]
    return bool((values.dropna() >= 0).all())


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
    levels: tuple[int, ...] = DEFAULT_LEVELS

    @classmethod
    def for_panel(
        cls,
        panel: SeriesPanel,
        method: str,
        *,
        nonnegative: bool | None = None,
        levels: Sequence[int] = DEFAULT_LEVELS,
    ) -> ReconciledScoring:
        """``nonnegative``: True, False or None ("auto", :func:`resolve_nonnegative`)."""
        method = check_reconcile_method(method, key="reconcile.method")
        structure = required_structure(panel, key="reconcile.choose_on")
        return cls(structure, method, resolve_nonnegative(nonnegative, panel, structure), tuple(levels))

    def leaderboard(self, results: pd.DataFrame) -> pd.DataFrame:
        """The leaderboard of the reconciled backtests, one row per base model name, best MASE first."""
        both = reconciled_backtest(
            results, self.structure, self.method, nonnegative=self.nonnegative, levels=self.levels
        )
        return leaderboard(reconciled_rows(both, self.method), levels=self.levels)

    def scores(self, results: pd.DataFrame) -> pd.Series:
        """The reconciled leaderboard row of one model's backtest (MASE, coverage, ...)."""
        return self.leaderboard(results).iloc[0]


def reuses_backtest(backtested: pd.DataFrame | None, folds: int = RESIDUAL_FOLDS) -> bool:
    """Whether a backtest the caller ran has the folds :func:`reconcile_job_forecasts` needs."""
    return backtested is not None and backtested["cutoff"].nunique() >= folds


def reconcile_work(panel: SeriesPanel, folds: int = RESIDUAL_FOLDS) -> int:
    """Series fits of :func:`reconcile_job_forecasts`' own backtest, for a command's progress total."""
    structure, _ = structure_to_reconcile(panel)
    return len(structure.series) * folds if structure.aggregates else 0


@progress.phase("reconcile")
def reconcile_job_forecasts(
    model: PanelForecaster,
    panel: SeriesPanel,
    forecasts: pd.DataFrame,
    *,
    method: str,
    horizon: int,
    levels: Sequence[int],
    nonnegative: bool | None = None,
    X: pd.DataFrame | None = None,
    folds: int = RESIDUAL_FOLDS,
    residuals: str = RESIDUAL_SOURCES[0],
    residual_months: int | None = RESIDUAL_MONTHS,
    key: str = "--reconcile",
    backtested: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The fitted model's ``forecasts`` for ``panel`` reconciled with ``method``, plus ``reconciliation``.

    ``residuals`` chooses the errors behind the covariance (:data:`RESIDUAL_SOURCES`;
    ``residual_months`` of in-sample errors). Intervals are calibrated level by
    level on the backtest's later folds; with fewer than two folds (short
    series) they are not, which is logged. ``nonnegative``: True, False or
    None ("auto", :func:`resolve_nonnegative`). ``mint_guarded`` chooses on the
    same backtest which levels keep their base forecasts (:func:`guard_levels`,
    logged); with fewer than two folds, or when every candidate made a level
    worse, the forecasts are not reconciled (``reconciliation`` = ``none``).
    ``backtested``: the model's backtest of ``panel`` at ``horizon`` and ``levels``
    that the caller has run already (the retrain's, of its serving model): with at
    least ``folds`` folds it stands in for the backtest this would run
    (:func:`reuses_backtest`; 8 of a 39-minute BTS retrain).
    """
    check_reconcile_method(method, key=key)
    check_residual_source(residuals)
    structure = required_structure(panel, key=key)
    nonnegative = resolve_nonnegative(nonnegative, panel, structure)
    in_sample = _in_sample_residuals(model, structure) if residuals == "in_sample" else None
    if reuses_backtest(backtested, folds):
        results = backtested[backtested["series_id"].isin(structure.series)]
    else:
        results = backtest(
            [model],
            panel.subset(structure.series),
            horizon=horizon,
            folds=folds,
            levels=levels,
            X=X if model.uses_exog else None,
        )
    if in_sample is not None:
        errors: pd.DataFrame | None = recent_residuals(in_sample, months=residual_months)
    else:
        errors = residual_matrix(results) if len(results) else None
    logger.info(
        "event=reconcile method=%s nonnegative=%s parents=%d bottom=%d residuals=%s residual_rows=%d",
        method,
        str(nonnegative).lower(),
        len(structure.aggregates),
        len(structure.bottom),
        "backtest" if in_sample is None else "in_sample",
        0 if errors is None else len(errors),
    )
    folded = len(results) > 0 and results["cutoff"].nunique() >= 2
    projection, kept = method, ()
    if method == GUARDED:
        if not folded:
            logger.warning(
                "event=reconcile_guard method=%s reconciled=false reason='fewer than 2 backtest folds'",
                method,
            )
        kept = _guard(results, structure, nonnegative, in_sample, residual_months).kept if folded else None
        if kept is None:
            return forecasts.reset_index(drop=True).assign(reconciliation=UNRECONCILED)
        projection = GUARDED_PROJECTION
    reconciled = reconcile_forecasts(
        forecasts,
        structure,
        projection,
        residuals=errors,
        nonnegative=nonnegative,
        levels=levels,
        keep_levels=kept,
    )
    reconciled["reconciliation"] = reconciled["reconciliation"].replace(projection, method)
    log_large_adjustments(forecasts, reconciled, method)
    if not folded:
        logger.warning("event=reconciled_intervals_not_calibrated reason='fewer than 2 backtest folds'")
        return reconciled
    # the later folds reconciled with the errors known at their cutoffs, scored against their actuals
    both = reconciled_backtest(
        results,
        structure,
        projection,
        nonnegative=nonnegative,
        levels=levels,
        in_sample=in_sample,
        months=residual_months,
        keep_levels=kept,
    )
    factors = interval_factors(reconciled_rows(both, projection), structure, levels)
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


def _guard(
    results: pd.DataFrame,
    structure: SummingStructure,
    nonnegative: bool,
    in_sample: pd.DataFrame | None,
    months: int | None,
) -> LevelGuard:
    """:func:`guard_levels` on the job's backtest, its choice and every candidate's MASE logged."""
    guard = guard_levels(results, structure, nonnegative=nonnegative, in_sample=in_sample, months=months)
    levels = [c for c in guard.scores.columns if c not in ("accepted", "mean_ratio")]
    for candidate, row in guard.scores.iterrows():
        logger.info(
            "event=reconcile_guard_candidate candidate='%s' accepted=%s mean_ratio=%.4f %s",
            candidate,
            str(bool(row["accepted"])).lower(),
            row["mean_ratio"],
            " ".join(f"mase_{level}={row[level]:.4f}" for level in levels),
        )
    if guard.kept is None:
        logger.warning(
            "event=reconcile_guard method=%s reconciled=false reason='every candidate made some level "
            "worse than the base forecasts on the backtest'",
            GUARDED,
        )
    else:
        logger.info(
            "event=reconcile_guard method=%s reconciled=true kept_at_base='%s'", GUARDED, ",".join(guard.kept)
        )
    return guard


def log_large_adjustments(base: pd.DataFrame, reconciled: pd.DataFrame, method: str) -> pd.DataFrame:
    """Warn about series that reconciliation moved by more than their own forecast, or below zero.

    Reconciliation spreads each parent's disagreement over its children; methods
    that ignore the series' error sizes (``ols``, ``wls_struct``) give a
    crossing of ten trucks a month the same share as one of ten thousand, so on
    BTS they move and send below zero far more series than MinT does (figures:
    ``docs/experiments/reconciliation.md``, "Series moved too far"). Returns the series
    concerned (``series_id, largest_change, negative``), largest change first.
    """
    keys = ["series_id", "month"]
    both = reconciled[[*keys, "forecast"]].merge(
        base[[*keys, "forecast"]], on=keys, suffixes=("", "_base"), validate="one_to_one"
    )
    change = (both["forecast"] - both["forecast_base"]).abs() / both["forecast_base"].abs()
    went_negative = (both["forecast"] < 0) & (both["forecast_base"] >= 0)
    per_series = pd.DataFrame(
        {
            "largest_change": change.groupby(both["series_id"]).max(),
            "negative": went_negative.groupby(both["series_id"]).any(),
        }
    )
    flagged = per_series[(per_series["largest_change"] > 1) | per_series["negative"]]
    flagged = flagged.sort_values("largest_change", ascending=False).rename_axis("series_id").reset_index()
    if len(flagged):
        negative = int(flagged["negative"].sum())
        hints = ["nonnegative = true (--nonnegative) keeps series at or above zero"] if negative else []
        if method in UNWEIGHTED_METHODS:
            hints.append("wls_var and mint_shrink move series with small errors less")
        logger.warning(
            "event=reconcile_large_adjustments method=%s series=%d of %d moved_over_100pct=%d negative=%d "
            "examples=%s hint='%s'",
            method,
            len(flagged),
            len(per_series),
            int((flagged["largest_change"] > 1).sum()),
            negative,
            ",".join(flagged["series_id"].astype(str).head(3)),
            "; ".join(hints) or "the series' own forecasts disagree with their parents'",
        )
    return flagged


def _in_sample_residuals(model: PanelForecaster, structure: SummingStructure) -> pd.DataFrame | None:
    """The fitted model's in-sample errors of the structure's series; None (logged) when it has none."""
    errors = model.in_sample_residuals()
    if errors is None:
        logger.info("event=reconcile_residuals source=backtest reason='%s: no in-sample errors'", model.name)
        return None
    return errors.reindex(columns=structure.series)


def log_reconciled_backtest(
    results: pd.DataFrame,
    panel: SeriesPanel,
    *,
    method: str,
    nonnegative: bool | None = None,
    levels: Sequence[int] = DEFAULT_LEVELS,
) -> pd.DataFrame | None:
    """The per-level leaderboard of base vs reconciled backtests, logged to the active MLflow run.

    None (and nothing logged) without a hierarchy or with fewer than two folds.
    """
    structure, _ = structure_to_reconcile(panel)
    if not structure.aggregates or results["cutoff"].nunique() < 2:
        logger.info("event=reconciled_backtest_skipped reason='no hierarchy or fewer than 2 folds'")
        return None
    nonnegative = resolve_nonnegative(nonnegative, panel, structure)
    board = leaderboard_by_level(
        reconciled_backtest(results, structure, method, nonnegative=nonnegative, levels=levels),
        structure,
        levels=levels,
    )
    from forecasting.plots import plot_reconciled_by_level  # matplotlib loads on the first plot only

    tracking.log_level_metrics(board, plot_reconciled_by_level(board))
    return board
