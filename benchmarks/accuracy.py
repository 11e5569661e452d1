"""Accuracy benchmark: our models and (with ``--peers``) statsforecast and pmdarima, side by side.

Every model is fitted on the history up to the cut-off month and forecasts
the next ``horizon`` months; all are scored by the same code
(:mod:`forecasting.evaluation.metrics`) with MASE/RMSSE scaled by the in-sample
seasonal-naive (m=12) error of each series' training window. Usage::

    nice python benchmarks/accuracy.py --reference --peers
    nice python benchmarks/accuracy.py --input panel.csv --cutoff 2022-12 --horizon 12
    nice python benchmarks/accuracy.py --trade --peers
    nice python benchmarks/accuracy.py --reference --backtest-folds 3 --models $DEFAULT_SET

``--backtest-folds K`` instead times a K-fold rolling-origin backtest
(horizon as above) of the models on the whole panel, training and test
months together, and prints its leaderboard.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.core.scales import series_scales  # noqa: E402
from forecasting.evaluation.backtest import result_columns  # noqa: E402
from forecasting.evaluation.metrics import leaderboard  # noqa: E402
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
PEER_NAMES = ("SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta")


class Run:
    """One model's forecasts on the benchmark, with its wall time and fallback count."""

    def __init__(self, label: str, forecasts: pd.DataFrame, seconds: float, fallbacks: int | None) -> None:
        self.label = label
        self.forecasts = forecasts
        self.seconds = seconds
        self.fallbacks = fallbacks


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

    return timed(name, fit_predict)


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
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    frame = statsforecast_frame(train)

    def fit_predict() -> tuple[pd.DataFrame, None]:
        model = getattr(sf_models, name)(season_length=12)
        engine = StatsForecast(models=[model], freq="MS", n_jobs=n_jobs)
        out = engine.forecast(df=frame, h=horizon, level=list(LEVELS))
        forecasts = pd.DataFrame(
            {
                "series_id": out["unique_id"].astype(str),
                "month": pd.PeriodIndex(out["ds"], freq="M"),
                "model": f"statsforecast {name}",
                "forecast": out[name].to_numpy(),
            }
        )
        for level in LEVELS:
            forecasts[f"lower_{level}"] = out[f"{name}-lo-{level}"].to_numpy()
            forecasts[f"upper_{level}"] = out[f"{name}-hi-{level}"].to_numpy()
        return forecasts, None

    return timed(f"statsforecast {name}", fit_predict)


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
    """The run's forecasts in backtest-table form (cutoff = the training end), for the metrics."""
    forecasts = run.forecasts.assign(series_id=run.forecasts["series_id"].astype(str), model=run.label)
    actuals = test.rename(columns={"value": "actual"}).assign(series_id=test["series_id"].astype(str))
    table = actuals.merge(forecasts, on=["series_id", "month"], how="inner")
    table["cutoff"] = train.records["month"].max()
    table["step"] = (table["month"] - table["cutoff"]).map(lambda offset: offset.n)
    table = table.join(series_scales(train.wide()), on="series_id")
    return table[result_columns(LEVELS)]


def summary(runs: Sequence[Run], train: SeriesPanel, test: pd.DataFrame) -> pd.DataFrame:
    board = leaderboard(pd.concat([score(run, train, test) for run in runs], ignore_index=True))
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
    parser.add_argument("--cutoff", help="last training month, YYYY-MM (default 2017-12 for --trade)")
    parser.add_argument("--horizon", type=int, help="months to forecast (default 12; 24 for --trade)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated registry names")
    parser.add_argument("--peers", action="store_true", help="also run statsforecast and pmdarima")
    parser.add_argument(
        "--pmdarima-series", type=int, default=60, help="pmdarima on the first N series (slow)"
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="processes for every model, ours and peers")
    parser.add_argument("--backtest-folds", type=int, help="time a K-fold backtest of --models instead")
    args = parser.parse_args(argv)

    if args.reference:
        train, test, horizon = reference_set()
    elif args.trade:
        train, test, horizon = trade_set(pd.Period(args.cutoff or "2017-12", "M"), args.horizon or 24)
    else:
        if not args.cutoff:
            parser.error("--cutoff is required with --input")
        train, test, horizon = csv_set(args.input, pd.Period(args.cutoff, "M"), args.horizon or 12)
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

    print(summary(runs, train, test).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if subset_runs:
        subset_test = test[test["series_id"].isin(train.series_ids[: args.pmdarima_series])]
        print(f"\nSubset (first {args.pmdarima_series} series, pmdarima is slow):")
        print(
            summary(subset_runs, train, subset_test).to_string(index=False, float_format=lambda v: f"{v:.3f}")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
