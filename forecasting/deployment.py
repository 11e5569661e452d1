"""The model registry and deployment: one registered model per job, its champion, rollback, local copies.

One registered model per job (named after the job) with the alias
``champion``; each version carries its model spec and backtest score (the
trimmed-mean MASE the promotion gate compared) as tags,
``previous_champion`` and the job's promotion history (:data:`HISTORY_TAG`) so
rollback walks back along it. :func:`stage_champion` and
:func:`link_champion` put the champion where scoring needs no tracking server,
with a checksum manifest recorded in the registry.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import mlflow
import mlflow.artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecasting import model_folder
from forecasting.core.checks import check_job_name
from forecasting.errors import ConfigError, ModelError
from forecasting.serving import MANIFEST_TAG, write_manifest
from forecasting.tracking import (
    JOB_TAG,
    MODEL_URI_TAG,
    RECOVERED_TAG,
    RUN_TYPE_TAG,
    SCORE_TAG,
    SPEC_TAG,
    check_run_id,
    get_run,
)

logger = logging.getLogger(__name__)

CHAMPION = "champion"
PREVIOUS_TAG = "previous_champion"
ROLLED_BACK_TAG = "rolled_back"
HISTORY_TAG = "forecasting.champion_history"
"""On the registered model: JSON list of the versions in the order they became champion."""
HISTORY_LIMIT = 200


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


def set_champion(job: str, version: str, *, previous: str | None, rollback_of: str | None = None) -> None:
    """Move ``champion`` to ``version`` and record the move in the promotion history.

    A promotion tags the version with the one it replaced and clears an old
    ``rolled_back`` mark (it is wanted again); a rollback (``rollback_of``)
    marks the version it leaves. Every call is idempotent, so replaying it
    finishes a move a crash interrupted.
    """
    client = MlflowClient()
    version = str(version)
    if rollback_of is not None:
        client.set_model_version_tag(job, rollback_of, ROLLED_BACK_TAG, "true")
    else:
        if previous is not None and previous != version:
            client.set_model_version_tag(job, version, PREVIOUS_TAG, previous)
        if ROLLED_BACK_TAG in client.get_model_version(job, version).tags:
            client.delete_model_version_tag(job, version, ROLLED_BACK_TAG)
    history = champion_history(job)
    if not history or history[-1] != version:
        client.set_registered_model_tag(job, HISTORY_TAG, json.dumps([*history, version][-HISTORY_LIMIT:]))
    client.set_registered_model_alias(job, CHAMPION, version)


def champion_history(job: str) -> list[str]:
    """Versions in the order they became champion (oldest first).

    Stores written before the history tag existed: the chain of
    ``previous_champion`` tags back from the current champion.
    """
    client = MlflowClient()
    recorded = client.get_registered_model(job).tags.get(HISTORY_TAG)
    if recorded:
        return [str(v) for v in json.loads(recorded)]
    chain: list[str] = []
    current = champion_version(job)
    while current is not None and str(current.version) not in chain:
        chain.insert(0, str(current.version))
        previous = current.tags.get(PREVIOUS_TAG)
        current = client.get_model_version(job, previous) if previous else None
    return chain


def stored_jobs() -> dict[str, str]:
    """The jobs the tracking store knows, each with the experiment of its newest retrain run.

    A job is the ``forecasting.job`` tag of a retrain run (one-off ``forecast`` runs are not jobs), or
    a registered model that has had a champion (:data:`HISTORY_TAG`; its experiment: the job's name).
    What ``compare``, ``promote``, ``rollback`` and ``accuracy`` infer when given no job.
    """
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.`{RUN_TYPE_TAG}` = 'retrain'",
        order_by=["attributes.start_time DESC"],
    )
    jobs: dict[str, str] = {}
    if not runs.empty and f"tags.{JOB_TAG}" in runs.columns:
        names = {e.experiment_id: e.name for e in mlflow.search_experiments()}
        for job, experiment_id in zip(runs[f"tags.{JOB_TAG}"], runs["experiment_id"], strict=True):
            if isinstance(job, str) and job and job not in jobs:
                jobs[job] = names.get(experiment_id, job)
    for model in MlflowClient().search_registered_models():
        if HISTORY_TAG in model.tags:
            jobs.setdefault(model.name, model.name)
    return dict(sorted(jobs.items()))


def champion_summary(job: str) -> dict[str, str] | None:
    """The champion's version, model, the retrain run it came from and how it got there; None if none."""
    current = champion_version(job)
    if current is None:
        return None
    spec = current.tags.get(SPEC_TAG)
    try:
        model = str(json.loads(spec)["model"]) if spec else ""
    except (ValueError, KeyError, TypeError):
        model = ""
    return {
        "version": str(current.version),
        "model": model,
        "run_id": current.run_id or "",
        "promotion": current.tags.get("promotion", ""),
        "score": current.tags.get(SCORE_TAG, ""),
    }


def version_for_run(job: str, run_id: str) -> ModelVersion | None:
    run_id = check_run_id(run_id, key="--run")
    versions = MlflowClient().search_model_versions(f"name = '{job}' and run_id = '{run_id}'")
    return max(versions, key=lambda v: int(v.version)) if versions else None


def promotable_version(job: str, run_id: str) -> ModelVersion:
    """The registered version of retrain ``run_id``'s model (registered now if needed), tagged forced.

    The alias does not move here: :func:`set_champion` moves it in the publish step.
    """
    client = MlflowClient()
    run = get_run(check_run_id(run_id, key="--run"), key="--run")
    if run.data.tags.get(RUN_TYPE_TAG) != "retrain":  # a one-off forecast run was never the job's
        kind = run.data.tags.get(RUN_TYPE_TAG) or "untagged"
        raise ConfigError(f"run {run_id} is a {kind} run, not a retrain of job {job!r}", key="--run")
    if run.data.tags.get(JOB_TAG) != job:
        raise ConfigError(
            f"run {run_id} belongs to job {run.data.tags.get(JOB_TAG)!r}, not {job!r}", key="--run"
        )
    status = run.info.status
    if status != "FINISHED" and RECOVERED_TAG not in run.data.tags:  # a publish finished by a later start
        raise ConfigError(
            f"run {run_id} is {status}, not FINISHED: only a retrain that finished can be promoted",
            key="--run",
        )
    model_uri = run.data.tags.get(MODEL_URI_TAG)
    if model_uri is None:
        raise ConfigError(f"run {run_id} logged no forecaster model (not a retrain run?)", key="--run")
    version = version_for_run(job, run_id) or register(
        job, model_uri, tags={k: v for k, v in run.data.tags.items() if k.startswith("forecasting.")}
    )
    client.set_model_version_tag(job, version.version, "promotion", "forced")
    return client.get_model_version(job, version.version)


def rollback_target(job: str) -> tuple[ModelVersion, ModelVersion]:
    """``(current champion, version to restore)``: the latest earlier champion not rolled back.

    Walking the promotion history (not just ``previous_champion``) means two
    rollbacks after v1 -> v2 -> v3 give v2 then v1, never v3 again.
    """
    current = champion_version(job)
    if current is None:
        raise ModelError(f"job {job!r} has no champion to roll back")
    client = MlflowClient()
    history = champion_history(job)
    for version in reversed(history):
        if version == str(current.version):
            continue
        candidate = client.get_model_version(job, version)
        if candidate.tags.get(ROLLED_BACK_TAG) != "true":
            return current, candidate
    raise ModelError(
        f"champion version {current.version} of {job!r} has no earlier champion to roll back to "
        f"(promotion history {history}; rolled-back versions are skipped)"
    )


def stage_champion(job: str, version: str, models_dir: str | Path) -> Path:
    """Download ``version`` into a hidden folder of ``models_dir`` with its manifest; returns the folder.

    The folder is marked as the package's own (:mod:`forecasting.model_folder`)
    before anything is downloaded, and the marker is covered by the manifest.
    The manifest's sha256 is recorded on the version (:data:`MANIFEST_TAG`) the
    first time; a later download that differs means the stored files changed,
    and is refused. Nothing a reader uses changes here: :func:`link_champion` does that.
    """
    check_job_name(job)
    models_dir = Path(models_dir).resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient()
    entity = client.get_model_version(job, version)
    folder = Path(tempfile.mkdtemp(prefix=f"{model_folder.version_prefix(job)}{version}-", dir=models_dir))
    model_folder.claim(folder, job=job, version=str(version), run_id=entity.run_id)
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{job}/{version}", dst_path=str(folder))
        if not any(folder.rglob("spec.json")):
            raise ModelError(f"champion version {version} of {job!r} has no model files in the store")
        digest = write_manifest(folder, job=job, version=str(version))
        recorded = entity.tags.get(MANIFEST_TAG)
        if recorded is None:
            client.set_model_version_tag(job, version, MANIFEST_TAG, digest)
        elif recorded != digest:
            raise ModelError(
                f"the stored files of version {version} of {job!r} changed since it was first promoted "
                f"(manifest sha256 {digest[:12]}, recorded {recorded[:12]})"
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    os.chmod(folder, 0o755)  # mkdtemp makes it 0700; scoring jobs may run as another user
    return folder


def link_champion(job: str, folder: Path, models_dir: str | Path) -> Path:
    """Point ``<models_dir>/<job>`` at a staged folder (symlink swapped with ``os.replace``).

    A reader always sees one complete model. Only what the package wrote is
    replaced (:mod:`forecasting.model_folder`): a user's folder or file at that
    path stops with a ``ConfigError``. Older marked folders of the job are
    removed. Idempotent: linking the linked folder again changes nothing.
    """
    models_dir = Path(models_dir).resolve()
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"staged model folder {folder} is gone; retrain or promote again")
    target = model_folder.job_folder(models_dir, job)
    link = Path(tempfile.mkdtemp(prefix=f".{job}.link-", dir=models_dir))
    link.rmdir()  # a unique free name for the new link, which never replaces anything
    try:
        link.symlink_to(folder.name)
        model_folder.check_replaceable(target, job)
        if target.is_dir() and not target.is_symlink():
            model_folder.remove_owned(target, job)  # a marked real folder of an older layout
        os.replace(link, target)
    except BaseException:
        if link.is_symlink():
            link.unlink()
        raise
    for old in model_folder.leftovers(models_dir, job, keep=folder):
        model_folder.remove_owned(old, job)
    return target
