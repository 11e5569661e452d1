"""Gradient boosting as one global model over every series of a panel.

mlforecast's design on scikit-learn's ``HistGradientBoostingRegressor``: each
row is put on a common scale (divided by the mean of the twelve months before
its forecast origin), the target is the log growth over the seasonal naive
forecast (same month of the last observed year), and one regressor learns from
every series at once using lags, rolling windows, year-on-year changes,
calendar and intervention regressors and series-level categorical dimensions.
Prediction intervals come from split conformal calibration: the model is
refitted on truncated histories (rolling origin, inside the training data) and
its scaled errors per horizon step give the interval quantiles
(:mod:`~forecasting.models.gbm_intervals`). Series too short for the features,
or that the model cannot learn from, fall back to a seasonal naive or naive
forecast, reported in ``fallbacks_`` (:mod:`~forecasting.models.gbm_series`).

Per-origin scaling and log-growth targets make the model robust to level
shifts such as the 2020-2021 border closures; the same growth targets can
compound a reopening into forecasts far too high, which is why ``auto``
combines the GBMs with statistical and no-change models (figures:
``docs/experiments/model-docstring-figures.md``, "Gradient boosting").
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from joblib import Memory
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.validation import check_memory

from forecasting.core.constants import ADJUSTMENT_COLUMNS, FALLBACK_COLUMNS, SEASON_LENGTH
from forecasting.core.exog import absent_reason, exog_columns, exog_values
from forecasting.core.params import (
    BOOLEAN,
    NON_NEGATIVE_INT,
    NONE,
    POSITIVE_INT,
    Constraint,
    InstanceOf,
    Interval,
    Options,
    Satisfies,
    int_sequence,
)
from forecasting.core.request import ForecastRequest
from forecasting.core.threads import limit_threads
from forecasting.errors import DataError
from forecasting.executors import run_chunked
from forecasting.features.calendar import calendar_features
from forecasting.features.lags import (
    DEFAULT_LAGS,
    DEFAULT_SEASONAL_DIFFERENCE_LAGS,
    DEFAULT_WINDOWS,
    LagFeatures,
    right_aligned,
    rolling_mean_std,
    shift_columns,
)
from forecasting.models.base import PanelForecaster, fill_gaps, forecast_frame
from forecasting.models.gbm_intervals import calibration_windows, interval_offsets
from forecasting.models.gbm_series import (
    categorical_codes,
    error_scale,
    fallback_reasons,
    forward_filled,
    level_scale,
    observed,
)
from forecasting.models.naive import fallback_model
from forecasting.panel import SeriesPanel

STRATEGIES: tuple[str, ...] = ("recursive", "direct")
TARGETS: tuple[str, ...] = ("seasonal_difference", "log_ratio", "level")
SCALINGS: tuple[str, ...] = ("window", "series")
LOSSES: tuple[str, ...] = ("squared_error", "absolute_error", "gamma", "poisson")


def _has_cache(value: object) -> bool:
    """Whether ``value`` offers joblib.Memory's ``cache``, all ``check_memory`` asks of a memory."""
    return callable(getattr(value, "cache", None))


