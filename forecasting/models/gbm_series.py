"""What the global model reads of each series before it learns: whether it can model it, its scales,
its categories.

Every function takes the right-aligned history (:func:`forecasting.features.lags.right_aligned`:
one row per series, its last month in the last column, NaN before it starts and where a month
is missing) or the panel's metadata.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting.core.constants import SEASON_LENGTH
from forecasting.core.scales import seasonal_scales

MAX_CATEGORIES = 255
"""HistGradientBoostingRegressor's native categorical support takes at most ``max_bins`` = 255 categories."""


def observed(row: np.ndarray) -> np.ndarray:
    """One right-aligned row without its leading padding."""
    finite = np.flatnonzero(np.isfinite(row))
    return row[finite[0] :] if len(finite) else row[:0]


def fallback_reasons(history: np.ndarray, min_obs: int, nonnegative: bool) -> list[str | None]:
    """Why each series cannot be modelled (None when it can)."""
    n_obs = np.isfinite(history).sum(axis=1)
    negative = (np.where(np.isfinite(history), history, 0.0) < 0).any(axis=1)
    level = level_scale(history)
    reasons: list[str | None] = []
    for row, n, scale, has_negative in zip(history, n_obs, level, negative, strict=True):
        if n < min_obs:
            reasons.append(f"{int(n)} observations, needs at least {min_obs}")
        elif not np.isfinite(scale) or scale == 0:
            reasons.append("all values are zero: no scale for the global model")
        elif np.nanmax(row) == np.nanmin(row):
            reasons.append("constant series: nothing for the global model to learn")
        elif nonnegative and has_negative:
            reasons.append("negative values: target='log_ratio' needs non-negative series")
        else:
            reasons.append(None)
    return reasons


def level_scale(history: np.ndarray) -> np.ndarray:
    """Mean absolute value of the last 12 months (of all months when those are zero or missing)."""
    if history.shape[1] == 0:
        return np.full(history.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, handled below
        recent = np.nanmean(np.abs(history[:, -SEASON_LENGTH:]), axis=1)
        overall = np.nanmean(np.abs(history), axis=1)
    return np.where(np.isfinite(recent) & (recent > 0), recent, overall)


def error_scale(history: np.ndarray) -> np.ndarray:
    """Each series' MASE scale (:func:`~forecasting.core.scales.seasonal_scales`): the unit of the
    conformal scores, floored at a millionth of its level so a flat stretch cannot divide by zero."""
    scale = seasonal_scales(history.T)[0]
    level = level_scale(history)
    floor = np.where(np.isfinite(level) & (level > 0), 1e-6 * level, 1e-12)
    return np.where(np.isfinite(scale) & (scale > floor), scale, floor)


def forward_filled(history: np.ndarray) -> np.ndarray:
    """Missing months take the last observed value: the seasonal base must be a number."""
    return pd.DataFrame(history).ffill(axis=1).to_numpy()


def categorical_codes(metadata: pd.DataFrame, series_feature: bool) -> tuple[np.ndarray, list[str]]:
    """Integer codes of the series-level dimensions with 2..255 categories (NaN for missing)."""
    columns: dict[str, pd.Series] = {}
    if series_feature and 1 < len(metadata) <= MAX_CATEGORIES:
        columns["series"] = pd.Series(metadata.index, index=metadata.index)
    for name in metadata.columns:
        n_categories = metadata[name].nunique(dropna=True)
        if 1 < n_categories <= MAX_CATEGORIES and n_categories < len(metadata):
            columns[name] = metadata[name]
    codes = np.empty((len(metadata), len(columns)))
    for j, values in enumerate(columns.values()):
        column = pd.Categorical(values.astype("string")).codes.astype("float64")
        column[column < 0] = np.nan
        codes[:, j] = column
    return codes, list(columns)
