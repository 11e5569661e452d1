"""The trust boundary of ``models/<job>``: a folder edited after promotion is refused before any import.

``mlflow.pyfunc.load_model`` executes the folder's ``model.py`` and follows
its ``MLmodel``; :func:`forecasting.serving.load_verified_model` checks a
private copy against the manifest digest the registry recorded at promotion.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from forecasting.errors import ModelError
from forecasting.jobs.config import load_config
from forecasting.jobs.retrain import run_retrain
from forecasting.serving import MANIFEST_FILE, MANIFEST_TAG, load_verified_model

from .jobkit import make_job

pytestmark = pytest.mark.timeout(180)

WANTED = pd.DataFrame({"series_id": ["s0/cargo/inbound"]})


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """A job that ran once in-process: (pristine copy of models/<job>, tracking URI, job root)."""
    root = tmp_path_factory.mktemp("trust")
    job = make_job(root)
    config = load_config(job.config)
    run_retrain(config)
    pristine = root / "pristine"
    shutil.copytree((job.models / job.name).resolve(), pristine)
    return pristine, config.tracking_uri, root


@pytest.fixture
def folder(promoted: tuple[Path, str, Path], tmp_path: Path) -> Path:
    """A fresh copy of the promoted folder to tamper with."""
    copy = tmp_path / "tiny"
    shutil.copytree(promoted[0], copy)
    return copy


def test_an_untouched_folder_loads_and_serves_the_export(
    folder: Path, promoted: tuple[Path, str, Path]
) -> None:
    model = load_verified_model(folder, job="tiny", tracking_uri=promoted[1])
    served = model.predict(WANTED, params={"horizon": 3})
    exported = pd.read_csv(promoted[2] / "exports" / "forecasts_tiny_latest.csv")
    expected = exported[exported["series_id"] == "s0/cargo/inbound"]["forecast"].to_numpy()
    assert served["forecast"].to_numpy() == pytest.approx(expected)
    longer = model.predict(WANTED, params={"horizon": 5})  # a refit from the panel read at load time
    assert len(longer) == 5 and folder.exists()


def _find(folder: Path, name: str) -> Path:
    return next(p for p in folder.rglob(name) if p.is_file())


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("model.py", "model.py was changed"),
        ("MLmodel", "MLmodel was changed"),
        ("added", "evil.py was added"),
        ("removed", "forecasts.parquet is missing"),
        ("manifest", "differs from the record"),
        ("fifo", "pipe is not a regular file"),
        ("symlink", "link is not a regular file"),
    ],
)
def test_an_edited_folder_is_refused_before_anything_runs(
    folder: Path, promoted: tuple[Path, str, Path], tmp_path: Path, tamper: str, expected: str
) -> None:
    marker = tmp_path / "executed"
    payload = f"open({str(marker)!r}, 'w').write('pwned')\n"
    if tamper == "model.py":
        code = _find(folder, "model.py")
        code.write_text(payload + code.read_text(encoding="utf-8"), encoding="utf-8")
    elif tamper == "MLmodel":
        mlmodel = _find(folder, "MLmodel")
        text = mlmodel.read_text(encoding="utf-8")
        mlmodel.write_text(
            text.replace("loader_module: mlflow.pyfunc.loaders.code_model", "python_model: x.pkl")
        )
    elif tamper == "added":
        (_find(folder, "model.py").parent / "evil.py").write_text(payload, encoding="utf-8")
    elif tamper == "removed":
        _find(folder, "forecasts.parquet").unlink()
    elif tamper == "fifo":  # copying it would block forever
        os.mkfifo(folder / "pipe")
    elif tamper == "symlink":
        (folder / "link").symlink_to("/etc/passwd")
    else:  # a rewritten manifest that matches the edited files
        manifest = folder / MANIFEST_FILE
        manifest.write_text(manifest.read_text(encoding="utf-8").replace('"version": "1"', '"version": "1" '))
    with pytest.raises(ModelError, match=expected):
        load_verified_model(folder, job="tiny", tracking_uri=promoted[1])
    assert not marker.exists(), "nothing in the folder may run before it is verified"


def test_without_a_manifest_or_for_another_job_the_folder_is_refused(
    folder: Path, promoted: tuple[Path, str, Path]
) -> None:
    with pytest.raises(ModelError, match="belongs|holds job 'tiny', not 'other'"):
        load_verified_model(folder, job="other", tracking_uri=promoted[1])
    (folder / MANIFEST_FILE).unlink()
    with pytest.raises(ModelError, match="no forecasting-manifest.json"):
        load_verified_model(folder, job="tiny", tracking_uri=promoted[1])


def test_a_pinned_digest_verifies_without_the_registry(
    folder: Path, promoted: tuple[Path, str, Path]
) -> None:
    from mlflow.tracking import MlflowClient

    recorded = MlflowClient(promoted[1], promoted[1]).get_model_version("tiny", "1").tags[MANIFEST_TAG]
    assert recorded == hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
    model = load_verified_model(
        folder, job="tiny", manifest_sha256=recorded, tracking_uri="sqlite:////nonexistent/x.db"
    )
    assert len(model.predict(WANTED, params={"horizon": 2})) == 2
    with pytest.raises(ModelError, match="differs from the record"):
        load_verified_model(folder, job="tiny", manifest_sha256="0" * 64)
