"""``Forecaster``: one DataFrame in, forecasts of several models out, as in statsforecast.

The front end for users of statsforecast or mlforecast. It takes a plain long
DataFrame, builds the :class:`~forecasting.panel.SeriesPanel`, fits the
registry's models (or given estimators) under aliases, and returns forecasts
wide by model (``<alias>``, ``<alias>-lo-80``, ``<alias>-hi-80``, ...) or long
in the package's own forecast table. ``cross_validation`` is the package's
rolling-origin :func:`~forecasting.evaluation.backtest.backtest`.

One ``Forecaster`` may serve several threads: ``forecast`` and
``cross_validation`` keep what they fit in a local :class:`_Fitted` and answer
from it, so concurrent calls never read each other's models or series; the
fitted attributes (``models_``, ``panel_``, ...) are then replaced together, and
``predict`` reads them together.

Input columns: the series id, the month and the target (default ``series_id,
month, value``; ``unique_id, ds, y`` are recognised when the defaults are
absent). Exogenous regressors are the columns named in ``exog=[...]``, or, when
``exog`` is not given, those the frame's source spec declares
(``SourceSpec.regressors``, carried in ``df.attrs``); they go to the models that
use regressors. Every other column is carried, never a regressor: a
dimension or metadata of its series (``flow``, ``unit``, ``port_code``, the
panel CSV's empty ``currency``), constant within the series, or the panel's
per-month ``estimated_share``. The GBM members (``auto``'s too) take each
dimension with 2-255 values across the panel as a categorical series feature.
Input is monthly: daily or weekly rows (several dates in one month) and
quarterly or yearly spacing are refused.

Values beyond the loaders' magnitude limit are refused as the CLI refuses them,
and a series whose forecast or interval overflows gets the fallback model's,
reported in the output's ``attrs`` (:func:`~forecasting.models.base.predict_fallbacks`).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from forecasting import progress
from forecasting.core.constants import ALIGNMENTS, DEFAULT_LEVELS, FALLBACK_COLUMNS, MAX_HORIZON
from forecasting.core.exog import exog_columns, exog_values
from forecasting.core.intervals import frame_levels, normal_intervals
from forecasting.core.request import ForecastRequest
from forecasting.data.schema import ANNOTATIONS, REGRESSORS_ATTR, check_monthly_spacing, declared_regressors
from forecasting.errors import ConfigError, DataError, ModelError, shorten
from forecasting.evaluation.backtest import BacktestLog, backtest
from forecasting.models.base import (
    PanelForecaster,
    predict_fallbacks,
    replace_non_finite,
    with_predict_fallbacks,
)
from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel
from forecasting.progress import progress_scope

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ModelSpec = str | PanelForecaster
STATSFORECAST_COLUMNS = ("unique_id", "ds", "y")
FREQUENCIES = ("MS", "ME", "M")
"""Accepted ``freq`` values: month-start or month-end timestamps ("M" is pandas' old name for "ME")."""
OUTPUTS = ("wide", "long")
YEAR_OR_QUARTER = re.compile(r"\s*[0-9]{4}(\s*-?\s*[Qq][1-4])?\s*")
"""Labels pandas reads as a January (``1990``, ``1990Q1``) that name a year or a quarter, not a month."""
BOUND_SUFFIX = re.compile(r"-(lo|hi)-[0-9]+")
"""What follows an alias in the names of its interval columns in the wide output (``-lo-80``)."""
_FITTED_LOCK = threading.Lock()
"""Guards replacing and reading the fitted attributes as one set (module-wide: pickles stay plain)."""


class Forecaster(BaseEstimator):
    """Fit several forecasting models on a long DataFrame and compare their forecasts.

    Parameters
    ----------
    models : registry names (``"ets"``, ``"gbm_median"``, ...) or estimators
        (``make_model("arima", exog=True)``), as a list or as a dict from alias
        to model. In a list a name is its own alias and an estimator's alias is
        its ``model_name``; use the dict to compare two configurations of one
        model, e.g. ``{"arima_x": make_model("arima", exog=True), "arima": "arima"}``.
        Estimators are cloned; the ones given stay unfitted.
    freq : how output months are labelled when the input months are dates or
        strings: ``"MS"`` (first day of the month) or ``"ME"`` (last day; ``"M"``
        is accepted for it). ``None`` keeps the input's convention: month-end
        dates stay month-end, other dates become month starts and ``Period``
        months stay ``Period``. Only monthly series are supported.
    exog : the exogenous regressor columns of ``df`` (numeric), passed to the
        models that use regressors. ``None`` (the default) takes the columns the
        frame's source spec declares as regressors (none for a plain frame); ``[]``
        takes none. Other columns are carried as the series' dimensions (never regressors;
        the GBMs' categorical series features).
    n_jobs : workers across series, set on every model that takes ``n_jobs``;
        ``None`` leaves each model's own setting.
    id_col, time_col, target_col : input column names; when all three are the
        defaults and absent, ``unique_id, ds, y`` are used.
    output : ``"wide"``, statsforecast's layout (the input's id and time
        column names, one column per alias and interval bound), or ``"long"``,
        the package's forecast table (``series_id, month, model, forecast,
        lower_<l>, upper_<l>``) that :mod:`forecasting.export` and
        :mod:`forecasting.evaluation.metrics` read.

    Attributes
    ----------
    models_ : dict from alias to fitted estimator.
    panel_ : the :class:`SeriesPanel` fitted on.
    exog_columns_ : the exogenous regressor columns used (named in ``exog`` or declared).
    X_future_ : the future regressors given to ``fit`` (models' ``X_future`` layout), or None.
    layout_ : the :class:`FrameLayout` of ``df``, which ``predict`` answers in.
    """

    def __init__(
        self,
        models: Sequence[ModelSpec] | Mapping[str, ModelSpec],
        *,
        exog: Sequence[str] | None = None,
        freq: str | None = None,
        n_jobs: int | None = None,
        id_col: str = "series_id",
        time_col: str = "month",
        target_col: str = "value",
        output: Literal["wide", "long"] = "wide",
    ) -> None:
        self.models = models
        self.exog = exog
        self.freq = freq
        self.n_jobs = n_jobs
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col
        self.output = output

    # --- public API ---------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, X_df: pd.DataFrame | None = None) -> Self:
        """Fit every model on ``df``; exogenous regressors are the ``exog`` columns (or the declared ones).

        ``X_df``, optional, holds the regressors' future values (as in
        :meth:`predict`), kept for a later ``predict`` called without them.
        Models that backtest internally (``auto``, ``ensemble``) do so over
        their default horizon here; :meth:`forecast` builds them for the horizon asked.
        """
        self._keep(self._fit(df, X_df, horizon=None))
        return self

    def predict(
        self, h: int, level: Sequence[int] | None = DEFAULT_LEVELS, X_df: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast ``h`` months after each series' last month, with ``level`` % intervals.

        ``X_df`` holds the future values of the exogenous columns (id, time and
        those columns, ``h`` months per series); it is required when ``df``
        had exogenous columns and a model uses them, unless given to ``fit``.
        A series whose forecast or interval is not finite gets the fallback
        model's, listed by :func:`~forecasting.models.base.predict_fallbacks` of the output.
        """
        return self._predict(self._fitted(), h, level, X_df, "predict")

    def forecast(
        self,
        df: pd.DataFrame,
        h: int,
        level: Sequence[int] | None = DEFAULT_LEVELS,
        X_df: pd.DataFrame | None = None,
        fitted: bool = False,
    ) -> pd.DataFrame:
        """Fit on ``df`` and forecast ``h`` months: ``fit(df)`` then ``predict(h, level, X_df)``.

        ``fitted=True`` also keeps the in-sample fitted values, read with
        :meth:`forecast_fitted_values` (statsforecast's API).
        """
        request = ForecastRequest(_positive_int(h, "h", "forecast", MAX_HORIZON), _levels(level, "forecast"))
        if not isinstance(fitted, bool):
            raise ConfigError(
                f"The 'fitted' parameter of forecast must be a bool. Got {fitted!r} instead.", key="fitted"
            )
        with progress_scope("forecast"):  # one bar for the fit and the forecast
            # this call's own models: another thread may fit meanwhile
            result = self._fit(
                df, X_df, horizon=request.horizon, levels=request.levels or None, in_sample=fitted
            )
            forecasts = self._predict(result, request.horizon, level, None, "forecast")
        if fitted:
            result = replace(result, fitted_values=_in_sample(result.models, result.panel, request.levels))
        self._keep(result)
        return forecasts

    def forecast_fitted_values(self) -> pd.DataFrame:
        """In-sample fitted values of the last ``forecast(..., fitted=True)``, as in statsforecast.

        Each model's fitted value for a month is the actual less its one-step
        in-sample error, so the first months a model cannot forecast from (a
        season for seasonal naive) are missing. Intervals at the forecast's
        levels are ``fitted +- z * sigma``, ``sigma`` the series' root mean
        square in-sample error (statsforecast's). Wide: id, time, the target and
        one column per alias and bound; long: ``series_id, month, model, actual,
        fitted, lower_<l>, upper_<l>``.
        """
        with _FITTED_LOCK:  # read as one set with the layout they answer in
            long, layout = getattr(self, "fitted_values_", None), getattr(self, "layout_", None)
        if long is None:
            raise ModelError("no fitted values: call forecast(df, h, fitted=True) first")
        if self.output == "long":
            return long.rename(columns={"forecast": "fitted"})
        wide = layout.external(_wide(long, ["series_id", "month", "actual"], frame_levels(long)))
        return wide.rename(columns={"actual": layout.target_col})

    def cross_validation(
        self,
        df: pd.DataFrame,
        h: int,
        n_windows: int,
        step_size: int | None = None,
        level: Sequence[int] | None = DEFAULT_LEVELS,
        align: str = "series",
    ) -> pd.DataFrame:
        """Rolling-origin forecasts of ``n_windows`` cutoffs, each forecasting ``h`` months.

        The last window ends at the last month of each series (``align="series"``,
        as ``forecast`` forecasts each series from its own end, and as
        statsforecast's ``cross_validation`` cuts series that end on different
        dates) or of ``df`` (``"calendar"``: every series cut at the same months,
        the ``backtest`` command's default; a series that ended earlier is
        scored only where it has actuals). Earlier cutoffs are
        ``step_size`` months apart (default ``max(h // n_windows, 1)``, the
        backtest's). Each window fits fresh clones on the data up to its
        cutoff; exogenous columns of ``df`` after the cutoff are the future
        regressors. Wide output: id, time, ``cutoff``, the target (the actual)
        and one column per alias and bound. Long output: the
        :func:`~forecasting.evaluation.backtest.backtest` table with ``model``
        the alias (``leaderboard`` reads it), its ``BacktestLog`` in ``attrs``.
        """
        self._check_params()
        horizon = _positive_int(h, "h", "cross_validation", MAX_HORIZON)
        windows = _positive_int(n_windows, "n_windows", "cross_validation")
        step = None if step_size is None else _positive_int(step_size, "step_size", "cross_validation")
        levels = ForecastRequest(horizon, _levels(level, "cross_validation")).levels
        if align not in ALIGNMENTS:
            raise ConfigError(
                f"The 'align' parameter of cross_validation must be one of {list(ALIGNMENTS)}. "
                f"Got {align!r} instead.",
                key="align",
            )
        panel, X, layout = self._read(df)
        estimators = self._estimators(horizon, levels or None)
        with progress_scope("cross_validation"):
            progress.plan(len(panel) * len(estimators) * windows, len(panel) * windows * _cost(estimators))
            tables = {
                alias: backtest(
                    [model],
                    panel,
                    horizon=horizon,
                    folds=windows,
                    step=step,
                    X=X,
                    levels=levels,
                    n_jobs=1,
                    align=align,
                )
                for alias, model in estimators.items()
            }
        long = _relabelled_backtests(tables)
        if self.output == "long":
            return long
        wide = layout.external(_wide(long, ["series_id", "month", "cutoff", "actual"], levels))
        return wide.rename(columns={"actual": layout.target_col})

    def plot(
        self,
        forecasts: pd.DataFrame,
        series_ids: Sequence[Hashable] | None = None,
        *,
        models: Sequence[str] | None = None,
        level: Sequence[int] | None = None,
        history_months: int | None = None,
        max_series: int = 8,
    ) -> Figure:
        """Fan charts of ``forecasts`` over the history fitted on, one axes per series, titled by name.

        ``forecasts`` is this Forecaster's ``forecast``/``predict`` output (wide
        or long) or its ``cross_validation`` (each cutoff's forecast drawn from
        its origin); every model in it is overlaid unless ``models`` picks some,
        at every level it holds unless ``level`` picks some. ``series_ids``
        default to the first ``max_series``. Series are labelled by name where
        the data has one (:func:`forecasting.plots.series_label`: a BTS port's
        name instead of its code).
        """
        from forecasting.plots import plot_forecasts  # matplotlib loads on the first plot only

        result = self._fitted()
        layout = result.layout
        if not isinstance(forecasts, pd.DataFrame):
            kind = type(forecasts).__name__
            raise DataError(f"The 'forecasts' parameter must be a pandas DataFrame. Got {kind} instead.")
        named = {"id_col": layout.id_col, "time_col": layout.time_col}
        return plot_forecasts(
            result.panel,
            forecasts,
            None if series_ids is None else [str(s) for s in series_ids],
            levels=None if level is None else _levels(level, "plot"),
            models=models,
            history_months=history_months,
            max_series=_positive_int(max_series, "max_series", "plot"),
            target_col=layout.target_col,
            **{key: column for key, column in named.items() if column in forecasts.columns},
        )

    @property
    def fallbacks_(self) -> pd.DataFrame:
        """Every fitted model's fallbacks (series a simpler model stood in for), ``model`` the alias."""
        return _fallback_table(
            [
                model.fallbacks_.assign(model=alias)
                for alias, model in self.models_.items()
                if getattr(model, "fallbacks_", None) is not None and not model.fallbacks_.empty
            ]
        )

    # --- fitting ------------------------------------------------------------------------------
    def _fit(
        self,
        df: pd.DataFrame,
        X_df: pd.DataFrame | None,
        horizon: int | None,
        levels: Sequence[int] | None = None,
        in_sample: bool = False,
    ) -> _Fitted:
        """Fresh models fitted on ``df``, returned, not stored: the caller decides when to keep them."""
        self._check_params()
        panel, X, layout = self._read(df)
        X_future = None if X_df is None else _future_exog(X_df, layout)
        estimators = self._estimators(horizon, levels)
        if in_sample:
            _check_in_sample(estimators)
        with progress_scope("fit"):
            progress.plan(len(panel) * len(estimators), len(panel) * _cost(estimators))
            models = {alias: _fitted_model(model, panel, X) for alias, model in estimators.items()}
        return _Fitted(models, panel, layout, X_future)

    def _keep(self, fitted: _Fitted) -> None:
        """Replace the fitted attributes as one set."""
        with _FITTED_LOCK:
            self.__dict__.update(
                models_=fitted.models,
                panel_=fitted.panel,
                layout_=fitted.layout,
                X_future_=fitted.X_future,
                exog_columns_=fitted.layout.exog,
                fitted_values_=fitted.fitted_values,
            )

    def _fitted(self) -> _Fitted:
        """The fitted attributes, read as one set."""
        with _FITTED_LOCK:
            if not hasattr(self, "models_"):
                raise ModelError(
                    "Forecaster is not fitted yet: call fit(df) before predict, or forecast(df, h)."
                )
            return _Fitted(self.models_, self.panel_, self.layout_, self.X_future_)

    def _predict(
        self,
        fitted: _Fitted,
        h: int,
        level: Sequence[int] | None,
        X_df: pd.DataFrame | None,
        method: str,
    ) -> pd.DataFrame:
        """Forecasts of ``fitted``'s models, answered in the layout of the frame they were fitted on."""
        request = ForecastRequest(_positive_int(h, "h", method, MAX_HORIZON), _levels(level, method))
        horizon, levels = request.horizon, request.levels
        layout = fitted.layout
        X_future = fitted.X_future if X_df is None else _future_exog(X_df, layout)
        users = [alias for alias, model in fitted.models.items() if model.uses_exog]
        if X_future is None and layout.exog and users:
            raise DataError(
                f"X_df is required: df had exogenous columns {layout.exog} and "
                f"{users} use them; give their future values"
            )
        if X_future is not None and users:
            _check_future_rows(X_future, fitted.panel, horizon)
        frames, stand_ins = [], []
        for alias, model in fitted.models.items():
            forecasts = model.predict(horizon, X_future if model.uses_exog else None, levels)
            reported = predict_fallbacks(forecasts)
            forecasts, swapped = _finite(forecasts, fitted.panel, levels)
            stand_ins += [f.assign(model=alias) for f in (reported, swapped) if not f.empty]
            frames.append(forecasts.assign(model=alias))
        long = pd.concat(frames, ignore_index=True)
        out = long if self.output == "long" else layout.external(_wide(long, ["series_id", "month"], levels))
        return with_predict_fallbacks(out, _fallback_table(stand_ins))

    def _estimators(
        self, horizon: int | None, levels: Sequence[int] | None = None
    ) -> dict[str, PanelForecaster]:
        """Fresh unfitted estimators by alias; registry names are built for ``horizon`` and ``levels``."""
        estimators = {}
        for alias, spec in _aliased(self.models).items():
            model = make_model(spec, horizon=horizon, levels=levels) if isinstance(spec, str) else clone(spec)
            if self.n_jobs is not None and "n_jobs" in model.get_params():
                model.set_params(n_jobs=self.n_jobs)
            estimators[alias] = model
        return estimators

    def _check_params(self) -> None:
        """Every constructor parameter, checked before any model runs."""
        _aliased(self.models)
        exog = self.exog
        if exog is not None and (
            isinstance(exog, str)
            or not isinstance(exog, Sequence)
            or not all(isinstance(c, str) and c for c in exog)
            or len(set(exog)) != len(exog)
        ):
            raise ConfigError(
                "The 'exog' parameter of Forecaster must be a list of distinct column names or None. "
                f"Got {exog!r} instead.",
                key="exog",
            )
        if self.freq is not None and self.freq not in FREQUENCIES:
            raise ConfigError(
                f"The 'freq' parameter of Forecaster must be one of {list(FREQUENCIES)} or None "
                f"(the package forecasts monthly series). Got {self.freq!r} instead.",
                key="freq",
            )
        n_jobs = self.n_jobs
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0):
            raise ConfigError(
                "The 'n_jobs' parameter of Forecaster must be a non-zero int or None. "
                f"Got {n_jobs!r} instead.",
                key="n_jobs",
            )
        for name in ("id_col", "time_col", "target_col"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"The {name!r} parameter of Forecaster must be a column name. Got {value!r} instead.",
                    key=name,
                )
        if self.output not in OUTPUTS:
            raise ConfigError(
                f"The 'output' parameter of Forecaster must be one of {list(OUTPUTS)}. "
                f"Got {self.output!r} instead.",
                key="output",
            )

    # --- input --------------------------------------------------------------------------------
    def _read(self, df: pd.DataFrame) -> tuple[SeriesPanel, pd.DataFrame | None, FrameLayout]:
        """The panel, the exogenous frame (``series_id, month, <columns>``) and the layout of ``df``."""
        if not isinstance(df, pd.DataFrame):
            raise DataError(
                f"The 'df' parameter must be a pandas DataFrame. Got {type(df).__name__} instead."
            )
        df = df.reset_index(drop=True)
        id_col, time_col, target_col = self._columns(df)
        reserved = {id_col, time_col, target_col, "cutoff"}
        clashing = sorted(alias for alias in _aliased(self.models) if alias in reserved)
        if clashing:
            raise ConfigError(
                f"The 'models' parameter of Forecaster has alias {clashing[0]!r}, which is also a column "
                "of the output; choose another alias.",
                key="models",
            )
        exog = self._exog(df, (id_col, time_col, target_col))
        carried = [c for c in df.columns if c not in (id_col, time_col, target_col, *exog)]
        value = df[target_col]
        if not pd.api.types.is_numeric_dtype(value) or pd.api.types.is_bool_dtype(value):
            raise DataError("the target must be numeric", column=target_col)
        keys = _keys(df, id_col, time_col)  # checks the months before their labels are read
        _check_monthly(df[time_col], keys, time_col)
        declared = [c for c in declared_regressors(df) if c in carried]  # carried row by row when unused
        _check_carried(df, keys, [c for c in carried if c not in declared])
        layout = FrameLayout(
            id_col,
            time_col,
            target_col,
            exog,
            _id_lookup(df[id_col], id_col),
            self.freq or _time_label(df[time_col]),
        )
        records = pd.concat([keys, value.rename("value"), df[carried]], axis=1)
        records.attrs[REGRESSORS_ATTR] = declared
        panel = SeriesPanel(records)
        X = pd.concat([keys, df[exog].astype("float64")], axis=1) if exog else None
        return panel, X, layout

    def _exog(self, df: pd.DataFrame, keys: tuple[str, str, str]) -> list[str]:
        """The regressor columns: those named in ``exog``, else those the source spec declared."""
        named = declared_regressors(df) if self.exog is None else self.exog
        for column in named:
            if column in keys:
                raise ConfigError(
                    f"The 'exog' parameter of Forecaster names {column!r}, the id, time or target column.",
                    key="exog",
                )
            if column not in df.columns:
                raise DataError(
                    f"exog names a column df lacks (columns: {list(df.columns)})", column=str(column)
                )
            if not _is_regressor(df[column]):
                raise DataError(f"exogenous column must be numeric, not {df[column].dtype}", column=column)
        return list(named)

    def _columns(self, df: pd.DataFrame) -> tuple[str, str, str]:
        """The id, time and target columns of ``df``: the configured ones, else statsforecast's."""
        configured = (self.id_col, self.time_col, self.target_col)
        is_default = configured == ("series_id", "month", "value")
        if (
            is_default
            and not set(configured) & set(df.columns)
            and set(STATSFORECAST_COLUMNS) <= set(df.columns)
        ):
            return STATSFORECAST_COLUMNS
        for key, column in zip(("id_col", "time_col", "target_col"), configured, strict=True):
            if column not in df.columns:
                hint = f" or {list(STATSFORECAST_COLUMNS)}" if is_default else ""
                raise DataError(
                    f"df has no {key} column {column!r} (columns: {list(df.columns)}); "
                    f"expected {list(configured)}{hint}, or set {key}",
                    column=column,
                )
        return configured


@dataclass(frozen=True)
class _Fitted:
    """One fit's models and what ``predict`` needs with them, kept together."""

    models: dict[str, PanelForecaster]
    panel: SeriesPanel
    layout: FrameLayout
    X_future: pd.DataFrame | None
    fitted_values: pd.DataFrame | None = None
    """In-sample fitted values (long, ``forecast`` the fitted value) when ``forecast(fitted=True)``."""


@dataclass(frozen=True)
class FrameLayout:
    """How the user's frame looks: its column names, id values and month labels, to answer in kind."""

    id_col: str
    time_col: str
    target_col: str
    exog: list[str]
    ids: dict[str, Hashable]
    """``str(id) -> id``: the panel keys series by text, the output gives back the input's ids."""
    time_label: str
    """``"period"``, ``"MS"`` or ``"ME"`` (``"M"``): how output months are labelled."""

    def external(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the input's id values and column names, months labelled like the input's."""
        out = frame.copy()
        out["series_id"] = out["series_id"].astype(str).map(self.ids)
        for column in ("month", "cutoff"):
            if column in out.columns:
                out[column] = _label_months(pd.PeriodIndex(out[column], freq="M"), self.time_label)
        return out.rename(columns={"series_id": self.id_col, "month": self.time_col})


def _check_future_rows(X_future: pd.DataFrame, panel: SeriesPanel, horizon: int) -> None:
    """DataError unless ``X_df`` has the ``horizon`` months after each series' end: the user gave it,
    so a gap is an error here, not the per-series fallback the models make of it."""
    last = panel.spans()["last"]
    series_ids = np.repeat(last.index.to_numpy(dtype=object), horizon)
    ordinals = (last.map(lambda month: month.ordinal).to_numpy()[:, None] + np.arange(1, horizon + 1)).ravel()
    exog_values(X_future, series_ids, ordinals, exog_columns(X_future), "X_df")


def _finite(
    forecasts: pd.DataFrame, panel: SeriesPanel, levels: Sequence[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``forecasts`` with the fallback model's for each series whose forecast or bound is not finite.

    As the CLI does (:func:`~forecasting.models.base.replace_non_finite`); each swap is a
    :class:`FallbackWarning` naming the series, never a silent change.
    """
    forecasts, swapped = replace_non_finite(forecasts, panel, levels)
    for row in swapped.itertuples():
        warnings.warn(
            f"{row.model}: series {row.series_id!r} forecast by {row.fallback} ({row.reason})",
            FallbackWarning,
            stacklevel=4,
        )
    return forecasts, swapped


class FallbackWarning(UserWarning):
    """A model's forecast of a series was replaced by its fallback model's (it was not finite)."""


def _fitted_model(model: PanelForecaster, panel: SeriesPanel, X: pd.DataFrame | None) -> PanelForecaster:
    """``model`` fitted on ``panel``, counted as one series per series on the command's progress."""
    with progress.step(len(panel), model.fit_cost):
        return model.fit(panel, X if model.uses_exog else None)


def _cost(estimators: Mapping[str, PanelForecaster]) -> float:
    """A series' fits by every estimator, in ARIMA fits (the progress ETA's cost)."""
    return sum(model.fit_cost for model in estimators.values())


def _fallback_table(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Several models' fallback records (``model`` the alias) in one table; empty with its columns."""
    if not frames:
        return pd.DataFrame(columns=FALLBACK_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _check_in_sample(estimators: Mapping[str, PanelForecaster]) -> None:
    """ConfigError before any fit for models with no in-sample one-step forecasts to give as fitted values."""
    lacking = [
        alias
        for alias, model in estimators.items()
        if type(model).in_sample_residuals is PanelForecaster.in_sample_residuals
    ]
    if lacking:
        raise ConfigError(
            f"fitted=True needs in-sample fitted values, which {lacking} do not make (a global model "
            "or a combination of backtests fits no one-step in-sample forecast); leave them out of "
            "this call, or compare them out of sample with cross_validation",
            key="fitted",
        )


def _in_sample(
    models: Mapping[str, PanelForecaster], panel: SeriesPanel, levels: Sequence[int]
) -> pd.DataFrame:
    """One row per observed month and model: ``actual``, the fitted value (``forecast``) and its bounds.

    The fitted value is the actual less the model's one-step in-sample error;
    bounds are ``fitted +- z * sigma``, ``sigma`` the series' root mean square error
    (statsforecast's fitted intervals).
    """
    actual = panel.records[["series_id", "month", "value"]].rename(columns={"value": "actual"})
    actual["series_id"] = actual["series_id"].astype(str)
    frames = []
    for alias, model in models.items():
        errors = model.in_sample_residuals()
        if errors is None:
            raise ModelError(f"model {alias!r} kept no in-sample one-step errors: it has no fitted values")
        table = errors.set_axis(errors.columns.astype(str), axis=1).rename_axis("month").reset_index()
        long = table.melt(id_vars="month", var_name="series_id", value_name="error")
        merged = actual.merge(long, on=["series_id", "month"], how="left", validate="one_to_one")
        error = merged["error"].to_numpy(dtype="float64")
        fitted = merged["actual"].to_numpy(dtype="float64") - error
        mean_square = pd.Series(error**2).groupby(merged["series_id"].to_numpy()).transform("mean")
        bounds = normal_intervals(fitted, np.sqrt(mean_square.to_numpy()), levels)
        bounds["forecast"] = bounds.pop("mean")
        frames.append(merged[["series_id", "month", "actual"]].assign(model=alias, **bounds))
    columns = ["series_id", "month", "model", "actual", "forecast"]
    return pd.concat(frames, ignore_index=True)[columns + [c for c in frames[0].columns if c not in columns]]


def _check_monthly(times: pd.Series, keys: pd.DataFrame, column: str) -> None:
    """DataError "monthly data only" for daily or weekly rows (several dates in one month of a series)
    or for series whose months are all a quarter, a year or more apart.

    Without it, weekly rows read as "duplicate (series_id, month) rows", and
    quarterly rows as monthly series with two months in three missing.
    """
    ordinals = pd.PeriodIndex(keys["month"]).asi8
    cells = pd.DataFrame({"series_id": keys["series_id"].to_numpy(), "month": ordinals})
    if cells.duplicated().any():
        dated = cells.assign(time=times.to_numpy()).drop_duplicates()
        per_month = dated.groupby(["series_id", "month"], sort=False).size()
        crowded = per_month[per_month > 1]
        if not crowded.empty:
            series_id, ordinal = crowded.index[0]
            _refuse_sub_monthly(dated, series_id, ordinal, column)
    check_monthly_spacing(cells["series_id"].to_numpy(), cells["month"].to_numpy(), column=column)


def _refuse_sub_monthly(dated: pd.DataFrame, series_id: str, ordinal: int, column: str) -> None:
    dates = pd.to_datetime(pd.Series(dated.loc[dated["series_id"] == series_id, "time"].to_numpy()))
    spacing = dates.drop_duplicates().sort_values().diff().dt.days.median()
    kind = "daily" if spacing <= 1 else "weekly" if spacing <= 7 else "sub-monthly"
    in_month = dated.loc[(dated["series_id"] == series_id) & (dated["month"] == ordinal), "time"]
    month = pd.Period(ordinal=ordinal, freq="M")
    raise DataError(
        f"monthly data only: aggregate first. {len(in_month)} rows of {month} ({kind} data, e.g. "
        f"{', '.join(map(str, in_month.iloc[:2]))}); sum or average each month, e.g. "
        f"df.groupby([id, pd.Grouper(key={column!r}, freq='MS')]).sum()",
        column=column,
        series=str(series_id),
    )


def _check_carried(df: pd.DataFrame, keys: pd.DataFrame, carried: Sequence[str]) -> None:
    """A carried numeric column must be constant within each series (metadata): one that changes
    is a regressor nobody named, and using it silently is what ``exog`` exists to prevent."""
    numeric = [c for c in carried if _is_regressor(df[c]) and c not in ANNOTATIONS]
    if not numeric:
        return
    varying = df[numeric].groupby(keys["series_id"].to_numpy(), sort=True).nunique() > 1
    if varying.to_numpy().any():
        column = str(varying.columns[varying.any(axis=0).to_numpy()][0])
        raise DataError(
            "changes within the series: a numeric column is a regressor only when named in "
            "exog=[...] (or declared by the source spec); name it there, or drop it",
            column=column,
            series=str(varying.index[varying[column].to_numpy()][0]),
        )


def _future_exog(X_df: pd.DataFrame, layout: FrameLayout) -> pd.DataFrame | None:
    """``X_df`` as the models' ``X_future`` (``series_id, month, <exogenous columns>``)."""
    if not isinstance(X_df, pd.DataFrame):
        raise DataError(
            f"The 'X_df' parameter must be a pandas DataFrame. Got {type(X_df).__name__} instead."
        )
    expected = [layout.id_col, layout.time_col, *layout.exog]
    missing = [c for c in expected if c not in X_df.columns]
    unknown = [c for c in X_df.columns if c not in expected]
    if missing or unknown:
        what = f"lacks column {missing[0]!r}" if missing else f"has column {unknown[0]!r} not in df"
        raise DataError(
            f"X_df {what}: it must hold {expected}, the id, the time and the exogenous columns of df",
            column=(missing or unknown)[0],
        )
    for column in layout.exog:
        if not _is_regressor(X_df[column]):
            raise DataError("exogenous column of X_df must be numeric", column=column)
    if not layout.exog:
        return None
    X_df = X_df.reset_index(drop=True)
    return pd.concat(
        [_keys(X_df, layout.id_col, layout.time_col), X_df[layout.exog].astype("float64")], axis=1
    )


def _wide(long: pd.DataFrame, keys: list[str], levels: tuple[int, ...]) -> pd.DataFrame:
    """One column per alias and bound, with statsforecast's names (``<alias>-lo-95``, ...)."""
    wide = None
    for alias, frame in long.groupby("model", sort=False):
        columns = {"forecast": alias}
        columns |= {f"lower_{level}": f"{alias}-lo-{level}" for level in sorted(levels, reverse=True)}
        columns |= {f"upper_{level}": f"{alias}-hi-{level}" for level in levels}
        part = frame[[*keys, *columns]].rename(columns=columns)
        wide = part if wide is None else wide.merge(part, on=keys, how="outer", validate="one_to_one")
    order = ["series_id", "cutoff", "month"] if "cutoff" in keys else ["series_id", "month"]
    return wide.sort_values(order, kind="stable").reset_index(drop=True)


# --- helpers ------------------------------------------------------------------------------------
def _aliased(models: Any) -> dict[str, ModelSpec]:
    """``alias -> name or estimator`` of the ``models`` parameter, checked."""
    if isinstance(models, Mapping):
        pairs = list(models.items())
        for spec in models.values():
            _check_spec(spec)
    elif isinstance(models, Sequence) and not isinstance(models, str):
        pairs = [(_default_alias(spec), spec) for spec in models]
    else:
        raise ConfigError(
            "The 'models' parameter of Forecaster must be a list of models or a dict from alias to model. "
            f"Got {type(models).__name__} instead.",
            key="models",
        )
    if not pairs:
        raise ConfigError(
            "The 'models' parameter of Forecaster must hold at least one model. Got none.", key="models"
        )
    aliases = [alias for alias, _ in pairs]
    for alias in aliases:
        if not isinstance(alias, str) or not alias:
            raise ConfigError(
                f"The 'models' parameter of Forecaster has alias {alias!r}; aliases are non-empty strings.",
                key="models",
            )
    duplicated = sorted({alias for alias in aliases if aliases.count(alias) > 1})
    if duplicated:
        raise ConfigError(
            f"The 'models' parameter of Forecaster names {duplicated[0]!r} twice; give each configuration "
            "its own alias with a dict, e.g. {'arima_x': make_model('arima', exog=True), 'arima': 'arima'}.",
            key="models",
        )
    bounds = [(alias, other) for alias in aliases for other in aliases if _is_bound_of(alias, other)]
    if bounds:
        alias, other = bounds[0]
        raise ConfigError(
            f"The 'models' parameter of Forecaster has alias {alias!r}, which is also a bound column of "
            f"alias {other!r} in the output; choose another alias.",
            key="models",
        )
    return dict(pairs)


def _is_bound_of(alias: str, other: str) -> bool:
    """Whether ``alias`` is the name of one of ``other``'s interval columns (``<other>-lo-80``)."""
    return (
        alias != other and alias.startswith(other) and BOUND_SUFFIX.fullmatch(alias[len(other) :]) is not None
    )


def _default_alias(spec: Any) -> str:
    """A registry name is its own alias, an estimator's is its ``model_name``."""
    _check_spec(spec)
    return spec if isinstance(spec, str) else spec.model_name


def _check_spec(spec: Any) -> None:
    if isinstance(spec, str):
        if spec not in available_models():
            raise ConfigError(
                f"The 'models' parameter of Forecaster must hold names in {available_models()} "
                f"or estimators. Got {spec!r} instead.",
                key="models",
            )
    elif not isinstance(spec, PanelForecaster):
        raise ConfigError(
            "The 'models' parameter of Forecaster must hold registry names or forecasting estimators "
            f"(make_model(...)). Got {type(spec).__name__} instead.",
            key="models",
        )


def _positive_int(value: Any, name: str, method: str, at_most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(
            f"The {name!r} parameter of {method} must be a positive int. Got {value!r} instead.", key=name
        )
    if at_most is not None and value > at_most:
        raise ConfigError(
            f"The {name!r} parameter of {method} must be at most {at_most} (months). Got {value!r} instead.",
            key=name,
        )
    return int(value)


def _levels(level: Sequence[int] | None, method: str) -> tuple[int, ...]:
    """Interval levels as sorted ints in (0, 100); ``None`` means no intervals. statsforecast's
    spelling (``level``, one int or several) lives here only: the rest takes a ForecastRequest."""
    if level is None:
        return ()
    values = [level] if isinstance(level, int | float) else level
    ok = isinstance(values, Sequence) and all(
        not isinstance(v, bool)
        and isinstance(v, int | float | np.number)
        and float(v).is_integer()
        and 0 < v < 100
        for v in values
    )
    if not ok or len(set(values)) != len(values):
        raise ConfigError(
            f"The 'level' parameter of {method} must be distinct whole numbers in (0, 100), "
            f"e.g. {DEFAULT_LEVELS}. Got {level!r} instead.",
            key="level",
        )
    return tuple(sorted(int(v) for v in values))


def _is_regressor(column: pd.Series) -> bool:
    """Numeric (or boolean) columns can be regressors; text columns cannot."""
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _keys(frame: pd.DataFrame, id_col: str, time_col: str) -> pd.DataFrame:
    """``series_id`` (text) and ``month`` (``Period[M]``) of a user frame."""
    return pd.DataFrame(
        {"series_id": frame[id_col].astype(str).to_numpy(), "month": _months(frame[time_col], time_col)}
    )


def _id_lookup(ids: pd.Series, column: str) -> dict[str, Hashable]:
    """``str(id) -> id``, refusing two ids that read the same as text."""
    lookup: dict[str, Hashable] = {}
    for value in pd.unique(ids):
        if pd.isna(value):
            raise DataError("missing series id", column=column)
        key = str(value)
        if lookup.setdefault(key, value) != value:
            raise DataError(f"series ids {lookup[key]!r} and {value!r} read the same as text", column=column)
    return lookup


def _months(times: pd.Series, column: str) -> pd.PeriodIndex:
    """Monthly periods of a time column of periods, dates or date strings."""
    if isinstance(times.dtype, pd.PeriodDtype):
        if times.dtype != pd.PeriodDtype("M"):
            raise DataError(f"holds {times.dtype} periods; only monthly series are supported", column=column)
        return pd.PeriodIndex(times)
    if pd.api.types.is_numeric_dtype(times) or pd.api.types.is_bool_dtype(times):
        raise DataError(f"must hold dates or months, not {times.dtype} numbers", column=column)
    _check_month_labels(times, column)
    try:
        dates = pd.to_datetime(times)
    except (ValueError, TypeError) as error:
        raise DataError(f"cannot be read as dates: {error}", column=column) from None
    if dates.isna().any():
        raise DataError(f"missing date in row {int(np.flatnonzero(dates.isna())[0])}", column=column)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return pd.PeriodIndex(dates.dt.to_period("M"))


def _check_month_labels(times: pd.Series, column: str) -> None:
    """Refuse labels pandas would read as a date that are not months: a year, a quarter, a number.

    ``pd.to_datetime("1990")`` is 1990-01-01, so yearly data passed as monthly
    became January forecasts; a number in an object column became a nanosecond of 1970.
    """
    for value in pd.unique(times.dropna()):
        number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        if not number and not (isinstance(value, str) and YEAR_OR_QUARTER.fullmatch(value)):
            continue
        what = "a number" if number else "a quarter" if "q" in value.lower() else "a year"
        row = int(np.flatnonzero((times == value).to_numpy(dtype=bool))[0])
        raise DataError(
            f"{shorten(value)} is {what}, not a month: label months as 'YYYY-MM' or dates",
            row=row,
            column=column,
        )


def _time_label(times: pd.Series) -> str:
    """The input's month convention: ``"period"``, ``"ME"`` when every date is a month end, else ``"MS"``."""
    if isinstance(times.dtype, pd.PeriodDtype):
        return "period"
    dates = pd.to_datetime(times)
    return "ME" if bool(dates.dt.is_month_end.all()) else "MS"


def _label_months(months: pd.PeriodIndex, label: str) -> pd.Series | pd.PeriodIndex:
    if label == "period":
        return months
    if label == "MS":
        return months.to_timestamp(how="start")
    return months.to_timestamp(how="end").normalize()


def _relabelled_backtests(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One backtest table of per-alias backtests, ``model`` the alias, their logs merged."""
    logs = [table.attrs["backtest"] for table in tables.values()]
    relabelled = [table.assign(model=alias) for alias, table in tables.items()]
    fallbacks = [
        log.fallbacks.assign(model=alias)
        for alias, log in zip(tables, logs, strict=True)
        if not log.fallbacks.empty
    ]
    long = pd.concat(relabelled, ignore_index=True)
    long.attrs["backtest"] = BacktestLog(
        cutoffs=logs[0].cutoffs,
        skipped=logs[0].skipped,
        fallbacks=pd.concat(fallbacks, ignore_index=True) if fallbacks else logs[0].fallbacks,
    )
    return long
