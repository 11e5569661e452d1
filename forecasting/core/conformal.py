"""Split-conformal calibration: interval quantiles and interval scaling from out-of-sample errors."""

from __future__ import annotations

import numpy as np


def conformal_bounds(scores: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Split-conformal lower and upper quantiles per column, with the (n + 1) / n finite-sample correction."""
    lower, upper = [], []
    for column in scores.T:
        column = column[np.isfinite(column)]
        n = len(column)
        if n == 0:
            lower.append(np.nan)
            upper.append(np.nan)
            continue
        q_upper = min(1.0, (1 - alpha / 2) * (n + 1) / n)
        q_lower = max(0.0, 1 - q_upper)
        lower.append(np.quantile(column, q_lower, method="lower"))
        upper.append(np.quantile(column, q_upper, method="higher"))
    return np.asarray(lower), np.asarray(upper)


def bound_ratio(forecast: np.ndarray, actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """How far each actual lies from the forecast, in units of the distance to the bound on its side."""
    above = actual >= forecast
    distance = np.where(above, upper - forecast, forecast - lower)
    error = np.abs(actual - forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(distance > 0, error / distance, np.where(error > 0, np.inf, 0.0))


def scaling_factor(ratio: np.ndarray, level: int, max_factor: float) -> float:
    """The factor on the forecast-to-bound distance that covers ``level``% of ``ratio`` (finite-sample rank).

    Ratios are capped at ``max_factor`` first: zero-width bounds that missed
    give infinite ratios, and quantiles of inf are NaN.
    """
    n = len(ratio)
    rank = min(np.ceil((n + 1) * level / 100.0) / n, 1.0)
    return float(np.quantile(np.minimum(ratio, max_factor), rank))
