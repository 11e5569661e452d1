"""Prediction-interval columns and their post-processing: Gaussian bounds, nesting, clipping, and
the checks a combination of models makes against a series' recent history (:func:`drop_implausible`,
:func:`cap_widths`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
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


MIN_SHARE = 1e-6
"""Smallest share of a wider interval's distance a narrower level may take: below it the share is
rounding noise of errors that are all but equal (a step series' one-step errors), i.e. a
zero-width interval, not an estimate."""


# --- bounds a combination can trust: judged against the series' recent history ----------------------
RECENT_MONTHS = 24
"""The recent history forecasts are judged against: two seasons."""
IMPLAUSIBLE_SCALES = 10.0
"""A member forecast further than this many recent scales outside the recent range is implausible:
a spike its level or season absorbed (1e15 among values near 1e3), not a forecast of this series."""
MAX_WIDTH_SCALES = 5.0
"""No bound lies further than this many recent scales from the forecast (an interval of a model
whose variance a spike blew up reached 1e76 around forecasts near 1e15)."""


def recent_range(values: Any, months: int = RECENT_MONTHS) -> tuple[float, float, float]:
    """``(low, high, scale)`` of a series' last ``months`` finite values, NaN for none.

    ``scale`` is the larger of their range and the magnitude of their median, so
    a flat stretch at a level still has the level's scale; it is 0 only when
    they are all zero.
    """
    values = np.asarray(values, dtype="float64")
    recent = values[np.isfinite(values)][-months:]
    if not len(recent):
        return np.nan, np.nan, np.nan
    low, high = float(recent.min()), float(recent.max())
    return low, high, max(high - low, abs(float(np.median(recent))))


def recent_ranges(series: Iterable[tuple[str, Any]], months: int = RECENT_MONTHS) -> pd.DataFrame:
    """:func:`recent_range` of each ``(series_id, values)``: columns ``low, high, scale`` by ``series_id``."""
    rows = {str(series_id): recent_range(values, months) for series_id, values in series}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["low", "high", "scale"], dtype="float64")
    return frame.rename_axis("series_id")


def plausible(forecasts: pd.DataFrame, ranges: pd.DataFrame) -> np.ndarray:
    """Rows whose ``forecast`` lies within :data:`IMPLAUSIBLE_SCALES` recent scales of the recent range.

    A series without a recent scale (no history, or a recent history of zeros) has no
    evidence against any forecast: all its rows are plausible.
    """
    row = ranges.reindex(forecasts["series_id"].astype(str))
    margin = IMPLAUSIBLE_SCALES * row["scale"].to_numpy()
    forecast = forecasts["forecast"].to_numpy(dtype="float64")
    inside = (forecast >= row["low"].to_numpy() - margin) & (forecast <= row["high"].to_numpy() + margin)
    return inside | ~(margin > 0)


def drop_implausible(
    stacked: pd.DataFrame, ranges: pd.DataFrame, keys: Sequence[str] = ("series_id", "month")
) -> pd.DataFrame:
    """Member forecasts (one row per member and ``keys``) less the implausible ones (:func:`plausible`).

    Where every member is implausible they are all kept: with no member to trust,
    the weights decide as before. The combination renormalises over the rest.
    """
    keep = pd.Series(plausible(stacked, ranges), index=stacked.index)
    any_kept = keep.groupby([stacked[key] for key in keys], sort=False).transform("any")
    return stacked[(keep | ~any_kept).to_numpy()]


def cap_widths(forecasts: pd.DataFrame, ranges: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Each bound at most :data:`MAX_WIDTH_SCALES` recent scales from the forecast (nesting kept).

    Never narrows an interval to nothing: the cap is positive wherever the recent history is not all zero.
    """
    out = forecasts.copy()
    scale = ranges["scale"].reindex(out["series_id"].astype(str)).to_numpy()
    limit = np.where(scale > 0, MAX_WIDTH_SCALES * scale, np.inf)
    forecast = out["forecast"].to_numpy(dtype="float64")
    for level in levels:
        out[f"lower_{level}"] = np.maximum(out[f"lower_{level}"].to_numpy(dtype="float64"), forecast - limit)
        out[f"upper_{level}"] = np.minimum(out[f"upper_{level}"].to_numpy(dtype="float64"), forecast + limit)
    return out
