"""Accuracy per demand class: ``auto`` against statsforecast's smooth and intermittent peers, one run.

Each series is classed (Syntetos-Boylan: smooth, erratic, intermittent,
lumpy; :mod:`forecasting.core.demand`) on the last ``auto.max_history``
months of its training history, what ``auto`` sees. Every model forecasts
``horizon`` months from each series' end; MASE (10 % trimmed mean over
series, scaled by the in-sample seasonal-naive error) and the coverage of
the 80 % and 95 % intervals are given per class and overall. Peers:
statsforecast AutoETS and SeasonalNaive (season 12, their own intervals) and
CrostonOptimized, IMAPA, ADIDA and TSB (alpha_d = alpha_p = 0.2), which have
no intervals of their own: theirs are statsforecast's conformal ones
(``ConformalIntervals``, two windows of the horizon; they are left out of a
set with a series too short for two, as M1). An ``--input`` panel keeps the
series ``forecast`` would forecast at the cutoff (not stale) and, with the
peers, those long enough for two windows. Usage::

    nice python benchmarks/demand_classes.py --swiss                  # 539 series, 2018 held out
    nice python benchmarks/demand_classes.py --trade                  # China trade, 2018-2019 held out
    nice python benchmarks/demand_classes.py --m1                     # M1 monthly, h=18
    nice python benchmarks/demand_classes.py --input panel.csv --cutoff 2022-12 --horizon 12
    nice python benchmarks/demand_classes.py --swiss --models auto --no-peers --cache /tmp/runs

``--cache DIR`` keeps each run's forecasts (and wall time) in DIR and reads
them back instead of running again: for comparing variants of ``auto``
against peers run once. ``--write FILE`` adds (or replaces) this set's dated
section in FILE; cached runs are marked in it.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy import (  # noqa: E402
    LEVELS,
    TRADE_DIR,
    Run,
    add_run_arguments,
    csv_set,
    m1_set,
    machine,
    markdown_table,
    run_ours,
    run_statsforecast,
    run_statsforecast_model,
    scored_runs,
    split_panel,
    trade_set,
    write_section,
)
from forecasting.core.demand import DEMAND_CLASSES, demand_class, demand_statistics  # noqa: E402
from forecasting.data.staleness import stale_series  # noqa: E402
from forecasting.evaluation.metrics import leaderboard  # noqa: E402
from forecasting.models.auto import Auto  # noqa: E402
from forecasting.models.auto_plan import recent_history  # noqa: E402
from forecasting.models.base import series_arrays  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

SWISS = TRADE_DIR / "swiss_exports_monthly.csv.gz"
SMOOTH_PEERS = ("AutoETS", "SeasonalNaive")
INTERMITTENT_PEERS = ("CrostonOptimized", "IMAPA", "ADIDA", "TSB")
TSB_ALPHA = 0.2
COLUMNS = ["demand_class", "model", "n_series", "mase", "mase_median", "coverage_80", "coverage_95"]


def swiss_set(cutoff: pd.Period, horizon: int) -> tuple[SeriesPanel, pd.DataFrame, int]:
    from forecasting.data.loaders import load_long

    train, test = split_panel(SeriesPanel.from_load(load_long(SWISS)), cutoff, horizon)
    return train, test, horizon


def series_classes(train: SeriesPanel) -> pd.DataFrame:
    """Per series: ``adi``, ``cv2`` and the demand class of what ``auto`` sees of it."""
    rows = []
    for series_id, y, _ in series_arrays(recent_history(train, Auto().max_history)):
        adi, cv2 = demand_statistics(y)
        rows.append((series_id, adi, cv2, demand_class(adi, cv2)))
    return pd.DataFrame(rows, columns=["series_id", "adi", "cv2", "demand_class"]).set_index("series_id")


def intermittent_peer(name: str, horizon: int) -> object:
    """statsforecast's ``name`` with conformal intervals from two windows of ``horizon`` months."""
    from statsforecast import models as sf_models
    from statsforecast.utils import ConformalIntervals

    intervals = ConformalIntervals(h=horizon, n_windows=2)
    if name == "TSB":
        return sf_models.TSB(alpha_d=TSB_ALPHA, alpha_p=TSB_ALPHA, prediction_intervals=intervals)
    return getattr(sf_models, name)(prediction_intervals=intervals)


