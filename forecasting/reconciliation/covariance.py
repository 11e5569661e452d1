"""Forecast-error covariance for MinT: Schäfer-Strimmer shrinkage kept as diagonal plus low rank.

With ``T`` residual rows for ``n`` series, the sample covariance ``X'X / T``
has rank at most ``T``; shrinking it towards its diagonal gives
``W = lambda * diag + (1 - lambda) * X'X / T = D + U U'`` with ``D`` diagonal
and ``U = sqrt((1 - lambda) / T) X'`` (``n x T``). The ``n x n`` matrix is
never formed: 50,000 series cost ``50,000 x T`` numbers, and the shrinkage
intensity is computed from ``T x T`` Gram matrices.

By default each series' residuals are centred and the covariance divides by
``T - 1``, which reproduces hierarchicalforecast's ``mint_shrink`` covariance
exactly (checked in benchmarks/reconcile.py): MinT assumes unbiased base
forecasts, and backtest errors over a structural break carry a bias that
would otherwise pass for correlation. ``centered=False`` is the R package
hts's uncentred ``X'X / T``. Each variance uses the series' own observed
rows. A series with missing residuals (shorter than the others, or with
gaps) has its observed ones scaled by ``sqrt(T / n_i)`` and its missing ones
set to zero, so its row of ``X`` carries the energy of a full window: two
series observed in the same ``n`` rows get their sample covariance over
those rows, as a pairwise-complete covariance (hierarchicalforecast's) would,
where zeros alone would shrink it by ``n / T``. On the BTS panel a quarter
of the series have gaps in the last ten years of in-sample errors, and the
scaling made MinT more accurate at every level (docs/experiments/reconciliation.md,
"MinT on in-sample errors").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.errors import DataError

VARIANCE_FLOOR = 1e-8
"""Variances below this fraction of the mean variance are raised to it, so the system stays solvable."""


@dataclass(frozen=True)
class LowRankCovariance:
    """``diag(diagonal) + factor @ factor.T``, an ``n x n`` covariance kept in ``O(n T)`` numbers."""

    diagonal: np.ndarray
    factor: np.ndarray
    shrinkage: float = 1.0

    def variances(self) -> np.ndarray:
        """The diagonal of the full matrix."""
        return self.diagonal + np.einsum("ij,ij->i", self.factor, self.factor)

    def dense(self) -> np.ndarray:
        """The full ``n x n`` matrix (tests and small problems only)."""
        return np.diag(self.diagonal) + self.factor @ self.factor.T

    def standard_normal_paths(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``n x size`` draws with this covariance's correlation and unit variances."""
        n, rank = self.factor.shape
        draws = rng.standard_normal((n, size))
        draws *= np.sqrt(self.diagonal)[:, None]
        if rank:
            draws += self.factor @ rng.standard_normal((rank, size))
        draws /= np.sqrt(self.variances())[:, None]
        return draws


def diagonal_covariance(variances: np.ndarray) -> LowRankCovariance:
    """A covariance without cross terms (OLS, WLS)."""
    values = np.asarray(variances, dtype="float64")
    return LowRankCovariance(values, np.zeros((len(values), 0)))


def shrunk_covariance(
    residuals: np.ndarray,
    fallback: np.ndarray | None = None,
    *,
    centered: bool = True,
    names: Sequence[str] | None = None,
) -> LowRankCovariance:
    """Schäfer-Strimmer shrinkage of the residual covariance towards its diagonal.

    ``residuals`` is ``T x n`` (rows: months or backtest steps; NaN where a
    series has no residual). The intensity ``lambda`` is the estimated
    variance of the off-diagonal sample correlations over their sum of
    squares, clipped to [0, 1] (Schäfer and Strimmer 2005, as used for
    ``mint_shrink`` by Wickramasuriya et al. 2019). Residuals missing from a
    series are handled as the module docstring says. A series with fewer than
    two residuals takes its variance from ``fallback`` (e.g. implied by its
    base interval) and no correlation; without ``fallback`` it is an error
    naming the series (``names``: the columns' series ids).
    """
    x = np.asarray(residuals, dtype="float64")
    if x.ndim != 2 or x.shape[0] < 2:
        raise DataError(f"shrunk covariance needs at least 2 residual rows per series. Got shape {x.shape}")
    observed = np.isfinite(x)
    counts = observed.sum(axis=0)
    short = counts < 2
    if short.any() and fallback is None:
        first = int(np.flatnonzero(short)[0])
        raise DataError(
            f"series {f'{names[first]!r}' if names is not None else f'number {first}'} has fewer than 2 "
            f"residuals for the reconciliation's covariance ({int(short.sum())} series in all) and no base "
            "interval to take its variance from (the forecasts have no lower_/upper_ columns)"
        )
    if centered:
        usable = np.maximum(counts, 2)
        means = np.where(observed, x, 0.0).sum(axis=0) / np.maximum(counts, 1)
        x = (x - means) * np.sqrt(usable / (usable - 1))
    x = np.where(observed & ~short, x, 0.0)
    rows = x.shape[0]
    variances = (x**2).sum(axis=0) / np.maximum(counts, 1)
    if short.any():
        variances[short] = np.asarray(fallback, dtype="float64")[short]
    variances = _floored(variances)
    x = x * np.sqrt(rows / np.maximum(counts, 1))  # a full window's energy for series with gaps
    shrinkage = _shrinkage_intensity(x / np.sqrt(variances), rows)
    factor = np.sqrt((1.0 - shrinkage) / rows) * x.T
    # the diagonal of the full matrix is the sample variance: lambda * var + (1 - lambda) * var
    diagonal = variances - np.einsum("ij,ij->i", factor, factor)
    return LowRankCovariance(np.maximum(diagonal, shrinkage * variances), factor, shrinkage)


def _floored(variances: np.ndarray) -> np.ndarray:
    scale = float(np.mean(variances)) if np.mean(variances) > 0 else 1.0
    return np.maximum(variances, VARIANCE_FLOOR * scale)


def _shrinkage_intensity(scaled: np.ndarray, rows: int) -> float:
    """``sum Var(r_ij) / sum r_ij^2`` over i != j, from ``T x T`` Gram matrices only."""
    squares = scaled**2
    gram = scaled @ scaled.T  # T x T
    # sum_ij (sum_t s_ti s_tj)^2 = ||S S'||_F^2; diagonal terms i == j removed explicitly
    cross_sq = float((gram**2).sum() - ((squares.sum(axis=0)) ** 2).sum())
    fourth = float((squares.sum(axis=1) ** 2).sum() - (squares**2).sum())
    variance_sum = (fourth - cross_sq / rows) / (rows * (rows - 1))
    correlation_sq = cross_sq / rows**2
    if correlation_sq <= 0:
        return 1.0
    return float(np.clip(variance_sum / correlation_sq, 0.0, 1.0))
