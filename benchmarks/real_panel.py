"""The README tour's forecast on the full BTS panel, as a user runs it, scored per hierarchy level.

Workload (issue 25): ``forecasting series build`` output of the shared BTS file
(``--panel``, built here when absent), cut at ``--train-end`` (default
2022-12) with its hierarchy; ``forecasting forecast --input train.csv
--horizon 12`` with each ``--models`` entry (the default model is ``auto``)
in a child process with a temporary MLflow store, timed from start to exit;
every export is scored on the held-out year: MASE per series (scaled by the
series' in-sample seasonal-naive error up to the cut, the package's rule),
then mean, median and 10 % trimmed mean per level (bottom = the raw BTS
series, crossing, region, total). Usage::

    nice .venv/bin/python benchmarks/real_panel.py --models auto,ets [--panel panel.csv]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy import machine  # noqa: E402
from forecasting.core.scales import scaled_errors, series_scales  # noqa: E402
from forecasting.data.loaders import load  # noqa: E402
from forecasting.data.summing import structure_path  # noqa: E402
from forecasting.features.hierarchy import write_long_csv  # noqa: E402
from forecasting.files import write_csv_atomic  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

BTS_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "border_crossings"
    / "Border_Crossing_Entry_Data.csv.gz"
)
HORIZON = 12


def cli(*args: str, workdir: Path) -> float:
    """Run ``forecasting ARGS`` in a child process (its own MLflow store); wall seconds to exit 0."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "forecasting.cli", *args], env=env, cwd=workdir, text=True, capture_output=True
    )
    seconds = time.perf_counter() - start
    (workdir / f"{args[0]}-{int(start)}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"forecasting {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return seconds


def levels_of(panel: SeriesPanel) -> pd.Series:
    """series_id -> bottom / crossing / region / total."""
    level = pd.Series("bottom", index=pd.Index(panel.series_ids, name="series_id"))
    for parent, name in panel.structure.levels.items():
        level[parent] = name
    return level


def score(export: pd.DataFrame, train: SeriesPanel, actual: pd.DataFrame, level: pd.Series) -> pd.DataFrame:
    """Per series: level and MASE over the held-out months it has an actual for."""
    scales = series_scales(train.wide())["scale_mase"]
    rows = export.merge(actual, on=["series_id", "month"], how="inner")
    rows["error"] = scaled_errors(rows["forecast"], rows["actual"], rows["series_id"].map(scales))
    per_series = rows.groupby("series_id")["error"].mean().rename("mase").to_frame()
    per_series["level"] = per_series.index.map(level)
    return per_series


def summary(per_series: pd.DataFrame) -> pd.DataFrame:
    finite = per_series[np.isfinite(per_series["mase"])]
    grouped = finite.groupby("level")["mase"]
    table = pd.DataFrame(
        {
            "series": grouped.size(),
            "mase_mean": grouped.mean(),
            "mase_median": grouped.median(),
            "mase_trimmed": grouped.apply(lambda m: trim_mean(m, 0.1)),
        }
    )
    return table.reindex([lv for lv in ("bottom", "crossing", "region", "total") if lv in table.index])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", type=Path, default=None, help="series build output (built when absent)")
    parser.add_argument("--train-end", default="2022-12")
    parser.add_argument("--models", default="auto,ets")
    parser.add_argument("--keep", type=Path, default=None, help="keep exports, logs, scores here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) if args.keep is None else args.keep
        workdir.mkdir(parents=True, exist_ok=True)
        timings = {}
        panel_path = args.panel
        if panel_path is None:
            panel_path = workdir / "panel.csv"
            timings["series build"] = cli(
                "series",
                "build",
                "--input",
                str(BTS_FILE),
                "--format",
                "bts",
                "--conflicts",
                "drop",
                "--output",
                str(panel_path),
                workdir=workdir,
            )
        panel = SeriesPanel.from_load(load(panel_path))
        cut = pd.Period(args.train_end, "M")
        train = panel.until(cut)
        train_path = write_long_csv(train, workdir / "train.csv")
        write_csv_atomic(train.structure.to_frame(), structure_path(train_path))
        held = panel.records[(panel.records["month"] > cut) & (panel.records["month"] <= cut + HORIZON)]
        actual = held[["series_id", "month", "value"]].rename(columns={"value": "actual"})
        actual = actual.assign(series_id=actual["series_id"].astype(str), month=actual["month"].astype(str))
        level = levels_of(panel)
        tables = {}
        for model in args.models.split(","):
            output = workdir / f"{model}.csv"
            timings[f"forecast --model {model}"] = cli(
                "forecast",
                "--input",
                str(train_path),
                "--horizon",
                str(HORIZON),
                "--output",
                str(output),
                "--model",
                model,
                workdir=workdir,
            )
            export = pd.read_csv(output, dtype={"month": str, "series_id": str})
            print(
                f"{model}: {export['series_id'].nunique()} series, months {export['month'].min()}.."
                f"{export['month'].max()}"
            )
            per_series = score(export, train, actual, level)
            write_csv_atomic(per_series.reset_index(), workdir / f"{model}.scores.csv")
            tables[model] = summary(per_series)
        print(
            f"\n{machine()}; panel {len(panel)} series, train to {cut}, held out {cut + 1}..{cut + HORIZON}"
        )
        for step, seconds in timings.items():
            print(f"  {step}: {seconds:.0f} s")
        both = pd.concat(tables, axis=1)
        with pd.option_context("display.width", 200, "display.max_columns", None):
            print(both.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
