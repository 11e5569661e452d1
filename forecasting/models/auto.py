"""``auto``: the model a user gets without naming one.

Each series is forecast by a weighted mean of the members that suit it
(forecast and bounds alike, bound by bound), its weights set by how each
member did in a backtest of that series and of the panel. No decision is
taken for the whole panel; every decision is logged per series
(``decisions_``, ``plan_``, ``weights_``).

The members (``DEFAULT_MEMBERS``): ETS (AICc over the restricted forms,
statsforecast; it decides the season for itself), Theta with an optimised
theta, two global gradient-boosting models (mean and median loss, their own
intervals from ``MEMBER_CALIBRATION_WINDOWS`` refits) and two no-change
forecasts (seasonal naive and the seasonal profile), each fitted on the last
``max_history`` months of a series: older history rarely helps a monthly
forecast through the structural breaks of a decade and costs time. For
intermittent and lumpy series the intermittent-demand members (Croston, TSB,
ADIDA and IMAPA, :mod:`~forecasting.models.intermittent`) stand beside them,
weighted by the same backtest. ARIMA, Theta and CES can be added as
``candidates``. Against one spike: a member
forecast far outside the series' recent range is left out of the combination
when another member is plausible, and no bound lies further than a few recent
scales from the forecast (:func:`~forecasting.core.intervals.drop_implausible`,
:func:`~forecasting.core.intervals.cap_widths`; ordinary series never reach either).

Each concern has a module of its own, in the order ``fit`` takes them:

- :mod:`~forecasting.models.auto_plan`: which members suit a series, by its
  seasonality, length and demand class (``decisions_``, ``plan_``);
- :mod:`~forecasting.models.auto_members`: the members backtested and fitted on
  the series they suit;
- :mod:`~forecasting.models.auto_weights`: the weights from the backtest, shrunk
  towards the panel (``weights_``), and the weighted combination;
- :mod:`~forecasting.models.auto_intervals`: the combined intervals shaped by each
  series' errors (``interval_shape_``) and, optionally, calibrated step by step;
  the zero-inflated bounds of intermittent and lumpy series (``zero_inflated_``).

Why these members and defaults, and how they did on the development sets:
``docs/experiments/default-auto.md`` and ``docs/experiments/model-docstring-figures.md``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from joblib import Memory
from sklearn.base import clone

from forecasting import progress
from forecasting.core.checks import check_levels
from forecasting.core.constants import DEFAULT_LEVELS, FALLBACK_COLUMNS, SEASON_LENGTH
from forecasting.core.intervals import cap_widths, drop_implausible, recent_ranges
from forecasting.core.params import (
    BOOLEAN,
    LEVEL_LIST,
    N_JOBS,
    NONE,
    POSITIVE_INT,
    Constraint,
    InstanceOf,
    Interval,
)
from forecasting.core.request import ForecastRequest
from forecasting.errors import ConfigError
from forecasting.executors import workers_share_files
from forecasting.models.auto_intervals import (
    NORMAL_SHAPE_CLASSES,
    SHAPE_LEVEL,
    error_shapes,
    normal_shapes,
    scale_intervals,
    shape_intervals,
    step_calibration,
    zero_inflated_intervals,
    zero_inflated_profiles,
)
from forecasting.models.auto_members import (
    backtest_and_fit,
    capped_calibration,
    planned_groups,
    planned_work,
)
from forecasting.models.auto_plan import (
    INTERMITTENT_MEMBERS,
    member_plan,
    recent_history,
    series_decisions,
    with_members,
)
from forecasting.models.auto_weights import combine_by_horizon, combined_backtest, horizon_weights
from forecasting.models.base import PanelForecaster, concat_rows, series_arrays
from forecasting.models.ensemble import (
    Member,
    member_fallbacks,
    members_fit_cost,
    members_history,
    members_use_exog,
    predict_members,
    resolve_members,
)
from forecasting.models.members import MEMBER_LIST
from forecasting.panel import SeriesPanel

DEFAULT_MEMBERS = (
    "ets",
    "theta",
    "gbm",
    "gbm_median",
    "seasonal_naive",
    "seasonal_profile",
    *INTERMITTENT_MEMBERS,
)
FIT_COST_SHARE = 0.85
"""``auto``'s fit costs this share of its members' fits summed (the progress ETA's cost): it fits the
intermittent-demand members on the sparse series only, and its earliest backtest fold reuses the
form search's fit. ``benchmarks/fit_cost.py`` on BTS: 0.87 serial, 0.86 with the local executor
(400 series); the full-BTS retrain's backtests 0.77."""


class Auto(PanelForecaster):
    """Per-series weighted combination of the members that suit each series, with calibrated intervals.

    Parameters
    ----------
    candidates : registry names or estimators; members in ``ROLES`` forecast
        only the series their role allows (:mod:`~forecasting.models.auto_plan`),
        others every series.
    shrinkage : how many backtest errors of a series weigh as much as the
        panel's ranking of the members (larger: closer to one ranking for all).
    temperature : how sharply weights follow the scores (smaller: closer to
        the best member; larger: closer to an equal-weight mean).
    global_min_obs : months a series needs for the global members (GBMs).
    global_min_series : series a panel needs for the global members (GBMs) to be used at all.
    max_history : months of each series' most recent history the members see (None: all).
    backtest_horizon, backtest_folds : the internal backtest that weighs the
        members and calibrates the intervals; ``make_model("auto", horizon=h)``
        sets the horizon to h.
    short_horizon : the first ``short_horizon`` forecast steps and the later
        ones are weighted apart, each part on the backtest's errors at its
        steps (None, or a backtest no longer than it: one weighting for all).
    shape_member : the member whose in-sample one-step errors set, per series,
        each level below 95 % as a share of the 95 % bounds' distance
        (:mod:`~forecasting.models.auto_intervals`); None: every level as the members' bounds combine.
    shortlist_forms : ETS's final fit chooses each series' form among the forms that
        ranked best (by AICc) at the backtest's earliest fold, this many; None: among
        all of them. Its search is a third of ``auto``'s time on a large panel.
    calibrate : scale intervals to their backtest coverage (split conformal).
    levels : the forecast request's interval levels, at which ``fit`` calibrates
        (``calibrate``) and reads the error shapes; None: ``DEFAULT_LEVELS``. The
        job and ``make_model(..., levels=...)`` set them from the request; ``predict``
        at other levels takes each one's nearest calibrated level's factors.
    n_jobs : passed to every candidate that takes it (parallelism inside the candidates).
    """

    name = "auto"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "candidates": [MEMBER_LIST],
        "shrinkage": [Interval(Real, 0, None)],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "global_min_obs": [POSITIVE_INT],
        "global_min_series": [POSITIVE_INT],
        "max_history": [NONE, Interval(Integral, 2 * SEASON_LENGTH, None)],
        "backtest_horizon": [POSITIVE_INT],
        "backtest_folds": [POSITIVE_INT],
        "short_horizon": [NONE, POSITIVE_INT],
        "shape_member": [NONE, InstanceOf(str, "a member name")],
        "shortlist_forms": [NONE, POSITIVE_INT],
        "calibrate": [BOOLEAN],
        "levels": [NONE, LEVEL_LIST],
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        candidates: Sequence[Member] = DEFAULT_MEMBERS,
        shrinkage: float = 48.0,
        temperature: float = 0.15,
        global_min_obs: int = 2 * SEASON_LENGTH,
        global_min_series: int = 30,
        max_history: int | None = 120,
        backtest_horizon: int = 12,
        backtest_folds: int = 2,
        short_horizon: int | None = 6,
        shape_member: str | None = "ets",
        shortlist_forms: int | None = 3,
        calibrate: bool = False,
        levels: Sequence[int] | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.candidates = candidates
        self.shrinkage = shrinkage
        self.temperature = temperature
        self.global_min_obs = global_min_obs
        self.global_min_series = global_min_series
        self.max_history = max_history
        self.backtest_horizon = backtest_horizon
        self.backtest_folds = backtest_folds
        self.short_horizon = short_horizon
        self.shape_member = shape_member
        self.shortlist_forms = shortlist_forms
        self.calibrate = calibrate
        self.levels = levels
        self.n_jobs = n_jobs

    @property
    def fit_cost(self) -> float:  # type: ignore[override]
        """:data:`FIT_COST_SHARE` of the members' fit costs together: it fits each per series, some
        on fewer series or folds."""
        return FIT_COST_SHARE * members_fit_cost(self.candidates)

    @property
    def uses_exog(self) -> bool:  # type: ignore[override]
        """True when any candidate uses exogenous regressors (X is passed to all; others ignore it)."""
        return members_use_exog(self.candidates)

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        candidates = [capped_calibration(m) for m in resolve_members(self.candidates, self.n_jobs)]
        self._check_shape_member(candidates)
        panel = recent_history(panel, self.max_history)
        decisions = series_decisions(panel)
        self.plan_ = member_plan(decisions, candidates, self.global_min_obs, self.global_min_series)
        self.decisions_ = with_members(decisions, self.plan_)
        groups = planned_groups(candidates, self.plan_)
        levels = self._levels()
        horizon, folds = self.backtest_horizon, self.backtest_folds
        progress.announce(*planned_work(groups, folds))
        with regressor_cache(groups) as cached:
            results, members, failures = backtest_and_fit(
                cached,
                panel,
                X,
                horizon,
                folds,
                intervals=self.calibrate,
                levels=levels,
                shortlist_forms=self.shortlist_forms,
            )
        self.weights_ = horizon_weights(
            results, self.plan_, self.shrinkage, self.temperature, self._first_steps()
        )
        combined = combined_backtest(results, self.weights_, levels) if self.calibrate else pd.DataFrame()
        self.calibration_ = step_calibration(combined, levels)
        self.members_ = without_cache(members, groups)
        self.fallbacks_ = concat_rows([failures, member_fallbacks(self.members_)], FALLBACK_COLUMNS)
        self.recent_ranges_ = recent_ranges((sid, y) for sid, y, _ in series_arrays(panel))
        self.interval_shape_ = self._error_shapes(levels)
        self.zero_inflated_ = zero_inflated_profiles(panel, self.decisions_)

    def _levels(self) -> tuple[int, ...]:
        """The requested levels fit calibrates at (``levels``, else :data:`DEFAULT_LEVELS`)."""
        return DEFAULT_LEVELS if self.levels is None else check_levels(self.levels)

    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        horizon, levels = request.horizon, request.levels
        shapes = self._shapes(levels)
        member_levels = sorted({*levels, SHAPE_LEVEL}) if len(shapes.columns) else levels
        stacked, failures = predict_members(self.members_, horizon, X_future, member_levels)
        stacked = drop_implausible(stacked, self.recent_ranges_)  # a spike a member's level absorbed
        combined = combine_by_horizon(stacked, self._steps(stacked), self.weights_, member_levels)
        combined = shape_intervals(combined, shapes, member_levels)
        combined = scale_intervals(combined, self._steps(combined), self.calibration_, levels)
        combined = zero_inflated_intervals(combined, self.zero_inflated_, levels)
        return cap_widths(combined, self.recent_ranges_, levels), failures

    def _series_history(self, series_id: str) -> np.ndarray | None:
        return members_history(self.members_, series_id)

    def in_sample_residuals(self, months: int | None = None) -> pd.DataFrame | None:
        """The combination's in-sample one-step errors, from the members that have them.

        ``y - sum_m w_m f_m = sum_m w_m (y - f_m)`` with the first steps'
        weights. Global members (the GBMs) have no in-sample one-step errors:
        in each month a series' weights are renormalised over the members with
        an error then. None when no member has any (reconciliation then uses
        backtest errors).
        """
        self._check_fitted()
        tables = {m.model_name: m.in_sample_residuals(months) for m in self.members_}
        tables = {name: table for name, table in tables.items() if table is not None and len(table)}
        if not tables:
            return None
        index = sorted(set().union(*(table.index for table in tables.values())))
        columns = [sid for sid in self.last_month_ if any(sid in table for table in tables.values())]
        first = self.weights_[self.weights_["first_step"] == self.weights_["first_step"].min()]
        weights = first.pivot(index="series_id", columns="model", values="weight").reindex(columns)
        total = np.zeros((len(index), len(columns)))
        weight_sum = np.zeros_like(total)
        for name, table in tables.items():
            errors = table.reindex(index=index, columns=columns).to_numpy(dtype="float64")
            weight = weights[name].fillna(0.0).to_numpy() if name in weights else np.zeros(len(columns))
            counted = np.isfinite(errors) & (weight > 0)
            total += np.where(counted, errors * weight, 0.0)
            weight_sum += np.where(counted, weight, 0.0)
        combined = np.divide(total, weight_sum, out=np.full_like(total, np.nan), where=weight_sum > 0)
        return pd.DataFrame(combined, index=pd.PeriodIndex(index, freq="M"), columns=columns)

    def _check_shape_member(self, candidates: Sequence[PanelForecaster]) -> None:
        names = [member.model_name for member in candidates]
        if self.shape_member is not None and self.shape_member not in names:
            raise ConfigError(
                f"The 'shape_member' parameter must name one of the candidates {names} or be None. "
                f"Got {self.shape_member!r} instead."
            )

    def _shapes(self, levels: Sequence[int]) -> pd.DataFrame:
        """The shares for ``levels``: those of ``interval_shape_`` when it has them, else read anew."""
        narrower = [level for level in levels if level < SHAPE_LEVEL]
        if set(narrower) <= set(self.interval_shape_.columns):
            return self.interval_shape_[narrower]
        return self._error_shapes(levels)

    def _error_shapes(self, levels: Sequence[int]) -> pd.DataFrame:
        """:func:`error_shapes` of ``shape_member``'s in-sample errors; the series of the
        ``NORMAL_SHAPE_CLASSES`` take :func:`normal_shapes` instead.

        Empty when there is no such member or it failed to fit (the fallbacks
        report it); an error when the member has no in-sample errors.
        """
        member = next((m for m in self.members_ if m.model_name == self.shape_member), None)
        if member is None:
            return pd.DataFrame(index=pd.Index([], name="series_id"))
        residuals = member.in_sample_residuals()
        if residuals is None:
            raise ConfigError(
                f"The 'shape_member' parameter must name a member with in-sample one-step errors; "
                f"{self.shape_member!r} has none (global and combined models do not)."
            )
        classes = self.decisions_.set_index("series_id")["demand_class"]
        normal = list(classes.index[classes.isin(NORMAL_SHAPE_CLASSES)])
        shaped = error_shapes(residuals.drop(columns=normal, errors="ignore"), levels)
        parts = [table for table in (shaped, normal_shapes(normal, levels)) if len(table)]
        return pd.concat(parts) if parts else shaped

    def _steps(self, forecasts: pd.DataFrame) -> np.ndarray:
        """Months from each row's series' last training month to the row's month."""
        last = forecasts["series_id"].map({sid: month.ordinal for sid, month in self.last_month_.items()})
        return pd.PeriodIndex(forecasts["month"]).asi8 - last.to_numpy(dtype="int64")

    def _first_steps(self) -> list[int]:
        """Where the parts of the horizon weighted apart begin: a part needs backtest errors."""
        split = self.short_horizon is not None and self.short_horizon < self.backtest_horizon
        return [1, self.short_horizon + 1] if split else [1]


@contextmanager
def regressor_cache(
    groups: Sequence[tuple[PanelForecaster, list[str]]],
) -> Iterator[list[tuple[PanelForecaster, list[str]]]]:
    """``groups`` whose global members cache their regressor fits in a temporary folder, for the block.

    A backtest fold and a conformal refit of the final fit at the same cutoff
    fit the same trees on the same rows: with one cache over ``fit``, the
    second is loaded, not refitted. Only where every worker reads this
    machine's files (not on a remote Dask cluster). The folder is removed on
    leaving the block, whether ``fit`` succeeded or not.
    """
    if not workers_share_files() or not any(_takes_cache(member) for member, _ in groups):
        yield list(groups)
        return
    with tempfile.TemporaryDirectory(prefix="forecasting-auto-", ignore_cleanup_errors=True) as folder:
        memory = Memory(folder, verbose=0)
        yield [
            (clone(member).set_params(memory=memory) if _takes_cache(member) else member, series_ids)
            for member, series_ids in groups
        ]


def without_cache(
    fitted: Sequence[PanelForecaster], groups: Sequence[tuple[PanelForecaster, list[str]]]
) -> list[PanelForecaster]:
    """The fitted members with the cache :func:`regressor_cache` gave them taken away: its folder
    is gone, and a clone or refit of the fitted model must not create it again."""
    cached = {member.model_name for member, _ in groups if _takes_cache(member)}
    return [member.set_params(memory=None) if member.model_name in cached else member for member in fitted]


def _takes_cache(member: PanelForecaster) -> bool:
    """A member fitted in one piece (a global regressor) with a ``memory`` left at None."""
    params = member.get_params()
    return member.fits_in_one_piece and "memory" in params and params["memory"] is None
