"""Lag and rolling-window features of a panel's own history, for global models.

Following mlforecast's feature builder (``mlforecast/core.py``), the features
for month ``t`` are computed only from months before ``t``: lags ``y[t-k]`` and
rolling means / standard deviations of ``y[t-w..t-1]``. Histories are held as a
right-aligned matrix (one row per series, the last column the series' last
month, NaN before its first month and where a month is missing), so training
features, recursive forecasting and backtest truncation are plain column
slices shared by every series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.core.constants import SEASON_LENGTH
from forecasting.panel import SeriesPanel

DEFAULT_LAGS: tuple[int, ...] = (1, 2, 3, 6, 12, 24)
DEFAULT_WINDOWS: tuple[int, ...] = (3, 12)
DEFAULT_SEASONAL_DIFFERENCE_LAGS: tuple[int, ...] = (1, 2, 3)


@dataclass(frozen=True)
class RightAligned:
    """A panel as a right-aligned history matrix.

    ``values[i, -1]`` is the last observed month of ``series_ids[i]``, which is
    ``last_ordinals[i]`` (a ``Period[M]`` ordinal); column ``j`` holds month
    ``last_ordinals[i] - (n_columns - 1 - j)``.
    """

    series_ids: list[str]
    values: np.ndarray
    last_ordinals: np.ndarray

    @property
    def n_columns(self) -> int:
        return self.values.shape[1]

    def ordinals(self, start: int, stop: int) -> np.ndarray:
        """Month ordinals of columns ``start..stop-1`` (may extend past the end), one row per series."""
        offsets = np.arange(start, stop) - (self.n_columns - 1)
        return self.last_ordinals[:, None] + offsets[None, :]


def right_aligned(panel: SeriesPanel) -> RightAligned:
    """Stack every series of ``panel`` so that their last months share the last column."""
    records = panel.records
    series_ids = panel.series_ids
    codes = pd.Categorical(records["series_id"].astype(str), categories=series_ids).codes
    ordinals = pd.PeriodIndex(records["month"], freq="M").asi8
    last = pd.Series(ordinals).groupby(codes).max().reindex(range(len(series_ids))).to_numpy()
    first = pd.Series(ordinals).groupby(codes).min().reindex(range(len(series_ids))).to_numpy()
    n_columns = int((last - first).max()) + 1
    values = np.full((len(series_ids), n_columns), np.nan)
    values[codes, n_columns - 1 - (last[codes] - ordinals)] = records["value"].to_numpy(dtype="float64")
    return RightAligned(series_ids, values, last.astype("int64"))


def shift_columns(history: np.ndarray, lag: int) -> np.ndarray:
    shifted = np.full(history.shape, np.nan)
    if lag < history.shape[1]:
        shifted[:, lag:] = history[:, : history.shape[1] - lag]
    return shifted


def rolling_mean_std(values: np.ndarray, window: int) -> list[np.ndarray]:
    """Trailing mean and standard deviation (ddof=1) over ``window`` columns, ignoring NaN.

    A column gets NaN until at least half the window (and two values) is observed.
    """
    n_series, n_columns = values.shape
    mean, std = np.full(values.shape, np.nan), np.full(values.shape, np.nan)
    if n_columns == 0:
        return [mean, std]
    left_padded = np.concatenate([np.full((n_series, window - 1), np.nan), values], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(left_padded, window, axis=1)
    finite = np.isfinite(windows)
    count = finite.sum(axis=2)
    zeroed = np.where(finite, windows, 0.0)
    enough = count >= max(2, (window + 1) // 2)
    total = zeroed.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        window_mean = total / count
        squares = np.where(finite, (windows - window_mean[..., None]) ** 2, 0.0).sum(axis=2)
        window_std = np.sqrt(squares / (count - 1))
    mean[enough], std[enough] = window_mean[enough], window_std[enough]
    return [mean, std]


@dataclass(frozen=True)
class LagFeatures:
    """Lags and rolling statistics of the previous months, per series.

    Besides lags of the level, lags of the year-on-year change
    ``d[t] = y[t] - y[t-12]`` and its rolling means give trees the recent
    growth directly (a tree cannot subtract two features).
    Rolling statistics need at least half their window observed (and two
    values for a standard deviation); otherwise they are NaN, which
    histogram gradient boosting treats as missing.
    """

    lags: Sequence[int] = DEFAULT_LAGS
    rolling_windows: Sequence[int] = DEFAULT_WINDOWS
    seasonal_difference_lags: Sequence[int] = DEFAULT_SEASONAL_DIFFERENCE_LAGS

    def __post_init__(self) -> None:
        if not self.lags or any(int(k) < 1 for k in self.lags):
            raise ValueError(f"The 'lags' must be positive ints. Got {self.lags!r} instead.")
        if any(int(k) < 1 for k in self.seasonal_difference_lags):
            raise ValueError(
                "The 'seasonal_difference_lags' must be positive ints. "
                f"Got {self.seasonal_difference_lags!r} instead."
            )
        if any(int(w) < 2 for w in self.rolling_windows):
            raise ValueError(
                f"The 'rolling_windows' must be ints >= 2. Got {self.rolling_windows!r} instead."
            )

    @property
    def names(self) -> list[str]:
        lags = [f"lag_{k}" for k in self.lags]
        rolling = [f"rolling_{stat}_{w}" for w in self.rolling_windows for stat in ("mean", "std")]
        changes = [f"yoy_change_lag_{k}" for k in self.seasonal_difference_lags]
        change_means = [f"yoy_change_mean_{w}" for w in self.rolling_windows] if changes else []
        return lags + rolling + changes + change_means

    @property
    def history_needed(self) -> int:
        """Columns of history that determine the features of the next month."""
        windows = [*self.rolling_windows]
        changes = [k + SEASON_LENGTH for k in self.seasonal_difference_lags]
        if changes:
            changes += [w + SEASON_LENGTH for w in windows]
        return max([*self.lags, *windows, *changes])

    def table(self, history: np.ndarray) -> np.ndarray:
        """Features for predicting each column of ``history`` and the month after it.

        Returns shape ``(n_series, n_columns + 1, n_features)``: row ``p`` uses
        only columns ``< p``.
        """
        n_series = history.shape[0]
        padded = np.concatenate([history, np.full((n_series, 1), np.nan)], axis=1)
        features = [shift_columns(padded, int(k)) for k in self.lags]
        previous = shift_columns(padded, 1)
        for window in self.rolling_windows:
            features += rolling_mean_std(previous, int(window))
        if self.seasonal_difference_lags:
            change = padded - shift_columns(padded, SEASON_LENGTH)
            features += [shift_columns(change, int(k)) for k in self.seasonal_difference_lags]
            previous_change = shift_columns(change, 1)
            features += [rolling_mean_std(previous_change, int(w))[0] for w in self.rolling_windows]
        return np.stack(features, axis=2)

    def next(self, history: np.ndarray) -> np.ndarray:
        """Features of the month after the last column, shape ``(n_series, n_features)``."""
        return self.table(history[:, -self.history_needed :])[:, -1, :]
