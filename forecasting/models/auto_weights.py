"""``auto``'s weights (``weights_``): each member's backtest on a series, shrunk towards the panel.

Per series and member, the log of the member's backtest MASE relative to the
series' other members, shrunk towards that member's mean over the panel in
proportion ``shrinkage / (n + shrinkage)``, where ``n`` is the series' number
of backtest errors; the weight is ``exp(-(score - best score) / temperature)``,
normalised. A series with a short or no backtest leans on the panel's ranking,
one with a long backtest on its own (a trending series whose trend members won
its own backtest keeps its trend, however the rest of the panel backtests), and
every suitable member keeps some weight: no ranking switches a series to one
member. Within a fold the series' MASE scale divides every member's errors
alike, so it cancels out of the relative log scores, and the panel's ranking is
a mean of those log ratios: a series whose scale nearly vanished (every
member's MASE in the hundreds of thousands) weighs in it like any other. What
one series can do to the panel's ranking is bounded all the same: its relative
log scores count in the mean clipped at ``±ln 10`` (:data:`PANEL_CLIP`), so a
series where one member is near perfect and another blew up (a level shift of
x1000) cannot alone switch the members of a small panel's other series
(``docs/experiments/default-auto.md``, "One series in a small panel").

The first ``short_horizon`` steps and the later ones are weighted apart, each
on the backtest's errors at its own steps (``first_step`` in ``weights_``):
members that track the level win the first months, seasonal and trend members
the later ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.core.scales import scaled_errors
from forecasting.models.ensemble import combine_forecasts

MIN_MASE = 1e-3
"""Floor on a backtest MASE before taking its log: a perfect backtest must not take every weight."""
PANEL_CLIP = float(np.log(10.0))
"""A series' relative log score counts in the panel's mean at most this far from zero (a member ten
times better or worse than the series' average member): no one series sets a small panel's ranking."""
WEIGHT_COLUMNS = ["series_id", "model", "first_step", "backtest_mase", "n_backtest", "score", "weight"]


def member_weights(
    results: pd.DataFrame, plan: pd.DataFrame, shrinkage: float, temperature: float
) -> pd.DataFrame:
    """Per series and used member: backtest MASE, shrunk relative log score and weight (module docstring)."""
    used = plan.loc[plan["used"], ["series_id", "model"]].drop_duplicates()
    table = used.merge(_backtest_mase(results), on=["series_id", "model"], how="left")
    table["n_backtest"] = table["n_backtest"].fillna(0).astype("int64")
    log_mase = np.log(table["backtest_mase"].clip(lower=MIN_MASE))
    relative = log_mase - log_mase.groupby(table["series_id"]).transform("mean")
    panel_mean = relative.clip(-PANEL_CLIP, PANEL_CLIP).groupby(table["model"]).transform("mean").fillna(0.0)
    n = table["n_backtest"].where(relative.notna(), 0)
    table["score"] = (n * relative.fillna(0.0) + shrinkage * panel_mean) / (n + shrinkage)
    best = table.groupby("series_id")["score"].transform("min")
    table["weight"] = np.exp(-(table["score"] - best) / temperature)
    table["weight"] /= table.groupby("series_id")["weight"].transform("sum")
    return table[[c for c in WEIGHT_COLUMNS if c != "first_step"]]


def horizon_weights(
    results: pd.DataFrame,
    plan: pd.DataFrame,
    shrinkage: float,
    temperature: float,
    first_steps: Sequence[int],
) -> pd.DataFrame:
    """:func:`member_weights` per part of the horizon, each from the backtest errors at its steps.

    A part runs from its ``first_steps`` entry to the step before the next one
    (the last part to the end); the ``first_step`` column names it.
    """
    steps = results["step"] if not results.empty else pd.Series(dtype="int64")
    parts = []
    for first, after in zip(first_steps, [*first_steps[1:], np.inf], strict=True):
        at = results[(steps >= first) & (steps < after)]
        parts.append(member_weights(at, plan, shrinkage, temperature).assign(first_step=first))
    return pd.concat(parts, ignore_index=True)[WEIGHT_COLUMNS]


def combine_by_horizon(
    stacked: pd.DataFrame,
    steps: np.ndarray,
    weights: pd.DataFrame,
    levels: Sequence[int],
    keys: Sequence[str] = ("series_id", "month"),
) -> pd.DataFrame:
    """The weighted combination, each forecast step with the weights of its part of the horizon."""
    firsts = np.sort(weights["first_step"].unique())
    part = firsts[np.clip(np.searchsorted(firsts, steps, side="right") - 1, 0, None)]
    combined = [
        combine_forecasts(
            stacked[part == first],
            levels,
            "weighted",
            weights.loc[weights["first_step"] == first, ["series_id", "model", "weight"]],
            keys,
        )
        for first in firsts
        if (part == first).any()
    ]
    return pd.concat(combined, ignore_index=True).sort_values(list(keys), ignore_index=True)


def _backtest_mase(results: pd.DataFrame) -> pd.DataFrame:
    """Mean scaled absolute error and its count per series and member (finite errors only)."""
    if results.empty:
        return pd.DataFrame(
            {"series_id": pd.Series(dtype=str), "model": pd.Series(dtype=str)}
            | {"backtest_mase": pd.Series(dtype="float64"), "n_backtest": pd.Series(dtype="int64")}
        )
    errors = results[["series_id", "model"]].assign(
        error=scaled_errors(results["forecast"], results["actual"], results["scale_mase"])
    )
    errors = errors[np.isfinite(errors["error"])]
    grouped = errors.groupby(["series_id", "model"])["error"]
    return pd.DataFrame({"backtest_mase": grouped.mean(), "n_backtest": grouped.size()}).reset_index()


def combined_backtest(results: pd.DataFrame, weights: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """The weighted combination's backtest forecasts with actuals, steps and MASE scales."""
    if results.empty:
        return pd.DataFrame()
    keys = ["series_id", "cutoff", "month"]
    combined = combine_by_horizon(results, results["step"].to_numpy(), weights, levels, keys)
    actual = results.drop_duplicates(keys)[[*keys, "step", "actual", "scale_mase"]]
    return combined.dropna(subset=["forecast"]).merge(actual, on=keys, how="left")
