"""The Theta method (Assimakopoulos-Nikolopoulos) on statsmodels ``ThetaModel``.

statsmodels tests for seasonality (a 90% test on the autocorrelation at lag
``m``, ``use_test=True``) and, when significant, deseasonalises by classical
decomposition, multiplicative for strictly positive series and additive
otherwise (``method="auto"``). Intervals come from the model's SES state space.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import ClassVar, Self

import numpy as np
from statsmodels.tsa.forecasting.theta import ThetaModel

from forecasting.core.constants import DEFAULT_LEVELS, SEASON_LENGTH
from forecasting.core.params import POSITIVE_INT, Interval
from forecasting.core.threads import limit_threads
from forecasting.models.base import LocalForecaster


class ThetaSeriesModel:
    """Theta for one series (numpy in, numpy out); keeps ``y_`` for the fallback."""

    min_obs = 4
    _parameter_constraints: ClassVar[dict] = {
        "season_length": [POSITIVE_INT],
        "theta": [Interval(Real, 1, None)],
    }

    def __init__(self, season_length: int = SEASON_LENGTH, theta: float = 2.0) -> None:
        self.season_length = season_length
        self.theta = theta

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if np.ptp(self.y_) == 0:
            raise ValueError("constant series: the Theta line and SES are degenerate")
        # The seasonality test and decomposition need two full seasons.
        seasonal = len(self.y_) >= 2 * self.season_length
        model = ThetaModel(
            self.y_, period=self.season_length, deseasonalize=seasonal, use_test=True, method="auto"
        )
        # Tiny matrices: multi-threaded BLAS only adds hand-offs (10x+ slower on a busy machine).
        with limit_threads(limits=1):
            self.result_ = model.fit()
        # statsmodels keeps the outcome of its seasonality test only on a private attribute.
        self.deseasonalized_ = bool(seasonal and getattr(model, "_has_seasonality", False))
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        with limit_threads(limits=1):
            out = {"mean": np.asarray(self.result_.forecast(h, theta=self.theta), dtype="float64")}
            for level in levels:
                bounds = self.result_.prediction_intervals(h, theta=self.theta, alpha=1 - level / 100.0)
                bounds = np.asarray(bounds, dtype="float64")
                out[f"lower_{level}"], out[f"upper_{level}"] = bounds[:, 0], bounds[:, 1]
        return out


class Theta(LocalForecaster):
    """Theta per series, seasonally adjusted when seasonality is significant."""

    name = "theta"
    series_model = ThetaSeriesModel
