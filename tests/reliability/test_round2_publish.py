"""Promotion and exports as one recoverable step, rollback along the history, verified model folders.

Kills run in forked children (see :mod:`jobkit`) at each step of the
journaled publish; the parent inspects the store with ``sqlite3`` only and
finishes the publish in another forked child, as the next start would.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from .jobkit import (
    FORK,
    Job,
    champion,
    export_files,
    kill_self,
    make_job,
    query,
    retrain,
    run_cli,
    run_statuses,
    write_panel,
)

pytestmark = pytest.mark.timeout(300)


def _new_data(job: Job, seed: int) -> None:
    """Other numbers: the kept champion is refitted and registered as a new version."""
    write_panel(job.root / f"{job.name}.csv", seed=seed)


def _kill_on_call(number: int) -> Callable[[], None]:
    calls = {"n": 0}

    def action() -> None:
        calls["n"] += 1
        if calls["n"] == number:
            os.kill(os.getpid(), signal.SIGKILL)

    return action


def _folder_version(job: Job) -> str:
    manifest = json.loads((job.models / job.name / "forecasting-manifest.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def _version_of_run(job: Job, run_id: str) -> str:
    rows = query(
        job.database, "SELECT version FROM model_versions WHERE name = ? AND run_id = ?", job.name, run_id
    )
    return str(rows[0][0])


def _recover(job: Job) -> int:
    """What the next start does first: finish the journaled publish (in a child, like a new process)."""

    def child() -> None:
        from forecasting import tracking
        from forecasting.jobs.config import load_config
        from forecasting.jobs.publish import recover

        config = load_config(job.config)
        tracking.configure(config.tracking_uri)
        os._exit(0 if recover(config) is not None else 3)

    process = FORK.Process(target=child)
    process.start()
    process.join(120)
    return int(process.exitcode)


def assert_consistent(job: Job, *, registered: bool = True) -> str:
    """Alias, model folder, both CSVs: all the same version, from the same run.

    ``registered=False``: the last run kept the champion on unchanged data (registered nothing).
    """
    files = export_files(job)
    dated = [name for name in files if name.startswith(f"forecasts_{job.name}_2") and name.endswith(".csv")]
    assert len(dated) == 1 and files[dated[0]] == files[job.latest.name]
    run_id = pd.read_csv(job.latest)["run_id"].iloc[0]
    version = champion(job)
    assert _folder_version(job) == version
    assert run_statuses(job)[run_id] == "FINISHED"
    if registered:
        assert _version_of_run(job, run_id) == version
    assert not (job.models / f"{job.name}.publish.json").exists()
    assert not [name for name in os.listdir(job.exports) if name.endswith((".staged", ".tmp"))]
    return version


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    job = make_job(tmp_path_factory.mktemp("publish"))
    assert retrain(job) == 0
    assert assert_consistent(job) == "1"
    return job


@pytest.mark.parametrize(
    ("stage", "call", "disagree"),
    [
        ("alias", 1, "journal written, alias not moved"),
        ("link", 1, "alias moved, models/<job> not"),
        ("export_rename", 2, "dated CSV renamed, latest not"),
    ],
)
def test_a_kill_inside_the_publish_is_finished_by_the_next_start(
    job: Job, stage: str, call: int, disagree: str
) -> None:
    _new_data(job, seed=len(job.name) + call + len(stage))
    before = champion(job)
    runs_before = set(run_statuses(job))
    assert retrain(job, fault=(stage, _kill_on_call(call))) == -signal.SIGKILL
    journal = job.models / f"{job.name}.publish.json"
    assert journal.exists(), disagree
    flip = json.loads(journal.read_text(encoding="utf-8"))
    killed = [run for run in run_statuses(job) if run not in runs_before]
    assert killed == [flip["run_id"]] and run_statuses(job)[killed[0]] == "RUNNING"
    if stage == "alias":
        assert champion(job) == before
    if stage == "link":
        assert champion(job) == flip["version"] != _folder_version(job)
    if stage == "export_rename":
        files = export_files(job)
        dated = Path(flip["exports"][0][1]).name
        assert files[dated] != files[job.latest.name]

    assert _recover(job) == 0
    assert assert_consistent(job) == flip["version"] != before
    assert run_statuses(job)[killed[0]] == "FINISHED"
    assert retrain(job) == 0  # and the next full run is clean (same data: the champion is kept)
    assert assert_consistent(job, registered=False) == flip["version"]


def test_a_kill_before_the_journal_leaves_everything_as_it_was(job: Job) -> None:
    _new_data(job, seed=99)
    before_files = export_files(job)
    before = champion(job)
    assert retrain(job, fault=("export", kill_self(signal.SIGKILL))) == -signal.SIGKILL
    assert not (job.models / f"{job.name}.publish.json").exists()
    assert champion(job) == before == _folder_version(job)
    after = {name: data for name, data in export_files(job).items() if not name.startswith(".")}
    assert after == {name: data for name, data in before_files.items() if not name.startswith(".")}
    assert retrain(job) == 0
    assert assert_consistent(job) != before


def test_rollback_walks_the_promotion_history(tmp_path: Path) -> None:
    """v1 -> v2 -> v3; rollback gives v2, rollback again v1, then nothing: never v3 again."""
    job = make_job(tmp_path)
    for seed in (1, 2, 3):
        _new_data(job, seed)
        assert retrain(job) == 0
    assert assert_consistent(job) == "3"
    rollback = ["rollback", "--config", str(job.config)]
    assert run_cli(rollback) == 0
    assert champion(job) == _folder_version(job) == "2"
    assert run_cli(rollback) == 0
    assert champion(job) == _folder_version(job) == "1"
    assert run_cli(rollback) == 1  # v2 and v3 were rolled back: nothing earlier than v1
    assert champion(job) == _folder_version(job) == "1"
    rolled = query(
        job.database,
        "SELECT version FROM model_version_tags WHERE name = ? AND key = 'rolled_back' AND value = 'true'",
        job.name,
    )
    assert sorted(str(v) for (v,) in rolled) == ["2", "3"]
    # Forcing v3 back is a promotion: it clears its mark, and a rollback then returns to v1.
    run3 = query(job.database, "SELECT run_id FROM model_versions WHERE name = ? AND version = 3", job.name)[
        0
    ][0]
    assert run_cli(["promote", "--run", run3, "--config", str(job.config)]) == 0
    assert champion(job) == _folder_version(job) == "3"
    assert run_cli(rollback) == 0
    assert champion(job) == "1"
