"""How close ordinary series come to the MASE scale floor (issue 25, :mod:`forecasting.core.scales`).

For each data file: at nine origins (the last month, 6, 12, 24, 36 and 60
months before it, and the three cutoffs of a 12-month, 3-fold backtest), the
ratio of each series' seasonal-naive in-sample MAE to its mean absolute level,
the smallest ratios, and how many series/origins fall under a few candidate
shares. Series whose window is all zero (level 0) are left out.

    .venv/bin/python benchmarks/scale_floor.py panel.csv ../shared/data/m1/m1_monthly_history.csv ...
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from forecasting.core.constants import SEASON_LENGTH
from forecasting.core.scales import lagged_moments, mean_levels
from forecasting.data.loaders import load
from forecasting.models.cv import fold_cutoffs
from forecasting.panel import SeriesPanel

SHARES = (0.005, 0.01, 0.02, 0.05)
MONTHS_BACK = (0, 6, 12, 24, 36, 60)


def ratios(path: str) -> pd.DataFrame:
    """Seasonal scale, naive scale, level and their ratio per series and origin of one file."""
    wide = SeriesPanel.from_load(load(path)).wide().sort_index()
    last = wide.index.max()
    origins = [last - k for k in MONTHS_BACK] + fold_cutoffs(last, horizon=12, folds=3)
    frames = []
    for origin in origins:
        values = wide[wide.index <= origin].to_numpy(dtype="float64")
        seasonal, _ = lagged_moments(values, SEASON_LENGTH)
        naive, _ = lagged_moments(values, 1)
        level = mean_levels(values)
        frames.append(
            pd.DataFrame(
                {"origin": str(origin), "series_id": wide.columns, "seasonal": seasonal, "naive": naive}
            ).assign(level=level)
        )
    table = pd.concat(frames, ignore_index=True)
    table = table[table["level"] > 0]
    return table.assign(ratio=table["seasonal"] / table["level"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    for path in args.paths:
        table = ratios(path)
        print(f"\n{path}: {table['series_id'].nunique()} series, {len(table)} series/origins with a level")
        under = {f"< {share:.1%}": int((table["ratio"] < share).sum()) for share in SHARES}
        zero = int((table["seasonal"] == 0).sum())
        print(f"ratio {under}; of them seasonal scale exactly 0: {zero}")
        smallest = table[table["ratio"] > 0].sort_values("ratio").drop_duplicates("series_id").head(6)
        with pd.option_context("display.width", 160):
            print(smallest.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"median ratio {np.nanmedian(table['ratio']):.3f}")


if __name__ == "__main__":
    main()
