"""Accuracy benchmark: our models and (with ``--peers``) statsforecast and pmdarima, side by side.

Every model is fitted on each series' history and forecasts the next
``horizon`` months; all are scored by the same code
(:mod:`forecasting.evaluation.metrics`) with MASE/RMSSE scaled by the in-sample
seasonal-naive (m=12) error of each series' training window. Besides the
summary, a per-step table gives every model's MASE at each forecast step
(months after the series' last training month). Usage::

    nice python benchmarks/accuracy.py --reference --peers
    nice python benchmarks/accuracy.py --m1 --peers --write docs/benchmarks.md
    nice python benchmarks/accuracy.py --input panel.csv --cutoff 2022-12 --horizon 12
    nice python benchmarks/accuracy.py --trade --peers
    nice python benchmarks/accuracy.py --reference --backtest-folds 3 --models $DEFAULT_SET

``--m1`` is the M1 competition's 617 monthly series: each forecast 18 months
from the end of its own history file and scored on the test file. With
``--peers``, statsforecast's AutoETS, AutoARIMA, AutoTheta, AutoCES, Naive and
SeasonalNaive run on the same data in the same run, plus the month-by-month
median of AutoETS, AutoARIMA, AutoTheta and AutoCES (forecast and bounds).
``--write FILE`` adds (or replaces) this set's dated section in FILE.

``--backtest-folds K`` instead times a K-fold rolling-origin backtest
(horizon as above) of the models on the whole panel, training and test
months together, and prints its leaderboard.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.core.scales import series_scales  # noqa: E402
from forecasting.evaluation.backtest import result_columns  # noqa: E402
from forecasting.evaluation.metrics import leaderboard, metrics_by_horizon  # noqa: E402
from forecasting.models.registry import make_model  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

DEFAULT_MODELS = (
    "seasonal_naive",
    "seasonal_profile",
    "ets",
    "theta",
    "arima",
    "gbm",
    "gbm_median",
    "ensemble",
    "auto",
)
LEVELS = (80, 95)
TRADE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "trade"
TRADE_FILES = ("usa-china-trade-data.csv", "japan-china-trade-data.csv", "korea-china-trade-data.csv")
M1_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "m1"
M1_HORIZON = 18
PEER_NAMES = ("Naive", "SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta", "AutoCES")
PEER_MEDIAN = ("AutoETS", "AutoARIMA", "AutoTheta", "AutoCES")
MEDIAN_LABEL = "statsforecast median(ETS,ARIMA,Theta,CES)"


class Run:
    """One model's forecasts on the benchmark, with its wall time, fallback count and (ours) the model."""

    def __init__(
        self,
        label: str,
        forecasts: pd.DataFrame,
        seconds: float,
        fallbacks: int | None,
        model: object | None = None,
    ) -> None:
        self.label = label
        self.forecasts = forecasts
        self.seconds = seconds
        self.fallbacks = fallbacks
        self.model = model


# --- data ------------------------------------------------------------------------------------
def split_panel(panel: SeriesPanel, cutoff: pd.Period, horizon: int) -> tuple[SeriesPanel, pd.DataFrame]:
    """Training panel up to ``cutoff`` and the actuals of the next ``horizon`` months."""
    records = panel.records
    test = records[(records["month"] > cutoff) & (records["month"] <= cutoff + horizon)]
    return panel.until(cutoff), test[["series_id", "month", "value"]].reset_index(drop=True)


def reference_set() -> tuple[SeriesPanel, pd.DataFrame, int]:
    from benchmarks.reference import bts_reference_set

    train, test = bts_reference_set()
    return train, test, 12


def trade_set(cutoff: pd.Period, horizon: int) -> tuple[SeriesPanel, pd.DataFrame, int]:
    from forecasting.data.loaders import load

    records = pd.concat([load(TRADE_DIR / name).records for name in TRADE_FILES], ignore_index=True)
    train, test = split_panel(SeriesPanel(records), cutoff, horizon)
    return train, test, horizon


def m1_set() -> tuple[SeriesPanel, pd.DataFrame, int]:
    """The M1 monthly series: history file to fit, test file (18 months per series) to score."""
    from forecasting.data.loaders import load_long

    train = SeriesPanel.from_load(load_long(M1_DIR / "m1_monthly_history.csv"))
    test = SeriesPanel.from_load(load_long(M1_DIR / "m1_monthly_test.csv")).records
    return train, test[["series_id", "month", "value"]].reset_index(drop=True), M1_HORIZON


def csv_set(path: str, cutoff: pd.Period, horizon: int) -> tuple[SeriesPanel, pd.DataFrame, int]:
    from forecasting.data.loaders import load_long

    train, test = split_panel(SeriesPanel.from_load(load_long(path)), cutoff, horizon)
    return train, test, horizon