def cached(cache: Path | None, label: str, run: Callable[[], Run]) -> tuple[Run, pd.DataFrame | None]:
    """``run()`` and its member weights (:func:`member_weights`), or both read back from ``cache``."""
    if cache is None:
        fresh = run()
        return fresh, member_weights(fresh)
    path = cache / f"{label.replace(' ', '_').replace('/', '_')}.pkl"
    if path.exists():
        forecasts, seconds, fallbacks, weights = pd.read_pickle(path)
        print(f"  {label:<34} cached", file=sys.stderr)
        return Run(label, forecasts, seconds, fallbacks), weights
    fresh = run()
    weights = member_weights(fresh)
    cache.mkdir(parents=True, exist_ok=True)
    pd.to_pickle((fresh.forecasts, fresh.seconds, fresh.fallbacks, weights), path)
    return fresh, weights


def member_weights(run: Run) -> pd.DataFrame | None:
    """``auto``'s weights: per series, member and part of the horizon (None for other models)."""
    weights = getattr(run.model, "weights_", None)
    return None if weights is None else weights[["series_id", "model", "first_step", "weight"]]


def weight_table(weights: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """Mean weight of each member (columns) per demand class (rows), over series and parts of the
    horizon; a member not fitted for a series weighs 0 there."""
    wide = weights.pivot_table(index=["series_id", "first_step"], columns="model", values="weight")
    wide = wide.fillna(0.0).reset_index()
    wide["demand_class"] = wide["series_id"].map(classes["demand_class"])
    table = wide.drop(columns=["series_id", "first_step"]).groupby("demand_class").mean()
    return table.reindex([name for name in DEMAND_CLASSES if name in table.index])


def class_table(results: pd.DataFrame, classes: pd.DataFrame, runs: Sequence[Run]) -> pd.DataFrame:
    """Per class (and ``all``) and model: series, MASE (trimmed mean and median), coverage 80/95."""
    results = results.assign(demand_class=results["series_id"].map(classes["demand_class"]))
    by_class = leaderboard(results, by=("demand_class", "model"), levels=LEVELS)
    overall = leaderboard(results, levels=LEVELS).assign(demand_class="all")
    table = pd.concat([overall, by_class], ignore_index=True)[COLUMNS]
    order = {name: i for i, name in enumerate(["all", *DEMAND_CLASSES])}
    table = table.sort_values(
        ["demand_class", "mase"], key=lambda c: c.map(order) if c.name == "demand_class" else c
    )
    seconds = {run.label: run.seconds for run in runs}
    return table.assign(seconds=table["model"].map(seconds)).reset_index(drop=True)


def issue_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per class: ``auto``'s MASE and coverage against the best peer's MASE and AutoETS's coverage."""
    rows = []
    for name, group in table.groupby("demand_class", sort=False):
        group = group.set_index("model")
        peers = group[group.index.str.startswith("statsforecast")]
        best = peers["mase"].idxmin() if len(peers) else None
        ets = group.loc["statsforecast AutoETS"] if "statsforecast AutoETS" in group.index else None
        for ours in [label for label in group.index if not label.startswith("statsforecast")]:
            row = group.loc[ours]
            rows.append(
                {
                    "class": name,
                    "series": int(row["n_series"]),
                    "model": ours,
                    "MASE": row["mase"],
                    "best peer MASE (model)": _best_peer(peers, best),
                    "cov 80 / 95": _coverage(row),
                    "AutoETS cov 80 / 95": "" if ets is None else _coverage(ets),
                }
            )
    return pd.DataFrame(rows)


def _best_peer(peers: pd.DataFrame, best: str | None) -> str:
    return "" if best is None else f"{peers.loc[best, 'mase']:.3f} ({best.split()[-1]})"


def _coverage(row: pd.Series) -> str:
    return f"{100 * row['coverage_80']:.1f} / {100 * row['coverage_95']:.1f}"


def forecast_part(
    train: SeriesPanel, test: pd.DataFrame, horizon: int, peers: bool
) -> tuple[SeriesPanel, pd.DataFrame]:
    """The series of a ``--input`` panel that ``forecast`` forecasts at the cutoff (not stale), and,
    with the peers, only those long enough for their conformal intervals (two windows and a month),
    so every model forecasts the same series; the counts left out are printed."""
    dropped = set(stale_series(train.records)["series_id"])
    print(f"stale at the cutoff, left out as forecast leaves them: {len(dropped)}", file=sys.stderr)
    if peers:
        lengths = train.records.groupby("series_id", observed=True).size()
        short = set(lengths.index[lengths <= 2 * horizon]) - dropped
        print(
            f"{2 * horizon} months of history or fewer, left out for the peers: {len(short)}", file=sys.stderr
        )
        dropped |= short
    kept = train.without(sorted(dropped)) if dropped else train
    return kept, test[test["series_id"].isin(kept.series_ids)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--swiss", action="store_true", help="the Swiss exports panel, 2018 held out")
    source.add_argument("--trade", action="store_true", help="the six China trade series, 2018-2019 held out")
    source.add_argument("--m1", action="store_true", help="the M1 monthly series, their test files held out")
    source.add_argument("--input", help="long CSV: series_id, month, value")
    parser.add_argument("--cutoff", help="last training month, YYYY-MM (with --input)")
    parser.add_argument("--horizon", type=int, help="months to forecast (default 12; 24 for --trade)")
    parser.add_argument("--models", default="auto", help="comma-separated registry names of ours")
    parser.add_argument("--no-peers", action="store_true", help="leave out the statsforecast peers")
    parser.add_argument("--cache", type=Path, help="keep and reuse each run's forecasts in this folder")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    if args.swiss:
        train, test, horizon = swiss_set(pd.Period(args.cutoff or "2017-12", "M"), args.horizon or 12)
        key, title = (
            "classes:swiss",
            f"Swiss exports (539 series, after {args.cutoff or '2017-12'}, h={horizon})",
        )
    elif args.trade:
        train, test, horizon = trade_set(pd.Period(args.cutoff or "2017-12", "M"), args.horizon or 24)
        key, title = "classes:trade", f"China trade (6 series, after {args.cutoff or '2017-12'}, h={horizon})"
    elif args.m1:
        train, test, horizon = m1_set()
        key, title = "classes:m1", "M1 monthly (617 series, h=18)"
    else:
        if not args.cutoff:
            parser.error("--cutoff is required with --input")
        train, test, horizon = csv_set(args.input, pd.Period(args.cutoff, "M"), args.horizon or 12)
        train, test = forecast_part(train, test, horizon, peers=not args.no_peers)
        key, title = f"classes:{Path(args.input).name}", f"{args.input} after {args.cutoff}, h={horizon}"
    print(f"{train}; test rows {len(test):,}; horizon {horizon}; n_jobs {args.n_jobs}", file=sys.stderr)
    classes = series_classes(train)
    print(classes["demand_class"].value_counts().to_string(), file=sys.stderr)

    jobs: dict[str, Callable[[], Run]] = {
        name: lambda name=name: run_ours(name, train, horizon, args.n_jobs)
        for name in args.models.split(",")
        if name
    }
    if not args.no_peers:
        shortest = int(train.records.groupby("series_id", observed=True).size().min())
        for name in SMOOTH_PEERS:
            jobs[f"statsforecast {name}"] = lambda name=name: run_statsforecast(
                name, train, horizon, args.n_jobs
            )
        if shortest <= 2 * horizon:  # statsforecast's conformal intervals need two windows and a month
            print(f"intermittent peers left out: a series of {shortest} months", file=sys.stderr)
        for name in INTERMITTENT_PEERS if shortest > 2 * horizon else ():
            label = f"statsforecast {name}"
            jobs[label] = lambda name=name, label=label: run_statsforecast_model(
                label, intermittent_peer(name, horizon), train, horizon, args.n_jobs
            )
    done = {label: cached(args.cache, label, job) for label, job in jobs.items()}
    runs = [run for run, _ in done.values()]
    table = class_table(scored_runs(runs, train, test), classes, runs)
    compact = issue_table(table)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    print(compact.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for label, (_, weights) in done.items():
        if weights is not None:
            print(f"\n{label}: mean member weight per demand class")
            print(weight_table(weights, classes).to_string(float_format=lambda v: f"{v:.3f}"))
    if args.write:
        if args.tag:
            key, title = f"{key}:{args.tag}", f"{title}, {args.tag}"
        today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = "benchmarks/demand_classes.py " + " ".join(argv if argv is not None else sys.argv[1:])
        wall = (time.perf_counter() - started) / 60
        body = "\n\n".join(
            [
                f"## Accuracy per demand class: {title}",
                f"{today}; {machine()}; `{command}`; wall time of the whole run {wall:.1f} min.",
                markdown_table(compact),
            ]
        )
        write_section(args.write, key, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
