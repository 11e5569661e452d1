"""Forecast combinations: the mean, median or backtest-weighted mean of member models.

Combinations are the most robust accuracy gain in forecasting (M3, M4): no
single method wins on every series, and averaging cancels their errors.
Intervals are combined the same way as the point forecasts, bound by bound
("quantile averaging", Lichtendahl, Grushka-Cockayne & Winkler 2013): the
combined 80% lower bound is the mean (median, weighted mean) of the members'
80% lower bounds. It keeps the nesting of levels and is at least as sharp as
the members' typical interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from forecasting.core.constants import FALLBACK_COLUMNS
from forecasting.core.intervals import interval_columns
from forecasting.core.params import N_JOBS, POSITIVE_INT, Constraint, Options
from forecasting.core.request import ForecastRequest
from forecasting.core.scales import mase_by_series
from forecasting.errors import NUMERICAL_ERRORS, ConfigError, DataError, ModelError
from forecasting.executors import run_concurrently
from forecasting.models.base import PanelForecaster, concat_rows, predict_fallbacks
from forecasting.models.cv import TooLittleHistoryError, backtest
from forecasting.models.members import MEMBER_LIST, make_member
from forecasting.panel import SeriesPanel

Member = str | PanelForecaster
METHODS = ("mean", "median", "weighted")
MEMBER_ERRORS: tuple[type[Exception], ...] = (*NUMERICAL_ERRORS, ModelError)
"""A member that fails on the whole panel with one of these is dropped and reported; other members
stand in. A ModelError is a member (a nested combination) none of whose own members worked."""


def member_failed(name: str, series_ids: Sequence[str], stage: str, error: Exception) -> list[tuple]:
    """Fallback rows (``FALLBACK_COLUMNS``) for a member that failed to ``stage`` on these series."""
    reason = f"member failed to {stage}: {type(error).__name__}: {error}"
    return [(sid, name, "other members", reason) for sid in series_ids]


def members_use_exog(members: Sequence[Member]) -> bool:
    """True when any member uses exogenous regressors (X is then passed to all; others ignore it)."""
    return any(member.uses_exog for member in resolve_members(members))


def members_fit_cost(members: Sequence[Member]) -> float:
    """The members' :attr:`~forecasting.models.base.PanelForecaster.fit_cost` summed (the progress ETA's)."""
    return sum(member.fit_cost for member in resolve_members(members))


def resolve_members(members: Sequence[Member], n_jobs: int | None = None) -> list[PanelForecaster]:
    """Fresh, unfitted estimators for registry names or (cloned) instances; names must be distinct.

    ``n_jobs``, when given, is passed on to every member that takes it, so the
    parallelism happens inside the members rather than nested around them.
    """
    if isinstance(members, str) or not members:
        raise ConfigError(f"The 'members' parameter must be a non-empty sequence of models. Got {members!r}.")
    resolved = [make_member(m) if isinstance(m, str) else clone(m) for m in members]
    if n_jobs is not None:
        resolved = [m.set_params(n_jobs=n_jobs) if "n_jobs" in m.get_params() else m for m in resolved]
    names = [m.model_name for m in resolved]
    if len(set(names)) != len(names):
        raise ConfigError(f"The 'members' parameter must name distinct models. Got {names}.")
    return resolved


def fit_members(
    members: Sequence[PanelForecaster], panel: SeriesPanel, X: pd.DataFrame | None
) -> tuple[list[PanelForecaster], pd.DataFrame]:
    """Fit each member; a member that fails on the whole panel is dropped and reported per series."""
    fitted, failures = [], []
    for member in members:
        try:
            fitted.append(member.fit(panel, X))
        except (ConfigError, DataError):
            raise
        except MEMBER_ERRORS as error:
            failures += member_failed(member.model_name, panel.series_ids, "fit", error)
    if not fitted:
        raise ModelError(f"every member failed to fit; first reason: {failures[0][3]}")
    return fitted, pd.DataFrame(failures, columns=FALLBACK_COLUMNS)


def members_history(members: Sequence[PanelForecaster], series_id: str) -> np.ndarray | None:
    """The history the first member that forecast ``series_id`` kept of it (None: none did)."""
    histories = (member._series_history(series_id) for member in members)
    return next((history for history in histories if history is not None), None)


def member_fallbacks(members: Sequence[PanelForecaster]) -> pd.DataFrame:
    """Every member's ``fallbacks_``, one frame (``model`` names the member)."""
    return concat_rows([getattr(m, "fallbacks_", None) for m in members], FALLBACK_COLUMNS)


