"""Our statsmodels auto-ARIMA against statsforecast AutoARIMA and pmdarima auto_arima.

On the BTS reference set (benchmarks/reference.py): fit 2018-01..2022-12,
forecast 2023-01..2023-12, MASE scaled by the in-sample seasonal-naive MAE.
Also measures how well the fast search (CSS estimates + one exact likelihood
per candidate) ranks candidates compared with full MLE for every candidate.

    nice .venv/bin/python benchmarks/arima_speed.py [--pmdarima-every 10] [--agreement 60]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import BTS_FILE, bts_reference_set  # noqa: E402

from forecasting.core.scales import scaled_errors, series_scales  # noqa: E402
from forecasting.models.arima import Arima, ArimaModel  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

HORIZON = 12
M = 12


def mase_per_series(train: SeriesPanel, test: pd.DataFrame, forecasts: pd.DataFrame) -> pd.Series:
    """MASE of each series, scaled as in the backtest (:mod:`forecasting.core.scales`)."""
    merged = test.merge(forecasts[["series_id", "month", "forecast"]], on=["series_id", "month"])
    scale = series_scales(train.wide())["scale_mase"].reindex(merged["series_id"]).to_numpy()
    errors = pd.Series(scaled_errors(merged["forecast"], merged["value"], scale), index=merged.index)
    return errors.groupby(merged["series_id"]).mean()


def run_ours(train: SeriesPanel, **params) -> tuple[pd.DataFrame, float, Arima]:
    start = time.perf_counter()
    model = Arima(**params).fit(train)
    forecasts = model.predict(HORIZON)
    return forecasts, time.perf_counter() - start, model


def run_statsforecast(train: SeriesPanel) -> tuple[pd.DataFrame, float]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA

    frame = train.records[["series_id", "month", "value"]].rename(
        columns={"series_id": "unique_id", "value": "y"}
    )
    frame["ds"] = frame.pop("month").dt.to_timestamp()
    # Compile numba code on one series first so JIT time is not counted as fitting time.
    warm = frame[frame["unique_id"] == frame["unique_id"].iloc[0]]
    StatsForecast(models=[AutoARIMA(season_length=M)], freq="MS", n_jobs=1).forecast(df=warm, h=HORIZON)
    start = time.perf_counter()
    out = StatsForecast(models=[AutoARIMA(season_length=M)], freq="MS", n_jobs=1).forecast(
        df=frame, h=HORIZON
    )
    elapsed = time.perf_counter() - start
    out = out.rename(columns={"unique_id": "series_id", "AutoARIMA": "forecast"})
    out["month"] = pd.PeriodIndex(out["ds"], freq="M")
    return out, elapsed


def run_pmdarima(train: SeriesPanel, series_ids: list[str]) -> tuple[pd.DataFrame, float]:
    import pmdarima

    frames, start = [], time.perf_counter()
    for series_id in series_ids:
        y = train.series(series_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = pmdarima.auto_arima(
                y.to_numpy(), m=M, seasonal=True, stepwise=True, suppress_warnings=True, error_action="ignore"
            )
        months = pd.period_range(y.index[-1] + 1, periods=HORIZON, freq="M")
        frames.append(
            pd.DataFrame({"series_id": series_id, "month": months, "forecast": fitted.predict(HORIZON)})
        )
    return pd.concat(frames, ignore_index=True), time.perf_counter() - start


def search_agreement(train: SeriesPanel, test: pd.DataFrame, series_ids: list[str]) -> pd.DataFrame:
    """Fast vs full-MLE search on the same series: chosen orders, final AICc, MASE and time."""
    rows = []
    for series_id in series_ids:
        y = train.series(series_id).to_numpy()
        row: dict[str, object] = {"series_id": series_id}
        for search in ("fast", "mle"):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ArimaModel(search=search).fit(y)
            row[f"seconds_{search}"] = time.perf_counter() - start
            row[f"order_{search}"] = model.order_
            row[f"aicc_{search}"] = model.aicc_
            months = pd.period_range(train.series(series_id).index[-1] + 1, periods=HORIZON, freq="M")
            forecast = pd.DataFrame({"series_id": series_id, "month": months})
            forecast["forecast"] = model.predict(HORIZON)["mean"]
            row[f"mase_{search}"] = float(mase_per_series(train.subset([series_id]), test, forecast).iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", default=str(BTS_FILE))
    parser.add_argument("--pmdarima-every", type=int, default=10, help="pmdarima on every k-th series")
    parser.add_argument("--agreement", type=int, default=60, help="series for the fast-vs-MLE search check")
    parser.add_argument("--transforms", default="none", help="comma list of our transforms: none,log,auto")
    args = parser.parse_args(argv)
    # Every contender runs with single-threaded BLAS, as our models do internally: on a shared
    # 2-core machine multi-threaded BLAS on tiny matrices slows statsmodels (pmdarima) 10x+.
    with threadpool_limits(limits=1):
        _run(args)


def _run(args: argparse.Namespace) -> None:

    train, test = bts_reference_set(args.path)
    n = len(train)
    print(f"reference set: {n} series, fit {train.records['month'].min()}..{train.records['month'].max()}")
    rows = []
    for transform in args.transforms.split(","):
        forecasts, seconds, model = run_ours(train, transform=None if transform == "none" else transform)
        mase = mase_per_series(train, test, forecasts)
        label = f"ours arima (transform={transform})"
        rows.append((label, mase.mean(), mase.median(), seconds, n, len(model.fallbacks_)))
    sf_forecasts, sf_seconds = run_statsforecast(train)
    sf_mase = mase_per_series(train, test, sf_forecasts)
    rows.append(("statsforecast AutoARIMA", sf_mase.mean(), sf_mase.median(), sf_seconds, n, 0))
    subset = train.series_ids[:: args.pmdarima_every]
    pm_forecasts, pm_seconds = run_pmdarima(train, subset)
    pm_mase = mase_per_series(train.subset(subset), test, pm_forecasts)
    rows.append(
        (
            f"pmdarima auto_arima ({len(subset)} series)",
            pm_mase.mean(),
            pm_mase.median(),
            pm_seconds,
            len(subset),
            0,
        )
    )
    table = pd.DataFrame(rows, columns=["model", "mase", "median_mase", "seconds", "series", "fallbacks"])
    table["seconds_per_560"] = table["seconds"] / table["series"] * n
    pd.set_option("display.width", 160)
    print(table.round(3).to_string(index=False))
    ours_mase = mase_per_series(
        train.subset(subset), test, run_ours(train.subset(subset))[0]
    )  # same subset, for the pmdarima comparison
    print(f"on the pmdarima subset: ours MASE {ours_mase.mean():.3f} vs pmdarima {pm_mase.mean():.3f}")
    ours_seconds = table["seconds"].iloc[0]
    print(
        f"ours / statsforecast time: {ours_seconds / sf_seconds:.2f}x; "
        f"pmdarima (extrapolated to {n}) / ours: {table['seconds_per_560'].iloc[-1] / ours_seconds:.1f}x"
    )

    if args.agreement:
        rng = np.random.default_rng(0)
        ids = sorted(rng.choice(train.series_ids, size=min(args.agreement, n), replace=False).tolist())
        agreement = search_agreement(train, test, ids)
        same = (agreement["order_fast"] == agreement["order_mle"]).mean()
        aicc_gap = agreement["aicc_fast"] - agreement["aicc_mle"]
        print(
            f"search agreement on {len(ids)} series: same order {same:.0%}; "
            f"AICc fast - mle: mean {aicc_gap.mean():+.2f}, median {aicc_gap.median():+.2f}, "
            f"worse by > 2 on {(aicc_gap > 2).mean():.0%}, better by > 2 on {(aicc_gap < -2).mean():.0%}; "
            f"MASE fast {agreement['mase_fast'].mean():.3f} vs mle {agreement['mase_mle'].mean():.3f}; "
            f"time fast {agreement['seconds_fast'].sum():.1f}s vs mle {agreement['seconds_mle'].sum():.1f}s"
        )


if __name__ == "__main__":
    main()
