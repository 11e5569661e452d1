"""``auto``'s members fitted and backtested on the series they suit (:mod:`~forecasting.models.auto_plan`).

The backtest that weighs them: ``backtest_folds`` rolling origins over
``backtest_horizon`` months, aligned to each series' own end
(:func:`forecasting.models.cv.backtest` with ``align="series"``), each member on
the series it suits. ETS and Theta search their form once per series, at the
earliest fold, and refit it at the later ones; ETS's final fit searches again
among the forms that ranked best there (``shortlist_forms``). The GBMs skip
their conformal refits unless the intervals are calibrated (the weights need
point forecasts only), and their folds' trees are the final fit's conformal
refits at the same cutoffs, fitted once (``auto``'s regressor cache). A
member that fails on its series is dropped for them and reported: the other
members stand in. On an executor with several workers the members run side by
side, each backtested and then fitted in a thread of its own that hands its
per-series work to the shared workers (:func:`~forecasting.executors.run_concurrently`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import pandas as pd
from sklearn.base import clone

from forecasting import progress
from forecasting.core.constants import DEFAULT_LEVELS, FALLBACK_COLUMNS
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.executors import run_concurrently
from forecasting.models.auto_plan import history_before
from forecasting.models.base import PanelForecaster
from forecasting.models.cv import TooLittleHistoryError, backtest, fold_offsets
from forecasting.models.ensemble import MEMBER_ERRORS, member_failed
from forecasting.panel import SeriesPanel

MEMBER_CALIBRATION_WINDOWS = 3
"""Conformal refits of a global member whose count is automatic (``calibration_windows=None``): on a
small panel the GBM would refit up to 12 times for its own intervals, which inside ``auto`` are one
input among six and are refitted again at every backtest fold."""


def planned_work(groups: Sequence[tuple[PanelForecaster, list[str]]], folds: int) -> tuple[int, float]:
    """Series fits ``auto`` will run, as the command's progress counts them, and their cost: each
    member's series at every backtest fold, once more for a form searched before the folds, and
    once for the fit, each at the member's ``fit_cost``."""
    units = [len(ids) * (folds + 1 + _searches_form(member, folds)) for member, ids in groups]
    return sum(units), sum(n * member.fit_cost for n, (member, _) in zip(units, groups, strict=True))


def _searches_form(member: PanelForecaster, folds: int) -> int:
    return int(folds > 1 and "series_params" in member.get_params())


def capped_calibration(member: PanelForecaster) -> PanelForecaster:
    """``member`` with ``MEMBER_CALIBRATION_WINDOWS`` conformal refits if it sets their count itself."""
    if member.get_params().get("calibration_windows", False) is None:
        member.set_params(calibration_windows=MEMBER_CALIBRATION_WINDOWS)
    return member


class MemberSetup(NamedTuple):
    """A member as :func:`backtest_member` sets it up for the backtest and the final fit."""

    scored: PanelForecaster  # what each backtest fold fits
    final: PanelForecaster  # what the final fit fits
    earliest_fit: PanelForecaster | None  # its fit at the earliest fold, when a form search made it


def backtest_member(
    member: PanelForecaster,
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    intervals: bool,
    shortlist_forms: int | None = None,
) -> MemberSetup:
    """``member`` as the backtest refits it at each fold, and as the final fit fits it.

    A member that selects a form per series (ETS's letters, Theta's variant)
    searches once, on the earliest fold's history, and every later fold refits
    that form (``series_params``): the folds are months apart, the search is
    most of the cost, and no fold sees a form chosen on its own test months.
    The search is that fold's fit (``earliest_fit``: refitting the chosen form
    there gives the same fit again). A member whose search ranks its forms
    (ETS) searches again at the final fit among only the ``shortlist_forms``
    forms that ranked best there (None: among all). Without calibration the
    backtest's intervals are not used, so the GBMs skip their conformal refits.
    """
    final, member = member, clone(member)
    if not intervals and "calibration_windows" in member.get_params():
        member.set_params(calibration_windows=0)
    if _searches_form(member, folds):
        earliest = history_before(panel, max(fold_offsets(horizon, folds)))
        if earliest is not None:
            with progress.step(len(panel), member.fit_cost):
                searched = clone(member).fit(earliest, X)
            member.set_params(series_params=searched.selected_params_)
            return MemberSetup(member, shortlisted(final, searched, shortlist_forms), searched)
    return MemberSetup(member, final, None)


