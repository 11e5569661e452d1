"""``Forecaster``: one DataFrame in, forecasts of several models out, as in statsforecast.

The front end for users of statsforecast or mlforecast. It takes a plain long
DataFrame, builds the :class:`~forecasting.panel.SeriesPanel`, fits the
registry's models (or given estimators) under aliases, and returns forecasts
wide by model (``<alias>``, ``<alias>-lo-80``, ``<alias>-hi-80``, ...) or long
in the package's own forecast table. ``cross_validation`` is the package's
rolling-origin :func:`~forecasting.evaluation.backtest.backtest`.

Input columns: the series id, the month and the target (default ``series_id,
month, value``; ``unique_id, ds, y`` are recognised when the defaults are
absent). Every other numeric column is an exogenous regressor, passed to the
models that use regressors; every other text column is a dimension of its
series (``flow``, ``unit``, ...), constant within the series.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from forecasting.errors import ConfigError, DataError
from forecasting.evaluation.backtest import BacktestLog, backtest
from forecasting.models.base import PanelForecaster
from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel

ModelSpec = str | PanelForecaster
STATSFORECAST_COLUMNS = ("unique_id", "ds", "y")
FREQUENCIES = ("MS", "ME", "M")
"""Accepted ``freq`` values: month-start or month-end timestamps ("M" is pandas' old name for "ME")."""
OUTPUTS = ("wide", "long")


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
    exog_columns_ : the exogenous regressor columns found in ``df``.
    """

    def __init__(
        self,
        models: Sequence[ModelSpec] | Mapping[str, ModelSpec],
        *,
        freq: str | None = None,
        n_jobs: int | None = None,
        id_col: str = "series_id",
        time_col: str = "month",
        target_col: str = "value",
        output: Literal["wide", "long"] = "wide",
    ) -> None:
        self.models = models
        self.freq = freq
        self.n_jobs = n_jobs
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col
        self.output = output

    # --- public API ---------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, X_df: pd.DataFrame | None = None) -> Self:
        """Fit every model on ``df``; exogenous regressors are its extra numeric columns.

        ``X_df`` is accepted for statsforecast's signature only and must be None:
        regressors for the fitted months belong in ``df``, future ones in
        ``predict``'s ``X_df``. Models that backtest internally (``auto``,
        ``ensemble``) do so over their default horizon here; :meth:`forecast`
        builds them for the horizon asked.
        """
        return self._fit(df, X_df, horizon=None)

    def predict(
        self, h: int, level: Sequence[int] | None = (80, 95), X_df: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast ``h`` months after each series' last month, with ``level`` % intervals.

        ``X_df`` holds the future values of the exogenous columns (id, time and
        those columns, ``h`` months per series); it is required when ``df``
        had exogenous columns and a model uses them.
        """
        if not hasattr(self, "models_"):
            raise ConfigError("Forecaster is not fitted yet: call fit(df) or forecast(df, h).", key="models")
        horizon = _positive_int(h, "h", "predict")
        levels = _levels(level, "predict")
        X_future = self._future_exog(X_df)
        frames = [
            model.predict(horizon, X_future if model.uses_exog else None, levels).assign(model=alias)
            for alias, model in self.models_.items()
        ]
        long = pd.concat(frames, ignore_index=True)
        return long if self.output == "long" else self._wide(long, ["series_id", "month"], levels)

    def forecast(
        self,
        df: pd.DataFrame,
        h: int,
        level: Sequence[int] | None = (80, 95),
        X_df: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Fit on ``df`` and forecast ``h`` months: ``fit(df)`` then ``predict(h, level, X_df)``."""
        horizon = _positive_int(h, "h", "forecast")
        return self._fit(df, None, horizon=horizon).predict(horizon, level, X_df)

    def cross_validation(
        self,
        df: pd.DataFrame,
        h: int,
        n_windows: int,
        step_size: int | None = None,
        level: Sequence[int] | None = (80, 95),
    ) -> pd.DataFrame:
        """Rolling-origin forecasts of ``n_windows`` cutoffs, each forecasting ``h`` months.

        The last window ends at the last month of ``df``; earlier cutoffs are
        ``step_size`` months apart (default ``max(h // n_windows, 1)``, the
        backtest's). Each window fits fresh clones on the data up to its
        cutoff; exogenous columns of ``df`` after the cutoff are the future
        regressors. Wide output: id, time, ``cutoff``, the target (the actual)
        and one column per alias and bound. Long output: the
        :func:`~forecasting.evaluation.backtest.backtest` table with ``model``
        the alias (``leaderboard`` reads it), its ``BacktestLog`` in ``attrs``.
        """
        self._check_params()
        horizon = _positive_int(h, "h", "cross_validation")
        windows = _positive_int(n_windows, "n_windows", "cross_validation")
        step = None if step_size is None else _positive_int(step_size, "step_size", "cross_validation")
        levels = _levels(level, "cross_validation")
        panel, X = self._panel(df)
        tables = {
            alias: backtest(
                [model], panel, horizon=horizon, folds=windows, step=step, X=X, levels=levels, n_jobs=1
            )
            for alias, model in self._estimators(horizon).items()
        }
        long = _relabelled_backtests(tables)
        if self.output == "long":
            return long
        wide = self._wide(long, ["series_id", "month", "cutoff", "actual"], levels)
        return wide.rename(columns={"actual": self.columns_[2]})

    @property
    def fallbacks_(self) -> pd.DataFrame:
        """Every fitted model's fallbacks (series a simpler model stood in for), ``model`` the alias."""
        frames = [
            model.fallbacks_.assign(model=alias)
            for alias, model in self.models_.items()
            if getattr(model, "fallbacks_", None) is not None and not model.fallbacks_.empty
        ]
        if not frames:
            return pd.DataFrame(columns=["series_id", "model", "fallback", "reason"])
        return pd.concat(frames, ignore_index=True)

    # --- fitting ------------------------------------------------------------------------------
    def _fit(self, df: pd.DataFrame, X_df: pd.DataFrame | None, horizon: int | None) -> Self:
        self._check_params()
        if X_df is not None:
            raise ConfigError(
                "The 'X_df' parameter of fit must be None: put the regressors of the fitted months in df "
                "as extra columns, and their future values in predict's X_df.",
                key="X_df",
            )
        panel, X = self._panel(df)
        fitted = {}
        for alias, model in self._estimators(horizon).items():
            fitted[alias] = model.fit(panel, X if model.uses_exog else None)
        self.models_ = fitted
        self.panel_ = panel
        return self

    def _estimators(self, horizon: int | None) -> dict[str, PanelForecaster]:
        """Fresh unfitted estimators by alias; registry names are built for ``horizon``."""
        estimators = {}
        for alias, spec in _aliased(self.models).items():
            model = make_model(spec, horizon=horizon) if isinstance(spec, str) else clone(spec)
            if self.n_jobs is not None and "n_jobs" in model.get_params():
                model.set_params(n_jobs=self.n_jobs)
            estimators[alias] = model
        return estimators

    def _check_params(self) -> None:
        """Every constructor parameter, checked before any model runs."""
        _aliased(self.models)
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
    def _panel(self, df: pd.DataFrame) -> tuple[SeriesPanel, pd.DataFrame | None]:
        """The panel and the exogenous frame (``series_id, month, <columns>``) of ``df``."""
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
        extra = [c for c in df.columns if c not in (id_col, time_col, target_col)]
        exog = [c for c in extra if _is_regressor(df[c])]
        dimensions = [c for c in extra if c not in exog]
        self.columns_ = (id_col, time_col, target_col)
        self.ids_ = _id_lookup(df[id_col], id_col)
        months = _months(df[time_col], time_col)
        self.time_label_ = self.freq or _time_label(df[time_col])
        records = df[[id_col, target_col, *dimensions]].rename(
            columns={id_col: "series_id", target_col: "value"}
        )
        records.insert(1, "month", months)
        if not pd.api.types.is_numeric_dtype(records["value"]) or pd.api.types.is_bool_dtype(
            records["value"]
        ):
            raise DataError("the target must be numeric", column=target_col)
        panel = SeriesPanel(records.assign(series_id=records["series_id"].astype(str)))
        self.exog_columns_ = exog
        if not exog:
            return panel, None
        X = pd.DataFrame({"series_id": df[id_col].astype(str).to_numpy(), "month": months}).join(
            df[exog].astype("float64").reset_index(drop=True)
        )
        return panel, X

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

    def _future_exog(self, X_df: pd.DataFrame | None) -> pd.DataFrame | None:
        """``X_df`` as the models' ``X_future`` (``series_id, month, <exogenous columns>``)."""
        needed = self.exog_columns_ and any(model.uses_exog for model in self.models_.values())
        if X_df is None:
            if needed:
                raise DataError(
                    f"X_df is required: df had exogenous columns {self.exog_columns_} and "
                    f"{[a for a, m in self.models_.items() if m.uses_exog]} use them; "
                    "give their future values"
                )
            return None
        if not isinstance(X_df, pd.DataFrame):
            raise DataError(
                f"The 'X_df' parameter must be a pandas DataFrame. Got {type(X_df).__name__} instead."
            )
        id_col, time_col, _ = self.columns_
        expected = [id_col, time_col, *self.exog_columns_]
        missing = [c for c in expected if c not in X_df.columns]
        unknown = [c for c in X_df.columns if c not in expected]
        if missing or unknown:
            what = f"lacks column {missing[0]!r}" if missing else f"has column {unknown[0]!r} not in df"
            raise DataError(
                f"X_df {what}: it must hold {expected}, the id, the time and the exogenous columns of df",
                column=(missing or unknown)[0],
            )
        if not needed:
            return None
        for column in self.exog_columns_:
            if not _is_regressor(X_df[column]):
                raise DataError("exogenous column of X_df must be numeric", column=column)
        months = _months(X_df[time_col], time_col)
        return pd.DataFrame({"series_id": X_df[id_col].astype(str).to_numpy(), "month": months}).join(
            X_df[self.exog_columns_].astype("float64").reset_index(drop=True)
        )

    # --- output -------------------------------------------------------------------------------
    def _wide(self, long: pd.DataFrame, keys: list[str], levels: tuple[int, ...]) -> pd.DataFrame:
        """One column per alias and bound (statsforecast's names), keyed by the input's columns."""
        wide = None
        for alias, frame in long.groupby("model", sort=False):
            columns = {"forecast": alias}
            columns |= {f"lower_{level}": f"{alias}-lo-{level}" for level in sorted(levels, reverse=True)}
            columns |= {f"upper_{level}": f"{alias}-hi-{level}" for level in levels}
            part = frame[[*keys, *columns]].rename(columns=columns)
            wide = part if wide is None else wide.merge(part, on=keys, how="outer", validate="one_to_one")
        order = ["series_id", "cutoff", "month"] if "cutoff" in keys else ["series_id", "month"]
        wide = wide.sort_values(order, kind="stable").reset_index(drop=True)
        return self._external_keys(wide, keys)

    def _external_keys(self, frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        """``frame`` with the input's id values and column names, months labelled like the input's."""
        id_col, time_col, _ = self.columns_
        out = frame.copy()
        out["series_id"] = out["series_id"].astype(str).map(self.ids_)
        for column in {"month", "cutoff"} & set(keys):
            out[column] = _label_months(pd.PeriodIndex(out[column], freq="M"), self.time_label_)
        return out.rename(columns={"series_id": id_col, "month": time_col})


# --- helpers ------------------------------------------------------------------------------------
def _aliased(models: Any) -> dict[str, ModelSpec]:
    """``alias -> name or estimator`` of the ``models`` parameter, checked."""
    if isinstance(models, Mapping):
        pairs = list(models.items())
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
    return dict(pairs)


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


def _positive_int(value: Any, name: str, method: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(
            f"The {name!r} parameter of {method} must be a positive int. Got {value!r} instead.", key=name
        )
    return int(value)


def _levels(level: Sequence[int] | None, method: str) -> tuple[int, ...]:
    """Interval levels as sorted ints in (0, 100); ``None`` means no intervals."""
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
            f"The 'level' parameter of {method} must be distinct whole numbers in (0, 100), e.g. (80, 95). "
            f"Got {level!r} instead.",
            key="level",
        )
    return tuple(sorted(int(v) for v in values))


def _is_regressor(column: pd.Series) -> bool:
    """Numeric (or boolean) columns are regressors; text columns are series dimensions."""
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _id_lookup(ids: pd.Series, column: str) -> dict[str, Hashable]:
    """``str(id) -> id``: the panel keys series by text, the output gives back the input's ids."""
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
    try:
        dates = pd.to_datetime(times)
    except (ValueError, TypeError) as error:
        raise DataError(f"cannot be read as dates: {error}", column=column) from None
    if dates.isna().any():
        raise DataError(f"missing date in row {int(np.flatnonzero(dates.isna())[0])}", column=column)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return pd.PeriodIndex(dates.dt.to_period("M"))


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
