"""What the package writes it reads back exactly: ids that look like formulas or like missing values.

The writer puts a quote before a text cell a spreadsheet would execute
(``=``, ``+``, ``-``, ``@``), and pandas reads ``NA``, ``null`` or ``nan`` as missing.
Live accuracy read the dated exports back without undoing either, so series
with such ids were never scored (their ids did not match the panel's). Every
CSV the package reads back from itself (exports, the accuracy table, the
serving records in MLflow) now returns each cell as it was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.export import read_export
from forecasting.files import write_csv_atomic
from forecasting.jobs.monitoring import read_accuracy

from .jobkit import Job, make_job, retrain

pytestmark = pytest.mark.timeout(300)

ODD_IDS = ["=1+1", "-5", "+x", "@sum", "'quoted", "''", "NA", "null", "nan", "None", "#N/A", "N/A"]


@pytest.mark.parametrize("dialect", ["default", "excel-eu"])
def test_odd_text_cells_read_back_as_written(tmp_path, dialect: str) -> None:
    frame = pd.DataFrame(
        {"series_id": ODD_IDS, "flow": ["-cargo", "=x", *["NA"] * 10], "forecast": np.linspace(-1, 1, 12)}
    )
    path = write_csv_atomic(frame, tmp_path / "f.csv", dialect=dialect)
    text = path.read_text(encoding="utf-8")
    assert "\n=1+1" not in text and "\n'=1+1" in text  # still neutralised in the file
    back = read_export(path, dtype={"series_id": str})
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def _write_odd_panel(job: Job, n_months: int) -> None:
    rng = np.random.default_rng(11)
    months = pd.period_range("2020-01", periods=n_months, freq="M").astype(str)
    t = np.arange(n_months)
    frames = [
        pd.DataFrame(
            {
                "series_id": series_id,
                "month": months,
                "value": 100 + 10 * i + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n_months),
                "flow": "cargo",
            }
        )
        for i, series_id in enumerate(["=cmd", "-5", "NA", "@x", "plain"])
    ]
    pd.concat(frames).to_csv(job.root / f"{job.name}.csv", index=False)


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """A job over series named like formulas and like missing values, run on 30 months, then on 31."""
    job = make_job(tmp_path_factory.mktemp("odd_ids"))
    _write_odd_panel(job, 30)
    assert retrain(job) == 0
    _write_odd_panel(job, 31)
    assert retrain(job) == 0
    return job


def test_live_accuracy_scores_every_series_whatever_its_id(job: Job) -> None:
    table = read_accuracy(job.exports / f"accuracy_{job.name}.csv")
    assert sorted(table["series_id"]) == sorted(["=cmd", "-5", "NA", "@x", "plain"])
    assert table["backtest_mase"].notna().all(), "the serving record's promise was not matched"
    latest = read_export(job.latest, dtype={"series_id": str})
    assert sorted(latest["series_id"].unique()) == sorted(["=cmd", "-5", "NA", "@x", "plain"])


def test_the_accuracy_table_is_neutralised_once_and_stable(job: Job) -> None:
    path = job.exports / f"accuracy_{job.name}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert any(",'=cmd," in line for line in lines) and not any(",''=cmd," in line for line in lines)
    assert any(",'-5," in line for line in lines) and any(",NA," in line for line in lines)
