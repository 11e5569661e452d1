"""What a series' fit costs per registered model, against the ``fit_cost`` the progress ETA assumes.

A command's ETA (:mod:`forecasting.progress`) weighs each unit of work (one
series fitted by one model for one fold) by its model's ``fit_cost``, CPU
per series relative to ARIMA's: a retrain's baselines come first at about a
hundredth of ARIMA's cost, and counting units alone made the ETA say seconds
with many minutes to go. This measures the costs: a seeded sample of a long
panel's series (``series_id, month, value``; e.g. ``forecasting series
build``'s output of the shared BTS file), one backtest fold of ``--horizon``
months per model, seconds per series and relative to ARIMA's, beside the
declared ``fit_cost``: CPU seconds in this process with one core (``--executor
serial``), or wall seconds with the commands' default executor (``local``,
every core), which is what an ETA counts (the GBMs' trees use every core even
in one process, and ``auto`` fits its members side by side). Usage::

    .venv/bin/python benchmarks/fit_cost.py --panel panel.csv --series 200 --executor local
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from forecasting.executors import make_executor, use_executor
from forecasting.models.cv import backtest
from forecasting.models.registry import MODELS, make_model
from forecasting.panel import SeriesPanel


def sample_panel(path: str, n_series: int, seed: int) -> SeriesPanel:
    """``n_series`` series of the long file at ``path``, drawn with ``seed``."""
    records = pd.read_csv(path, usecols=["series_id", "month", "value"], dtype={"series_id": str})
    ids = records["series_id"].drop_duplicates()
    chosen = ids.sample(min(n_series, len(ids)), random_state=seed)
    return SeriesPanel.from_long(records[records["series_id"].isin(chosen)])


def seconds_per_series(name: str, panel: SeriesPanel, horizon: int, serial: bool) -> float:
    """Seconds per series of one backtest fold of the registered model ``name`` on the executor in
    use: CPU seconds of this process when ``serial``, else wall seconds (workers' CPU is not seen here)."""
    clock = time.process_time if serial else time.perf_counter
    start = clock()
    backtest([make_model(name)], panel, horizon=horizon, folds=1)
    return (clock() - start) / len(panel)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", required=True, help="long CSV: series_id, month, value")
    parser.add_argument("--series", type=int, default=200, help="series drawn from the panel")
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default=",".join(sorted(MODELS)), help="comma-separated registry names")
    parser.add_argument("--executor", choices=("serial", "local"), default="serial", help="where fits run")
    args = parser.parse_args(argv)
    panel = sample_panel(args.panel, args.series, args.seed)
    names = args.models.split(",")
    serial = args.executor == "serial"
    with make_executor(args.executor) as executor, use_executor(executor):
        seconds_per_series("naive", panel, args.horizon, serial)  # the workers start here, untimed
        seconds = {name: seconds_per_series(name, panel, args.horizon, serial) for name in names}
        arima = seconds.get("arima") or seconds_per_series("arima", panel, args.horizon, serial)
    kind = "CPU" if args.executor == "serial" else "wall"
    print(f"{len(panel)} series of {args.panel}, one fold of {args.horizon} months, {args.executor}")
    print(f"| model | {kind} ms per series | relative to ARIMA | declared fit_cost |")
    print("|---|---|---|---|")
    for name in names:
        declared = make_model(name).fit_cost
        print(f"| {name} | {1000 * seconds[name]:.2f} | {seconds[name] / arima:.3f} | {declared:.2f} |")


if __name__ == "__main__":
    main()
