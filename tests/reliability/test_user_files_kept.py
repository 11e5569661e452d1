"""What a user keeps beside the package's files stays theirs: a backup of a model folder, the sample.

Promotion removes the job's older versioned folders, found by their marker;
a user's backup copy of one (``.border-v3-k2j4x9aa.bak``) carries the same
marker and was removed with them. Only folders under the names the package
makes are its own now. ``forecasting sample generate`` with no ``--output``
rewrote the bundled sample in place; it now needs the path, and
``load_verified_model`` needs the job it must belong to (without it, a folder
another job promoted verified against that job's record and loaded).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forecasting.cli import main
from forecasting.deployment import link_champion
from forecasting.errors import ConfigError
from forecasting.model_folder import claim
from forecasting.sample import SAMPLE_PATH
from forecasting.serving import load_verified_model

pytestmark = pytest.mark.timeout(60)


def _version_folder(models: Path, name: str, version: str) -> Path:
    folder = models / name
    folder.mkdir()
    claim(folder, job="border", version=version, run_id=None)
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    return folder


BACKUPS = [".border-v1-k2j4x9aa.bak", ".border-v1-backup", ".border-v1-k2j4x9aa-old"]


@pytest.mark.parametrize("backup", BACKUPS)
def test_a_backup_copy_of_a_model_folder_survives_the_next_promotion(tmp_path: Path, backup: str) -> None:
    models = tmp_path / "models"
    models.mkdir()
    old = _version_folder(models, ".border-v1-k2j4x9aa", "1")
    link_champion("border", old, models)
    shutil.copytree(old, models / backup, symlinks=True)  # the user's backup, marker and all
    new = _version_folder(models, ".border-v2-p0q9r8s7", "2")
    link_champion("border", new, models)
    assert (models / "border").resolve() == new.resolve()
    assert not old.exists(), "the package's own older folder is removed"
    assert sorted(p.name for p in (models / backup).iterdir()) == [".forecasting-model", "MLmodel"]


def test_sample_generate_needs_an_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = SAMPLE_PATH.read_bytes()
    with pytest.raises(SystemExit) as exited:
        main(["sample", "generate"])
    assert exited.value.code == 2 and "--output" in capsys.readouterr().err
    assert main(["sample", "generate", "--output", str(tmp_path / "sample.csv")]) == 0
    assert SAMPLE_PATH.read_bytes() == before
    assert (tmp_path / "sample.csv").read_text("utf-8").splitlines()[0] == before.decode().splitlines()[0]


def test_load_verified_model_needs_the_job(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="job"):
        load_verified_model(tmp_path)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="key 'job'"):
        load_verified_model(tmp_path, job="../other")
