"""Concurrency on one SQLite store: an analyst logging runs during a retrain, two jobs retraining at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .jobkit import FORK, Job, champion, export_files, make_job, query, retrain, run_statuses, start_cli

pytestmark = pytest.mark.timeout(240)

ANALYST_RUNS = 15


def _analyst(tracking_uri: str, runs: int) -> None:
    """What a notebook does: read the job's runs, log its own runs with metrics and a tag."""
    import mlflow

    code = 0
    try:
        mlflow.set_tracking_uri(tracking_uri)
        experiment = mlflow.set_experiment("analysis").experiment_id
        for index in range(runs):
            mlflow.search_runs(experiment_names=["tiny"], max_results=50)
            with mlflow.start_run(experiment_id=experiment, run_name=f"analysis-{index}"):
                mlflow.log_metric("mase", 1.0 / (index + 1))
                mlflow.log_param("index", index)
                mlflow.set_tag("analyst", "yes")
    except Exception as error:  # noqa: BLE001 - reported through the exit code and stderr
        print(f"analyst failed: {error!r}", flush=True)
        code = 1
    os._exit(code)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store initialised by one retrain of job ``tiny`` (schema created once, not raced)."""
    root = tmp_path_factory.mktemp("concurrency")
    assert retrain(make_job(root, "tiny")) == 0
    return root


def test_analyst_logging_while_a_retrain_writes(store: Path) -> None:
    job = Job(store, "tiny")
    uri = f"sqlite:///{job.database}"
    runs_before = set(run_statuses(job))
    job_process = start_cli(["retrain", "--config", str(job.config)])
    analyst = FORK.Process(target=_analyst, args=(uri, ANALYST_RUNS))
    analyst.start()
    analyst.join(180)
    job_process.join(180)
    assert analyst.exitcode == 0, "the analyst hit an error (database is locked?)"
    assert job_process.exitcode == 0
    logged = query(
        job.database,
        "SELECT r.status, COUNT(*) FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
        "WHERE e.name = 'analysis' GROUP BY r.status",
    )
    assert logged == [("FINISHED", ANALYST_RUNS)], "every analyst run is stored and finished"
    metrics = query(
        job.database,
        "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid "
        "JOIN experiments e ON e.experiment_id = r.experiment_id WHERE e.name = 'analysis'",
    )
    assert metrics == [(ANALYST_RUNS,)]
    new = {k: v for k, v in run_statuses(job).items() if k not in runs_before}
    assert list(new.values()) == ["FINISHED"]


def test_two_jobs_retrain_at_once(store: Path) -> None:
    jobs = [make_job(store, "north"), make_job(store, "south")]
    processes = [start_cli(["retrain", "--config", str(job.config)]) for job in jobs]
    for process in processes:
        process.join(200)
    assert [p.exitcode for p in processes] == [0, 0]
    for job in jobs:
        assert list(run_statuses(job).values()) == ["FINISHED"]
        assert champion(job) == "1"
        own = sorted(name for name in export_files(job) if name.startswith(f"forecasts_{job.name}_"))
        assert own == [f"forecasts_{job.name}_2022-06.csv", f"forecasts_{job.name}_latest.csv"]
        assert not job.lock.exists()