class GradientBoosting(PanelForecaster):
    """One ``HistGradientBoostingRegressor`` across all series (a global model).

    Parameters
    ----------
    strategy : "recursive" or "direct"
        ``recursive`` fits one model for the next month and feeds its forecasts
        back as lags. ``direct`` fits one model for every step ``h`` up to
        ``max_horizon`` with ``h`` as a feature and the features taken at the
        forecast origin, so no forecast is fed back (the two compared:
        ``docs/experiments/model-docstring-figures.md``).
    target : "log_ratio", "seasonal_difference" or "level"
        What the trees learn, relative to the seasonal base (the same month of
        the last observed year): ``log1p(y / s) - log1p(base / s)`` (growth,
        whose size does not explode after a border closure; non-negative
        series only, others fall back), ``(y - base) / s``, or the scaled level
        ``y / s`` (trees cannot extrapolate a level beyond what they saw).
    scaling : "window" or "series"
        Divide each row by the mean absolute value of the twelve months before
        its forecast origin (robust to level shifts), or each series by the
        mean of its last twelve training months.
    lags, rolling_windows, seasonal_difference_lags
        Lag, rolling-window and year-on-year change features
        (:class:`~forecasting.features.lags.LagFeatures`).
    max_horizon
        Longest horizon of the direct strategy (ignored by ``recursive``).
    calibration_windows, calibration_horizon, calibration_step
        Rolling-origin windows for conformal intervals: window ``w`` refits on
        the history minus its last ``calibration_horizon + w * step`` months.
        Steps beyond ``calibration_horizon`` reuse the last step's scores
        widened by ``sqrt(h / calibration_horizon)``. ``calibration_windows=None``
        takes as many windows as give about 100 scores per step (at least 3,
        at most 12, as history allows), so small panels still get quantiles.
    min_obs
        Series with fewer observed months fall back to seasonal naive / naive.
    series_feature
        Use the series itself as a categorical feature (only when the panel
        has at most 255 series).
    loss, learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization, random_state
        Passed to ``HistGradientBoostingRegressor`` (early stopping is off, so
        every fit uses all training rows and is reproducible).
    max_train_rows
        Cap on training rows per fit (the direct strategy has a row per series,
        origin and step): the rows whose fixed random number per (series, target
        month, step), seeded by ``random_state``, is smallest, so that a series'
        rows stay when other series join or leave the panel.
    n_jobs
        OpenMP threads for the trees. One by default: on a shared machine
        (or inside a parallel backtest) more threads than free cores slow the
        fits down many times over.
    memory : None, str or joblib.Memory
        Caches each regressor fit, as ``Pipeline(memory=...)`` does: a folder
        path or a ``joblib.Memory``. A fit of the same trees on the same design
        and target (a backtest fold and a conformal refit at the same cutoff,
        say) is then loaded instead of refitted, by any worker that reads that
        folder. None (default): no caching. ``auto`` gives its GBMs a
        temporary one for the length of its ``fit``.
    """

    name = "gbm"
    fit_cost = 0.3
    fits_in_one_piece = True
    uses_exog = True
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "strategy": [Options(*STRATEGIES)],
        "target": [Options(*TARGETS)],
        "scaling": [Options(*SCALINGS)],
        "lags": [int_sequence(1)],
        "rolling_windows": [int_sequence(2)],
        "seasonal_difference_lags": [int_sequence(0)],
        "max_horizon": [POSITIVE_INT],
        "calibration_windows": [NONE, NON_NEGATIVE_INT],
        "calibration_horizon": [POSITIVE_INT],
        "calibration_step": [NONE, POSITIVE_INT],
        # The seasonal base needs a past year.
        "min_obs": [Interval(Integral, SEASON_LENGTH + 1, None)],
        "series_feature": [BOOLEAN],
        "loss": [Options(*LOSSES)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [POSITIVE_INT],
        "max_leaf_nodes": [NONE, Interval(Integral, 2, None)],
        "min_samples_leaf": [POSITIVE_INT],
        "l2_regularization": [Interval(Real, 0, None)],
        "max_train_rows": [NONE, POSITIVE_INT],
        "random_state": [NONE, NON_NEGATIVE_INT],
        "n_jobs": [POSITIVE_INT],
        "memory": [NONE, InstanceOf(str, "a folder path"), Satisfies(_has_cache, "a joblib.Memory")],
    }

    def __init__(
        self,
        strategy: str = "recursive",
        target: str = "log_ratio",
        scaling: str = "window",
        lags: Sequence[int] = DEFAULT_LAGS,
        rolling_windows: Sequence[int] = DEFAULT_WINDOWS,
        seasonal_difference_lags: Sequence[int] = DEFAULT_SEASONAL_DIFFERENCE_LAGS,
        max_horizon: int = 24,
        calibration_windows: int | None = None,
        calibration_horizon: int = 12,
        calibration_step: int | None = None,
        min_obs: int = 2 * SEASON_LENGTH,
        series_feature: bool = True,
        loss: str = "squared_error",
        learning_rate: float = 0.05,
        max_iter: int = 300,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_train_rows: int | None = 100_000,
        random_state: int | None = 0,
        n_jobs: int = 1,
        memory: str | Memory | None = None,
    ) -> None:
        self.strategy = strategy
        self.target = target
        self.scaling = scaling
        self.lags = lags
        self.rolling_windows = rolling_windows
        self.seasonal_difference_lags = seasonal_difference_lags
        self.max_horizon = max_horizon
        self.calibration_windows = calibration_windows
        self.calibration_horizon = calibration_horizon
        self.calibration_step = calibration_step
        self.min_obs = min_obs
        self.series_feature = series_feature
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_train_rows = max_train_rows
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.memory = memory

    @property
    def model_name(self) -> str:
        """``gbm``, or ``gbm_median`` when fitted for the median (``loss="absolute_error"``)."""
        if self.loss == "squared_error":
            return self.name
        return "gbm_median" if self.loss == "absolute_error" else f"gbm_{self.loss}"

    # --- fit ----------------------------------------------------------------
    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        """Fit the global model, its conformal calibration and the per-series fallbacks."""
        with limit_threads(limits=self.n_jobs, user_api="openmp"):
            self._fit_global(panel, X)

    def _fit_global(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        self.features_ = LagFeatures(
            tuple(self.lags), tuple(self.rolling_windows), tuple(self.seasonal_difference_lags)
        )
        layout = right_aligned(panel)
        history = layout.values
        self.series_ids_ = layout.series_ids
        self.exog_columns_ = exog_columns(X)
        in_range = np.isfinite(history).cumsum(axis=1) > 0
        month_grid = self._month_grid(layout.ordinals(0, layout.n_columns), in_range, X, "X")
        categories, self.categorical_names_ = categorical_codes(
            panel.metadata.loc[layout.series_ids], self.series_feature
        )
        n_obs = np.isfinite(history).sum(axis=1)
        reasons = fallback_reasons(history, self.min_obs, self._needs_nonnegative)
        modelled = np.array([reason is None for reason in reasons])

        self.categories_ = categories
        self.modelled_ = modelled
        windows = calibration_windows(
            history,
            modelled,
            self._calibration_horizon,
            self.calibration_step,
            self.calibration_windows,
            self.min_obs,
            self._needs_nonnegative,
        )
        keys = cell_keys(layout.series_ids, layout.last_ordinals, history.shape[1], self._salt())
        training_sets = [self._training_set(history, month_grid, keys, modelled, self.max_horizon)]
        training_sets += [
            self._training_set(
                history[:, :cut], month_grid[:, :cut], keys[:, :cut], usable, self._calibration_horizon
            )
            for cut, usable in windows
        ]
        regressors, self.calibration_scores_ = self._fit_regressors(
            training_sets, windows, history, month_grid
        )
        self.regressor_, self.scale_ = regressors[0], training_sets[0][2]
        self.history_ = history
        self.last_ordinals_ = layout.last_ordinals
        self.error_scale_ = error_scale(history)
        self.fallback_models_ = {
            sid: fallback_model(int(n))[1].fit(fill_gaps(observed(row))[0])
            for sid, row, n, keep in zip(layout.series_ids, history, n_obs, modelled, strict=True)
            if not keep
        }
        fallback_rows = [
            (sid, self.model_name, fallback_model(int(n))[0], reason)
            for sid, n, reason in zip(layout.series_ids, n_obs, reasons, strict=True)
            if reason is not None
        ]
        if self.calibration_scores_ is None:
            fallback_rows += [
                (
                    sid,
                    self.model_name,
                    "seasonal_naive_intervals",
                    "too little history for conformal calibration",
                )
                for sid, keep in zip(layout.series_ids, modelled, strict=True)
                if keep
            ]
        self.fallbacks_ = pd.DataFrame(fallback_rows, columns=FALLBACK_COLUMNS)
        self.adjustments_ = pd.DataFrame(
            [
                (sid, self.model_name, f"interpolated {gaps} missing month(s) for the fallback")
                for sid, row, keep in zip(layout.series_ids, history, modelled, strict=True)
                if not keep and (gaps := int(np.isnan(observed(row)).sum()))
            ],
            columns=ADJUSTMENT_COLUMNS,
        )
        self.n_series_ = len(layout.series_ids)

    def _month_grid(
        self, ordinals: np.ndarray, needed: np.ndarray, X: pd.DataFrame | None, what: str
    ) -> np.ndarray:
        """Calendar and exogenous features of each (series, month) cell; NaN where not needed
        (and, for ``X_future``, where it lacks the month: that series then falls back)."""
        # With nothing needed (every series fell back) one month still fixes the columns.
        wanted = ordinals[needed] if needed.any() else ordinals.ravel()[:1]
        months = pd.PeriodIndex.from_ordinals(np.unique(wanted), freq="M")
        calendar = calendar_features(months).drop(columns="month")
        calendar.insert(0, "month_of_year", months.month.to_numpy(dtype="float64"))
        lookup = pd.DataFrame(calendar.to_numpy(dtype="float64"), index=months.asi8)
        grid = np.full((*ordinals.shape, calendar.shape[1] + len(self.exog_columns_)), np.nan)
        grid[needed, : calendar.shape[1]] = lookup.loc[ordinals[needed]].to_numpy()
        if self.exog_columns_:
            series = np.broadcast_to(np.asarray(self.series_ids_, dtype=object)[:, None], ordinals.shape)
            grid[needed, calendar.shape[1] :] = exog_values(
                X, series[needed], ordinals[needed], self.exog_columns_, what, allow_absent=what == "X_future"
            )
        return grid

    def _design(
        self,
        lag_features: np.ndarray,
        base: np.ndarray,
        scale: np.ndarray,
        step: np.ndarray,
        month_features: np.ndarray,
        categories: np.ndarray,
    ) -> np.ndarray:
        """Regressor input rows: scaled lags and seasonal base, step (direct), month and series features."""
        parts = [lag_features / scale[:, None], (base / scale)[:, None]]
        if self.strategy == "direct":
            parts.append(step[:, None].astype("float64"))
        return np.column_stack([*parts, month_features, categories])

    def _training_set(
        self,
        history: np.ndarray,
        month_grid: np.ndarray,
        keys: np.ndarray,
        modelled: np.ndarray,
        max_step: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Design rows, targets and series scales from (series, origin, step) rows of ``history``.

        Steps go up to ``max_step`` (direct strategy). At most ``max_train_rows``
        rows keep the direct strategy (a row per step) fast on large panels: the
        rows with the smallest of a fixed random number per (series, target
        month, step) (``keys``, :func:`cell_keys`), so that a series' rows do
        not change when other series join or leave the panel.
        """
        scale = level_scale(history)
        table = self.features_.table(history)
        filled = forward_filled(history)
        origin_scale = self._origin_scales(history, scale)
        n_series, n_columns = history.shape
        steps = [1] if self.strategy == "recursive" else range(1, max_step + 1)
        inputs, targets, draws = [], [], []
        for step in steps:
            series, origin = (a.ravel() for a in np.indices((n_series, max(n_columns - step, 0))))
            target_col = origin + step
            base_col = origin + step - SEASON_LENGTH * math.ceil(step / SEASON_LENGTH)
            keep = modelled[series] & (base_col >= 0)
            series, origin, target_col, base_col = (
                series[keep],
                origin[keep],
                target_col[keep],
                base_col[keep],
            )
            actual = history[series, target_col]
            base = filled[series, base_col]
            usable = np.isfinite(actual) & np.isfinite(base)
            series, origin, target_col, actual, base = (
                a[usable] for a in (series, origin, target_col, actual, base)
            )
            row_scale = origin_scale[series, origin + 1]
            inputs.append(
                self._design(
                    table[series, origin + 1],
                    base,
                    row_scale,
                    np.full(len(series), step),
                    month_grid[series, target_col],
                    self.categories_[series],
                )
            )
            targets.append(self._to_target(actual, base, row_scale))
            draws.append(pd.util.hash_array(keys[series, target_col] ^ np.uint64(step)))
        design, target = np.concatenate(inputs), np.concatenate(targets)
        if self.max_train_rows is not None and len(design) > self.max_train_rows:
            smallest = np.argpartition(np.concatenate(draws), self.max_train_rows)[: self.max_train_rows]
            chosen = np.sort(smallest)
            design, target = design[chosen], target[chosen]
        return design, target, scale

    def _salt(self) -> int:
        """What ``random_state`` adds to every row's random number (None: a fresh one per fit)."""
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**32))
        return int(self.random_state)

    def _fit_regressors(
        self,
        training_sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        windows: list[tuple[int, np.ndarray]],
        history: np.ndarray,
        month_grid: np.ndarray,
    ) -> tuple[list[Pipeline | None], np.ndarray | None]:
        """Fit the final and the calibration regressors, which are independent, on the current executor,
        each calibration regressor scored on its window where it was fitted: the regressors and the
        calibration scores (:meth:`_window_errors` of the windows up to the first without rows).

        Each task carries one design matrix (at most ``max_train_rows`` rows) and its window's
        months, not the panel; with the serial executor this is a plain loop on the driver. Each
        keeps ``n_jobs`` OpenMP threads: giving it the cores other regressors leave idle saved
        12 % on a quiet machine and cost 14x on a busy one (the threads spin waiting for cores
        other processes hold). With ``memory``, a fit already cached under the same trees, design
        and target is loaded.
        """
        horizon = self._calibration_horizon
        fit = check_memory(self.memory).cache(fit_trees)
        scorers: list[Callable[[Pipeline], np.ndarray] | None] = [None]  # the final regressor is not scored
        scorers += [
            partial(
                self._window_errors,
                history=history[:, : cut + horizon],
                future_grid=month_grid[:, cut : cut + horizon],
                scale=scale,
                usable=usable,
                cut=cut,
            )
            for (cut, usable), (_, _, scale) in zip(windows, training_sets[1:], strict=True)
        ]
        tasks = [
            (fit, self._regressor(design) if len(design) else None, design, target, self.n_jobs, score)
            for (design, target, _), score in zip(training_sets, scorers, strict=True)
        ]
        results = run_chunked(fit_and_score, tasks, n_jobs=1, heavy=True)
        regressors = [regressor for regressor, _ in results]
        scores = []
        for regressor, errors in results[1:]:
            if regressor is None:
                break
            scores.append(errors)
        return regressors, np.concatenate(scores) if scores else None

    def _window_errors(
        self,
        regressor: Pipeline,
        history: np.ndarray,
        future_grid: np.ndarray,
        scale: np.ndarray,
        usable: np.ndarray,
        cut: int,
    ) -> np.ndarray:
        """Scaled forecast errors ``(n_usable, calibration_horizon)`` of a refit on ``history[:, :cut]``
        over the months after ``cut``: the conformal scores of one calibration window."""
        training = history[:, :cut]
        forecasts = self._forecast(regressor, training, future_grid, scale, future_grid.shape[1], usable)
        errors = (history[:, cut:] - forecasts) / error_scale(training)[:, None]
        return errors[usable]

    def _origin_scales(self, history: np.ndarray, series_scale: np.ndarray) -> np.ndarray:
        """The scale of a row whose origin precedes column ``p``, shape ``(n_series, n_columns + 1)``.

        ``window`` scaling divides by the mean absolute value of the twelve
        months before the forecast month, so rows from before and after a
        structural break (a border closure) share one scale; ``series`` uses one
        scale per series. Windows with fewer than half their months observed
        take the series scale.
        """
        n_series, n_columns = history.shape
        if self.scaling == "series":
            return np.broadcast_to(series_scale[:, None], (n_series, n_columns + 1))
        padded = np.concatenate([np.abs(history), np.full((n_series, 1), np.nan)], axis=1)
        window_mean = rolling_mean_std(shift_columns(padded, 1), SEASON_LENGTH)[0]
        usable = np.isfinite(window_mean) & (window_mean > 0)
        return np.where(usable, window_mean, series_scale[:, None])

    @property
    def _needs_nonnegative(self) -> bool:
        return self.target == "log_ratio"

    def _to_target(self, actual: np.ndarray, base: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """What the trees learn for a month, given its seasonal base and the row's scale."""
        if self.target == "level":
            return actual / scale
        if self.target == "log_ratio":
            return np.log1p(np.maximum(actual, 0) / scale) - np.log1p(np.maximum(base, 0) / scale)
        return (actual - base) / scale

    def _from_target(self, predicted: np.ndarray, base: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_to_target`: a forecast in the series' units."""
        if self.target == "level":
            return predicted * scale
        if self.target == "log_ratio":
            return np.expm1(predicted + np.log1p(np.maximum(base, 0) / scale)) * scale
        return predicted * scale + base

    def _regressor(self, design: np.ndarray) -> Pipeline:
        """Trees on the informative columns of ``design``.

        Columns with fewer than two distinct values (all-NaN long lags on a
        short calibration window, for example) carry no split and make
        scikit-learn's binning fail, so they are left out.
        """
        n_features = design.shape[1]
        categorical = np.zeros(n_features, dtype=bool)
        categorical[n_features - self.categories_.shape[1] :] = True
        informative = np.array([len(np.unique(column[np.isfinite(column)])) > 1 for column in design.T])
        keep = np.flatnonzero(informative)
        trees = HistGradientBoostingRegressor(
            loss=self.loss,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features=categorical[keep] if categorical[keep].any() else None,
            early_stopping=False,
            random_state=self.random_state,
        )
        return make_pipeline(ColumnTransformer([("informative", "passthrough", keep)]), trees)

    def _forecast(
        self,
        regressor: Pipeline,
        history: np.ndarray,
        future_grid: np.ndarray,
        scale: np.ndarray,
        horizon: int,
        modelled: np.ndarray,
    ) -> np.ndarray:
        """Point forecasts ``(n_series, horizon)`` after ``history``; NaN where not modelled."""
        rows = np.flatnonzero(modelled)
        n_columns = history.shape[1]
        extended = np.concatenate([history, np.full((history.shape[0], horizon), np.nan)], axis=1)
        nonnegative = ~(np.nanmin(np.where(np.isfinite(history), history, np.inf), axis=1) < 0)
        if self.strategy == "recursive":
            for step in range(horizon):
                origin = n_columns - 1 + step
                filled = forward_filled(extended[rows, : origin + 1])
                base = filled[:, origin + 1 - SEASON_LENGTH]
                recent = extended[rows, origin + 1 - SEASON_LENGTH : origin + 1]
                row_scale = self._origin_scales(recent, scale[rows])[:, -1]
                design = self._design(
                    self.features_.next(extended[rows, : origin + 1]),
                    base,
                    row_scale,
                    np.ones(len(rows)),
                    future_grid[rows, step],
                    self.categories_[rows],
                )
                predicted = self._from_target(regressor.predict(design), base, row_scale)
                extended[rows, origin + 1] = np.where(nonnegative[rows], np.maximum(predicted, 0), predicted)
            return extended[:, n_columns:]
        if horizon > self.max_horizon:
            raise ValueError(
                f"The direct strategy was fitted for max_horizon={self.max_horizon}; "
                f"got horizon {horizon}. Refit with a larger max_horizon."
            )
        lag_features = self.features_.next(history[rows])
        filled = forward_filled(history[rows])
        row_scale = self._origin_scales(history[rows, -SEASON_LENGTH:], scale[rows])[:, -1]
        forecasts = np.full((history.shape[0], horizon), np.nan)
        steps = np.arange(1, horizon + 1)
        base_cols = n_columns - 1 + steps - SEASON_LENGTH * np.ceil(steps / SEASON_LENGTH).astype(int)
        for step, base_col in zip(steps, base_cols, strict=True):
            base = filled[:, base_col]
            design = self._design(
                lag_features,
                base,
                row_scale,
                np.full(len(rows), step),
                future_grid[rows, step - 1],
                self.categories_[rows],
            )
            forecasts[rows, step - 1] = self._from_target(regressor.predict(design), base, row_scale)
        return forecasts

    @property
    def _calibration_horizon(self) -> int:
        if self.strategy == "direct":
            return min(self.calibration_horizon, self.max_horizon)
        return self.calibration_horizon

    # --- predict ------------------------------------------------------------
    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Forecasts and conformal intervals for the ``horizon`` months after each series' last month."""
        horizon, levels = request.horizon, request.levels
        if X_future is not None and not self.exog_columns_:
            raise DataError("X_future was given but the model was fitted without X")
        ordinals = self.last_ordinals_[:, None] + np.arange(1, horizon + 1)[None, :]
        needed = np.broadcast_to(self.modelled_[:, None], ordinals.shape)
        future_grid = self._month_grid(ordinals, needed, X_future, "X_future")
        lacking = self._lacking_exog(ordinals, future_grid)
        modelled = self.modelled_ & ~np.isin(self.series_ids_, list(lacking))
        if self.regressor_ is not None and modelled.any():
            with limit_threads(limits=self.n_jobs, user_api="openmp"):
                mean = self._forecast(
                    self.regressor_, self.history_, future_grid, self.scale_, horizon, modelled
                )
        else:
            mean = np.full(ordinals.shape, np.nan)
        offsets = interval_offsets(self.calibration_scores_, horizon, levels)
        outputs, fallbacks = [], []
        for i, series_id in enumerate(self.series_ids_):
            months = pd.PeriodIndex.from_ordinals(ordinals[i], freq="M")
            if modelled[i]:
                out = {"mean": mean[i]}
                for key, offset in offsets.items():
                    out[key] = mean[i] + offset * self.error_scale_[i]
            elif series_id in lacking:
                history = self._observed_history(i)
                name, fallback = fallback_model(len(history))
                out = fallback.fit(history).predict(horizon, None, levels)
                fallbacks.append((series_id, self.model_name, name, lacking[series_id]))
            else:
                out = self.fallback_models_[series_id].predict(horizon, None, levels)
            outputs.append((series_id, months, out))
        return forecast_frame(outputs, levels), pd.DataFrame(fallbacks, columns=FALLBACK_COLUMNS)

    def _series_history(self, series_id: str) -> np.ndarray | None:
        rows = np.flatnonzero(np.asarray(self.series_ids_) == series_id)
        return self._observed_history(rows[0]) if len(rows) else None

    def _observed_history(self, row: int) -> np.ndarray:
        """Series ``row``'s observed months (gaps filled), from the right-aligned history of the trees."""
        return fill_gaps(observed(self.history_[row]))[0]

    def _lacking_exog(self, ordinals: np.ndarray, grid: np.ndarray) -> dict[str, str]:
        """Modelled series whose ``X_future`` misses a month they need -> the reason they fall back."""
        if not self.exog_columns_:
            return {}
        exog = grid[..., -len(self.exog_columns_) :]
        reasons = {}
        for i in np.flatnonzero(self.modelled_):
            months = pd.PeriodIndex.from_ordinals(ordinals[i], freq="M")
            reason = absent_reason(months, exog[i])
            if reason is not None:
                reasons[self.series_ids_[i]] = reason
        return reasons


def fit_trees(
    regressor: Pipeline | None, design: np.ndarray, target: np.ndarray, n_threads: int
) -> Pipeline | None:
    """Fit one regressor (None when there are no rows); runs on any executor's worker."""
    if regressor is None:
        return None
    with limit_threads(limits=n_threads, user_api="openmp"):
        return regressor.fit(design, target)


def fit_and_score(
    fit: Callable[..., Pipeline | None],
    regressor: Pipeline | None,
    design: np.ndarray,
    target: np.ndarray,
    n_threads: int,
    score: Callable[[Pipeline], np.ndarray] | None,
) -> tuple[Pipeline | None, np.ndarray | None]:
    """Fit one regressor with ``fit`` (:func:`fit_trees`, maybe cached) and, for a calibration
    window, ``score`` it (:meth:`GradientBoosting._window_errors`); runs on any executor's worker,
    so the windows' forecasts run in parallel, not on the driver after every fit."""
    fitted = fit(regressor, design, target, n_threads)
    if fitted is None or score is None:
        return fitted, None
    with limit_threads(limits=n_threads, user_api="openmp"):
        return fitted, score(fitted)


def cell_keys(series_ids: Sequence[str], last_ordinals: np.ndarray, n_columns: int, salt: int) -> np.ndarray:
    """A fixed random number per (series, month) of a right-aligned history, from the series' id,
    the month and ``salt`` only: the same cell gets the same number in any panel, at any cut
    (pandas' ``hash_array`` spreads integers that differ in a bit or two over all 64 bits)."""
    ids = np.array([zlib.crc32(str(sid).encode("utf-8")) for sid in series_ids], dtype=np.uint64)
    months = np.asarray(last_ordinals, dtype=np.int64)[:, None] - (n_columns - 1 - np.arange(n_columns))
    salted = pd.util.hash_array(np.array([salt], dtype=np.uint64))[0]
    return pd.util.hash_array((ids[:, None] << np.uint64(32)) ^ months.astype(np.uint64) ^ salted)
