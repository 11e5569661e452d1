"""Tests of one series' season and trend: which of ``auto``'s members suit it, how ARIMA differences it.

- :func:`seasonal_acf`: the 90% autocorrelation test of the M4 benchmarks (the
  lag-12 autocorrelation beyond 1.645 of its standard errors, on the series and
  on the series minus its 2x12 moving average, so that a strong trend does not
  hide the season; series shorter than three years are not seasonal).
- :func:`nsdiffs` (STL seasonal strength, as ``forecast::nsdiffs``) and
  :func:`ndiffs` (repeated KPSS tests, as ``forecast::ndiffs``): the orders of
  seasonal and first differencing.
"""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tools.sm_exceptions import InterpolationWarning
from statsmodels.tsa.seasonal import STL
from statsmodels.tsa.stattools import kpss

from forecasting.core.constants import SEASON_LENGTH

SEASONAL_SEASONS = 3
"""Years of history the seasonality test needs (the M4 benchmarks' rule); shorter series are non-seasonal."""


def autocorrelations(y: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelations at lags 0..``lags``."""
    centred = np.asarray(y, dtype="float64") - np.mean(y)
    denominator = float(centred @ centred)
    if denominator == 0:
        return np.r_[1.0, np.zeros(lags)]
    return np.r_[1.0, [float(centred[k:] @ centred[:-k]) / denominator for k in range(1, lags + 1)]]


def seasonal_acf(y: np.ndarray, m: int = SEASON_LENGTH) -> float:
    """|r_m| over its 90% limit 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n); above 1 is seasonal (M4).

    The larger of the statistic on the series and on the series minus its
    centred 2x12 moving average: a strong trend keeps every autocorrelation
    near one and would hide the season from the test on the raw series.
    0 for series shorter than ``SEASONAL_SEASONS`` seasons.
    """
    y = np.asarray(y, dtype="float64")
    if len(y) < SEASONAL_SEASONS * m:
        return 0.0
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    detrended = y[m // 2 : len(y) - m // 2] - np.convolve(y, weights, mode="valid")
    return max(_acf_statistic(y, m), _acf_statistic(detrended, m))


def _acf_statistic(y: np.ndarray, m: int) -> float:
    r = autocorrelations(y, m)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / len(y))
    return float(abs(r[m]) / limit)


def seasonal_strength(y: np.ndarray, m: int = SEASON_LENGTH) -> float:
    """Wang-Smith-Hyndman seasonal strength ``max(0, 1 - var(R) / var(S + R))`` from STL."""
    fit = STL(np.asarray(y, dtype="float64"), period=m, robust=False).fit()
    detrended = fit.seasonal + fit.resid
    if np.var(detrended) == 0:
        return 0.0
    return float(max(0.0, 1.0 - np.var(fit.resid) / np.var(detrended)))


def nsdiffs(y: np.ndarray, m: int = SEASON_LENGTH, threshold: float = 0.64) -> int:
    """Seasonal differences needed (0 or 1): 1 when STL seasonal strength exceeds ``threshold``."""
    if m < 2 or len(y) < 2 * m + 1 or np.ptp(y) == 0:
        return 0
    return int(seasonal_strength(y, m) > threshold)


def ndiffs(y: np.ndarray, alpha: float = 0.05, max_d: int = 2) -> int:
    """First differences needed by repeated KPSS level-stationarity tests at level ``alpha``."""
    d = 0
    x = np.asarray(y, dtype="float64")
    while d < max_d and len(x) > 3 and np.ptp(x) > 0:
        lags = max(1, int(3 * np.sqrt(len(x)) / 13))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InterpolationWarning)
            warnings.simplefilter("ignore", FutureWarning)  # statsmodels 0.15 result-object notice
            p_value = kpss(x, regression="c", nlags=lags)[1]
        if p_value >= alpha:
            break
        d += 1
        x = np.diff(x)
    return d
