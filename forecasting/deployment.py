"""The model registry and deployment: one registered model per job, its champion, rollback, local copies.

One registered model per job (named after the job) with the alias
``champion``; each version carries its model spec and backtest score as tags
and ``previous_champion`` so :func:`rollback` can restore the version it
replaced. :func:`copy_champion` puts the champion where scoring needs no
tracking server.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import suppress
from pathlib import Path

import mlflow
import mlflow.artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecasting.core.checks import check_job_name
from forecasting.errors import ConfigError, ModelError
from forecasting.tracking import JOB_TAG, MODEL_URI_TAG

logger = logging.getLogger(__name__)

CHAMPION = "champion"
PREVIOUS_TAG = "previous_champion"


# --- registry ---------------------------------------------------------------------
def champion_version(job: str) -> ModelVersion | None:
    """The version the ``champion`` alias points at, or ``None`` before the first promotion."""
    try:
        return MlflowClient().get_model_version_by_alias(job, CHAMPION)
    except MlflowException:
        return None


def register(job: str, model_uri: str, *, tags: dict[str, str]) -> ModelVersion:
    """A new version of the job's registered model (created on first use)."""
    client = MlflowClient()
    try:
        client.get_registered_model(job)
    except MlflowException:
        client.create_registered_model(job, description=f"Champion forecaster of job {job!r}")
    # register_model resolves logged-model URIs (models:/m-...) for local and REST stores alike.
    return mlflow.register_model(model_uri, job, tags=tags)


def set_champion(job: str, version: str, *, previous: str | None) -> None:
    """Move ``champion`` to ``version``, remembering what it replaced (for rollback)."""
    client = MlflowClient()
    if previous is not None and previous != version:
        client.set_model_version_tag(job, version, PREVIOUS_TAG, previous)
    client.set_registered_model_alias(job, CHAMPION, version)


def restore_champion(job: str, version: str | None) -> None:
    """Put the alias back where it was (``None``: there was no champion)."""
    client = MlflowClient()
    if version is None:
        with suppress(MlflowException):
            client.delete_registered_model_alias(job, CHAMPION)
    else:
        client.set_registered_model_alias(job, CHAMPION, version)


def version_for_run(job: str, run_id: str) -> ModelVersion | None:
    versions = MlflowClient().search_model_versions(f"name = '{job}' and run_id = '{run_id}'")
    return max(versions, key=lambda v: int(v.version)) if versions else None


def promote_run(job: str, run_id: str) -> ModelVersion:
    """Force the model logged by retrain ``run_id`` to champion (registering it if needed)."""
    client = MlflowClient()
    run = client.get_run(run_id)
    if run.data.tags.get(JOB_TAG) != job:
        raise ConfigError(
            f"run {run_id} belongs to job {run.data.tags.get(JOB_TAG)!r}, not {job!r}", key="--run"
        )
    model_uri = run.data.tags.get(MODEL_URI_TAG)
    if model_uri is None:
        raise ConfigError(f"run {run_id} logged no forecaster model (not a retrain run?)", key="--run")
    version = version_for_run(job, run_id) or register(
        job,
        model_uri,
        run_id=run_id,
        tags={k: v for k, v in run.data.tags.items() if k.startswith("forecasting.")},
    )
    current = champion_version(job)
    set_champion(job, version.version, previous=current.version if current else None)
    client.set_model_version_tag(job, version.version, "promotion", "forced")
    return client.get_model_version(job, version.version)


def rollback(job: str) -> ModelVersion:
    """Point ``champion`` back at the version the current champion replaced."""
    current = champion_version(job)
    if current is None:
        raise ModelError(f"job {job!r} has no champion to roll back")
    previous = current.tags.get(PREVIOUS_TAG)
    if previous is None:
        raise ModelError(f"champion version {current.version} of {job!r} replaced no earlier version")
    client = MlflowClient()
    client.set_registered_model_alias(job, CHAMPION, previous)
    client.set_model_version_tag(job, current.version, "rolled_back", "true")
    return client.get_model_version(job, previous)


def copy_champion(job: str, models_dir: str | Path) -> Path:
    """Download the champion into ``<models_dir>/<job>`` for scoring without the tracking server.

    ``<models_dir>/<job>`` is a symlink swapped atomically (``os.replace``) to a
    fresh versioned folder, so a reader always sees one complete model.
    """
    check_job_name(job)
    version = champion_version(job)
    if version is None:
        raise ModelError(f"job {job!r} has no champion to copy")
    models_dir = Path(models_dir).resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / job
    folder = Path(tempfile.mkdtemp(prefix=f".{job}-v{version.version}-", dir=models_dir))
    mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{job}/{version.version}", dst_path=str(folder))
    if not any(folder.rglob("spec.json")):
        shutil.rmtree(folder, ignore_errors=True)
        raise ModelError(f"champion version {version.version} of {job!r} has no model files in the store")
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() and not target.is_symlink():
        logger.warning("event=champion_folder_replaced path=%s reason='not a folder'", target)
        target.unlink()
    link = models_dir / f".{job}.link"
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name)
    os.replace(link, target)
    for old in models_dir.glob(f".{job}-v*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return target
