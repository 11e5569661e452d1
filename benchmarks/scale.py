"""Scale benchmark: a retrain-like workload on 100 .. 10,000 series per executor.

Workload (the library's own code paths, as ``forecasting retrain`` runs them):
``backtest(models, panel, horizon=12, folds=3)`` -> ``leaderboard`` -> fit the
best model on the whole panel -> ``predict(12)``. No MLflow (driver-only I/O,
not what scales). Panels: seeded synthetic monthly series (trend, yearly
seasonality, noise, intermittent zeros) of ``--months`` months, and the real
BTS panel (``--bts``). Each (panel, executor) runs in a fresh child process so
its peak RSS (``ru_maxrss``, driver only; worker processes are not counted)
belongs to that run alone.

    nice .venv/bin/python benchmarks/scale.py --sizes 100,1000 --executors serial,local,dask
    nice .venv/bin/python benchmarks/scale.py --sizes 10000 --executors local --models seasonal_naive,drift

Reports wall time, series per second, driver peak RSS, local/serial speed-up,
dask/local ratio and the scaling exponent ``log(t2/t1) / log(n2/n1)`` between
consecutive sizes (1.0 is linear).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.jobs.config import DEFAULT_JOB_MODELS
from forecasting.panel import SeriesPanel

BTS_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "border_crossings"
BTS_FILE = BTS_FILE / "Border_Crossing_Entry_Data.csv.gz"
HORIZON = 12
FOLDS = 3


def synthetic_panel(n_series: int, n_months: int = 120, seed: int = 0) -> SeriesPanel:
    """Seeded monthly panel: log-normal levels, trends, yearly seasonality, noise; 10% intermittent."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_months)
    level = rng.lognormal(mean=6.0, sigma=1.5, size=(n_series, 1))
    trend = rng.normal(0.0, 0.004, size=(n_series, 1)) * level * t
    phase = rng.uniform(0, 2 * np.pi, size=(n_series, 1))
    season = rng.uniform(0.05, 0.4, size=(n_series, 1)) * level * np.sin(2 * np.pi * t / 12 + phase)
    noise = rng.normal(0.0, 1.0, size=(n_series, n_months)) * rng.uniform(0.02, 0.15, (n_series, 1)) * level
    values = np.maximum(level + trend + season + noise, 0.0).round()
    intermittent = rng.random(n_series) < 0.10
    values[intermittent] *= rng.random((int(intermittent.sum()), n_months)) < 0.4
    months = pd.period_range("2015-01", periods=n_months, freq="M")
    width = len(str(n_series - 1))
    ids = np.array([f"synthetic/{i:0{width}d}/trucks" for i in range(n_series)])
    records = pd.DataFrame(
        {
            "series_id": np.repeat(ids, n_months),
            "month": np.tile(months, n_series),
            "value": values.ravel(),
        }
    )
    return SeriesPanel(records)


def bts_panel(path: Path = BTS_FILE) -> SeriesPanel:
    from forecasting.data.loaders import load_bts

    return SeriesPanel.from_load(load_bts(path, conflicts="drop"))


def retrain_workload(panel: SeriesPanel, models: list[str]) -> dict[str, float]:
    """Backtest candidates, pick the best by MASE, fit it on everything, forecast."""
    from forecasting.evaluation.backtest import backtest
    from forecasting.evaluation.metrics import leaderboard
    from forecasting.models.registry import make_model

    start = time.perf_counter()
    results = backtest(
        [make_model(name, horizon=HORIZON) for name in models], panel, horizon=HORIZON, folds=FOLDS
    )
    board = leaderboard(results)
    backtested = time.perf_counter()
    best = board["model"].iloc[0]
    forecasts = make_model(best, horizon=HORIZON).fit(panel).predict(HORIZON)
    done = time.perf_counter()
    assert len(forecasts) == HORIZON * len(panel)
    return {"backtest_s": backtested - start, "fit_predict_s": done - backtested, "best": best}


def run_one(panel_name: str, executor: str, models: list[str], months: int, workers: int) -> dict:
    """One measurement, in this (child) process."""
    from forecasting.executors import executor_scope

    started = time.perf_counter()
    panel = bts_panel() if panel_name == "bts" else synthetic_panel(int(panel_name), months)
    load_s = time.perf_counter() - started
    rss_panel = _peak_rss_mib()
    started, cpu_start = time.perf_counter(), time.process_time()
    with executor_scope(executor, n_jobs=workers) as running:
        if executor == "dask":
            running.n_workers  # noqa: B018 - start the LocalCluster outside the timed workload
        startup_s = time.perf_counter() - started
        timings = retrain_workload(panel, models)
    wall = timings["backtest_s"] + timings["fit_predict_s"]
    return {
        "panel": panel_name,
        "series": len(panel),
        "rows": len(panel.records),
        "executor": executor,
        "models": ",".join(models),
        "wall_s": round(wall, 2),
        "series_per_s": round(len(panel) / wall, 2),
        "backtest_s": round(timings["backtest_s"], 2),
        "fit_predict_s": round(timings["fit_predict_s"], 2),
        "best": timings["best"],
        "load_s": round(load_s, 2),
        "executor_startup_s": round(startup_s, 2),
        "peak_rss_mib_after_load": round(rss_panel, 1),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "driver_cpu_s": round(time.process_time() - cpu_start, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def summarise(rows: list[dict]) -> list[str]:
    """Speed-ups against serial/local and scaling exponents, one line each."""
    lines = []
    by = {(r["panel"], r["executor"]): r["wall_s"] for r in rows}
    for (panel, executor), wall in sorted(by.items()):
        if executor == "local" and (panel, "serial") in by:
            lines.append(f"{panel}: local speed-up over serial {by[(panel, 'serial')] / wall:.2f}x")
        if executor == "dask" and (panel, "local") in by:
            lines.append(f"{panel}: dask / local wall ratio {wall / by[(panel, 'local')]:.3f}")
    synthetic = sorted({int(r["panel"]) for r in rows if r["panel"].isdigit()})
    for executor in sorted({r["executor"] for r in rows}):
        for small, large in zip(synthetic, synthetic[1:], strict=False):
            if (str(small), executor) in by and (str(large), executor) in by:
                ratio = by[(str(large), executor)] / by[(str(small), executor)]
                exponent = math.log(ratio) / math.log(large / small)
                lines.append(
                    f"{executor}: time({large})/time({small}) = {ratio:.2f}, scaling exponent {exponent:.3f}"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="synthetic panel sizes, and/or 'bts'")
    parser.add_argument("--executors", default="serial,local,dask")
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_JOB_MODELS),
        help="registry names (default: the retrain job's default candidates)",
    )
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2, help="local processes (dask LocalCluster: 2)")
    parser.add_argument("--output", default=None, help="append JSON lines here")
    parser.add_argument("--one", nargs=2, metavar=("PANEL", "EXECUTOR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], models, args.months, args.workers)))
        return 0
    rows = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        for executor in [e.strip() for e in args.executors.split(",") if e.strip()]:
            command = [sys.executable, __file__, "--one", size, executor, "--models", ",".join(models)]
            command += ["--months", str(args.months), "--workers", str(args.workers)]
            child = subprocess.run(command, capture_output=True, text=True, check=False)
            if child.returncode != 0:
                print(f"{size} {executor}: FAILED\n{child.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.output:
                with open(args.output, "a", encoding="utf-8") as out:
                    out.write(json.dumps(row) + "\n")
    for line in summarise(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
