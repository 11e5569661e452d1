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
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.evaluation.metrics import leaderboard
from forecasting.reconciliation import RESIDUAL_MONTHS, recent_residuals, reconcile_forecasts, residual_matrix

RECONCILED_SEPARATOR = "+"
"""Reconciled rows are labelled ``<model>+<method>``, e.g. ``ets+mint_shrink``."""


def reconciled_backtest(
    results: pd.DataFrame,
    structure: SummingStructure,
    method: str,
    *,
    nonnegative: bool = False,
    levels: Sequence[int] = DEFAULT_LEVELS,
    in_sample: pd.DataFrame | None = None,
    months: int | None = RESIDUAL_MONTHS,
) -> pd.DataFrame:
    """The backtest rows of the scored cutoffs, base and reconciled (model ``<model>+<method>``).

    ``in_sample``: the model's in-sample errors, of which each fold uses the
    last ``months`` up to its cutoff (one model only); None: earlier folds' errors.
    """
    cutoffs = sorted(results["cutoff"].unique())
    if len(cutoffs) < 2:
        raise DataError(
            f"a reconciled backtest needs at least 2 folds (errors of earlier ones). Got {len(cutoffs)}"
        )
    if in_sample is not None and results["model"].nunique() > 1:
        raise DataError(f"in-sample errors of one model only; got {sorted(results['model'].unique())}")
    frames = []
    for model, own in results.groupby("model", sort=True, observed=True):
        for cutoff in cutoffs[1:]:
            fold = own[own["cutoff"] == cutoff]
            if in_sample is None:
                residuals = residual_matrix(own[own["cutoff"] < cutoff])
            else:
                residuals = recent_residuals(in_sample, pd.Period(cutoff, freq="M"), months)
            reconciled = reconcile_forecasts(
                fold, structure, method, residuals=residuals, nonnegative=nonnegative, levels=levels
            )
            frames.append(fold)
            frames.append(
                reconciled.drop(columns="reconciliation").assign(
                    model=f"{model}{RECONCILED_SEPARATOR}{method}"
                )
            )
    return pd.concat(frames, ignore_index=True)


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
