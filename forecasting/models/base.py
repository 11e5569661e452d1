"""The model contract: one template for every panel model, and thin per-series models under it.

:class:`PanelForecaster` is the template, as sktime's public ``fit`` calling
``_fit`` and scikit-learn's ``_parameter_constraints``: its ``fit`` and
``predict`` own what every model shares (the panel and parameter checks, the
fitted check, the forecast request, nested and clipped intervals, the
stand-in for a forecast that is not finite), and a model writes only an
explicit ``__init__``, its constraints, ``_fit`` and ``_predict``.

Following statsforecast's split, a :class:`SeriesModel` sees one numpy array and
knows nothing of months or DataFrames; :class:`LocalForecaster` owns the panel,
the future months, exogenous alignment, parallelism and the per-series
fallback. Estimators follow scikit-learn: the constructor stores parameters,
``fit`` returns ``self``, fitted state ends in ``_``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from forecasting.core.checks import check_horizon, check_levels
from forecasting.core.constants import ADJUSTMENT_COLUMNS, DEFAULT_LEVELS, FALLBACK_COLUMNS
from forecasting.core.exog import absent_reason, exog_matrices
from forecasting.core.intervals import clip_nonnegative, forecast_columns, interval_columns, nest_intervals
from forecasting.core.params import N_JOBS, NONE, POSITIVE_INT, Constraint, InstanceOf, validate_params
from forecasting.core.request import ForecastRequest
from forecasting.errors import NUMERICAL_ERRORS, ConfigError, DataError, ModelError
from forecasting.executors import run_chunked
from forecasting.models.naive import fallback_model
from forecasting.panel import SeriesPanel


class SeriesModel(Protocol):
    """What a per-series model offers: numpy in, numpy out; ``min_obs`` observations at least."""

    min_obs: int

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self: ...

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]: ...


SERIES_PARAMS: dict[str, list[Constraint]] = {
    "series_params": [NONE, InstanceOf(Mapping, "a mapping of series id to parameters")]
}
"""The panel constraint of a local model that takes per-series parameters (``series_params``)."""
SELECTED_PARAMS = "selected_params"
"""Optional method of a fitted series model: the parameters that fit its chosen form again without
the search (e.g. ETS's letters), collected per series in a local model's ``selected_params_``."""


CLOSED_FORM_COST = 0.01
"""The :attr:`PanelForecaster.fit_cost` of a model with nothing to search or optimise (a baseline)."""

LOCAL_PARAMS: dict[str, list[Constraint]] = {"min_obs": [NONE, POSITIVE_INT], "n_jobs": N_JOBS}
"""The constraints of the two parameters every local model ends with (:class:`LocalForecaster`)."""


class PanelForecaster(BaseEstimator):
    """A forecaster for a whole :class:`SeriesPanel`: the template every model follows.

    ``predict`` returns a long frame ``series_id, month, model, forecast,
    lower_<l>, upper_<l>`` for each level. ``fallbacks_`` lists the series for
    which another model stood in, with the reason.

    A model writes an explicit ``__init__`` that stores its parameters, declares
    each one's ``_parameter_constraints``, and implements ``_fit`` and
    ``_predict``; it never overrides ``fit`` or ``predict``, which own the
    checks and the post-processing every model shares (tests/test_model_template.py
    holds every registered model to this).
    """

    name: str = "model"
    uses_exog: bool = False
    """Whether ``fit``/``predict`` use X; callers pass X only to models that do."""
    fit_cost: float = 1.0
    """Time a series' fit takes relative to ARIMA's (about 50 ms of wall time on a BTS series with
    the commands' default executor on 2 cores): only the command's progress ETA reads it
    (:mod:`forecasting.progress`); ``benchmarks/fit_cost.py --executor local`` measures it."""
    fits_in_one_piece: ClassVar[bool] = False
    """True when ``fit`` is one piece of work on the whole panel (a global regressor), with no
    per-series work to hand the executor: a backtest hands it the folds instead."""
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}
    """Per constructor parameter, the constraints a valid value meets (one of them suffices)."""

    def _validate_params(self) -> None:
        """ConfigError naming the first invalid parameter; every ``fit`` calls it before any work."""
        validate_params(type(self).__name__, self.get_params(deep=False), self._parameter_constraints)

    def fit(self, panel: SeriesPanel, X: pd.DataFrame | None = None) -> Self:
        """Check the panel and the parameters, fit (``_fit``), then note each series' last month and sign."""
        if not isinstance(panel, SeriesPanel):
            raise TypeError(f"fit expects a SeriesPanel. Got {type(panel).__name__} instead.")
        self._validate_params()
        self._fit(panel, X)
        grouped = panel.records.groupby("series_id", observed=True)
        last, lowest = grouped["month"].max(), grouped["value"].min()
        self.last_month_ = dict(zip(last.index.astype(str), last, strict=True))
        self.nonnegative_ = dict(zip(lowest.index.astype(str), lowest >= 0, strict=True))
        return self

    def predict(
        self,
        horizon: int,
        X_future: pd.DataFrame | None = None,
        levels: Sequence[int] = DEFAULT_LEVELS,
    ) -> pd.DataFrame:
        """Forecasts for the ``horizon`` months after each series' last month, intervals at ``levels``.

        After ``_predict``, a series whose forecast or interval is not finite
        gets the fallback model's (:meth:`_series_history`), wider levels are
        widened to contain narrower ones, and series never below zero are
        clipped at zero. Stand-ins chosen here come with the forecasts
        (:func:`predict_fallbacks`): ``predict`` changes no fitted state.
        """
        self._check_fitted()
        request = ForecastRequest(check_horizon(horizon), check_levels(levels))
        forecasts, fallbacks = self._predict(request, X_future)
        stand_ins = self._stand_in_non_finite(forecasts, request.levels)
        nonnegative = forecasts["series_id"].map(self.nonnegative_).eq(True).to_numpy()
        finish_intervals(forecasts, request.levels, nonnegative)
        forecasts["model"] = self.model_name
        reported = concat_rows([fallbacks, stand_ins], FALLBACK_COLUMNS)
        return with_predict_fallbacks(forecasts[forecast_columns(request.levels)], reported)

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        """Fit the model to ``panel`` (parameters valid, ``panel`` a SeriesPanel)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _fit")

    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(forecasts, fallbacks)``: ``series_id, month, forecast`` and each requested level's bounds
        (a series' rows in month order), and the predict-time stand-ins (``FALLBACK_COLUMNS``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _predict")

    def _series_history(self, series_id: str) -> np.ndarray | None:
        """The gap-filled history a stand-in model is fitted on for ``series_id``; None: none is kept."""
        return None

    def _stand_in_non_finite(self, forecasts: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
        """In place: the fallback model's forecasts for each series whose own are not all finite;
        the rows reporting them (a DataError when there is no history or the stand-in is not finite)."""
        columns = ["forecast", *interval_columns(levels)]
        rows = []
        for series_id, mask in non_finite_series(forecasts, levels):
            history = self._series_history(series_id)
            if history is None:
                raise DataError(
                    "forecast or interval is not finite and no history is kept for a fallback",
                    series=series_id,
                )
            name, predicted = stand_in(series_id, history, int(mask.sum()), levels)
            forecasts.loc[mask, columns] = np.column_stack([predicted[key] for key in ["mean", *columns[1:]]])
            rows.append((series_id, self.model_name, name, "non-finite forecast or interval"))
        return pd.DataFrame(rows, columns=FALLBACK_COLUMNS)

    def in_sample_residuals(self, months: int | None = None) -> pd.DataFrame | None:
        """In-sample one-step errors (rows: months, columns: series), or None when the model has none.

        The textbook input of MinT's error covariance (Wickramasuriya,
        Athanasopoulos and Hyndman 2019): many more rows than a backtest gives.
        ``months`` keeps the last so many months. Models without cheap one-step
        errors (global ones, the ensemble) return None and reconciliation uses
        their backtest errors instead; ``auto`` combines its members' errors.
        """
        return None

    def _check_fitted(self) -> None:
        if not hasattr(self, "last_month_"):
            raise ModelError(f"{type(self).__name__} is not fitted yet: call fit(panel) before predict.")

    @property
    def model_name(self) -> str:
        return self.name


def fill_gaps(y: np.ndarray) -> tuple[np.ndarray, int]:
    """Linearly interpolate interior NaNs; returns the filled copy and how many."""
    missing = np.isnan(y)
    if not missing.any():
        return y, 0
    index = np.arange(len(y))
    filled = y.copy()
    filled[missing] = np.interp(index[missing], index[~missing], y[~missing])
    return filled, int(missing.sum())


PREDICT_FALLBACKS = "predict_fallbacks"
"""Key in a forecast frame's ``attrs``: the series whose fitted model failed at predict time and
the stand-in used (``FALLBACK_COLUMNS`` records). ``predict`` changes no fitted state, so it reports
them with its output; plain records survive ``concat`` and serialisation."""


def concat_rows(frames: Sequence[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate the non-empty frames (pandas warns on empty ones), keeping ``columns``."""
    kept = [frame[columns] for frame in frames if frame is not None and not frame.empty]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=columns)


