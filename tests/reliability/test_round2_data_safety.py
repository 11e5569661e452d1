"""Issue 18, round 2: nothing the package did not write is replaced, nothing is misread.

Promotion never replaces a user's ``<models_dir>/<job>``; ``--output`` never
replaces a device, a FIFO, a folder or the input; numbers with misplaced
separators are errors, not other numbers; inputs that are not regular files
fail at once instead of hanging; non-finite forecasts never reach an export.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forecasting import model_folder
from forecasting.errors import ConfigError

from .jobkit import Job, champion, make_job, retrain, run_cli, run_statuses

pytestmark = pytest.mark.timeout(300)


# --- 1. promotion replaces only what the package wrote ------------------------------------
@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """A job that has run once: champion version 1 linked at ``models/tiny``."""
    job = make_job(tmp_path_factory.mktemp("promotion"))
    assert retrain(job) == 0
    assert champion(job) == "1"
    return job


def _user_things(job: Job) -> dict[str, Path]:
    """What a user might keep at ``models/<job>``: a folder, a file, a link to their own folder."""
    mine = job.root / "my_project"
    mine.mkdir(exist_ok=True)
    (mine / "notes.txt").write_text("keep me\n", encoding="utf-8")
    return {"folder": mine, "file": mine / "notes.txt", "link": mine}


def _place(job: Job, kind: str) -> Path:
    target = job.models / job.name
    model_folder.remove_owned(target, job.name)
    assert not os.path.lexists(target)
    if kind == "folder":
        target.mkdir()
        (target / "notes.txt").write_text("keep me\n", encoding="utf-8")
    elif kind == "file":
        target.write_text("keep me\n", encoding="utf-8")
    else:
        target.symlink_to(_user_things(job)["link"])
    return target


def _unchanged(target: Path, kind: str) -> bool:
    if kind == "folder":
        return not target.is_symlink() and (target / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    if kind == "file":
        return not target.is_symlink() and target.read_text(encoding="utf-8") == "keep me\n"
    return target.is_symlink() and (target / "notes.txt").read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize("kind", ["folder", "file", "link"])
def test_promotion_never_replaces_a_user_folder(
    promoted: Job, kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    job = promoted
    target = _place(job, kind)
    run_id = next(iter(run_statuses(job)))
    version = champion(job)
    capfd.readouterr()
    for argv in (
        ["retrain", "--config", str(job.config)],
        ["promote", "--run", run_id, "--config", str(job.config)],
        ["rollback", "--config", str(job.config)],
    ):
        assert run_cli(argv) == 2, argv
        error = capfd.readouterr().err
        assert str(target) in error and "not written by forecasting" in error, (argv, error)
        assert "Traceback" not in error
        assert _unchanged(target, kind), argv
        assert champion(job) == version, f"{argv[0]} moved the champion alias before refusing"
    if kind == "link":
        target.unlink()
    elif kind == "folder":
        (target / "notes.txt").unlink()
        target.rmdir()
    else:
        target.unlink()
    assert retrain(job) == 0, "with the user's thing moved away the job runs again"
    assert model_folder.is_owned(target.resolve(), job.name)


def test_old_versions_are_cleaned_but_unmarked_look_alikes_survive(promoted: Job) -> None:
    job = promoted
    look_alike = job.models / f".{job.name}-vacation"
    look_alike.mkdir()
    (look_alike / "photo.txt").write_text("mine\n", encoding="utf-8")
    killed = job.models / f".{job.name}-v1-killedcopy"  # what a copy killed mid-download leaves
    killed.mkdir()
    model_folder.claim(killed, job=job.name, version="1", run_id=None)
    assert retrain(job) == 0
    assert (look_alike / "photo.txt").read_text(encoding="utf-8") == "mine\n"
    assert not killed.exists()
    versions = [p for p in job.models.glob(f".{job.name}-v*") if model_folder.is_owned(p, job.name)]
    assert versions == [(job.models / job.name).resolve()]
    assert not list(job.models.glob(f".{job.name}.link*"))


def test_a_marker_of_another_job_does_not_make_a_folder_replaceable(tmp_path: Path) -> None:
    folder = tmp_path / "border"
    folder.mkdir()
    model_folder.claim(folder, job="other", version="1", run_id="r")
    with pytest.raises(ConfigError, match="not written by forecasting"):
        model_folder.check_replaceable(folder, "border")
    model_folder.claim(folder, job="border", version="1", run_id="r")
    model_folder.check_replaceable(folder, "border")