def predict_members(
    members: Sequence[PanelForecaster], horizon: int, X_future: pd.DataFrame | None, levels: Sequence[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All members' forecasts stacked (``model`` = member name), plus fallback rows: the members'
    own predict-time fallbacks and the members that failed to predict. The members predict side by
    side on an executor with several workers (:func:`~forecasting.executors.run_concurrently`)."""
    outcomes = run_concurrently(
        [partial(_predict_member, member, horizon, X_future, levels) for member in members]
    )
    frames, reported, failures = [], [], []
    for member, (forecasts, rows) in zip(members, outcomes, strict=True):
        failures += rows
        if forecasts is not None:
            reported.append(predict_fallbacks(forecasts))
            frames.append(forecasts.assign(model=member.model_name))
    if not frames:
        raise ModelError(f"every member failed to predict; first reason: {failures[0][3]}")
    stacked = pd.concat(frames, ignore_index=True)
    stacked["series_id"] = stacked["series_id"].astype(str)
    stacked.attrs.clear()
    failed = pd.DataFrame(failures, columns=FALLBACK_COLUMNS)
    return stacked, concat_rows([*reported, failed], FALLBACK_COLUMNS)


def _predict_member(
    member: PanelForecaster, horizon: int, X_future: pd.DataFrame | None, levels: Sequence[int]
) -> tuple[pd.DataFrame | None, list[tuple]]:
    """One member's forecasts, or None and a fallback row per series when it fails to predict."""
    try:
        return member.predict(horizon, X_future, levels), []
    except (ConfigError, DataError):
        raise
    except MEMBER_ERRORS as error:
        return None, member_failed(member.model_name, list(member.last_month_), "predict", error)


def combine_forecasts(
    stacked: pd.DataFrame,
    levels: Sequence[int],
    method: Literal["mean", "median", "weighted"] = "mean",
    weights: pd.DataFrame | None = None,
    keys: Sequence[str] = ("series_id", "month"),
) -> pd.DataFrame:
    """Combine stacked member forecasts per series and month (or other ``keys``), bound by bound.

    ``weights`` (for ``method="weighted"``) has columns ``series_id, model,
    weight``; a series or member without a weight gets weight 1 before the
    weights of each key are renormalised over the members present. A backtest
    table is combined per ``("series_id", "cutoff", "month")``.
    """
    values = ["forecast", *interval_columns(levels)]
    keys = list(keys)
    if method in ("mean", "median"):
        return stacked.groupby(keys, sort=True)[values].agg(method).reset_index()
    frame = stacked.merge(weights, on=["series_id", "model"], how="left") if weights is not None else stacked
    weight = frame["weight"].fillna(1.0) if "weight" in frame else pd.Series(1.0, index=frame.index)
    weighted = frame[values].mul(weight, axis=0)
    weighted[keys] = frame[keys]
    weighted["weight"] = weight
    sums = weighted.groupby(keys, sort=True)[[*values, "weight"]].sum()
    return sums[values].div(sums["weight"], axis=0).reset_index()


def inverse_mase_weights(per_series: pd.DataFrame, floor: float = 1e-3) -> pd.DataFrame:
    """Weights proportional to 1 / backtest MASE per series (a frame with a ``mase`` column indexed
    ``model, series_id``, as :func:`~forecasting.core.scales.mase_by_series` gives).

    A member with an undefined MASE on a series (constant training window)
    gets the series' mean weight; MASE is floored at ``floor`` so a perfect
    member does not take every weight through a division by zero.
    """
    mase = per_series["mase"].unstack("model")
    inverse = 1.0 / mase.clip(lower=floor)
    inverse = inverse.apply(lambda row: row.fillna(row.mean() if row.notna().any() else 1.0), axis=1)
    weights = inverse.div(inverse.sum(axis=1), axis=0)
    weights.columns.name = "model"
    return weights.stack().rename("weight").reset_index()[["series_id", "model", "weight"]]


class Ensemble(PanelForecaster):
    """Mean, median or inverse-backtest-MASE weighted combination of member models.

    Parameters
    ----------
    members : single-model names (``"ets"``; :mod:`~forecasting.models.members`) or estimator
        instances (cloned on fit).
    method : "median" (robust to one bad member), "mean", or "weighted": per
        series, weights proportional to 1 / MASE of each member in a rolling
        backtest of the training data (``backtest_horizon`` months,
        ``backtest_folds`` folds); series the backtest cannot score get equal
        weights, recorded in ``weights_`` with ``source="equal"``.
    n_jobs : passed to every member that takes it (parallelism inside the members).
    """

    name = "ensemble"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "members": [MEMBER_LIST],
        "method": [Options(*METHODS)],
        "backtest_horizon": [POSITIVE_INT],
        "backtest_folds": [POSITIVE_INT],
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        members: Sequence[Member] = ("ets", "theta", "arima"),
        method: Literal["mean", "median", "weighted"] = "median",
        backtest_horizon: int = 12,
        backtest_folds: int = 2,
        n_jobs: int = 1,
    ) -> None:
        self.members = members
        self.method = method
        self.backtest_horizon = backtest_horizon
        self.backtest_folds = backtest_folds
        self.n_jobs = n_jobs

    @property
    def fit_cost(self) -> float:  # type: ignore[override]
        """The members' fit costs together: a combination fits each of them per series."""
        return members_fit_cost(self.members)

    @property
    def uses_exog(self) -> bool:  # type: ignore[override]
        """True when any member uses exogenous regressors (X is passed to all; others ignore it)."""
        return members_use_exog(self.members)

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        members = resolve_members(self.members, self.n_jobs)
        self.weights_ = self._backtest_weights(members, panel, X) if self.method == "weighted" else None
        self.members_, failures = fit_members(members, panel, X)
        self.fallbacks_ = concat_rows([failures, member_fallbacks(self.members_)], FALLBACK_COLUMNS)

    def _backtest_weights(
        self, members: list[PanelForecaster], panel: SeriesPanel, X: pd.DataFrame | None
    ) -> pd.DataFrame:
        names = [m.model_name for m in members]
        try:
            results = backtest(members, panel, horizon=self.backtest_horizon, folds=self.backtest_folds, X=X)
            scored = inverse_mase_weights(mase_by_series(results).to_frame()).assign(source="backtest")
        except TooLittleHistoryError:  # every series gets equal weights below
            scored = pd.DataFrame(columns=["series_id", "model", "weight"])
        unscored = sorted(set(panel.series_ids) - set(scored["series_id"]))
        equal = pd.DataFrame(
            [(sid, name, 1.0 / len(names), "equal") for sid in unscored for name in names],
            columns=["series_id", "model", "weight", "source"],
        )
        return concat_rows([scored, equal], ["series_id", "model", "weight", "source"])

    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        stacked, failures = predict_members(self.members_, request.horizon, X_future, request.levels)
        weights = self.weights_[["series_id", "model", "weight"]] if self.weights_ is not None else None
        return combine_forecasts(stacked, request.levels, self.method, weights), failures

    def _series_history(self, series_id: str) -> np.ndarray | None:
        return members_history(self.members_, series_id)
