"""Reconciled backtests: each fold's forecasts reconciled, scored per hierarchy level next to the base.

For every model and cutoff of a backtest table, the fold's forecasts are
reconciled to the panel's summing structure; the error covariance comes from
the same model's errors at the *earlier* cutoffs only, so no number uses the
months it is scored on. A cutoff without earlier errors is left out for every
model (base and reconciled), so both are compared on the same folds.

Given ``in_sample`` errors (one model's, rows indexed by month), each fold
uses those up to its cutoff instead, as the exported forecasts use the
model's in-sample errors: the reconciliation scored is the one exported.
They come from the model fitted on all months, so its parameters have seen
the fold's months (the errors themselves are one step ahead of months before
the cutoff); only the covariance weights are touched by that.

``mint_guarded`` (:data:`GUARDED`) is MinT that does not make a level worse
than the base forecasts: :func:`guard_levels` scores MinT on the backtest
with every feasible set of hierarchy levels kept at their base forecasts
(immutable, :mod:`~forecasting.reconciliation.methods`), keeps the candidates
whose MASE is no worse than the base's at any level, and takes the one with
the lowest mean ratio to the base over the levels; when none qualifies, the
base forecasts stay as they are. With ETS base forecasts it kept the regions
of the BTS hierarchy with 2023 held out and nothing on the Swiss exports
(plain MinT), and was better than the base at every level there; with 2019
held out it kept the base (figures: ``docs/experiments/grouped-reconciliation.md``).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.data.summing import SUM_RTOL, SummingStructure
from forecasting.errors import DataError
from forecasting.evaluation.metrics import leaderboard
from forecasting.reconciliation import (
    METHODS,
    RESIDUAL_MONTHS,
    recent_residuals,
    reconcile_forecasts,
    residual_matrix,
)
from forecasting.reconciliation.methods import can_keep, keepable

RECONCILED_SEPARATOR = "+"
"""Reconciled rows are labelled ``<model>+<method>``, e.g. ``ets+mint_shrink``."""
GUARDED = "mint_guarded"
"""MinT with the levels it would make worse kept at their base forecasts (:func:`guard_levels`)."""
GUARDED_PROJECTION = "mint_shrink"
RECONCILE_CHOICES: tuple[str, ...] = (*METHODS, GUARDED)
"""Every ``reconcile.method`` a job, ``forecast --reconcile`` or ``backtest --reconcile`` accepts."""
TIE_RTOL = 1e-9
"""A kept level's MASE equals the base's up to the solver's rounding: relative differences below this tie."""


def reconciled_backtest(
    results: pd.DataFrame,
    structure: SummingStructure,
    method: str,
    *,
    nonnegative: bool = False,
    levels: Sequence[int] = DEFAULT_LEVELS,
    in_sample: pd.DataFrame | None = None,
    months: int | None = RESIDUAL_MONTHS,
    keep_levels: Collection[str] = (),
    intervals: bool = True,
) -> pd.DataFrame:
    """The backtest rows of the scored cutoffs, base and reconciled (model ``<model>+<method>``).

    ``in_sample``: the model's in-sample errors, of which each fold uses the
    last ``months`` up to its cutoff (one model only); None: earlier folds' errors.
    ``keep_levels``: hierarchy levels that keep their base forecasts. With
    :data:`GUARDED`, each model's levels to keep are chosen by :func:`guard_levels`
    on these same folds, so its scores are those of the chosen candidate.
    Rows of parents whose actual is not the sum of their children's in the
    fold are left out, base and reconciled alike (:func:`unsummed_parent_rows`).
    ``intervals=False``: the point forecasts only are reconciled (the reconciled
    rows keep the base bounds: score their points only).
    """
    cutoffs = _scored_cutoffs(results)
    if in_sample is not None and results["model"].nunique() > 1:
        raise DataError(f"in-sample errors of one model only; got {sorted(results['model'].unique())}")
    projection = GUARDED_PROJECTION if method == GUARDED else method
    frames = []
    for model, own in results.groupby("model", sort=True, observed=True):
        kept: tuple[str, ...] | None = tuple(keep_levels)
        if method == GUARDED:
            guard = guard_levels(own, structure, nonnegative=nonnegative, in_sample=in_sample, months=months)
            kept = guard.kept
        for cutoff in cutoffs:
            fold = own[own["cutoff"] == cutoff]
            fold = fold[~unsummed_parent_rows(fold, structure)]
            reconciled = fold.assign(reconciliation="none")  # the guard found no candidate: the base stays
            if kept is not None:
                if in_sample is None:
                    residuals = residual_matrix(own[own["cutoff"] < cutoff])
                else:
                    residuals = recent_residuals(in_sample, pd.Period(cutoff, freq="M"), months)
                reconciled = reconcile_forecasts(
                    fold,
                    structure,
                    projection,
                    residuals=residuals,
                    nonnegative=nonnegative,
                    levels=levels,
                    keep_levels=kept,
                    intervals=intervals,
                )
            frames.append(fold)
            frames.append(
                reconciled.drop(columns="reconciliation").assign(
                    model=f"{model}{RECONCILED_SEPARATOR}{method}"
                )
            )
    return pd.concat(frames, ignore_index=True)


