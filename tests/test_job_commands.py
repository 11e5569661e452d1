"""``compare``, ``promote``, ``rollback`` and ``accuracy`` act on a job that is given or the only one.

The store is filled by hand (a retrain parent run with promotion tags, candidate child runs, a
registered champion), so no model is fitted: fast and deterministic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from forecasting import deployment, tracking  # noqa: E402
from forecasting.cli import main  # noqa: E402
from forecasting.jobs.commands import champion_marks, last_decision  # noqa: E402

DECISION = {
    "promotion.decision": "kept",
    "promotion.reason": "candidate not better by the margin",
    "promotion.candidate_model": "naive",
    "promotion.candidate_mase": "1.2",
    "promotion.champion_model": "seasonal_naive",
    "promotion.champion_mase": "0.8",
    "promotion.margin": "0.02",
    "promotion.registered_version": "1",
}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty SQLite store as the default (MLFLOW_TRACKING_URI), the working directory ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.configure(uri)
    return uri


def retrain_run(
    uri: str, job: str, experiment: str | None = None, *, run_type: str = "retrain", champion: bool = False
) -> str:
    """A finished retrain run of ``job`` with two candidates; ``champion``: its seasonal_naive is champion."""
    experiment_id = tracking.ensure_experiment(experiment or job, uri)
    tags = {tracking.JOB_TAG: job, tracking.RUN_TYPE_TAG: run_type, **DECISION}
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as parent:
        for model, mase in (("naive", 1.2), ("seasonal_naive", 0.8)):
            child = {"forecasting.model": model, tracking.RUN_TYPE_TAG: "candidate"}
            with mlflow.start_run(experiment_id=experiment_id, nested=True, tags=child):
                mlflow.log_metric("mase", mase)
    run_id = parent.info.run_id
    if champion:
        client = MlflowClient()
        client.create_registered_model(job)
        spec = json.dumps({"model": "seasonal_naive", "params": {}})
        version = client.create_model_version(
            job,
            source=f"runs:/{run_id}/model",
            run_id=run_id,
            tags={tracking.SPEC_TAG: spec, "promotion": "promoted"},
        )
        deployment.set_champion(job, version.version, previous=None)
    return run_id


JOB_COMMANDS = [["compare"], ["promote", "--run", "0" * 32], ["rollback"], ["accuracy"]]


def test_no_job_given_and_none_in_the_store_exits_2(store, capsys) -> None:
    for argv in JOB_COMMANDS:
        assert main(argv) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith(
            f"forecasting: error: key '--config': {argv[0]} needs --config JOB.toml or --job NAME"
        )
        assert last.endswith("has no job yet (run `forecasting retrain --config ...`)")


def test_several_jobs_in_the_store_are_named(store, capsys) -> None:
    retrain_run(store, "border")
    retrain_run(store, "cargo", "cargo-experiment")
    retrain_run(store, "forecast", run_type="forecast")  # a one-off forecast is not a job
    for argv in JOB_COMMANDS:
        assert main(argv) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.endswith("has jobs border, cargo"), last


def test_the_only_job_is_inferred_and_said(store, capsys) -> None:
    retrain_run(store, "border", "border-experiment")
    assert deployment.stored_jobs() == {"border": "border-experiment"}
    assert main(["accuracy"]) == 0
    out, err = capsys.readouterr()
    assert "job 'border' (the only job in the tracking store" in err
    assert out.startswith("border: no forecast scored yet")


def test_a_registered_champion_without_runs_is_a_job(store) -> None:
    run_id = retrain_run(store, "border", champion=True)
    mlflow.delete_run(run_id)
    assert deployment.stored_jobs() == {"border": "border"}


def test_job_flag_and_config_win_over_inference(store, tmp_path, capsys) -> None:
    retrain_run(store, "border")
    retrain_run(store, "cargo")
    assert main(["accuracy", "--job", "cargo"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("cargo: no forecast scored yet") and "only job" not in err
    config = tmp_path / "job.toml"
    config.write_text('[job]\nname = "border"\n', encoding="utf-8")
    assert main(["accuracy", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("border: no forecast scored yet")


def test_compare_marks_the_champion_and_prints_the_last_decision(store, capsys) -> None:
    run_id = retrain_run(store, "border", "border-experiment", champion=True)
    assert main(["compare"]) == 0
    out, err = capsys.readouterr()
    assert "job 'border'" in err
    lines = out.splitlines()
    assert lines[0].split() == ["run_id", "model", "mase", "champion"]
    assert lines[1].split() == [run_id, "seasonal_naive", "0.8000", "*"]
    assert lines[2].split() == [run_id, "naive", "1.2000"]
    assert lines[3].startswith(
        f"champion (*): version 1 of job 'border', model seasonal_naive from retrain run {run_id}"
    )
    assert lines[4].startswith(
        "last decision: kept (candidate not better by the margin); candidate naive 1.2 against champion "
        "seasonal_naive 0.8, margin 0.02; registered version 1"
    )
    assert run_id in lines[4]


def test_compare_without_a_champion_says_so(store, capsys) -> None:
    retrain_run(store, "border")
    assert main(["compare", "--job", "border"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "*" not in "\n".join(out[:3])
    assert out[3] == "champion: none yet for job 'border'"


def test_champion_marks_only_its_run_and_model() -> None:
    table = pd.DataFrame({"run_id": ["a", "a", "b"], "model": ["ets", "naive", "ets"]})
    champion = {"run_id": "b", "model": "ets", "version": "2", "promotion": "", "score": ""}
    assert champion_marks(table, champion) == ["", "", "*"]
    assert champion_marks(table, None) == ["", "", ""]


def test_last_decision_without_tags() -> None:
    runs = pd.DataFrame({"run_id": ["r1"], "start_time": [pd.Timestamp("2026-01-02 03:04", tz="UTC")]})
    assert last_decision(runs) == "last decision: none recorded on retrain run r1"
