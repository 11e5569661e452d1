"""Reconciled prediction intervals from sample paths: one month's series and paths in one batch.

Each series' path is its base forecast plus a normal error with the spread of
its widest base interval and the correlation of the covariance behind the
reconciliation (drawn from the low-rank factor, never an ``n x n`` matrix);
all paths of a month are reconciled at once, as the columns of one
right-hand side of the reconciler's factorised sparse system. The bounds are
the reconciled paths' sample quantiles (numpy's default, linear
interpolation), read from one sort of each series' paths rather than a
partial sort per bound.

BLAS runs on one thread meanwhile: when another process holds the second of
two cores, OpenBLAS's default two threads made the reconciliation several
times slower, and one thread was never the slower (docs/experiments/reconciliation-speed.md,
"Speed of the reconciled intervals").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecasting.core.threads import limit_threads
from forecasting.reconciliation.covariance import diagonal_covariance
from forecasting.reconciliation.methods import Reconciler


def interval_probabilities(levels: Sequence[int]) -> np.ndarray:
    """Lower and upper probability of each level, in the order of ``interval_columns(levels)``."""
    return np.array([p for level in sorted(levels) for p in (0.5 - level / 200, 0.5 + level / 200)])


def path_bounds(
    reconciler: Reconciler,
    base: np.ndarray,
    sigma: np.ndarray,
    levels: Sequence[int],
    samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Reconciled interval bounds: one row per ``interval_columns(levels)``, one column per series.

    ``base`` and ``sigma`` follow the reconciler's series order. The paths are
    ``base + sigma * z`` with ``z`` of unit variance and the correlation of
    the reconciler's covariance (none for methods without one).
    """
    correlation = reconciler.covariance or diagonal_covariance(np.ones(len(base)))
    with limit_threads(1, "blas"):
        paths = correlation.standard_normal_paths(rng, samples)
        paths *= sigma[:, None]
        paths += base[:, None]
        reconciled = reconciler(paths)
    del paths
    reconciled.sort(axis=1)
    return sorted_quantiles(reconciled, interval_probabilities(levels))


def sorted_quantiles(rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``np.quantile(rows, probabilities, axis=1)`` (linear interpolation) of rows sorted ascending.

    The same arithmetic as numpy's: position ``(k - 1) p`` among ``k``
    values, interpolated from the lower neighbour below a weight of one half
    and from the upper one above, so the results are equal bit for bit.
    """
    count = rows.shape[1]
    position = (count - 1) * np.asarray(probabilities, dtype="float64")
    below = np.floor(position)
    weight = (position - below)[:, None]
    lower = rows[:, below.astype(np.intp)].T
    upper = rows[:, np.minimum(below.astype(np.intp) + 1, count - 1)].T
    step = upper - lower
    out = lower + step * weight
    np.subtract(upper, step * (1 - weight), out=out, where=weight >= 0.5)
    return out
