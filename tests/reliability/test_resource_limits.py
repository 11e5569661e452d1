"""Issue 27, item 9: a worker count or a horizon far beyond reason is capped or refused up front.

``--n-jobs 100000`` started hundreds of worker processes on a two-core
machine; it is now capped at the core count with a warning. A horizon of 10**9
months allocated gigabytes before failing; beyond :data:`MAX_HORIZON`
(1200 months, documented in docs/scheduling.md) it is exit 2 naming the option or key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from forecasting import Forecaster, executors
from forecasting.cli import main
from forecasting.core.constants import MAX_HORIZON
from forecasting.errors import ConfigError
from forecasting.executors import LocalExecutor, SerialExecutor, worker_count

from .jobkit import write_panel

pytestmark = pytest.mark.timeout(120)

CORES = os.cpu_count() or 1


def test_a_local_executor_never_starts_more_workers_than_cores(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert LocalExecutor(100_000).n_workers == CORES
    assert f"event=n_jobs_capped requested=100000 workers={CORES}" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert LocalExecutor(CORES).n_workers == CORES and LocalExecutor(-1).n_workers == CORES
    assert "n_jobs_capped" not in caplog.text


def test_backtest_n_jobs_is_capped_at_the_core_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Recorded, not run: the command's local executor is replaced by one that notes its workers."""
    asked: list[int] = []

    class Recorder(SerialExecutor):
        def __init__(self, n_jobs: int) -> None:
            asked.append(worker_count(n_jobs))

    monkeypatch.setattr(executors, "LocalExecutor", Recorder)
    panel = write_panel(tmp_path / "panel.csv")
    argv = [
        "backtest",
        "--input",
        str(panel),
        "--horizon",
        "2",
        "--models",
        "naive,drift",
        "--n-jobs",
        "100000",
    ]
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    assert asked == [CORES] and "event=n_jobs_capped" in caplog.text


@pytest.mark.parametrize("command", ["forecast", "backtest", "config"])
def test_a_horizon_beyond_the_maximum_is_exit_2(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    panel = str(write_panel(tmp_path / "panel.csv"))
    huge = "1000000000"
    config = tmp_path / "job.toml"
    config.write_text(
        f'[job]\nname = "t"\nhorizon = {huge}\n[[sources]]\npath = "{panel}"\n', encoding="utf-8"
    )
    argv = {
        "forecast": [
            "forecast",
            "--input",
            panel,
            "--horizon",
            huge,
            "--model",
            "naive",
            "--output",
            "o.csv",
        ],
        "backtest": ["backtest", "--input", panel, "--horizon", huge, "--models", "naive"],
        "config": ["retrain", "--config", str(config)],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    key = {"forecast": "'--horizon'", "backtest": "'--horizon'", "config": "'job.horizon'"}[command]
    assert f"key {key}" in err and f"at most {MAX_HORIZON} months" in err, err
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "o.csv").exists()


def test_the_maximum_horizon_itself_is_allowed_and_one_more_is_not(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(write_panel(tmp_path / "panel.csv"))
    frame["month"] = pd.PeriodIndex(frame["month"], freq="M")
    with pytest.raises(ConfigError, match=f"at most {MAX_HORIZON}"):
        Forecaster(["naive"]).forecast(frame, h=MAX_HORIZON + 1)
    assert len(Forecaster(["naive"]).forecast(frame, h=MAX_HORIZON, level=None)) == 2 * MAX_HORIZON
