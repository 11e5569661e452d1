"""Interval rules per demand class, on ``auto``'s cached forecasts: how the zero-inflated bounds were chosen.

Reads the ``auto`` run that ``benchmarks/demand_classes.py --cache DIR`` kept
(its forecasts and bounds) and scores, per demand class, the coverage of the
80 % and 95 % intervals and the 95 % interval score (MSIS) of each rule,
every rule about the same point forecasts:

- ``auto``: the bounds the cached run gave;
- ``gaussian``: the cached 95 % bounds, the 80 % ones at the Gaussian share
  (z_0.90 / z_0.975) of their distance, i.e. no error shape;
- ``forecast``, ``larger``, ``mixture``: zero-inflated bounds
  (:class:`forecasting.core.demand.ZeroInflated`) whose sizes are the
  history's scaled to the forecast, scaled to the larger of the forecast and
  the history (upper bounds; lower bounds to the forecast), or both halves
  (the package's rule).

Each rule replaces the bounds of the series of ``--classes`` only (never below
zero); the others keep the cached ones. ``--simulated N`` instead scores the
zero-inflated rules on N planted series per scenario (occurrence 0.15-0.7,
lognormal sizes, ten years of history, a year scored), each about statsforecast
IMAPA's forecast: stationary; sizes x0.4 or x2.5 from a month of the last five
years; occurrence falling from 1.3 to 0.5 times its start; the last 6-24 months
of history zero (a lull), the year after as before. Usage::

    nice python benchmarks/demand_classes.py --swiss --models auto --no-peers --cache /tmp/swiss
    nice python benchmarks/sparse_intervals.py --swiss --cache /tmp/swiss
    nice python benchmarks/sparse_intervals.py --m1 --cache /tmp/m1 --classes erratic
    nice python benchmarks/sparse_intervals.py --simulated 250
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy import LEVELS, Run, m1_set, score  # noqa: E402
from benchmarks.demand_classes import series_classes, swiss_set  # noqa: E402
from forecasting.core.demand import ZeroInflated  # noqa: E402
from forecasting.evaluation.metrics import leaderboard  # noqa: E402
from forecasting.models.auto import Auto  # noqa: E402
from forecasting.models.auto_plan import recent_history  # noqa: E402
from forecasting.models.base import series_arrays  # noqa: E402

Rule = Callable[[np.ndarray, pd.DataFrame], dict[str, np.ndarray]]


def scaled_rule(upper_scale: str) -> Rule:
    """Zero-inflated bounds whose sizes follow the forecast (lower bounds) and, for upper bounds,
    the forecast (``"forecast"``) or the larger of it and the history's mean size (``"larger"``)."""

    def bounds(y: np.ndarray, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        forecast = rows["forecast"].to_numpy(dtype="float64")
        sizes = np.sort(y[y > 0])
        occurrence, mean_size = len(sizes) / len(y), float(np.mean(sizes))
        level_size = np.maximum(forecast, 0.0) / occurrence
        upper_size = np.maximum(level_size, mean_size) if upper_scale == "larger" else level_size

        def quantile(probability: float, size: np.ndarray, upper: bool) -> np.ndarray:
            zero = 1 - occurrence
            if probability <= zero and not upper:
                return np.zeros_like(forecast)
            share = max(probability - zero, 0.0) / occurrence
            return float(np.quantile(sizes, share, method="weibull")) / mean_size * size

        out = {}
        for level in LEVELS:
            tail = (1 - level / 100) / 2
            low, high = (0.0, level / 100) if 1 - occurrence >= tail else (tail, 1 - tail)
            out[f"lower_{level}"] = quantile(low, level_size, False)
            out[f"upper_{level}"] = quantile(high, upper_size, True)
        return out

    return bounds


def mixture_rule(y: np.ndarray, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The package's bounds (:class:`ZeroInflated`)."""
    return ZeroInflated.from_history(y).bounds(rows["forecast"].to_numpy(dtype="float64"), LEVELS)


def gaussian_rule(y: np.ndarray, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The cached 95 % bounds, the 80 % ones at the Gaussian share of their distance."""
    share = norm.ppf(0.90) / norm.ppf(0.975)
    forecast = rows["forecast"].to_numpy(dtype="float64")
    lower, upper = rows["lower_95"].to_numpy(dtype="float64"), rows["upper_95"].to_numpy(dtype="float64")
    return {
        "lower_80": forecast - share * (forecast - lower),
        "upper_80": forecast + share * (upper - forecast),
        "lower_95": lower,
        "upper_95": upper,
    }


RULES: dict[str, Rule | None] = {
    "auto": None,
    "gaussian": gaussian_rule,
    "forecast": scaled_rule("forecast"),
    "larger": scaled_rule("larger"),
    "mixture": mixture_rule,
}


def apply(rule: Rule, table: pd.DataFrame, history: dict[str, np.ndarray], chosen: set[str]) -> pd.DataFrame:
    """``table`` with ``rule``'s bounds for the ``chosen`` series never below zero, nested about the
    forecast."""
    out = table.copy()
    for series_id, index in out.groupby("series_id").groups.items():
        y = history[series_id]
        y = y[np.isfinite(y)]
        if series_id not in chosen or (y < 0).any() or not (y > 0).any():
            continue
        forecast = out.loc[index, "forecast"].to_numpy(dtype="float64")
        for column, values in rule(y, out.loc[index]).items():
            nested = (
                np.minimum(values, forecast) if column.startswith("lower") else np.maximum(values, forecast)
            )
            out.loc[index, column] = nested
    return out


def class_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per class: series, coverage 80 / 95 (percent) and the 95 % interval score."""
    board = leaderboard(table.assign(model=table["demand_class"]), levels=LEVELS).set_index("model")
    return pd.DataFrame(
        {
            "series": board["n_series"],
            "coverage 80 / 95": [
                f"{100 * a:.1f} / {100 * b:.1f}"
                for a, b in zip(board["coverage_80"], board["coverage_95"], strict=True)
            ],
            "msis_95": board["msis_95"].round(2),
        }
    ).sort_index()


SCENARIOS = ("stationary", "sizes shift", "occurrence falls", "lull")


def planted(scenario: str, rng: np.random.Generator, months: int = 132) -> np.ndarray:
    """One planted series of ``scenario`` (module docstring)."""
    occurrence, sigma = rng.uniform(0.15, 0.7), rng.uniform(0.3, 1.3)
    occurs = rng.random(months) < occurrence
    sizes = rng.lognormal(3.0, sigma, months)
    if scenario == "sizes shift":
        sizes[rng.integers(60, 120) :] *= rng.choice([0.4, 2.5])
    elif scenario == "occurrence falls":
        occurs = rng.random(months) < occurrence * np.linspace(1.3, 0.5, months)
    elif scenario == "lull":
        occurs[rng.integers(96, 114) : 120] = False
    return occurs * sizes


def simulated_scores(n: int, seed: int = 0) -> pd.DataFrame:
    """Coverage 80 / 95 (percent) of the zero-inflated rules per scenario, ``n`` series each."""
    from statsforecast.models import IMAPA

    rng = np.random.default_rng(seed)
    rules = {name: rule for name, rule in RULES.items() if name in ("forecast", "larger", "mixture")}
    rows = []
    for scenario in SCENARIOS:
        covered = {(name, level): [] for name in rules for level in LEVELS}
        for _ in range(n):
            y = planted(scenario, rng)
            history, future = y[:120], y[120:]
            forecast = pd.DataFrame({"forecast": IMAPA().forecast(history, 12)["mean"]})
            for name, rule in rules.items():
                bounds = rule(history, forecast)
                for level in LEVELS:
                    lower = np.minimum(bounds[f"lower_{level}"], forecast["forecast"])
                    upper = np.maximum(bounds[f"upper_{level}"], forecast["forecast"])
                    covered[name, level].append(np.mean((future >= lower) & (future <= upper)))
        rows += [
            (scenario, name, *(100 * np.mean(covered[name, level]) for level in LEVELS)) for name in rules
        ]
    table = pd.DataFrame(rows, columns=["scenario", "rule", *(f"coverage_{level}" for level in LEVELS)])
    return table.pivot(index="scenario", columns="rule").round(1).loc[list(SCENARIOS)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--swiss", action="store_true", help="the Swiss exports panel, 2018 held out")
    source.add_argument("--m1", action="store_true", help="the M1 monthly series")
    source.add_argument("--simulated", type=int, metavar="N", help="N planted series per scenario")
    parser.add_argument("--cache", type=Path, help="demand_classes.py's cache folder (--swiss, --m1)")
    parser.add_argument("--classes", default="erratic,intermittent,lumpy", help="classes the rules apply to")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    if args.simulated:
        print(simulated_scores(args.simulated).to_string())
        return 0
    if args.cache is None:
        parser.error("--cache is required with --swiss or --m1")
    train, test, _ = m1_set() if args.m1 else swiss_set(pd.Period("2017-12", "M"), 12)
    classes = series_classes(train)["demand_class"]
    forecasts = pd.read_pickle(args.cache / "auto.pkl")[0]
    table = score(Run("auto", forecasts, 0.0, None), train, test)
    table["demand_class"] = table["series_id"].map(classes)
    history = {sid: y for sid, y, _ in series_arrays(recent_history(train, Auto().max_history))}
    chosen = set(classes.index[classes.isin(args.classes.split(","))])
    for name, rule in RULES.items():
        scored = table if rule is None else apply(rule, table, history, chosen)
        print(f"\n{name}\n{class_scores(scored).to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
