"""``auto``'s intervals: the members' 95 % bounds combined, narrower levels shaped by each series' errors.

The members' bounds are combined with the weights at 95 %
(:data:`SHAPE_LEVEL`). Each narrower level sits at a share of that 95 %
distance read from the series' own errors (``interval_shape_``): ``q_level /
q_95`` of the absolute in-sample one-step errors of ``shape_member`` (ETS)
about their median. The members' bounds assume Gaussian errors (80 % at 0.65
of the 95 % distance), while series with breaks and outliers have many small
errors and a few large ones. A series with fewer than ``MIN_SHAPE_ERRORS``
errors keeps the combined bounds. With ``calibrate=True`` the distance from
forecast to bound is also scaled per forecast step to the combination's
backtest coverage (split conformal; a step's errors pooled with its
neighbours' until ``MIN_SCORES`` are in, steps beyond the backtest taking the
last step's factor). How these choices did on the development sets:
``docs/experiments/model-docstring-figures.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.core.conformal import bound_ratio, scaling_factor
from forecasting.core.constants import SEASON_LENGTH
from forecasting.core.intervals import MIN_SHARE, bounds_at_multiple, nest_intervals

MIN_FACTOR = 0.5
"""Smallest conformal factor: the backtest may narrow the members' intervals by at most half."""
MAX_FACTOR = 20.0
"""Cap on the conformal factor: zero-width member intervals would otherwise ask for infinity."""
MIN_SCORES = 200
"""Fewest backtest errors a step's factor is taken from; steps are pooled with neighbours until reached."""
SHAPE_LEVEL = 95
"""The level whose combined bounds anchor the narrower levels' (:func:`shape_intervals`).

A model internal, not a requested level: the members always forecast it too (``predict``
adds it to the request's levels and returns only those), so a request for ``50, 90`` is
shaped on the same anchor as the default ``80, 95``; a requested level at or above it keeps
the members' combined bounds (then calibrated)."""
MIN_SHAPE_ERRORS = 2 * SEASON_LENGTH
"""Fewest in-sample errors a series' error shape is read from; a shorter series keeps the combined bounds."""


def error_shapes(residuals: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Per series (rows) and level below ``SHAPE_LEVEL`` (columns): the share of the 95 % distance.

    The share is ``q_level / q_95`` of the series' absolute one-step errors
    about their median (a bias is not spread); series with fewer than
    ``MIN_SHAPE_ERRORS`` errors or no spread at some level (most errors equal) are left out.
    """
    narrower = [level for level in levels if level < SHAPE_LEVEL]
    rows = {}
    for series_id, errors in residuals.items():
        errors = errors.to_numpy(dtype="float64")
        errors = errors[np.isfinite(errors)]
        if len(errors) < MIN_SHAPE_ERRORS:
            continue
        spread = np.abs(errors - np.median(errors))
        anchor = np.quantile(spread, SHAPE_LEVEL / 100)
        shares = np.quantile(spread, np.array(narrower) / 100) / anchor if anchor > 0 else np.zeros(1)
        if (shares > MIN_SHARE).all():  # a zero share makes a zero-width interval: combined bounds instead
            rows[series_id] = shares
    return pd.DataFrame.from_dict(rows, orient="index", columns=narrower).rename_axis("series_id")


def shape_intervals(combined: pd.DataFrame, shapes: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Each level below 95 % at its series' share (:func:`error_shapes`) of the 95 % distance.

    Rows of series without a shape keep their combined bounds.
    """
    out = combined.copy()
    for level in shapes.columns:
        share = out["series_id"].map(shapes[level]).to_numpy(dtype="float64")
        shaped = np.isfinite(share)
        lower, upper = bounds_at_multiple(
            out["forecast"], out[f"lower_{SHAPE_LEVEL}"], out[f"upper_{SHAPE_LEVEL}"], share
        )
        out[f"lower_{level}"] = np.where(shaped, lower, out[f"lower_{level}"])
        out[f"upper_{level}"] = np.where(shaped, upper, out[f"upper_{level}"])
    nest_intervals(out, levels)
    return out


def step_calibration(combined: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Per level and forecast step, the conformal factor on the distance from forecast to bound.

    A step's errors are pooled with its neighbours' until ``MIN_SCORES`` are in;
    factors are clipped to [``MIN_FACTOR``, ``MAX_FACTOR``].
    """
    columns = ["level", "step", "factor", "n_backtest"]
    if combined.empty:
        return pd.DataFrame(columns=columns)
    steps = combined["step"].to_numpy()
    forecast, actual = combined["forecast"].to_numpy(), combined["actual"].to_numpy()
    rows = []
    for level in levels:
        lower, upper = combined[f"lower_{level}"].to_numpy(), combined[f"upper_{level}"].to_numpy()
        ratio = bound_ratio(forecast, actual, lower, upper)
        for step in range(1, int(steps.max()) + 1):
            width, pooled = 0, ratio[steps == step]
            while len(pooled) < MIN_SCORES and width < steps.max():
                width += 1
                pooled = ratio[np.abs(steps - step) <= width]
            factor = scaling_factor(pooled, level, MAX_FACTOR) if len(pooled) else 1.0
            rows.append((level, step, float(np.clip(factor, MIN_FACTOR, MAX_FACTOR)), len(pooled)))
    return pd.DataFrame(rows, columns=columns)


def scale_intervals(
    combined: pd.DataFrame, steps: np.ndarray, calibration: pd.DataFrame, levels: Sequence[int]
) -> pd.DataFrame:
    """Stretch each bound's distance from the forecast by its level's factor at that step.

    Steps beyond the backtest take its last step's factor; an uncalibrated
    level takes the nearest calibrated level's. Levels stay nested.
    """
    out = combined.copy()
    forecast = out["forecast"]
    for level in levels:
        factor = _factors(calibration, level, steps)
        out[f"lower_{level}"] = forecast - factor * (forecast - out[f"lower_{level}"])
        out[f"upper_{level}"] = forecast + factor * (out[f"upper_{level}"] - forecast)
    nest_intervals(out, levels)
    return out


def _factors(calibration: pd.DataFrame, level: int, steps: np.ndarray) -> np.ndarray:
    if calibration.empty:
        return np.ones(len(steps))
    known = calibration["level"].unique()
    nearest = known[np.argmin(np.abs(known - level))]
    table = calibration[calibration["level"] == nearest].set_index("step")["factor"]
    return table.reindex(np.clip(steps, table.index.min(), table.index.max())).to_numpy()
