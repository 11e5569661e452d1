"""Demand classes and bounds for zero-inflated series: what months of zero mean for a forecast.

**Classes** (Syntetos, Boylan & Croston 2005, "On the categorization of demand
patterns", JORS 56(5)). A series is classed by two numbers of its history
(missing months left out):

- ``adi``, the average demand interval: months per month with a non-zero
  value (``n / n_nonzero``; infinite when every month is zero);
- ``cv2``, the squared coefficient of variation of the non-zero sizes
  (their absolute values; sample variance, 0 with fewer than two sizes).

``adi`` below :data:`ADI_THRESHOLD` (1.32) and ``cv2`` below
:data:`CV2_THRESHOLD` (0.49) is *smooth*; a low ``adi`` with a high ``cv2``
*erratic*; a high ``adi`` with a low ``cv2`` *intermittent*; both high *lumpy*.
The cut-offs are the paper's: where the expected squared error of Croston's
method (bias-corrected) and of simple exponential smoothing cross. Intermittent
and lumpy series (:data:`SPARSE_CLASSES`) are where months of zero shape the
forecast's distribution.

**Bounds** (:class:`ZeroInflated`). A month of a sparse series is zero with
probability ``1 - p`` and otherwise a size. Gaussian bounds about a mean of
``p x size`` sit on zero while the month's value, when there is one, lies far
above it. Here ``p`` is the history's share of non-zero months and the sizes
are the history's non-zero values, in two equal parts: scaled so that their
mean is ``forecast / p`` (the forecast's level), and as they were (mean
``s``). A forecast below the history's mean is as often a lull as a decline:
on the Swiss panel 16 of the 46 lumpy series were forecast below 2 % of their
mean after months of zero, and 12 of them had exports in the held-out year,
at their old sizes; bounds from the forecast's scale alone covered 89 % of
lumpy months at 95 %, from the larger of the two scales 84 % at 80 %, from
the mixture 81 % / 93 % (docs/experiments/sparse-intervals.md). The quantile
``Q(tau)`` is 0 for ``tau <= 1 - p``, else the ``(tau - (1 - p)) / p``
quantile of the sizes (plotting position ``i / (n + 1)``, numpy's "weibull":
a bound from ten sizes is not the largest of them). A level's interval is the
central one, unless at least its lower tail's probability is zero months:
then it runs from 0 to the level's quantile (the zeros fill the lower tail).
Where that quantile is zero as well (a series zero in more months than the
level), the upper bound is the smallest positive size: the narrowest interval
that covers the level and is not a point, so that a bound never sits on zero
unless the history is constant. A forecast of zero or below (a combination
can give one) takes the history's sizes for both parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np

ADI_THRESHOLD = 1.32
"""Average demand interval from which a series is intermittent or lumpy (Syntetos, Boylan & Croston 2005)."""
CV2_THRESHOLD = 0.49
"""Squared coefficient of variation of the non-zero sizes from which a series is erratic or lumpy (ibid.)."""
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
SPARSE_CLASSES = frozenset({"intermittent", "lumpy"})
"""Classes whose months are often zero (``adi >= ADI_THRESHOLD``)."""


def demand_statistics(y: np.ndarray) -> tuple[float, float]:
    """``(adi, cv2)`` of a history (module docstring); NaN months are left out."""
    y = np.asarray(y, dtype="float64")
    y = y[np.isfinite(y)]
    sizes = np.abs(y[y != 0])
    if len(sizes) == 0:
        return float("inf"), 0.0
    adi = len(y) / len(sizes)
    # relative to their mean first: squaring sizes near 1e-300 (or 1e200) under- or overflows
    cv2 = float(np.var(sizes / np.mean(sizes), ddof=1)) if len(sizes) > 1 else 0.0
    return adi, cv2


def demand_class(adi: float, cv2: float) -> str:
    """The Syntetos-Boylan class of ``(adi, cv2)``: smooth, erratic, intermittent or lumpy."""
    frequent, steady = adi < ADI_THRESHOLD, cv2 < CV2_THRESHOLD
    if frequent:
        return "smooth" if steady else "erratic"
    return "intermittent" if steady else "lumpy"


def classify(y: np.ndarray) -> str:
    """The demand class of a history."""
    return demand_class(*demand_statistics(y))


@dataclass(frozen=True)
class ZeroInflated:
    """A month as occurrence x size, read from a history: bounds for zero-inflated series.

    ``occurrence`` is the share of non-zero months, ``sizes`` the non-zero
    values, ascending (module docstring).
    """

    occurrence: float
    sizes: np.ndarray

    @classmethod
    def from_history(cls, y: np.ndarray) -> Self:
        """The profile of a non-negative history (NaN months left out)."""
        y = np.asarray(y, dtype="float64")
        y = y[np.isfinite(y)]
        if (y < 0).any():
            raise ValueError("a zero-inflated profile needs a history never below zero")
        sizes = np.sort(y[y > 0])
        return cls(len(sizes) / len(y) if len(y) else 0.0, sizes)

    def quantile(self, mean: np.ndarray, probability: float, *, positive: bool = False) -> np.ndarray:
        """The ``probability`` quantile of each month whose forecast is ``mean`` (module docstring).

        ``positive``: a quantile that would be zero is the smallest positive size (an upper bound).
        """
        mean = np.asarray(mean, dtype="float64")
        if len(self.sizes) == 0:
            return np.zeros_like(mean)
        zero = 1.0 - self.occurrence
        if probability <= zero and not positive:
            return np.zeros_like(mean)
        sizes = self._sizes(mean)
        if probability <= zero:
            return sizes.min(axis=1)
        return np.quantile(sizes, (probability - zero) / self.occurrence, axis=1, method="weibull")

    def _sizes(self, mean: np.ndarray) -> np.ndarray:
        """Per month (rows), the history's sizes at the forecast's scale (as they were where the
        forecast is not above zero), then as they were."""
        history = float(np.mean(self.sizes))
        level = np.where(mean > 0, mean / self.occurrence, history)
        scaled = level[:, None] * (self.sizes / history)[None, :]
        return np.concatenate([scaled, np.broadcast_to(self.sizes, scaled.shape)], axis=1)

    def bounds(self, mean: np.ndarray, levels: Sequence[int]) -> dict[str, np.ndarray]:
        """``mean`` and each level's ``lower_<l>``/``upper_<l>`` (module docstring)."""
        out = {"mean": np.asarray(mean, dtype="float64")}
        zero = 1.0 - self.occurrence
        for level in levels:
            tail = (1 - level / 100) / 2
            if zero >= tail:  # the zero months fill the lower tail
                lower, upper = np.zeros_like(out["mean"]), self.quantile(mean, level / 100, positive=True)
            else:
                lower, upper = self.quantile(mean, tail), self.quantile(mean, 1 - tail, positive=True)
            out[f"lower_{level}"], out[f"upper_{level}"] = lower, upper
        return out