def with_predict_fallbacks(forecasts: pd.DataFrame, fallbacks: pd.DataFrame) -> pd.DataFrame:
    """``forecasts`` carrying ``fallbacks`` (the predict-time stand-ins) in its ``attrs``."""
    records = fallbacks[FALLBACK_COLUMNS].astype(str).to_dict("records")
    forecasts.attrs[PREDICT_FALLBACKS] = records
    return forecasts


def in_window(forecasts: pd.DataFrame, panel_last: pd.Period, horizon: int) -> pd.DataFrame:
    """The rows of ``forecasts`` in a run's window ``panel_last + 1 .. + horizon`` (attrs kept):
    every series of a run is forecast over the same months, whenever it ended."""
    months = pd.PeriodIndex(forecasts["month"], freq="M")
    kept = forecasts[(months > panel_last) & (months <= panel_last + horizon)].reset_index(drop=True)
    kept.attrs.update(forecasts.attrs)
    return kept


def predict_fallbacks(forecasts: pd.DataFrame) -> pd.DataFrame:
    """The predict-time fallbacks a model reported with ``forecasts`` (none when it reported nothing)."""
    return pd.DataFrame(forecasts.attrs.get(PREDICT_FALLBACKS, []), columns=FALLBACK_COLUMNS)


def series_arrays(panel: SeriesPanel) -> list[tuple[str, np.ndarray, pd.PeriodIndex]]:
    """``(series_id, values, months)`` per series on its full monthly range, NaN where missing.

    One vectorised pass over the records (sorted by series, month):
    ``panel.series(id)`` per id scans all records each time, quadratic at
    tens of thousands of series.
    """
    records = panel.records
    if records.empty:
        return []
    ids = records["series_id"].astype(str).to_numpy()
    ordinals = records["month"].array.asi8
    values = records["value"].to_numpy(dtype="float64")
    order = np.lexsort((ordinals, ids))
    ids, ordinals, values = ids[order], ordinals[order], values[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    arrays = {}
    for begin, end in zip(starts, np.r_[starts[1:], len(ids)], strict=True):
        first, last = ordinals[begin], ordinals[end - 1]
        y = np.full(last - first + 1, np.nan)
        y[ordinals[begin:end] - first] = values[begin:end]
        months = pd.PeriodIndex.from_ordinals(np.arange(first, last + 1), freq="M")
        arrays[ids[begin]] = (ids[begin], y, months)
    return [arrays[series_id] for series_id in panel.series_ids]


class LocalForecaster(PanelForecaster):
    """One per-series model per series, fitted independently: the generic local wrapper.

    A subclass names its per-series estimator class in ``series_model`` and
    writes an explicit keyword-only ``__init__``: the per-series model's
    parameters (same names and defaults), then any panel-level ones, then
    ``min_obs`` (series with fewer observations get the fallback; None: the
    per-series model's own ``min_obs``) and ``n_jobs``; its
    ``_parameter_constraints`` join the per-series model's, its own and
    :data:`LOCAL_PARAMS`. Interior gaps are interpolated and reported
    in ``adjustments_``. A per-series model that selects a form (ETS, Theta)
    reports it in ``selected_params_``; a subclass that declares
    ``SERIES_PARAMS`` among its panel parameters takes those choices back as
    ``series_params`` (per series id, parameters replacing the shared ones) and
    refits them without searching again, as ``auto``'s backtest does.
    """

    series_model: ClassVar[type]

    @classmethod
    def _series_param_names(cls) -> list[str]:
        return list(inspect.signature(cls.series_model).parameters)

    def _series_model(self, series_id: str | None = None) -> SeriesModel:
        params = {name: getattr(self, name) for name in self._series_param_names()}
        return self.series_model(**params | dict(self._series_overrides().get(series_id, {})))

    def _series_overrides(self) -> Mapping[str, Mapping[str, Any]]:
        return getattr(self, "series_params", None) or {}

    def _check_series_params(self) -> None:
        known = set(self._series_param_names())
        for series_id, params in self._series_overrides().items():
            unknown = sorted(set(params) - known)
            if unknown:
                raise ConfigError(
                    f"series_params[{series_id!r}] names {unknown[0]!r}, not a parameter of "
                    f"{self.series_model.__name__} ({', '.join(sorted(known))})",
                    key="series_params",
                )

    def _min_obs(self) -> int:
        return self.min_obs if self.min_obs is not None else self._series_model().min_obs

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        self._check_series_params()
        n_jobs = self.n_jobs or 1
        jobs = series_arrays(panel)
        exog = exog_matrices(X if self.uses_exog else None, [(sid, months) for sid, _, months in jobs], "X")
        # An unfitted clone travels to the workers, not this estimator's previous fitted state.
        results = run_chunked(
            clone(self)._fit_one,
            [(sid, y, x) for (sid, y, _), x in zip(jobs, exog, strict=True)],
            n_jobs=n_jobs,
        )
        self.models_ = {sid: model for sid, model, _, _ in results}
        chosen = {
            sid: getattr(model, SELECTED_PARAMS)()
            for sid, model, fallback, _ in results
            if not fallback and hasattr(model, SELECTED_PARAMS)
        }
        self.selected_params_ = {sid: params for sid, params in chosen.items() if params}
        self.fallbacks_ = pd.DataFrame(
            [(sid, self.model_name, fb, reason) for sid, _, fb, reason in results if fb],
            columns=FALLBACK_COLUMNS,
        )
        self.adjustments_ = pd.DataFrame(
            [
                (sid, self.model_name, f"interpolated {n} missing month(s)")
                for sid, y, _ in jobs
                if (n := int(np.isnan(y).sum()))
            ],
            columns=ADJUSTMENT_COLUMNS,
        )
        self.gaps_ = {sid: np.flatnonzero(np.isnan(y)) for sid, y, _ in jobs if np.isnan(y).any()}
        self.n_series_ = len(jobs)

    def in_sample_residuals(self, months: int | None = None) -> pd.DataFrame | None:
        """Each series model's ``residuals_`` (``y_t`` less its one-step forecast), interpolated months NaN.

        None when a series model offers no ``residuals_``; a series that got the
        fallback model has the fallback's errors, those of the forecasts made.
        """
        self._check_fitted()
        errors = {}
        for series_id, model in self.models_.items():
            values = getattr(model, "residuals_", None)
            if values is None:
                return None
            values = np.array(values, dtype="float64")
            values[self.gaps_.get(series_id, [])] = np.nan
            errors[series_id] = values
        ends = np.array([self.last_month_[sid].ordinal for sid in errors], dtype="int64")
        if not len(ends):
            return pd.DataFrame()
        last = int(ends.max())
        first = int(min(end - len(values) + 1 for end, values in zip(ends, errors.values(), strict=True)))
        if months is not None:
            first = max(first, last - months + 1)
        table = np.full((last - first + 1, len(errors)), np.nan)
        for column, (end, values) in enumerate(zip(ends, errors.values(), strict=True)):
            start = end - len(values) + 1
            keep = values[max(first - start, 0) :]
            table[end - first - len(keep) + 1 : end - first + 1, column] = keep
        index = pd.PeriodIndex.from_ordinals(np.arange(first, last + 1), freq="M")
        return pd.DataFrame(table, index=index, columns=list(errors))

    def _fit_one(
        self, series_id: str, y: np.ndarray, X: np.ndarray | None
    ) -> tuple[str, SeriesModel, str | None, str | None]:
        y, _ = fill_gaps(y)
        n_obs = int(np.isfinite(y).sum())
        reason: str | None = None
        if n_obs < self._min_obs():
            reason = f"{n_obs} observations, needs at least {self._min_obs()}"
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = self._series_model(series_id).fit(y, X)
                return series_id, model, None, None
            except (ConfigError, DataError):
                raise
            except NUMERICAL_ERRORS as error:
                reason = f"{type(error).__name__}: {error}"
        fallback_name, fallback = fallback_model(n_obs)
        return series_id, fallback.fit(fill_gaps(y)[0]), fallback_name, reason

    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        horizon, levels = request.horizon, request.levels
        months = {
            series_id: pd.period_range(self.last_month_[series_id] + 1, periods=horizon, freq="M")
            for series_id in self.models_
        }
        exog = exog_matrices(
            X_future if self.uses_exog else None, list(months.items()), "X_future", allow_absent=True
        )
        reasons = {sid: absent_reason(months[sid], x) for sid, x in zip(months, exog, strict=True)}
        lacking = {sid: reason for sid, reason in reasons.items() if reason is not None}  # fall back
        tasks = [
            (model, horizon, x, levels)
            for (series_id, model), x in zip(self.models_.items(), exog, strict=True)
            if series_id not in lacking
        ]
        n_jobs = self.n_jobs or 1
        predicted = iter(run_chunked(predict_series, tasks, n_jobs=n_jobs))
        outputs = []
        failed = []
        for series_id in self.models_:
            out, error = (None, lacking[series_id]) if series_id in lacking else next(predicted)
            if out is None:  # fall back at predict time too, on the driver that keeps the history
                name, out = self._fallback_predict(series_id, horizon, levels)
                failed.append((series_id, self.model_name, name, f"predict failed: {error}"))
            outputs.append((series_id, months[series_id], out))
        return forecast_frame(outputs, levels), pd.DataFrame(failed, columns=FALLBACK_COLUMNS)

    def _series_history(self, series_id: str) -> np.ndarray | None:
        """The history the series' own model was fitted on (gaps filled), if it kept one."""
        return getattr(self.models_.get(series_id), "y_", None)

    def _fallback_predict(
        self, series_id: str, horizon: int, levels: Sequence[int]
    ) -> tuple[str, dict[str, np.ndarray]]:
        """``(fallback name, its forecasts)`` for a series whose own model could not predict."""
        history = self._series_history(series_id)
        if history is None:
            raise ModelError(f"series {series_id!r}: prediction failed and no history kept for a fallback")
        name, fallback = fallback_model(len(history))
        return name, fallback.fit(history).predict(horizon, None, levels)


def predict_series(
    model: SeriesModel, horizon: int, X: np.ndarray | None, levels: Sequence[int]
) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """One fitted series model's checked output, or ``(None, error)``; runs on any executor."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model.predict(horizon, X, levels)
        _check_output(out, horizon, levels)
    except NUMERICAL_ERRORS as error:
        return None, str(error)
    return out, None


def _check_output(out: dict[str, np.ndarray], horizon: int, levels: Sequence[int]) -> None:
    for key in ("mean", *interval_columns(levels)):
        values = np.asarray(out[key], dtype="float64")
        if values.shape != (horizon,) or not np.isfinite(values).all():
            raise FloatingPointError(f"model output {key!r} is not {horizon} finite values")


def replace_non_finite(
    forecasts: pd.DataFrame, panel: SeriesPanel, levels: Sequence[int] = DEFAULT_LEVELS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Swap in the fallback model for every series whose forecast or interval is not finite.

    A model's own ``predict`` already does (:meth:`PanelForecaster.predict`);
    this is the job's guard for any estimator that bypasses the template: an
    exported ``inf`` or empty cell would look like a number downstream.
    Returns the forecasts and a ``fallbacks_``-shaped frame of the swapped
    series. Raises :class:`DataError` naming the series when even the
    fallback is not finite.
    """
    columns = ["forecast", *interval_columns(levels)]
    report = pd.DataFrame(columns=FALLBACK_COLUMNS)
    bad = non_finite_series(forecasts, levels)
    if not bad:
        return forecasts, report
    out = forecasts.copy()
    masks = dict(bad)
    rows = []
    for series_id, y, _ in series_arrays(panel.subset(list(masks))):
        mask = masks[series_id]
        name, predicted = stand_in(series_id, fill_gaps(y)[0], int(mask.sum()), levels)
        values = {"forecast": predicted["mean"]} | {key: predicted[key] for key in columns[1:]}
        finish_intervals(values, levels, np.full(int(mask.sum()), bool(np.nanmin(y) >= 0)))
        out.loc[mask, columns] = np.column_stack([values[key] for key in columns])
        rows.append((series_id, str(out.loc[mask, "model"].iloc[0]), name, "non-finite forecast or interval"))
    return out, pd.DataFrame(rows, columns=FALLBACK_COLUMNS)


def non_finite_series(forecasts: pd.DataFrame, levels: Sequence[int]) -> list[tuple[str, np.ndarray]]:
    """``(series_id, its rows)`` of each series with a forecast or bound that is not a finite number."""
    columns = ["forecast", *interval_columns(levels)]
    finite = np.isfinite(forecasts[columns].to_numpy(dtype="float64")).all(axis=1)
    if finite.all():
        return []
    ids = forecasts["series_id"].astype(str)
    return [(series_id, (ids == series_id).to_numpy()) for series_id in pd.unique(ids[~finite])]


def stand_in(
    series_id: str, history: np.ndarray, horizon: int, levels: Sequence[int]
) -> tuple[str, dict[str, np.ndarray]]:
    """``(name, output)`` of the fallback model fitted on ``history`` (gaps filled); a DataError naming
    the series when its output is not finite either."""
    name, fallback = fallback_model(int(np.isfinite(history).sum()))
    with warnings.catch_warnings():  # an overflow is what the check below reports
        warnings.simplefilter("ignore", RuntimeWarning)
        predicted = fallback.fit(history).predict(horizon, None, levels)
    try:
        _check_output(predicted, horizon, levels)
    except FloatingPointError:
        raise DataError(
            f"the forecast and its {name} fallback are not finite numbers (values too large?)",
            series=series_id,
        ) from None
    return name, predicted


def finish_intervals(
    bounds: MutableMapping[str, Any], levels: Sequence[int], nonnegative: np.ndarray
) -> None:
    """In place: wider levels widened to contain narrower ones, rows of ``nonnegative`` clipped at zero."""
    nest_intervals(bounds, levels)
    clip_nonnegative(bounds, ["forecast", *interval_columns(levels)], nonnegative)


def forecast_frame(
    outputs: Sequence[tuple[str, pd.PeriodIndex, dict[str, np.ndarray]]], levels: Sequence[int]
) -> pd.DataFrame:
    """The long frame ``series_id, month, forecast, lower_<l>, upper_<l>`` of many series'
    ``(series_id, months, output)``, built once.

    Vectorised: a frame per series costs more than the forecasts themselves at
    thousands of series.
    """
    columns = ["series_id", "month", "forecast", *interval_columns(levels)]
    if not outputs:
        return pd.DataFrame(columns=columns)
    sizes = [len(months) for _, months, _ in outputs]
    frame = pd.DataFrame(
        {
            "series_id": np.repeat([series_id for series_id, _, _ in outputs], sizes),
            "month": pd.PeriodIndex.from_ordinals(np.concatenate([m.asi8 for _, m, _ in outputs]), freq="M"),
        }
    )
    for key, column in [("mean", "forecast"), *((key, key) for key in interval_columns(levels))]:
        frame[column] = np.concatenate([np.asarray(out[key], dtype="float64") for _, _, out in outputs])
    return frame
