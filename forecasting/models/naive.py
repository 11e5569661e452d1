"""Naive and seasonal naive for one series: the simplest baselines and every model's fallback.

Point forecasts and Gaussian interval widths follow Hyndman & Athanasopoulos,
*Forecasting: Principles and Practice* (3rd ed.), section 5.5. A series a
model cannot fit is forecast by :func:`fallback_model`, reported in the
model's ``fallbacks_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np

from forecasting.core.constants import DEFAULT_LEVELS, SEASON_LENGTH
from forecasting.core.intervals import normal_intervals
from forecasting.core.params import POSITIVE_INT


def residual_sigma(residuals: np.ndarray) -> float:
    """Root mean square of the finite residuals (0 when there are none)."""
    residuals = residuals[np.isfinite(residuals)]
    if len(residuals) == 0:
        return 0.0
    return float(np.sqrt(np.mean(residuals**2)))


class NaiveModel:
    """Last value carried forward; sigma_h = sigma * sqrt(h)."""

    min_obs = 1

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        self.sigma_ = residual_sigma(np.diff(self.y_))
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        steps = np.arange(1, h + 1)
        mean = np.full(h, self.y_[-1])
        return normal_intervals(mean, self.sigma_ * np.sqrt(steps), levels)

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors ``y_t - y_{t-1}`` (NaN for the first month)."""
        return np.r_[np.nan, np.diff(self.y_)]


class SeasonalNaiveModel:
    """Same month last year; sigma_h = sigma * sqrt(floor((h - 1) / m) + 1)."""

    label = "seasonal naive"
    _parameter_constraints: ClassVar[dict] = {"season_length": [POSITIVE_INT]}

    def __init__(self, season_length: int = SEASON_LENGTH) -> None:
        self.season_length = season_length

    @property
    def min_obs(self) -> int:
        """One full season."""
        return self.season_length

    def _store(self, y: np.ndarray) -> int:
        """Keep ``y_`` (at least one season long); returns the season length."""
        m = self.season_length
        self.y_ = np.asarray(y, dtype="float64")
        if len(self.y_) < m:
            raise ValueError(f"{self.label} needs {m} observations, got {len(self.y_)}")
        return m

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        m = self._store(y)
        self.season_ = self.y_[-m:]
        self.sigma_ = residual_sigma(self.y_[m:] - self.y_[:-m])
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        """``season_`` repeated; the width grows with the number of seasons ahead."""
        m = self.season_length
        steps = np.arange(1, h + 1)
        mean = self.season_[(steps - 1) % m]
        return normal_intervals(mean, self.sigma_ * np.sqrt((steps - 1) // m + 1), levels)

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors ``y_t - y_{t-m}`` (NaN for the first season)."""
        m = self.season_length
        return np.r_[np.full(m, np.nan), self.y_[m:] - self.y_[:-m]]


def fallback_model(n_obs: int) -> tuple[str, NaiveModel]:
    """Seasonal naive when a full year is known, naive otherwise."""
    if n_obs >= SEASON_LENGTH:
        return "seasonal_naive", SeasonalNaiveModel()
    return "naive", NaiveModel()