def unsummed_parent_rows(fold: pd.DataFrame, structure: SummingStructure) -> np.ndarray:
    """Rows of one fold (a mask) of parents whose actual is not the sum of the fold's children's actuals.

    Reconciled, such a parent would be forced to the sum of its children in the
    fold, a sum its actual is not: a bottom series was forecast but not
    reported that month (a backtest has rows only where the actual is known;
    its parent's actual holds an estimate for it), or it ended before the
    last cutoff and is no longer in the structure, though it was still there
    in the fold's months. On BTS with 2019 held out that put the trains total
    up to 5 % above the sum of its children in the backtest, and made every
    reconciliation look worse there than the base. Such parent rows are not
    reconciled and not scored, base and reconciled alike: their actual is not
    what a coherent forecast can aim at.
    """
    ids = fold["series_id"].astype(str).to_numpy()
    months = fold["month"].astype(str).to_numpy()
    actual = pd.DataFrame({"id": ids, "month": months, "actual": fold["actual"].to_numpy(dtype="float64")})
    wide = actual.pivot_table(index="month", columns="id", values="actual", aggfunc="first")
    bottom = wide.reindex(columns=structure.bottom).to_numpy()
    parents = wide.reindex(columns=structure.aggregates).to_numpy()
    summed = (structure.A @ np.nan_to_num(bottom).T).T
    scale = np.maximum(np.abs(parents), np.abs(summed))
    off = np.abs(parents - summed) > SUM_RTOL * np.where(scale > 0, scale, 1.0)
    rows = wide.index.get_indexer(months)
    columns = pd.Index(structure.aggregates).get_indexer(ids)
    return (columns >= 0) & off[rows, np.maximum(columns, 0)]


def _scored_cutoffs(results: pd.DataFrame) -> list[object]:
    """The cutoffs after the first: each is reconciled with what earlier ones (or in-sample errors) knew."""
    cutoffs = sorted(results["cutoff"].unique())
    if len(cutoffs) < 2:
        raise DataError(
            f"a reconciled backtest needs at least 2 folds (errors of earlier ones). Got {len(cutoffs)}"
        )
    return cutoffs[1:]


@dataclass(frozen=True)
class LevelGuard:
    """The levels ``mint_guarded`` keeps at their base forecasts, and the backtest behind the choice.

    ``kept`` is None when no candidate was at least as good as the base at
    every level: then nothing is reconciled. ``scores`` has one row per
    candidate (``base``, then ``keep <levels>`` or ``keep none``), one column per
    hierarchy level (MASE, as the leaderboard aggregates it), ``accepted`` and
    ``mean_ratio`` (the mean over levels of the MASE over the base's).
    """

    kept: tuple[str, ...] | None
    scores: pd.DataFrame


