"""Prediction-interval columns and their post-processing: Gaussian bounds, nesting, clipping."""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm


def interval_columns(levels: Sequence[int]) -> list[str]:
    """``lower_<l>, upper_<l>`` for each level, ascending: ``lower_50, upper_50, lower_90, upper_90``
    for ``levels=[90, 50]``."""
    return [f"{side}_{level}" for level in sorted(levels) for side in ("lower", "upper")]


def frame_levels(frame: Any) -> tuple[int, ...]:
    """The levels whose ``lower_<l>`` and ``upper_<l>`` columns ``frame`` both holds, ascending."""
    found: dict[str, set[int]] = {"lower": set(), "upper": set()}
    for column in map(str, frame.columns):
        match = _BOUND.fullmatch(column)
        if match and 0 < int(match.group(2)) < 100:
            found[match.group(1)].add(int(match.group(2)))
    return tuple(sorted(found["lower"] & found["upper"]))


_BOUND = re.compile(r"(lower|upper)_(\d+)")


def forecast_columns(levels: Sequence[int]) -> list[str]:
    """The columns of a forecast frame: keys, point forecast, then each level's bounds."""
    return ["series_id", "month", "model", "forecast", *interval_columns(levels)]


def normal_intervals(mean: np.ndarray, sigma_h: np.ndarray, levels: Sequence[int]) -> dict[str, np.ndarray]:
    """Symmetric Gaussian intervals ``mean +- z * sigma_h`` for each level."""
    out: dict[str, np.ndarray] = {"mean": mean}
    for level in levels:
        z = norm.ppf(0.5 + level / 200.0)
        out[f"lower_{level}"] = mean - z * sigma_h
        out[f"upper_{level}"] = mean + z * sigma_h
    return out


def bounds_at_multiple(
    forecast: Any, lower_anchor: Any, upper_anchor: Any, multiple: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds at ``multiple`` times an anchor interval's distance from the forecast, each side its own.

    How a level is set as a share or a stretch of another (``auto``'s error
    shapes, the reconciled intervals' calibration).
    """
    forecast = np.asarray(forecast, dtype="float64")
    multiple = np.asarray(multiple, dtype="float64")
    lower = forecast - multiple * (forecast - np.asarray(lower_anchor, dtype="float64"))
    upper = forecast + multiple * (np.asarray(upper_anchor, dtype="float64") - forecast)
    return lower, upper


def nest_intervals(bounds: MutableMapping[str, Any], levels: Sequence[int]) -> None:
    """In place: widen each level's bounds to contain the forecast and every narrower level's.

    ``bounds`` maps ``forecast`` and ``lower_<l>``/``upper_<l>`` to arrays or
    columns (a dict or a DataFrame); models and combinations may return
    crossing bounds, a forecast table never does.
    """
    previous_lower = previous_upper = bounds["forecast"]
    for level in sorted(levels):
        bounds[f"lower_{level}"] = previous_lower = np.minimum(bounds[f"lower_{level}"], previous_lower)
        bounds[f"upper_{level}"] = previous_upper = np.maximum(bounds[f"upper_{level}"], previous_upper)


def clip_nonnegative(bounds: MutableMapping[str, Any], columns: Sequence[str], mask: np.ndarray) -> None:
    """In place: clip ``columns`` at zero in the rows of ``mask`` (series never observed below zero)."""
    for column in columns:
        bounds[column] = np.where(mask, np.maximum(bounds[column], 0.0), bounds[column])
