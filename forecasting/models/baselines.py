"""Baselines every other model must beat: naive, seasonal naive, drift, mean, seasonal profile.

Point forecasts and Gaussian interval widths follow Hyndman & Athanasopoulos,
*Forecasting: Principles and Practice* (3rd ed.), section 5.5. The seasonal
profile is seasonal naive with its noise averaged out: the level of the last
twelve months plus the seasonal pattern averaged over the last few years.
Seasonal naive copies last year's one-off months (a late Spring Festival, a
strike, a record harvest) into every forecast year; the profile keeps last
year's level but takes each month's usual deviation from it (it beat seasonal
naive on every panel measured: ``docs/experiments/model-docstring-figures.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np

from forecasting.core.constants import DEFAULT_LEVELS, SEASON_LENGTH
from forecasting.core.intervals import normal_intervals
from forecasting.core.params import POSITIVE_INT
from forecasting.models.base import CLOSED_FORM_COST, LOCAL_PARAMS, LocalForecaster
from forecasting.models.naive import NaiveModel, SeasonalNaiveModel, residual_sigma


class SeasonalProfileModel(SeasonalNaiveModel):
    """Mean of the last season plus the average seasonal deviation of the last ``seasons`` seasons.

    With one season (or one season of history) this is seasonal naive. sigma is
    the RMS error of the same rule one season ahead from every earlier origin,
    and sigma_h = sigma * sqrt(floor((h - 1) / m) + 1) as for seasonal naive.
    """

    label = "the seasonal profile"
    _parameter_constraints: ClassVar[dict] = {"season_length": [POSITIVE_INT], "seasons": [POSITIVE_INT]}

    def __init__(self, season_length: int = SEASON_LENGTH, seasons: int = 4) -> None:
        super().__init__(season_length)
        self.seasons = seasons

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        m = self._store(y)
        n = len(self.y_)
        self.season_ = self._seasons_ahead(np.array([n]))[0]
        origins = np.arange(m, n)
        actuals = np.lib.stride_tricks.sliding_window_view(np.r_[self.y_, np.full(m, np.nan)], m)[origins]
        errors = self._seasons_ahead(origins) - actuals
        ahead = origins[:, None] + np.arange(m) < n  # each origin's months within the history
        self.sigma_ = residual_sigma(errors[ahead]) if errors.size else 0.0
        return self

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors: ``y_t`` less the profile forecast from ``y_1 .. y_{t-1}`` (NaN for
        the first season)."""
        m = self.season_length
        fitted = self._seasons_ahead(np.arange(m, len(self.y_)))[:, 0]
        return np.r_[np.full(m, np.nan), self.y_[m:] - fitted]

    def _seasons_ahead(self, origins: np.ndarray) -> np.ndarray:
        """The next ``m`` months forecast from ``y_[:origin]`` for each of ``origins`` (ascending, each
        at least ``m``), one row each: the mean of the last season plus the seasonal profile of the
        last ``k = min(seasons, origin // m)`` seasons. The fit (origin: all of ``y_``) and the
        backtest of every earlier origin in one pass."""
        m, y = self.season_length, self.y_
        rows = []
        seasons = np.minimum(self.seasons, origins // m)
        for k in np.unique(seasons):  # ascending with the origins, so the rows keep their order
            starts = origins[seasons == k] - k * m
            blocks = np.lib.stride_tricks.sliding_window_view(y, k * m)[starts].reshape(-1, k, m)
            profile = (blocks - blocks.mean(axis=2, keepdims=True)).mean(axis=1)
            rows.append(blocks[:, -1, :].mean(axis=1, keepdims=True) + profile)
        return np.concatenate(rows) if rows else np.empty((0, m))


class DriftModel:
    """Line through the first and last values; sigma_h = sigma * sqrt(h (1 + h / (T - 1)))."""

    min_obs = 2

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if len(self.y_) < 2:
            raise ValueError("drift needs at least 2 observations")
        self.slope_ = (self.y_[-1] - self.y_[0]) / (len(self.y_) - 1)
        self.sigma_ = residual_sigma(np.diff(self.y_) - self.slope_)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        steps = np.arange(1, h + 1)
        mean = self.y_[-1] + self.slope_ * steps
        n = len(self.y_)
        return normal_intervals(mean, self.sigma_ * np.sqrt(steps * (1 + steps / (n - 1))), levels)

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors ``y_t - y_{t-1} - slope`` (NaN for the first month)."""
        return np.r_[np.nan, np.diff(self.y_) - self.slope_]


class MeanModel:
    """Historical mean; sigma_h = sigma * sqrt(1 + 1 / T)."""

    min_obs = 1

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        self.mean_ = float(np.mean(self.y_))
        self.sigma_ = float(np.std(self.y_, ddof=1)) if len(self.y_) > 1 else 0.0
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        mean = np.full(h, self.mean_)
        sigma = np.full(h, self.sigma_ * np.sqrt(1 + 1 / len(self.y_)))
        return normal_intervals(mean, sigma, levels)

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample errors ``y_t - mean``."""
        return self.y_ - self.mean_


class Naive(LocalForecaster):
    """Naive forecast for every series of a panel."""

    name = "naive"
    fit_cost = CLOSED_FORM_COST
    series_model = NaiveModel
    _parameter_constraints: ClassVar[dict] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class SeasonalNaive(LocalForecaster):
    """Seasonal naive (m=12): the benchmark MASE is scaled by."""

    name = "seasonal_naive"
    fit_cost = CLOSED_FORM_COST
    series_model = SeasonalNaiveModel
    _parameter_constraints: ClassVar[dict] = {**SeasonalNaiveModel._parameter_constraints, **LOCAL_PARAMS}

    def __init__(
        self, *, season_length: int = SEASON_LENGTH, min_obs: int | None = None, n_jobs: int = 1
    ) -> None:
        self.season_length = season_length
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class SeasonalProfile(LocalForecaster):
    """Seasonal naive with the seasonal pattern averaged over the last ``seasons`` seasons."""

    name = "seasonal_profile"
    fit_cost = CLOSED_FORM_COST
    series_model = SeasonalProfileModel
    _parameter_constraints: ClassVar[dict] = {**SeasonalProfileModel._parameter_constraints, **LOCAL_PARAMS}

    def __init__(
        self,
        *,
        season_length: int = SEASON_LENGTH,
        seasons: int = 4,
        min_obs: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.season_length = season_length
        self.seasons = seasons
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Drift(LocalForecaster):
    """Random walk with drift."""

    name = "drift"
    fit_cost = CLOSED_FORM_COST
    series_model = DriftModel
    _parameter_constraints: ClassVar[dict] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Mean(LocalForecaster):
    """Historical mean."""

    name = "mean"
    fit_cost = CLOSED_FORM_COST
    series_model = MeanModel
    _parameter_constraints: ClassVar[dict] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs
