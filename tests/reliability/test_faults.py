"""Faults during a retrain: what survives a kill, a lost server, a broken model folder, a full disk.

Each scenario starts from a job that has run once (so there is a champion and
an export to protect), injects one fault in a forked retrain (see
:mod:`jobkit`), then checks the previous exports are byte-identical, the
MLflow run did not stay RUNNING, the lock is recovered, and the next run
succeeds.
"""

from __future__ import annotations

import shutil
import signal
import socket
import time
from pathlib import Path

import pandas as pd
import pytest

from .jobkit import (
    STAGES,
    Job,
    champion,
    disk_full,
    export_files,
    kill_self,
    make_job,
    query,
    retrain,
    run_cli,
    run_statuses,
    store_uri,
    write_panel,
)

pytestmark = pytest.mark.timeout(300)

KILLS: tuple[tuple[str, int], ...] = (
    ("backtest", signal.SIGKILL),
    ("log_model", signal.SIGTERM),
    ("copy_champion", signal.SIGKILL),
    ("export_write", signal.SIGTERM),
)
"""Stage and signal of each kill, in pipeline order (``export_write``: mid-write of the first CSV)."""


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """One job for the module: it has run once (champion version 1, two export files).

    Scenarios run on it in file order and each ends with a successful run, so
    the next one starts from a healthy job (creating a store costs seconds).
    """
    job = make_job(tmp_path_factory.mktemp("faults"))
    assert retrain(job) == 0
    assert champion(job) == "1"
    assert sorted(export_files(job)) == ["forecasts_tiny_2022-06.csv", "forecasts_tiny_latest.csv"]
    return job


def assert_valid_export(job: Job) -> pd.DataFrame:
    table = pd.read_csv(job.latest)
    assert len(table) == 2 * 3 and table["forecast"].notna().all()
    assert table["run_id"].nunique() == 1
    return table


def assert_recovers(job: Job, exports_before: dict[str, bytes]) -> None:
    """The next run succeeds, ends every run, leaves no lock and replaces the exports."""
    assert retrain(job) == 0
    statuses = run_statuses(job)
    assert "RUNNING" not in statuses.values(), statuses
    assert not job.lock.exists()
    table = assert_valid_export(job)
    assert statuses[table["run_id"].iloc[0]] == "FINISHED"
    assert export_files(job)["forecasts_tiny_latest.csv"] != exports_before["forecasts_tiny_latest.csv"]
    assert not [name for name in export_files(job) if name.endswith(".tmp")]


def test_killed_retrains_keep_exports_and_the_next_run_recovers(job: Job) -> None:
    before = export_files(job)
    for stage, signum in KILLS:
        assert stage in STAGES
        runs_before = set(run_statuses(job))
        code = retrain(job, fault=(stage, kill_self(signum)))
        new_runs = {k: v for k, v in run_statuses(job).items() if k not in runs_before}
        if signum == signal.SIGKILL:
            assert code == -signal.SIGKILL, stage
            assert job.lock.exists(), "SIGKILL cannot clean up: the next run must clear the stale lock"
        else:
            assert code == 1, f"SIGTERM at {stage} must end in a clean failure (exit 1), got {code}"
            assert not job.lock.exists(), stage
            assert list(new_runs.values()) == ["KILLED"], (stage, new_runs)
        after = {name: data for name, data in export_files(job).items() if not name.endswith(".tmp")}
        assert after == before, f"exports changed by a retrain killed at {stage}"
        assert champion(job) in {"1", "2"}, stage
    assert_recovers(job, before)


def test_broken_champion_folder_is_replaced_from_the_registry(job: Job) -> None:
    """A damaged model folder the job wrote is replaced (a user's folder or file is refused: round 2)."""
    folder = job.models / job.name
    for spec in folder.resolve().rglob("spec.json"):
        spec.write_text("{not json", encoding="utf-8")
    before = export_files(job)
    assert retrain(job) == 0
    specs = list(folder.resolve().rglob("spec.json"))
    assert len(specs) == 1 and specs[0].read_text(encoding="utf-8").startswith("{")
    assert folder.is_symlink()
    assert export_files(job)["forecasts_tiny_latest.csv"] != before["forecasts_tiny_latest.csv"]


def test_missing_registry_artifacts_refit_a_new_champion(job: Job) -> None:
    """The champion's logged model is gone from the store: the job refits and registers a new version."""
    models = job.root / "mlruns" / job.name / "models"
    for logged in models.iterdir():
        shutil.rmtree(logged)
    version = int(champion(job))
    assert retrain(job) == 0
    assert int(champion(job)) == version + 1
    assert list((job.models / job.name).resolve().rglob("spec.json"))


def test_disk_full_while_exporting(job: Job) -> None:
    before = export_files(job)
    runs_before = set(run_statuses(job))
    version = champion(job)
    assert retrain(job, fault=("export_write", disk_full)) == 1
    assert export_files(job) == before, "old exports intact and no temporary file left behind"
    assert champion(job) == version
    assert [v for k, v in run_statuses(job).items() if k not in runs_before] == ["FAILED"]
    assert not job.lock.exists()
    assert_recovers(job, before)


def test_tracking_server_unreachable(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    job = make_job(tmp_path, tracking_uri="")
    exports = job.exports
    exports.mkdir(parents=True)
    previous = exports / "forecasts_tiny_latest.csv"
    previous.write_text("series_id,month,forecast\ns0,2022-07,1.0\n", encoding="utf-8")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    code = retrain(job, env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}, timeout=150)
    elapsed = time.monotonic() - started
    assert code == 1
    assert elapsed < 60, f"retries must be bounded: gave up after {elapsed:.0f} s"
    error = capfd.readouterr().err
    assert f"127.0.0.1:{port}" in error and "event=failed" in error
    assert previous.read_text(encoding="utf-8") == "series_id,month,forecast\ns0,2022-07,1.0\n"
    assert not job.lock.exists()


def test_a_one_off_forecast_stopped_by_sigterm_ends_its_run_and_writes_no_export(tmp_path) -> None:
    """SIGTERM unwinds every command as Ctrl-C does (``cli.sigterm_as_interrupt``), not only retrain:
    a forecast stopped while it exports exits 1, its run KILLED (not left RUNNING), no export."""
    database = tmp_path / "store" / "mlflow.db"
    source, output = write_panel(tmp_path / "panel.csv"), tmp_path / "forecast.csv"
    argv = ["forecast", "--input", str(source), "--horizon", "3", "--output", str(output)]
    argv += ["--model", "seasonal_naive", "--executor", "serial"]
    env = {"MLFLOW_TRACKING_URI": store_uri(database)}
    assert run_cli(argv, env=env, fault=("log_model", kill_self(signal.SIGTERM))) == 1
    assert not output.exists() and not list(tmp_path.glob("forecast.csv*"))
    assert [status for (status,) in query(database, "SELECT status FROM runs")] == ["KILLED"]
