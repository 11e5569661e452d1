"""Speed of a default ``forecasting forecast`` against statsforecast AutoETS, on the same series in one run.

Workload (issue 14): the BTS series (port code x measure, exact duplicate rows
dropped, no conflicting duplicates) complete over 2019-01..2023-12, with their
full history since 1996 up to 2022-12, forecast 12 months. Ours is the
command line exactly as a user runs it (``forecasting forecast --input ...
--horizon 12``: default model and executor, MLflow tracking to a temporary
store), timed as a child process; the peer is statsforecast ``AutoETS``
(``season_length=12``, ``n_jobs=2`` by default). Both are scored on 2023
(MASE, scaled by each series' in-sample seasonal-naive error) and the
80%/95% coverage. Usage::

    nice .venv/bin/python benchmarks/forecast_speed.py --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy import machine as machine_name  # noqa: E402
from benchmarks.accuracy import markdown_table, run_cli, run_statsforecast, summary, write_section  # noqa: E402
from benchmarks.reference import read_bts  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

FIRST, TRAIN_END, LAST = pd.Period("2019-01", "M"), pd.Period("2022-12", "M"), pd.Period("2023-12", "M")
HORIZON = 12


def speed_set() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(history, test)`` long frames: full history to 2022-12 and 2023 of the complete series."""
    rows = read_bts()
    window = rows[(rows["month"] >= FIRST) & (rows["month"] <= LAST)]
    complete = window.groupby("series_id")["month"].nunique() == (LAST - FIRST).n + 1
    conflicting = rows.duplicated(["series_id", "month"], keep=False).groupby(rows["series_id"]).any()
    keep = complete[complete].index.difference(conflicting[conflicting].index)
    rows = rows[rows["series_id"].isin(keep)].sort_values(["series_id", "month"])
    columns = ["series_id", "month", "value"]
    return rows.loc[rows["month"] <= TRAIN_END, columns], rows.loc[rows["month"] > TRAIN_END, columns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2, help="processes for statsforecast AutoETS")
    parser.add_argument("--write", type=Path, help="add or replace this run's section in this markdown file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    history, test = speed_set()
    train = SeriesPanel(history)
    print(f"{train}; test rows {len(test):,}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as workdir:
        ours = run_cli(history, Path(workdir), HORIZON)
    peer = run_statsforecast("AutoETS", train, HORIZON, args.n_jobs)
    board = summary([ours, peer], train, test)
    ratio = ours.seconds / peer.seconds
    print(board.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"ours / AutoETS wall time: {ratio:.2f}x")
    if args.write:
        today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
        body = "\n\n".join(
            [
                f"## Speed: default `forecasting forecast` vs statsforecast AutoETS, {len(train)} BTS series",
                f"{today}; {machine_name()}; `benchmarks/forecast_speed.py`; history to 2022-12 "
                f"(full, since 1996), h={HORIZON}, scored on 2023; AutoETS n_jobs={args.n_jobs}; "
                f"whole run {(time.perf_counter() - started) / 60:.1f} min. "
                f"Ours / AutoETS wall time: **{ratio:.2f}x** (ours includes process start, "
                "loading, MLflow tracking and the CSV export).",
                markdown_table(board),
            ]
        )
        write_section(args.write, "speed", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