def shortlisted(member: PanelForecaster, searched: PanelForecaster, n_forms: int | None) -> PanelForecaster:
    """``member`` choosing, per series, among the ``n_forms`` forms that ranked best in ``searched``
    (series models with a ``shortlist``; the others, and ``n_forms`` None, search all forms)."""
    if n_forms is None:
        return member
    shortlists = {
        sid: model.shortlist(n_forms)
        for sid, model in getattr(searched, "models_", {}).items()
        if hasattr(model, "shortlist")
    }
    forms = {sid: params for sid, params in shortlists.items() if params}
    return clone(member).set_params(series_params=forms) if forms else member


def planned_groups(
    candidates: Sequence[PanelForecaster], plan: pd.DataFrame
) -> list[tuple[PanelForecaster, list[str]]]:
    """Each candidate with the series it forecasts (candidates that suit no series are left out)."""
    groups = []
    for candidate in candidates:
        rows = plan[(plan["model"] == candidate.model_name) & plan["used"]]
        if not rows.empty:
            groups.append((candidate, list(rows["series_id"])))
    return groups


@dataclass
class MemberOutcome:
    """One member's backtest and final fit on its series, as :func:`backtest_and_fit` runs them."""

    backtest: pd.DataFrame | None  # None: no series long enough (it weighs by the panel), or it failed
    fitted: PanelForecaster | None  # None: it failed to fit (reported)
    backtest_failures: list[tuple] = field(default_factory=list)
    fit_failures: list[tuple] = field(default_factory=list)


def backtest_and_fit(
    groups: Sequence[tuple[PanelForecaster, list[str]]],
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    *,
    intervals: bool = True,
    levels: Sequence[int] = DEFAULT_LEVELS,
    shortlist_forms: int | None = None,
) -> tuple[pd.DataFrame, list[PanelForecaster], pd.DataFrame]:
    """Every planned member's backtest on its series (origins aligned to each series' end, intervals
    at ``levels``; ``intervals=False``: point forecasts only, :func:`backtest_member`), then its final
    fit, the members side by side (:func:`run_concurrently`): a member's final fit does not wait for
    the others' backtests, so the workers stay busy while ETS's search, the longest, runs. Returns the
    backtests, the fitted members and what failed (backtests first); a member that fails is dropped
    for its series and reported, and every member failing to fit is an error."""
    outcomes: list[MemberOutcome] = run_concurrently(
        [
            partial(
                _backtest_and_fit_one,
                member,
                ids,
                panel,
                X,
                horizon,
                folds,
                intervals,
                levels,
                shortlist_forms,
            )
            for member, ids in groups
        ]
    )
    frames = [outcome.backtest for outcome in outcomes if outcome.backtest is not None]
    fitted = [outcome.fitted for outcome in outcomes if outcome.fitted is not None]
    fit_failures = [row for outcome in outcomes for row in outcome.fit_failures]
    if not fitted:
        raise ModelError(f"every member failed to fit; first reason: {fit_failures[0][3]}")
    failures = [row for outcome in outcomes for row in outcome.backtest_failures] + fit_failures
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    results.attrs.clear()
    return results, fitted, pd.DataFrame(failures, columns=FALLBACK_COLUMNS)


def final_fit(member: PanelForecaster, panel: SeriesPanel, X: pd.DataFrame | None) -> PanelForecaster:
    """``member`` (as :func:`backtest_member` left it for the final fit) fitted on its series: a
    progress step of its series at its cost."""
    with progress.step(len(panel), member.fit_cost):
        return clone(member).fit(panel, X)


def _backtest_and_fit_one(
    member: PanelForecaster,
    series_ids: list[str],
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    intervals: bool,
    levels: Sequence[int],
    shortlist_forms: int | None,
) -> MemberOutcome:
    subset = panel.subset(series_ids)
    frame, final, backtest_failures = None, member, []
    try:
        scored, final, earliest_fit = backtest_member(
            member, subset, X, horizon, folds, intervals, shortlist_forms
        )
        frame = backtest(
            [scored],
            subset,
            horizon=horizon,
            folds=folds,
            X=X,
            align="series",
            levels=levels,
            earliest_fit=earliest_fit,
        )
    except TooLittleHistoryError:
        pass
    except (ConfigError, DataError):
        raise
    except MEMBER_ERRORS as error:
        backtest_failures = member_failed(member.model_name, series_ids, "backtest", error)
    try:
        fitted = final_fit(final, subset, X)
    except (ConfigError, DataError):
        raise
    except MEMBER_ERRORS as error:  # the other members stand in for it
        return MemberOutcome(
            frame, None, backtest_failures, member_failed(member.model_name, series_ids, "fit", error)
        )
    return MemberOutcome(frame, fitted, backtest_failures)
