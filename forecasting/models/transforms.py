"""Variance-stabilising transforms for strictly positive series (log, Box-Cox).

Counts of trucks or passengers grow with their level; modelling them on a log or
Box-Cox scale keeps interval widths proportional. Forecasts are transformed back
as medians (quantiles map through a monotone transform; means do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import boxcox, inv_boxcox

from forecasting.core.constants import SEASON_LENGTH

TRANSFORMS: tuple[str | None, ...] = ("auto", "log", None)


def guerrero_lambda(y: np.ndarray, season_length: int = SEASON_LENGTH, bounds=(0.0, 1.0)) -> float:
    """Box-Cox lambda by Guerrero's method (as ``forecast::BoxCox.lambda``).

    Chooses lambda so that the coefficient of variation of ``sd / mean**(1 - lambda)``
    across non-overlapping seasons is smallest; a non-seasonal series
    (``season_length`` 1) is cut into pairs, as ``forecast`` does.
    """
    y = np.asarray(y, dtype="float64")
    season_length = max(season_length, 2)
    n_seasons = len(y) // season_length
    if n_seasons < 2:
        return 1.0
    blocks = y[len(y) - n_seasons * season_length :].reshape(n_seasons, season_length)
    means, sds = blocks.mean(axis=1), blocks.std(axis=1, ddof=1)

    def variation(lam: float) -> float:
        ratio = sds / means ** (1.0 - lam)
        return float(np.std(ratio, ddof=1) / np.mean(ratio))

    return float(minimize_scalar(variation, bounds=bounds, method="bounded").x)


@dataclass(frozen=True)
class BoxCox:
    """A fitted Box-Cox transform; ``lam = 0`` is the log, ``lam = 1`` a shift (identity)."""

    lam: float

    def forward(self, y: np.ndarray) -> np.ndarray:
        return boxcox(np.asarray(y, dtype="float64"), self.lam)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype="float64")
        if self.lam > 0:
            # Values below -1/lambda have no preimage; clip to the boundary (zero).
            z = np.maximum(z, -1.0 / self.lam)
        return inv_boxcox(z, self.lam)


def choose_transform(
    y: np.ndarray, transform: str | None, season_length: int = SEASON_LENGTH
) -> BoxCox | None:
    """The transform to use for ``y``, or None; only strictly positive series are transformed."""
    if transform not in TRANSFORMS:
        raise ValueError(f"The 'transform' parameter must be one of {TRANSFORMS}. Got {transform!r} instead.")
    if transform is None or not np.all(np.asarray(y) > 0):
        return None
    if transform == "log":
        return BoxCox(0.0)
    lam = guerrero_lambda(y, season_length)
    return None if lam > 0.9 else BoxCox(round(lam, 2))
