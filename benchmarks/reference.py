"""The BTS reference set every benchmark is measured on.

Definition (issue 4): BTS border-crossing series, one per port code x measure,
exact duplicate rows dropped, complete (72 months) from 2018-01 to 2023-12, and
without a zero month in 2022-2023; history 2018-01..2022-12, test
2023-01..2023-12. That gives 560 series.

The raw CSV is read directly with pandas rather than through a loader, because
the definition is about raw rows (exact duplicates, reported zeros): a loader
that merges or flags them would change the set.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from forecasting.panel import SeriesPanel

BTS_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "border_crossings"
BTS_FILE = BTS_FILE / "Border_Crossing_Entry_Data.csv.gz"
FIRST, TRAIN_END, LAST = pd.Period("2018-01", "M"), pd.Period("2022-12", "M"), pd.Period("2023-12", "M")
NO_ZERO_FROM = pd.Period("2022-01", "M")
CARGO_MEASURES = ("trucks", "truck_containers_loaded", "truck_containers_empty", "trains")
CARGO_MEASURES += ("rail_containers_loaded", "rail_containers_empty")


def _token(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def read_bts(path: str | Path = BTS_FILE) -> pd.DataFrame:
    """Raw BTS rows with ``series_id`` (bts/<port code>/<measure>) and ``month``; exact duplicates dropped."""
    raw = pd.read_csv(path, dtype={"Port Code": str}, usecols=["Port Code", "Date", "Measure", "Value"])
    raw = raw.drop_duplicates()
    measure = raw["Measure"].map(_token)
    return pd.DataFrame(
        {
            "series_id": "bts/" + raw["Port Code"].str.strip().str.lower() + "/" + measure,
            "month": pd.PeriodIndex(pd.to_datetime(raw["Date"], format="%b %Y"), freq="M"),
            "value": raw["Value"].astype("float64"),
            "measure": measure,
        }
    )


def bts_reference_set(path: str | Path = BTS_FILE) -> tuple[SeriesPanel, pd.DataFrame]:
    """``(train_panel, test_frame)`` of the reference set.

    ``train_panel`` holds 2018-01..2022-12; ``test_frame`` has columns
    ``series_id, month, value`` for 2023-01..2023-12. Series with two different
    values for the same month (conflicting duplicates) are left out, since no
    single truth exists for them.
    """
    rows = read_bts(path)
    rows = rows[(rows["month"] >= FIRST) & (rows["month"] <= LAST)]
    per_series = rows.groupby("series_id")
    complete = per_series["month"].nunique() == (LAST - FIRST).n + 1
    conflicting = rows.duplicated(["series_id", "month"], keep=False).groupby(rows["series_id"]).any()
    recent_zero = ((rows["month"] >= NO_ZERO_FROM) & (rows["value"] == 0)).groupby(rows["series_id"]).any()
    keep = complete & ~conflicting & ~recent_zero
    rows = rows[rows["series_id"].isin(keep[keep].index)].sort_values(["series_id", "month"])
    train = rows[rows["month"] <= TRAIN_END].copy()
    train["flow"] = train["measure"].map(lambda m: "cargo" if m in CARGO_MEASURES else "passengers")
    train["direction"] = "inbound"
    train["unit"] = "count"
    train["source"] = "bts"
    test = rows.loc[rows["month"] > TRAIN_END, ["series_id", "month", "value"]].reset_index(drop=True)
    return SeriesPanel(train.reset_index(drop=True)), test


if __name__ == "__main__":
    panel, test = bts_reference_set()
    print(panel, f"test rows: {len(test):,}")
