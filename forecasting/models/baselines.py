"""Baselines every other model must beat: naive, seasonal naive, drift, mean.

Point forecasts and Gaussian interval widths follow Hyndman & Athanasopoulos,
*Forecasting: Principles and Practice* (3rd ed.), section 5.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np

from forecasting.models.base import (
    DEFAULT_LEVELS,
    SEASON_LENGTH,
    LocalForecaster,
    SeriesModel,
    normal_intervals,
)


def _residual_sigma(residuals: np.ndarray) -> float:
    residuals = residuals[np.isfinite(residuals)]
    if len(residuals) == 0:
        return 0.0
    return float(np.sqrt(np.mean(residuals**2)))


class NaiveModel:
    """Last value carried forward; sigma_h = sigma * sqrt(h)."""

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        self.sigma_ = _residual_sigma(np.diff(self.y_))
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        steps = np.arange(1, h + 1)
        mean = np.full(h, self.y_[-1])
        return normal_intervals(mean, self.sigma_ * np.sqrt(steps), levels)


class SeasonalNaiveModel:
    """Same month last year; sigma_h = sigma * sqrt(floor((h - 1) / m) + 1)."""

    def __init__(self, season_length: int = SEASON_LENGTH) -> None:
        self.season_length = season_length

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        m = self.season_length
        self.y_ = np.asarray(y, dtype="float64")
        if len(self.y_) < m:
            raise ValueError(f"seasonal naive needs {m} observations, got {len(self.y_)}")
        self.sigma_ = _residual_sigma(self.y_[m:] - self.y_[:-m])
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        m = self.season_length
        last_season = self.y_[-m:]
        steps = np.arange(1, h + 1)
        mean = last_season[(steps - 1) % m]
        return normal_intervals(mean, self.sigma_ * np.sqrt((steps - 1) // m + 1), levels)


class DriftModel:
    """Line through the first and last values; sigma_h = sigma * sqrt(h (1 + h / (T - 1)))."""

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if len(self.y_) < 2:
            raise ValueError("drift needs at least 2 observations")
        self.slope_ = (self.y_[-1] - self.y_[0]) / (len(self.y_) - 1)
        self.sigma_ = _residual_sigma(np.diff(self.y_) - self.slope_)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        steps = np.arange(1, h + 1)
        mean = self.y_[-1] + self.slope_ * steps
        n = len(self.y_)
        return normal_intervals(mean, self.sigma_ * np.sqrt(steps * (1 + steps / (n - 1))), levels)


class MeanModel:
    """Historical mean; sigma_h = sigma * sqrt(1 + 1 / T)."""

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


class Naive(LocalForecaster):
    """Naive forecast for every series of a panel."""

    name = "naive"

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def _series_model(self) -> SeriesModel:
        return NaiveModel()


class SeasonalNaive(LocalForecaster):
    """Seasonal naive (m=12): the benchmark MASE is scaled by."""

    name = "seasonal_naive"

    def __init__(self, season_length: int = SEASON_LENGTH, n_jobs: int = 1) -> None:
        self.season_length = season_length
        self.n_jobs = n_jobs

    def _min_obs(self) -> int:
        return self.season_length

    def _series_model(self) -> SeriesModel:
        return SeasonalNaiveModel(self.season_length)


class Drift(LocalForecaster):
    """Random walk with drift."""

    name = "drift"
    min_obs = 2

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def _series_model(self) -> SeriesModel:
        return DriftModel()


class Mean(LocalForecaster):
    """Historical mean."""

    name = "mean"

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def _series_model(self) -> SeriesModel:
        return MeanModel()
