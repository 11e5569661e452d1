"""Level shifts shared by many crossings of one measure are flagged, dated and sized; lone ones are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.report import DataQualityReport
from forecasting.features.breaks import report_shared_level_shifts, shared_level_shifts
from forecasting.panel import SeriesPanel

MONTHS = pd.period_range("2016-01", "2024-12", freq="M")
BREAK = pd.Period("2023-07", "M")


def _measure(measure: str, n_series: int, shifted: int, ratio: float, seed: int) -> pd.DataFrame:
    """``n_series`` seasonal crossings with 5 % noise; the first ``shifted`` jump by ``ratio`` at BREAK."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        season = 1 + 0.3 * np.sin(2 * np.pi * (MONTHS.month.to_numpy() + i) / 12)
        level = rng.uniform(50, 5000) * season * np.exp(rng.normal(0, 0.05, len(MONTHS)))
        if i < shifted:
            level = np.where(MONTHS >= BREAK, level * ratio, level)
        frames.append(
            pd.DataFrame(
                {
                    "series_id": f"port{i}/cargo/{measure}",
                    "month": MONTHS,
                    "value": level.round(1),
                    "crossing": f"port{i}",
                    "region": "border",
                    "flow": "cargo",
                    "measure": measure,
                    "direction": "inbound",
                    "unit": "containers",
                    "source": "customs",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_shift_in_most_crossings_of_a_measure_is_flagged_once_at_its_month() -> None:
    records = pd.concat(
        [
            _measure("loaded", n_series=10, shifted=8, ratio=1.6, seed=1),
            _measure("empty", n_series=10, shifted=0, ratio=1.0, seed=2),
        ],
        ignore_index=True,
    )
    report = DataQualityReport()
    shifts = report_shared_level_shifts(SeriesPanel(records), report)
    # one shift, no echo a year later when the year-on-year comparison would see it again
    assert len(shifts) == 1
    row = shifts.iloc[0]
    assert row["group"] == "cargo loaded inbound containers"
    assert (row["month"], row["direction"]) == ("2023-07", "up")
    assert (row["series_shifting"], row["series_observed"]) == (8, 10)
    assert row["median_ratio"] == pytest.approx(1.6, rel=0.05)
    issue = report.to_frame().iloc[0]
    assert (issue["action"], issue["month"], issue["count"]) == ("flagged", "2023-07", 8)
    ratio = row["median_ratio"]
    expected = f"8 of 10 crossings of 'cargo loaded inbound containers': up, median x{ratio:.2f}"
    assert expected in issue["reason"]


def test_shifts_in_a_minority_of_crossings_or_too_few_series_are_not_flagged() -> None:
    minority = _measure("loaded", n_series=10, shifted=4, ratio=1.6, seed=3)
    few = _measure("empty", n_series=4, shifted=4, ratio=2.0, seed=4)
    small = _measure("rail", n_series=10, shifted=10, ratio=1.15, seed=5)  # below the 1.25x a shift needs
    assert shared_level_shifts(SeriesPanel(pd.concat([minority, few, small], ignore_index=True))).empty


def test_roll_ups_and_derived_series_are_not_counted() -> None:
    records = _measure("loaded", n_series=10, shifted=3, ratio=1.6, seed=6)
    # seven shifted copies as derived series and roll-ups (no crossing) would make a majority
    copies = _measure("loaded", n_series=7, shifted=7, ratio=1.6, seed=7)
    derived = copies.assign(series_id=copies["series_id"] + "/sum", source="derived")
    roll_up = copies.assign(series_id="region/" + copies["series_id"], crossing=pd.NA)
    panel = SeriesPanel(pd.concat([records, derived, roll_up], ignore_index=True))
    assert shared_level_shifts(panel).empty


def test_the_retrain_job_lists_shared_shifts_in_its_data_quality_report(tmp_path) -> None:
    from forecasting.jobs.config import JobConfig, SourceConfig
    from forecasting.jobs.retrain import load_panel

    path = tmp_path / "panel.csv"
    records = _measure("loaded", n_series=6, shifted=6, ratio=0.5, seed=8)
    records.assign(month=records["month"].astype(str)).to_csv(path, index=False)
    panel = load_panel(JobConfig(name="shifts", sources=(SourceConfig(str(path)),)))
    flagged = panel.report.to_frame().query("action == 'flagged'")
    assert flagged["month"].tolist() == ["2023-07"]
    assert "6 of 6 crossings of 'cargo loaded inbound containers': down" in flagged["reason"].iloc[0]