def guard_levels(
    results: pd.DataFrame,
    structure: SummingStructure,
    *,
    nonnegative: bool = False,
    in_sample: pd.DataFrame | None = None,
    months: int | None = RESIDUAL_MONTHS,
) -> LevelGuard:
    """Which hierarchy levels MinT should leave at their base forecasts, from one model's backtest.

    Every set of levels short of all of them that can be kept (:func:`can_keep`)
    is a candidate, fewest levels first; each is scored by the reconciled
    backtest (:func:`reconciled_backtest`, point forecasts only, the folds after
    the first). A candidate qualifies when its MASE is no worse than the base's
    at any level; the one with the lowest mean ratio to the base over the
    levels wins (ties: the earlier). Scoring the first fold too (in-sample
    errors would allow it) left the base everywhere on the development sets,
    gains included (docs/experiments/grouped-reconciliation.md).
    """
    names = levels_top_down(structure)
    candidates = _candidates(structure, names)
    options = {"nonnegative": nonnegative, "in_sample": in_sample, "months": months, "intervals": False}
    base, scores = None, []
    for kept in candidates:
        board = leaderboard_by_level(
            reconciled_backtest(results, structure, GUARDED_PROJECTION, keep_levels=kept, **options),
            structure,
            levels=(),
        )
        reconciled = board["model"].astype(str).str.endswith(RECONCILED_SEPARATOR + GUARDED_PROJECTION)
        scores.append(board[reconciled].set_index("level")["mase"].reindex(names))
        base = board[~reconciled].set_index("level")["mase"].reindex(names)
    table = pd.DataFrame(
        [base, *scores], index=["base", *(f"keep {', '.join(kept) or 'none'}" for kept in candidates)]
    )
    qualified = (table.iloc[1:] <= table.iloc[0] * (1 + TIE_RTOL)) | table.iloc[0].isna()
    table["accepted"] = [True, *qualified.all(axis=1)]
    table["mean_ratio"] = [1.0, *(np.nanmean(_ratios(row, base)) for row in scores)]
    accepted = table.iloc[1:].reset_index(drop=True)
    if not accepted["accepted"].any():
        return LevelGuard(None, table.rename_axis("candidate"))
    ratios = accepted["mean_ratio"].where(accepted["accepted"])
    best = int(np.flatnonzero(ratios <= ratios.min() * (1 + TIE_RTOL))[0])  # of equals, the fewest kept
    return LevelGuard(candidates[best], table.rename_axis("candidate"))


def _candidates(structure: SummingStructure, names: list[str]) -> list[tuple[str, ...]]:
    """Sets of levels to keep, fewest first, each keeping a different set of series that can be kept.

    A level whose series are sums of another kept level's adds nothing
    (:func:`keepable`): on BTS, keeping the totals and the regions keeps the regions.
    """
    level_of = structure.level_of()
    seen: set[frozenset[str]] = set()
    candidates = []
    for size in range(len(names)):
        for kept in itertools.combinations(names, size):
            series = keepable(structure, level_of.index[level_of.isin(kept).to_numpy()])
            if series not in seen and can_keep(structure, series):
                seen.add(series)
                candidates.append(kept)
    return candidates


def levels_top_down(structure: SummingStructure) -> list[str]:
    """The structure's level names, the widest parents first, ``bottom`` last."""
    sizes = pd.Series(np.asarray(structure.S.sum(axis=1)).ravel(), index=structure.series)
    widest = sizes.groupby(structure.level_of()).mean()
    return list(widest.sort_values(ascending=False, kind="stable").index)


def _ratios(scores: pd.Series, base: pd.Series) -> np.ndarray:
    """Each level's MASE over the base's (1 where both are zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((scores == 0) & (base == 0), 1.0, (scores / base).to_numpy())


def reconciled_rows(both: pd.DataFrame, method: str) -> pd.DataFrame:
    """The reconciled rows of :func:`reconciled_backtest` output, named by their base model again."""
    suffix = f"{RECONCILED_SEPARATOR}{method}"
    models = both["model"].astype(str)
    reconciled = models.str.endswith(suffix)
    return both[reconciled].assign(model=models[reconciled].str[: -len(suffix)])


def leaderboard_by_level(
    results: pd.DataFrame, structure: SummingStructure, levels: Sequence[int] | None = None
) -> pd.DataFrame:
    """One row per model and level (``bottom`` and each parent level) of the series in the structure;
    interval metrics at ``levels`` (default: every interval level the table holds)."""
    level_of = structure.level_of()
    inside = results[results["series_id"].astype(str).isin(level_of.index)]
    with_level = inside.assign(level=inside["series_id"].astype(str).map(level_of))
    board = leaderboard(with_level, by=("level", "model"), levels=levels)
    return board.sort_values(["level", "mase"], kind="stable").reset_index(drop=True)
