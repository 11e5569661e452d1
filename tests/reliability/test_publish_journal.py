"""Issue 27, item 1: the publish journal is replayed only when every name in it is the job's own.

``models/<job>.publish.json`` is read back by the next retrain, promote or
rollback, which then moves the alias, links the folder and renames the staged
CSVs it names. A crafted journal must not turn that into "replace any file
with any other" or "move another job's alias": anything but this job's own
marked folder and its own staged -> final export names inside its folders is
refused with exit 2 naming the journal, and nothing moves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from forecasting.errors import ConfigError
from forecasting.jobs.config import load_config
from forecasting.jobs.publish import recover

from .jobkit import Job, champion, export_files, make_job, own_flip, retrain, run_cli

pytestmark = pytest.mark.timeout(240)

PRECIOUS = "precious: the package never wrote this\n"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    job = make_job(tmp_path_factory.mktemp("journal"))
    assert retrain(job) == 0
    return job


def _journal(job: Job) -> Path:
    return job.models / f"{job.name}.publish.json"


def _write(job: Job, flip: dict[str, Any] | str) -> Path:
    path = _journal(job)
    path.write_text(flip if isinstance(flip, str) else json.dumps(flip), encoding="utf-8")
    return path


def _victims(job: Job) -> tuple[Path, Path]:
    """Two files outside the job's folders: what a crafted journal would swap."""
    source, victim = job.root / "attacker.txt", job.root / "victim.txt"
    source.write_text("attacker\n", encoding="utf-8")
    victim.write_text(PRECIOUS, encoding="utf-8")
    return source, victim


def _assert_refused(job: Job, code: int, err: str, journal: Path, before: dict[str, bytes]) -> None:
    assert code == 2, err
    assert f"file {journal}: this publish journal is not replayed" in err, err
    assert "nothing was moved" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert journal.exists(), "the journal is left for a person to inspect"
    assert export_files(job) == before, "nothing in exports/ moved"


@pytest.mark.parametrize("command", ["retrain", "promote", "rollback"])
def test_a_journal_swapping_two_arbitrary_files_is_refused(
    job: Job, command: str, capfd: pytest.CaptureFixture[str]
) -> None:
    source, victim = _victims(job)
    flip = own_flip(job) | {"exports": [[str(source), str(victim)]]}
    journal = _write(job, flip)
    before, version = export_files(job), champion(job)
    argv = {
        "retrain": ["retrain"],
        "promote": ["promote", "--run", flip["run_id"]],
        "rollback": ["rollback"],
    }[command] + ["--config", str(job.config)]
    capfd.readouterr()
    code = run_cli(argv)
    _assert_refused(job, code, capfd.readouterr().err, journal, before)
    assert (
        victim.read_text(encoding="utf-8") == PRECIOUS and source.read_text(encoding="utf-8") == "attacker\n"
    )
    assert champion(job) == version
    journal.unlink()


def _variant(job: Job, kind: str) -> dict[str, Any] | str:
    """A journal that differs from the job's own in one place."""
    flip = own_flip(job)
    staged, final = (Path(p) for p in flip["exports"][0])
    outside = job.root / "victim.txt"
    if kind == "final_outside":
        return flip | {"exports": [[str(staged), str(outside)]]}
    if kind == "final_dotdot":
        return flip | {"exports": [[str(staged), f"{job.exports}/../victim.txt"]]}
    if kind == "final_of_another_job":
        return flip | {"exports": [[str(staged), str(job.exports / "forecasts_other_latest.csv")]]}
    if kind == "staged_outside":  # would publish any file as the job's forecasts
        return flip | {"exports": [[str(job.root / "attacker.txt"), str(final)]]}
    if kind == "staged_of_another_run":
        return flip | {"exports": [[str(final.with_name(f".{final.name}.x.staged")), str(final)]]}
    if kind == "folder_outside":
        return flip | {"folder": str(job.root)}
    if kind == "folder_unmarked":
        fake = job.models / f".{job.name}-v{flip['version']}-fake"
        fake.mkdir(exist_ok=True)
        return flip | {"folder": str(fake)}
    if kind == "folder_of_another_version":
        return flip | {"version": str(int(flip["version"]) + 1)}
    if kind == "version_not_a_number":
        return flip | {"version": "1 OR 1=1"}
    if kind == "not_json":
        return "{not json"
    if kind == "not_a_journal":
        return json.dumps([1, 2, 3])
    if kind == "field_not_text":
        return flip | {"folder": 7}
    if kind == "another_job":  # would move that job's alias
        return flip | {"job": "other", "exports": []}
    if kind == "extra_field":
        return flip | {"command": "rm -rf"}
    raise AssertionError(kind)


VARIANTS = [
    "final_outside",
    "final_dotdot",
    "final_of_another_job",
    "staged_outside",
    "staged_of_another_run",
    "folder_outside",
    "folder_unmarked",
    "folder_of_another_version",
    "version_not_a_number",
    "not_json",
    "not_a_journal",
    "field_not_text",
    "another_job",
    "extra_field",
]


@pytest.fixture
def nothing_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, any alias move, folder link or CSV rename of a replay fails the test."""

    def moved(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a foreign journal was replayed: {args}")

    monkeypatch.setattr("forecasting.deployment.set_champion", moved)
    monkeypatch.setattr("forecasting.deployment.link_champion", moved)
    monkeypatch.setattr("forecasting.jobs.publish._move", moved)


@pytest.mark.parametrize("kind", VARIANTS)
def test_a_journal_not_entirely_the_jobs_own_moves_nothing(job: Job, kind: str, nothing_moves: None) -> None:
    """Checked in-process: the refusal comes before any MLflow call or file move."""
    source, victim = _victims(job)
    staged = Path(own_flip(job)["exports"][0][0])
    staged.write_text("staged\n", encoding="utf-8")  # present, so a replay would move it
    journal = _write(job, _variant(job, kind))
    before = export_files(job)
    with pytest.raises(ConfigError, match="this publish journal is not replayed") as refused:
        recover(load_config(job.config))
    assert refused.value.file == str(journal) and "nothing was moved" in str(refused.value)
    assert journal.exists() and export_files(job) == before
    assert victim.read_text(encoding="utf-8") == PRECIOUS
    assert source.read_text(encoding="utf-8") == "attacker\n"
    journal.unlink()
    staged.unlink()


def test_a_journal_that_is_a_link_or_a_fifo_is_refused(job: Job, nothing_moves: None) -> None:
    journal = _journal(job)
    elsewhere = job.root / "elsewhere.json"
    elsewhere.write_text(json.dumps(own_flip(job)), encoding="utf-8")
    journal.symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="it is a link"):
        recover(load_config(job.config))
    journal.unlink()
    os.mkfifo(journal)  # reading it would block forever
    with pytest.raises(ConfigError, match="not a regular file"):
        recover(load_config(job.config))
    journal.unlink()