# --- runners ---------------------------------------------------------------------------------
def timed(label: str, function: Callable[[], tuple[pd.DataFrame, int | None]]) -> Run:
    start = time.perf_counter()
    forecasts, fallbacks = function()
    seconds = time.perf_counter() - start
    print(f"  {label:<34} {seconds:8.1f} s", file=sys.stderr, flush=True)
    return Run(label, forecasts, seconds, fallbacks)


def run_ours(name: str, train: SeriesPanel, horizon: int, n_jobs: int) -> Run:
    model = make_model(name, horizon=horizon)
    if "n_jobs" in model.get_params():
        model.set_params(n_jobs=n_jobs)

    def fit_predict() -> tuple[pd.DataFrame, int]:
        forecasts = model.fit(train).predict(horizon, levels=LEVELS)
        return forecasts, len(model.fallbacks_)

    run = timed(name, fit_predict)
    run.model = model
    return run


def run_cli(history: pd.DataFrame, workdir: Path, horizon: int) -> Run:
    """``forecasting forecast`` with its defaults on ``history`` (long: series_id, month, value), in a
    child process with MLflow tracking to a store in ``workdir``; wall time from start to exit."""
    source, output = workdir / "history.csv", workdir / "forecast.csv"
    history.assign(month=history["month"].astype(str)).to_csv(source, index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    command = [sys.executable, "-m", "forecasting.cli", "forecast", "--input", str(source)]
    command += ["--horizon", str(horizon), "--output", str(output)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"forecasting forecast exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    print(f"  forecasting forecast (default)     {seconds:8.1f} s", file=sys.stderr, flush=True)
    table = pd.read_csv(output)
    forecasts = pd.DataFrame(
        {
            "series_id": table["series_id"].astype(str),
            "month": pd.PeriodIndex(table["month"], freq="M"),
            "forecast": table["forecast"],
            **{c: table[c] for c in table.columns if c.startswith(("lower_", "upper_"))},
        }
    )
    return Run("forecasting forecast (default auto)", forecasts, seconds, None)


def statsforecast_frame(train: SeriesPanel) -> pd.DataFrame:
    records = train.records
    return pd.DataFrame(
        {
            "unique_id": records["series_id"].astype(str),
            "ds": records["month"].dt.to_timestamp(),
            "y": records["value"].to_numpy(dtype="float64"),
        }
    )


def run_statsforecast(name: str, train: SeriesPanel, horizon: int, n_jobs: int) -> Run:
    from statsforecast import models as sf_models

    model_class = getattr(sf_models, name)
    model = model_class() if name == "Naive" else model_class(season_length=12)
    return run_statsforecast_model(f"statsforecast {name}", model, train, horizon, n_jobs)


def run_statsforecast_model(label: str, model: object, train: SeriesPanel, horizon: int, n_jobs: int) -> Run:
    """One statsforecast model instance on ``train``, its bounds at ``LEVELS``, timed as ``label``."""
    from statsforecast import StatsForecast

    frame = statsforecast_frame(train)

    def fit_predict() -> tuple[pd.DataFrame, None]:
        column = repr(model)  # the output column: the model's alias (AutoCES writes "CES")
        engine = StatsForecast(models=[model], freq="MS", n_jobs=n_jobs)
        out = engine.forecast(df=frame, h=horizon, level=list(LEVELS))
        forecasts = pd.DataFrame(
            {
                "series_id": out["unique_id"].astype(str),
                "month": pd.PeriodIndex(out["ds"], freq="M"),
                "model": label,
                "forecast": out[column].to_numpy(),
            }
        )
        for level in LEVELS:
            forecasts[f"lower_{level}"] = out[f"{column}-lo-{level}"].to_numpy()
            forecasts[f"upper_{level}"] = out[f"{column}-hi-{level}"].to_numpy()
        return forecasts, None

    return timed(label, fit_predict)


def peer_median(runs: Sequence[Run]) -> Run:
    """The month-by-month median of the PEER_MEDIAN runs' forecasts and bounds (its time: their sum)."""
    members = [run for run in runs if run.label in {f"statsforecast {name}" for name in PEER_MEDIAN}]
    values = ["forecast", *[f"{side}_{level}" for level in LEVELS for side in ("lower", "upper")]]
    stacked = pd.concat([run.forecasts for run in members], ignore_index=True)
    median = stacked.groupby(["series_id", "month"], sort=True)[values].median().reset_index()
    return Run(MEDIAN_LABEL, median.assign(model=MEDIAN_LABEL), sum(run.seconds for run in members), None)


def run_pmdarima(train: SeriesPanel, horizon: int, series_ids: Sequence[str]) -> Run:
    import pmdarima

    label = f"pmdarima auto_arima ({len(series_ids)} series)"

    def fit_predict() -> tuple[pd.DataFrame, int]:
        frames, failures = [], 0
        for series_id in series_ids:
            y = train.series(series_id)
            months = pd.period_range(y.index[-1] + 1, periods=horizon, freq="M")
            frame = pd.DataFrame({"series_id": series_id, "month": months, "model": label})
            try:
                model = pmdarima.auto_arima(
                    y.interpolate().to_numpy(),
                    m=12,
                    seasonal=True,
                    suppress_warnings=True,
                    error_action="ignore",
                )
                for level in LEVELS:
                    mean, bounds = model.predict(horizon, return_conf_int=True, alpha=1 - level / 100)
                    frame["forecast"] = np.asarray(mean)
                    frame[f"lower_{level}"], frame[f"upper_{level}"] = bounds[:, 0], bounds[:, 1]
            except Exception:  # noqa: BLE001 - counted, shown as fallbacks; the series is not scored
                failures += 1
                continue
            frames.append(frame)
        return pd.concat(frames, ignore_index=True), failures

    return timed(label, fit_predict)


def run_backtest(
    names: Sequence[str], train: SeriesPanel, test: pd.DataFrame, horizon: int, folds: int, n_jobs: int
) -> pd.DataFrame:
    """Leaderboard and wall time of a ``folds``-fold backtest of ``names`` on the whole panel."""
    from forecasting.evaluation.backtest import backtest
    from forecasting.executors import executor_scope

    whole = SeriesPanel(pd.concat([train.records, test], ignore_index=True))
    start = time.perf_counter()
    with executor_scope("local" if n_jobs > 1 else "serial", n_jobs=n_jobs):
        models = [make_model(name, horizon=horizon) for name in names]
        results = backtest(models, whole, horizon=horizon, folds=folds)
    seconds = time.perf_counter() - start
    print(f"{len(names)} models x {folds} folds on {len(whole)} series: {seconds:.1f} s", flush=True)
    return leaderboard(results)


# --- scoring ---------------------------------------------------------------------------------
def score(run: Run, train: SeriesPanel, test: pd.DataFrame) -> pd.DataFrame:
    """The run's forecasts in backtest-table form (cutoff = each series' training end), for the metrics."""
    forecasts = run.forecasts.assign(series_id=run.forecasts["series_id"].astype(str), model=run.label)
    actuals = test.rename(columns={"value": "actual"}).assign(series_id=test["series_id"].astype(str))
    table = actuals.merge(forecasts, on=["series_id", "month"], how="inner")
    table["cutoff"] = table["series_id"].map(train.spans()["last"])
    table["step"] = pd.PeriodIndex(table["month"]).asi8 - pd.PeriodIndex(table["cutoff"]).asi8
    table = table.join(series_scales(train.wide()), on="series_id")
    return table[result_columns(LEVELS)]


def summary(runs: Sequence[Run], train: SeriesPanel, test: pd.DataFrame) -> pd.DataFrame:
    board = leaderboard(scored_runs(runs, train, test))
    extra = pd.DataFrame(
        {
            "model": [run.label for run in runs],
            "fallbacks": [run.fallbacks for run in runs],
            "seconds": [run.seconds for run in runs],
        }
    )
    board = board.merge(extra, on="model")
    return board[
        ["model", "mase", "rmsse", "smape", "coverage_80", "coverage_95", "fallbacks", "seconds", "n_series"]
    ]


def scored_runs(runs: Sequence[Run], train: SeriesPanel, test: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([score(run, train, test) for run in runs], ignore_index=True)


def per_step(results: pd.DataFrame) -> pd.DataFrame:
    """MASE per model (rows, in run order) and forecast step (columns), plus the best peer's row.

    The last row, ``auto / best peer``, is auto's MASE over the lowest
    statsforecast MASE at each step (above 1: auto loses that step).
    """
    table = metrics_by_horizon(results)["mase"].unstack("step")
    table = table.loc[list(dict.fromkeys(results["model"]))]
    peers = [label for label in table.index if label.startswith("statsforecast")]
    if peers and "auto" in table.index:
        best = table.loc[peers].min(axis=0)
        table.loc["best peer"] = best
        table.loc["auto / best peer"] = table.loc["auto"] / best
    table.columns = [str(step) for step in table.columns]
    return table


def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """``frame`` as a GitHub markdown table, floats to three decimals."""
    frame = frame.reset_index() if index else frame
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def machine() -> str:
    """CPU model and core count of this machine, for the dated heading."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        name = found.group(1).strip() if found else name
    return f"{os.cpu_count()} cores ({name}), Python {platform.python_version()}"


def write_section(path: Path, key: str, body: str) -> None:
    """Add or replace the section between this set's markers in ``path``; other sections stay."""
    begin, end = f"<!-- accuracy:{key} -->", f"<!-- /accuracy:{key} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def report(title: str, command: str, board: pd.DataFrame, steps: pd.DataFrame, wall: float) -> str:
    """The dated markdown section of one run: summary, per-step MASE and the wall time."""
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n\n".join(
        [
            f"## Accuracy: {title}",
            f"{today}; {machine()}; `{command}`; wall time of the whole run {wall / 60:.1f} min.",
            markdown_table(board),
            "MASE by forecast step (months after each series' last training month):",
            markdown_table(steps, index=True),
        ]
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--n-jobs``, ``--write`` and ``--tag``: how a benchmark runs and where its section goes."""
    parser.add_argument("--n-jobs", type=int, default=2, help="processes for every model, ours and peers")
    parser.add_argument("--write", type=Path, help="add or replace this set's section in this markdown file")
    parser.add_argument("--tag", default="", help="names the written section apart from the set's other runs")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="long CSV: series_id, month, value")
    source.add_argument(
        "--reference", action="store_true", help="the BTS reference set (benchmarks/reference.py)"
    )
    source.add_argument(
        "--trade", action="store_true", help="the three agency trade tables in shared/data/trade"
    )
    source.add_argument("--m1", action="store_true", help="the M1 monthly series in shared/data/m1")
    parser.add_argument("--cutoff", help="last training month, YYYY-MM (default 2017-12 for --trade)")
    parser.add_argument("--horizon", type=int, help="months to forecast (default 12; 24 for --trade)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated registry names")
    parser.add_argument("--peers", action="store_true", help="also run statsforecast and pmdarima")
    parser.add_argument(
        "--pmdarima-series", type=int, default=60, help="pmdarima on the first N series (slow; 0: none)"
    )
    parser.add_argument("--backtest-folds", type=int, help="time a K-fold backtest of --models instead")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    if args.reference:
        train, test, horizon = reference_set()
        key, title = "reference", "BTS reference set (560 series, 2023, h=12)"
    elif args.m1:
        train, test, horizon = m1_set()
        key, title = "m1", "M1 monthly (617 series, h=18)"
    elif args.trade:
        train, test, horizon = trade_set(pd.Period(args.cutoff or "2017-12", "M"), args.horizon or 24)
        key, title = "trade", f"China trade series (6 series, after {args.cutoff or '2017-12'}, h={horizon})"
    else:
        if not args.cutoff:
            parser.error("--cutoff is required with --input")
        train, test, horizon = csv_set(args.input, pd.Period(args.cutoff, "M"), args.horizon or 12)
        key, title = f"input:{Path(args.input).name}", f"{args.input} after {args.cutoff}, h={horizon}"
    print(f"{train}; test rows {len(test):,}; horizon {horizon}; n_jobs {args.n_jobs}", file=sys.stderr)
    pd.set_option("display.width", 160)
    if args.backtest_folds:
        names = [name for name in args.models.split(",") if name]
        board = run_backtest(names, train, test, horizon, args.backtest_folds, args.n_jobs)
        print(board.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return 0

    runs = [run_ours(name, train, horizon, args.n_jobs) for name in args.models.split(",") if name]
    subset_runs: list[Run] = []
    if args.peers:
        runs += [run_statsforecast(name, train, horizon, args.n_jobs) for name in PEER_NAMES]
        runs.append(peer_median(runs))
    if args.peers and args.pmdarima_series > 0:
        subset = train.series_ids[: args.pmdarima_series]
        subset_runs.append(run_pmdarima(train, horizon, subset))
        subset_runs += [
            Run(
                f"{run.label} (same {len(subset)} series)",
                run.forecasts[run.forecasts["series_id"].isin(subset)],
                float("nan"),
                None,
            )
            for run in runs
            if run.label in ("arima", "auto", "statsforecast AutoARIMA")
        ]

    board = summary(runs, train, test)
    steps = per_step(scored_runs(runs, train, test))
    print(board.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nMASE by forecast step:")
    print(steps.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.write:
        if args.tag:
            key, title = f"{key}:{args.tag}", f"{title}, {args.tag}"
        command = "benchmarks/accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(args.write, key, report(title, command, board, steps, time.perf_counter() - started))
    if subset_runs:
        subset_test = test[test["series_id"].isin(train.series_ids[: args.pmdarima_series])]
        print(f"\nSubset (first {args.pmdarima_series} series, pmdarima is slow):")
        print(
            summary(subset_runs, train, subset_test).to_string(index=False, float_format=lambda v: f"{v:.3f}")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
