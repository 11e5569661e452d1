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
members stand in.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn.base import clone

from forecasting.core.constants import DEFAULT_LEVELS, FALLBACK_COLUMNS
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.models.auto_plan import history_before
from forecasting.models.base import PanelForecaster
from forecasting.models.cv import TooLittleHistoryError, backtest, fold_offsets
from forecasting.models.ensemble import MEMBER_ERRORS
from forecasting.panel import SeriesPanel

MEMBER_CALIBRATION_WINDOWS = 3
"""Conformal refits of a global member whose count is automatic (``calibration_windows=None``): on a
small panel the GBM would refit up to 12 times for its own intervals, which inside ``auto`` are one
input among six and are refitted again at every backtest fold."""


def planned_work(groups: Sequence[tuple[PanelForecaster, list[str]]], folds: int) -> int:
    """Series fits ``auto`` will run, as the command's progress counts them: each member's series
    at every backtest fold, once more for a form searched before the folds, and once for the fit."""
    return sum(len(ids) * (folds + 1 + _searches_form(member, folds)) for member, ids in groups)


def _searches_form(member: PanelForecaster, folds: int) -> int:
    return int(folds > 1 and "series_params" in member.get_params())


def capped_calibration(member: PanelForecaster) -> PanelForecaster:
    """``member`` with ``MEMBER_CALIBRATION_WINDOWS`` conformal refits if it sets their count itself."""
    if member.get_params().get("calibration_windows", False) is None:
        member.set_params(calibration_windows=MEMBER_CALIBRATION_WINDOWS)
    return member


def backtest_member(
    member: PanelForecaster,
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    intervals: bool,
    shortlist_forms: int | None = None,
) -> tuple[PanelForecaster, PanelForecaster]:
    """``member`` as the backtest refits it at each fold, and as the final fit fits it.

    A member that selects a form per series (ETS's letters, Theta's variant)
    searches once, on the earliest fold's history, and every later fold refits
    that form (``series_params``): the folds are months apart, the search is
    most of the cost, and no fold sees a form chosen on its own test months.
    A member whose search ranks its forms (ETS) searches again at the final
    fit among only the ``shortlist_forms`` forms that ranked best there (None:
    among all). Without calibration the backtest's intervals are not used, so
    the GBMs skip their conformal refits.
    """
    final, member = member, clone(member)
    if not intervals and "calibration_windows" in member.get_params():
        member.set_params(calibration_windows=0)
    if _searches_form(member, folds):
        earliest = history_before(panel, max(fold_offsets(horizon, folds)))
        if earliest is not None:
            searched = clone(member).fit(earliest, X)
            member.set_params(series_params=searched.selected_params_)
            final = shortlisted(final, searched, shortlist_forms)
    return member, final


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


def _failed(name: str, series_ids: Sequence[str], stage: str, error: Exception) -> list[tuple]:
    reason = f"member failed to {stage}: {type(error).__name__}: {error}"
    return [(sid, name, "other members", reason) for sid in series_ids]


def fit_planned(
    groups: Sequence[tuple[PanelForecaster, list[str]]], panel: SeriesPanel, X: pd.DataFrame | None
) -> tuple[list[PanelForecaster], pd.DataFrame]:
    """Each planned member fitted on its series; a member that fails is dropped for them and reported."""
    fitted, failures = [], []
    for member, series_ids in groups:
        try:
            fitted.append(clone(member).fit(panel.subset(series_ids), X))
        except (ConfigError, DataError):
            raise
        except MEMBER_ERRORS as error:  # the other members stand in for it
            failures += _failed(member.model_name, series_ids, "fit", error)
    if not fitted:
        raise ModelError(f"every member failed to fit; first reason: {failures[0][3]}")
    return fitted, pd.DataFrame(failures, columns=FALLBACK_COLUMNS)


def backtest_planned(
    groups: Sequence[tuple[PanelForecaster, list[str]]],
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    *,
    intervals: bool = True,
    levels: Sequence[int] = DEFAULT_LEVELS,
    shortlist_forms: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[PanelForecaster, list[str]]]]:
    """Every planned member's backtest on its series (origins aligned to each series' end), with
    intervals at ``levels``; ``intervals=False``: only its point forecasts are used
    (:func:`backtest_member`). Also the groups as the final fit fits them (searches shortlisted)."""
    frames, failures, final_groups = [], [], []
    for member, series_ids in groups:
        subset = panel.subset(series_ids)
        final = member
        try:
            scored, final = backtest_member(member, subset, X, horizon, folds, intervals, shortlist_forms)
            frames.append(
                backtest([scored], subset, horizon=horizon, folds=folds, X=X, align="series", levels=levels)
            )
        except TooLittleHistoryError:  # none of its series is long enough: it weighs by the panel
            pass
        except (ConfigError, DataError):
            raise
        except MEMBER_ERRORS as error:
            failures += _failed(member.model_name, series_ids, "backtest", error)
        final_groups.append((final, series_ids))
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    results.attrs.clear()
    return results, pd.DataFrame(failures, columns=FALLBACK_COLUMNS), final_groups
