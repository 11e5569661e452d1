"""Intermittent-demand members on statsforecast: Croston (optimised), TSB, ADIDA and IMAPA.

Series with many months of zero (``intermittent`` and ``lumpy`` in
:mod:`forecasting.core.demand`) are forecast poorly by level-and-season
models: every zero drags the level down, every sale lifts it. These methods
forecast the mean demand per month from its two parts, how often there is a
non-zero month and how large it is:

- ``croston``: Croston's method with each part's smoothing parameter chosen
  in [0.1, 0.3] (statsforecast ``CrostonOptimized``);
- ``tsb``: Teunter-Syntetos-Babai, the probability of a non-zero month
  smoothed every month, so that a series that stops decays to zero (``TSB``);
  ``alpha_d``/``alpha_p`` None: the pair of :data:`TSB_ALPHAS` with the
  smallest in-sample one-step squared error;
- ``adida``: the series summed over blocks of its mean demand interval,
  smoothed and spread back (``ADIDA``);
- ``imapa``: ADIDA's forecast averaged over every block length up to the
  mean demand interval (``IMAPA``).

Their forecasts are flat and they have no intervals of their own
(statsforecast offers only conformal ones, from refits): each member's bounds
are the zero-inflated quantiles of :class:`forecasting.core.demand.ZeroInflated`
about its forecast. They model non-negative demand; a series with a value
below zero gets the fallback model, reported.

Not wrapped: statsforecast's ``CrostonSBA`` (the Syntetos-Boylan
approximation) multiplies every forecast by 0.95, a series with a value in
every month too (a constant 7 is forecast 6.65), and ``CrostonClassic`` is
``croston`` with its smoothing fixed at 0.1.
"""

from __future__ import annotations

import itertools
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from numbers import Real
from typing import Any, ClassVar, Self

import numpy as np
from statsforecast.models import ADIDA, IMAPA, TSB, CrostonOptimized

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.demand import ZeroInflated
from forecasting.core.params import NONE, Constraint, Interval
from forecasting.models.base import CLOSED_FORM_COST, LOCAL_PARAMS, LocalForecaster

TSB_ALPHAS = (0.05, 0.1, 0.2, 0.3)
"""Smoothing parameters tried for each of TSB's parts when none is given."""


class IntermittentSeriesModel(ABC):
    """A statsforecast intermittent-demand model for one series, with zero-inflated bounds; keeps ``y_``."""

    min_obs = 2
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}

    @abstractmethod
    def _estimator(self) -> Any:
        """The unfitted statsforecast model."""

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if (self.y_ < 0).any():
            raise ValueError("a value below zero: intermittent-demand methods model non-negative demand")
        self.model_ = self._estimator().fit(self.y_)
        self.profile_ = ZeroInflated.from_history(self.y_)
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        mean = np.asarray(self.model_.predict(h)["mean"], dtype="float64")
        return self.profile_.bounds(mean, levels)

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors ``y_t - yhat_{t|t-1}`` (statsforecast's fits; NaN where it has none).

        Croston's optimised fits search their smoothing again at every month;
        statsforecast warns of the cost, which is quadratic in the months and
        small at the lengths of monthly series (the warning is silenced).
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fitted = np.asarray(self.model_.predict_in_sample()["fitted"], dtype="float64")
        return self.y_ - fitted


class CrostonSeriesModel(IntermittentSeriesModel):
    """Croston's method, each part's smoothing parameter chosen in [0.1, 0.3]."""

    def _estimator(self) -> CrostonOptimized:
        return CrostonOptimized()


class AdidaSeriesModel(IntermittentSeriesModel):
    """ADIDA: smoothing on blocks of the mean demand interval, spread back evenly."""

    def _estimator(self) -> ADIDA:
        return ADIDA()


class ImapaSeriesModel(IntermittentSeriesModel):
    """IMAPA: ADIDA averaged over block lengths 1 .. the mean demand interval."""

    def _estimator(self) -> IMAPA:
        return IMAPA()


class TsbSeriesModel(IntermittentSeriesModel):
    """TSB: smoothed non-zero size times smoothed probability of a non-zero month.

    ``alpha_d`` (sizes) and ``alpha_p`` (probability); None: the pair of
    :data:`TSB_ALPHAS` with the smallest in-sample one-step squared error
    (``alphas_`` holds the pair used).
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "alpha_d": [NONE, Interval(Real, 0, 1, closed="right")],
        "alpha_p": [NONE, Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, alpha_d: float | None = None, alpha_p: float | None = None) -> None:
        self.alpha_d = alpha_d
        self.alpha_p = alpha_p

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        y = np.asarray(y, dtype="float64")
        pairs = itertools.product(
            TSB_ALPHAS if self.alpha_d is None else (self.alpha_d,),
            TSB_ALPHAS if self.alpha_p is None else (self.alpha_p,),
        )
        self.alphas_ = min(pairs, key=lambda pair: _tsb_squared_error(y, *pair))
        return super().fit(y, X)

    def _estimator(self) -> TSB:
        return TSB(alpha_d=self.alphas_[0], alpha_p=self.alphas_[1])


def _tsb_squared_error(y: np.ndarray, alpha_d: float, alpha_p: float) -> float:
    """Sum of squared in-sample one-step errors of TSB with these parameters."""
    fitted = TSB(alpha_d=alpha_d, alpha_p=alpha_p).forecast(y, h=1, fitted=True)["fitted"]
    return float(np.nansum((y - fitted) ** 2))


class Croston(LocalForecaster):
    """Croston's method per series (optimised smoothing), zero-inflated bounds."""

    name = "croston"
    fit_cost = CLOSED_FORM_COST
    series_model = CrostonSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Tsb(LocalForecaster):
    """Teunter-Syntetos-Babai per series, zero-inflated bounds."""

    name = "tsb"
    fit_cost = CLOSED_FORM_COST
    series_model = TsbSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **TsbSeriesModel._parameter_constraints,
        **LOCAL_PARAMS,
    }

    def __init__(
        self,
        *,
        alpha_d: float | None = None,
        alpha_p: float | None = None,
        min_obs: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.alpha_d = alpha_d
        self.alpha_p = alpha_p
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Adida(LocalForecaster):
    """ADIDA per series (temporal aggregation), zero-inflated bounds."""

    name = "adida"
    fit_cost = CLOSED_FORM_COST
    series_model = AdidaSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Imapa(LocalForecaster):
    """IMAPA per series (several temporal aggregations), zero-inflated bounds."""

    name = "imapa"
    fit_cost = CLOSED_FORM_COST
    series_model = ImapaSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs


INTERMITTENT_MODELS: tuple[type[LocalForecaster], ...] = (Croston, Tsb, Adida, Imapa)
"""The intermittent-demand members, registered by their ``name``."""
