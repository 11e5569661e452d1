"""Replay the monthly retrain on the bundled sample, one run per month, and time it.

Each month ``m`` of ``--start``..``--end`` the sample is truncated to ``m`` (as
if the data ended there), written as the job's long CSV, and ``run_retrain``
runs on it in one work folder (exports, accuracy table, models, SQLite store).
So every run scores the earlier runs' exports against the month(s) that
arrived since, exactly as the scheduled job does. ``--shift`` plants a level
shift in one series (values multiplied by FACTOR from MONTH on) to see the
drift flag fire.

    .venv/bin/python benchmarks/replay.py --plot live.png \
        --shift zabaykalsk-manzhouli/cargo/rail/export:2024-09:2
    .venv/bin/python benchmarks/replay.py --models seasonal_naive,ets --start 2024-01 --end 2024-06
    .venv/bin/python benchmarks/replay.py --params '{"gbm": {"calibration_windows": 3}}' --executor local

Prints one line per run (origin, decision, new rows, drift flags, seconds) and
the total wall time; ``--markdown`` prints the table for docs/benchmarks.md.
``--params`` (as ``[candidates.params]``) and ``--executor`` (as ``[job] executor``)
measure what a job setting would change.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecasting.evaluation.live import live_history
from forecasting.executors import EXECUTORS
from forecasting.features.hierarchy import write_long_csv
from forecasting.jobs.config import DEFAULT_JOB_MODELS, JobConfig, SourceConfig, load_config
from forecasting.jobs.monitoring import accuracy_path, read_accuracy
from forecasting.jobs.retrain import run_retrain
from forecasting.panel import SeriesPanel
from forecasting.plots import plot_live_accuracy
from forecasting.sample import SAMPLE_EVENTS, load_sample

JOB = "replay"


@dataclass(frozen=True)
class Shift:
    """A planted level shift: ``series_id`` multiplied by ``factor`` from ``month`` on."""

    series_id: str
    month: str
    factor: float

    @classmethod
    def parse(cls, text: str) -> Shift:
        series_id, month, factor = text.rsplit(":", 2)
        return cls(series_id, month, float(factor))


@dataclass(frozen=True)
class ReplayRun:
    """One monthly run of the replay."""

    origin: str
    outcome: str
    champion_version: str
    new_rows: int
    drifted: bool
    drift_series: tuple[str, ...]
    drift_reasons: tuple[str, ...]
    seconds: float
    cpu_seconds: float
    """CPU time of this process: what the run costs, whatever else loads the machine."""


def shifted(panel: SeriesPanel, shift: Shift | None) -> SeriesPanel:
    if shift is None:
        return panel
    records = panel.to_long()
    hit = (records["series_id"] == shift.series_id) & (records["month"] >= pd.Period(shift.month, freq="M"))
    if not hit.any():
        raise ValueError(f"the shift matches no rows: {shift}")
    records.loc[hit, "value"] = records.loc[hit, "value"] * shift.factor
    return SeriesPanel(records, panel.report)


def replay_config(workdir: Path, *, candidates: Sequence[str], **overrides: object) -> JobConfig:
    """The replay job: the sample's events as regressors, everything under ``workdir``."""
    events = tuple(
        json.loads(json.dumps({k: v for k, v in dataclasses.asdict(e).items() if v is not None}, default=str))
        for e in SAMPLE_EVENTS
    )
    return load_config(
        None,
        name=JOB,
        sources=(SourceConfig(str(workdir / "data" / "panel.csv"), "long"),),
        output_dir=str(workdir / "exports"),
        models_dir=str(workdir / "models"),
        tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}",
        candidates=tuple(candidates),
        events=events,
        **overrides,
    )


def replay(
    workdir: str | Path,
    *,
    start: str = "2024-01",
    end: str = "2025-06",
    candidates: Sequence[str] = DEFAULT_JOB_MODELS,
    shift: Shift | None = None,
    panel: SeriesPanel | None = None,
    **overrides: object,
) -> list[ReplayRun]:
    """Run the job once per month from ``start`` to ``end`` on the truncated sample."""
    workdir = Path(workdir)
    full = shifted(panel if panel is not None else load_sample(), shift)
    config = replay_config(workdir, candidates=candidates, **overrides)
    runs = []
    for month in pd.period_range(start, end, freq="M"):
        write_long_csv(full.until(month), workdir / "data" / "panel.csv")
        began, began_cpu = time.perf_counter(), time.process_time()
        result = run_retrain(config)
        drift = result.live.drift if result.live is not None else None
        runs.append(
            ReplayRun(
                origin=str(month),
                outcome=result.decision.outcome,
                champion_version=result.champion_version,
                new_rows=0 if result.live is None else len(result.live.new_rows),
                drifted=bool(drift is not None and drift.drifted),
                drift_series=tuple(drift.series) if drift is not None else (),
                drift_reasons=tuple(drift.reasons()) if drift is not None else (),
                seconds=time.perf_counter() - began,
                cpu_seconds=time.process_time() - began_cpu,
            )
        )
    return runs


def markdown(runs: Sequence[ReplayRun]) -> str:
    lines = [
        "| origin | decision | version | rows scored | drift | seconds | CPU seconds |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for run in runs:
        flags = ", ".join(run.drift_series) or ("job-level" if run.drifted else "-")
        lines.append(
            f"| {run.origin} | {run.outcome} | {run.champion_version} | {run.new_rows} | {flags} | "
            f"{run.seconds:.1f} | {run.cpu_seconds:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2024-01")
    parser.add_argument("--end", default="2025-06")
    parser.add_argument("--models", default=",".join(DEFAULT_JOB_MODELS), help="comma-separated candidates")
    parser.add_argument("--shift", type=Shift.parse, default=None, metavar="SERIES:YYYY-MM:FACTOR")
    parser.add_argument("--params", type=json.loads, default={}, metavar="JSON", help="per model")
    parser.add_argument("--executor", choices=EXECUTORS, default=None, help="default: the job's (local)")
    parser.add_argument("--workdir", default=None, help="default: a temporary folder")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--plot", default=None, metavar="PNG", help="save live against backtest MASE here")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(args.workdir or scratch)
        began = time.perf_counter()
        load_before = os.getloadavg()[0]
        runs = replay(
            workdir,
            start=args.start,
            end=args.end,
            candidates=models,
            shift=args.shift,
            model_params=args.params,
            executor=args.executor,
        )
        total = time.perf_counter() - began
        table = read_accuracy(accuracy_path(workdir / "exports", JOB))
        if args.plot:
            plot_live_accuracy(live_history(table)).savefig(args.plot, dpi=100)
    for run in runs:
        print(
            f"{run.origin} {run.outcome:<8} v{run.champion_version:<3} scored={run.new_rows:<4} "
            f"drift={','.join(run.drift_series) or run.drifted} {run.seconds:.1f}s cpu={run.cpu_seconds:.1f}s"
        )
        for reason in run.drift_reasons:
            print(f"    {reason}")
    machine = f"{platform.node()} ({os.cpu_count()} cores)"
    cpu = sum(run.cpu_seconds for run in runs)
    print(f"{len(runs)} runs in {total:.1f} s (CPU {cpu:.1f} s) on {machine}; accuracy rows: {len(table)}")
    print(f"load average (1 min) at start {load_before:.2f}, at end {os.getloadavg()[0]:.2f}")
    if args.markdown:
        print(markdown(runs))


if __name__ == "__main__":
    main()
