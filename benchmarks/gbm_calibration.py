"""What ``gbm``'s conformal calibration costs in the sample job's backtest, per setting.

The job backtests ``gbm`` on the bundled sample (11 series, horizon 12, 3
folds, the sample's events as regressors). Each fold's fit is one regressor
plus one per calibration window, and ``calibration_windows=None`` takes
``ceil(100 / n_series)`` windows (10 here). The windows set only the
intervals, so MASE is the same for every window count; coverage moves.

    .venv/bin/python benchmarks/gbm_calibration.py
    .venv/bin/python benchmarks/gbm_calibration.py --params '{}' '{"calibration_windows": 3}'

Prints seconds (wall and CPU), MASE and coverage per parameter set, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import leaderboard
from forecasting.jobs.config import JobConfig
from forecasting.jobs.retrain import build_regressors, exog_settings
from forecasting.models.gbm import GradientBoosting
from forecasting.sample import load_sample

SETTINGS = (
    {},
    {"calibration_windows": 3},
    {"calibration_windows": 5},
    {"max_iter": 100, "learning_rate": 0.15},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", nargs="+", type=json.loads, default=SETTINGS, metavar="JSON")
    args = parser.parse_args()
    config = JobConfig()
    panel = load_sample()
    X, _ = build_regressors(panel, config.horizon, exog_settings(config, [GradientBoosting()]))
    print(f"load average (1 min) at start {os.getloadavg()[0]:.2f}")
    print("| `gbm` setting | seconds | CPU seconds | MASE | 80 % coverage | 95 % coverage |")
    print("|---|---:|---:|---:|---:|---:|")
    for params in args.params:
        began, began_cpu = time.perf_counter(), time.process_time()
        results = backtest(
            [GradientBoosting(**params)], panel, horizon=config.horizon, folds=config.folds, X=X
        )
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        row = leaderboard(results).iloc[0]
        print(
            f"| {json.dumps(params) if params else 'default'} | {wall:.1f} | {cpu:.1f} | {row['mase']:.4f} | "
            f"{row['coverage_80']:.3f} | {row['coverage_95']:.3f} |"
        )
    print(f"load average (1 min) at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
