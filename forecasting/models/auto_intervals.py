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

By demand class (:mod:`forecasting.core.demand`, ``decisions_``; why:
``docs/experiments/sparse-intervals.md``):

- *Intermittent and lumpy* series never below zero (``zero_inflated_``) take
  the combination's forecast with the bounds of
  :class:`~forecasting.core.demand.ZeroInflated` at every level: quantiles of
  the history's occurrence and sizes, zero months filling the lower tail, no
  bound on zero unless the history is constant. The members' Gaussian bounds
  about a mean of occurrence x size sit on zero while a month with a value
  lies far above it, and ETS's one-step errors of such a series (the zero
  months' all alike, a few large ones) put the shaped 80 % bounds on the
  forecast: on the Swiss panel they covered 13 % of the lumpy series' months.
- *Erratic* series (irregular sizes, a value most months) set the narrower
  levels at the Gaussian share of the 95 % distance (80 % at 0.65), not at
  their error shape: a few very large one-step errors among small ones made
  the shaped 80 % bounds cover 56 % of Swiss's erratic months and 71 % of
  M1's; the members' own combined 80 % bounds covered 84 % and 89 %, the
  Gaussian share 76 % and 82 %.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.core.conformal import bound_ratio, scaling_factor
from forecasting.core.constants import SEASON_LENGTH
from forecasting.core.demand import SPARSE_CLASSES, ZeroInflated
from forecasting.core.intervals import MIN_SHARE, bounds_at_multiple, interval_columns, nest_intervals
from forecasting.models.base import series_arrays
from forecasting.panel import SeriesPanel

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
ZERO_INFLATED_CLASSES = SPARSE_CLASSES
"""Demand classes whose bounds are :class:`ZeroInflated`'s about the combined forecast (series never
below zero)."""
NORMAL_SHAPE_CLASSES = frozenset({"erratic"})
"""Demand classes whose narrower levels sit at the Gaussian share of the 95 % distance (module docstring)."""


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


def normal_shapes(series_ids: Sequence[str], levels: Sequence[int]) -> pd.DataFrame:
    """Per series (rows) and level below ``SHAPE_LEVEL`` (columns): the Gaussian share ``z_level / z_95``."""
    narrower = [level for level in levels if level < SHAPE_LEVEL]
    shares = norm.ppf(0.5 + np.array(narrower) / 200) / norm.ppf(0.5 + SHAPE_LEVEL / 200)
    index = pd.Index(series_ids, name="series_id")
    return pd.DataFrame(np.tile(shares, (len(index), 1)), index=index, columns=narrower)


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


def zero_inflated_profiles(panel: SeriesPanel, decisions: pd.DataFrame) -> dict[str, ZeroInflated]:
    """Per series never below zero of the ``ZERO_INFLATED_CLASSES``, its occurrence and sizes (the
    history the members saw)."""
    chosen = decisions["demand_class"].isin(ZERO_INFLATED_CLASSES) & decisions["nonnegative"]
    series_ids = sorted(decisions.loc[chosen, "series_id"])
    if not series_ids:
        return {}
    return {sid: ZeroInflated.from_history(y) for sid, y, _ in series_arrays(panel.subset(series_ids))}


def zero_inflated_intervals(
    combined: pd.DataFrame, profiles: Mapping[str, ZeroInflated], levels: Sequence[int]
) -> pd.DataFrame:
    """The rows of series with a profile take its bounds about the combined forecast at every level.

    An upper bound of the profile below a positive forecast says the history's occurrence no
    longer holds: a series zero for years that has had values again in its last months is
    forecast at them, while its profile still puts most months at zero (its upper bounds fell
    on the forecast, nested, in 17 % of Swiss exports' lumpy months). Such a bound keeps the
    combination's own.
    """
    if not profiles:
        return combined
    out = combined.copy()
    rows_of = out.groupby("series_id", observed=True, sort=False).indices
    forecast = out["forecast"].to_numpy(dtype="float64")
    bounds = {column: out[column].to_numpy(dtype="float64", copy=True) for column in interval_columns(levels)}
    for series_id, profile in profiles.items():
        rows = rows_of.get(series_id)
        if rows is None:
            continue
        for column, values in profile.bounds(forecast[rows], levels).items():
            if column.startswith("upper"):
                values = np.where(values < forecast[rows], bounds[column][rows], values)
            if column != "mean":
                bounds[column][rows] = values
    for column, values in bounds.items():
        out[column] = values
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
