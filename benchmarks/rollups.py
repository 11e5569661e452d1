"""Usable BTS roll-ups (issue 15): how many region and total series exist, how good the stand-ins are.

Part 1: ``series build`` on the BTS file (default ``max_estimated_share``);
the roll-up line of ``benchmarks/reconcile.py --bts`` (same function) and the
share of the months ``--first``..``--last`` each region and total series exists.

Part 2: the stand-ins of unreported children, checked on months that were
reported: hide them, and compare the stand-in with the reported value
(absolute error summed over the hidden months / their reported total), for the
stand-in that follows the child's siblings (the rule) and the child's own past
(the fallback). Normal months: 5 % of the reported months of 2005-2019 hidden
at random. Restrictions: children reported all through 2020-03 .. 2021-07,
hidden over that span (10 % of them at a time), scored on 2020-04 .. 2021-07.
Usage::

    python benchmarks/rollups.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconcile import BTS_FILE, roll_up_coverage  # noqa: E402

from forecasting.data.loaders import load  # noqa: E402
from forecasting.features.flows import build_series  # noqa: E402
from forecasting.features.hierarchy import estimate_months, stand_in_months  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

RESTRICTIONS = ("2020-03", "2021-07")
NORMAL = ("2005-01", "2019-12")


def coverage(panel: SeriesPanel, first: str, last: str) -> pd.Series:
    """Share of the months ``first..last`` each region and total series exists."""
    ids = [s for s in panel.series_ids if s.startswith(("region/", "total/"))]
    return panel.wide().loc[first:last, ids].notna().mean().sort_values()


def stand_in_errors(
    wide: pd.DataFrame, metadata: pd.DataFrame, hidden: np.ndarray, scored: np.ndarray
) -> dict[str, float]:
    """Each rule's absolute error on ``scored`` cells / their reported total, ``hidden`` cells unreported."""
    masked = wide.where(~hidden)
    rules = {"siblings": stand_in_months(masked, metadata), "own past": estimate_months(masked)}
    truth = wide.to_numpy()[scored]
    return {
        name: float(np.nansum(np.abs(stand_ins.to_numpy()[scored] - truth)) / truth.sum())
        for name, stand_ins in rules.items()
    }


def normal_cells(wide: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """5 % of the reported cells of the normal years, hidden and scored."""
    months = (wide.index >= pd.Period(NORMAL[0], "M")) & (wide.index <= pd.Period(NORMAL[1], "M"))
    hidden = wide.notna().to_numpy() & months[:, None] & (rng.random(wide.shape) < 0.05)
    return hidden, hidden


def restriction_cells(wide: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """10 % of the children reported all through the restrictions: hidden in them, scored after 2020-03."""
    span = (wide.index >= pd.Period(RESTRICTIONS[0], "M")) & (wide.index <= pd.Period(RESTRICTIONS[1], "M"))
    before = (wide.index >= pd.Period("2018-01", "M")) & (wide.index < pd.Period(RESTRICTIONS[0], "M"))
    reported = wide.notna().to_numpy()
    eligible = reported[span].all(axis=0) & (reported[before].sum(axis=0) >= 12)
    chosen = eligible & (rng.random(wide.shape[1]) < 0.1)
    hidden = span[:, None] & chosen[None, :]
    return hidden, hidden & (wide.index > pd.Period(RESTRICTIONS[0], "M"))[:, None]


def check_stand_ins(panel: SeriesPanel, draws: int, seed: int) -> list[str]:
    """One line per flow and setting: the mean error over ``draws`` of the sibling and own-past rules."""
    rng = np.random.default_rng(seed)
    lines = []
    for flow in ("passengers", "cargo"):
        leaves = panel.filter(flow=flow)
        wide = leaves.wide()
        for setting, cells in (("normal months", normal_cells), ("restrictions", restriction_cells)):
            errors = pd.DataFrame(
                [stand_in_errors(wide, leaves.metadata, *cells(wide, rng)) for _ in range(draws)]
            ).mean()
            lines.append(
                f"{flow}, {setting}: error / reported total: siblings {errors['siblings']:.3f}, "
                f"own past {errors['own past']:.3f}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", default="2019-01")
    parser.add_argument("--last", default="2023-12")
    parser.add_argument("--draws", type=int, default=3, help="random draws of hidden months per setting")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(
        f"machine: {platform.node()}, {machine}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    loaded = SeriesPanel.from_load(load(BTS_FILE, "bts", conflicts="drop"))
    wall, cpu = time.perf_counter(), time.process_time()
    panel = build_series(loaded)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"series build: {wall:.1f} s wall, {cpu:.1f} s CPU, load average {os.getloadavg()[0]:.2f}")
    print(roll_up_coverage(panel, args.first, args.last))
    shares = coverage(panel, args.first, args.last)
    print("lowest:", ", ".join(f"{s} {v:.1%}" for s, v in shares.head(6).items()))
    for line in check_stand_ins(loaded, args.draws, args.seed):
        print(line, flush=True)


if __name__ == "__main__":
    main()
