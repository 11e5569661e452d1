"""Every MLflow call of the package: stores, runs, logged models, the registry and comparisons.

Store: ``tracking.uri`` from the job config wins, then ``MLFLOW_TRACKING_URI``,
then ``sqlite:///<working dir>/mlruns/mlflow.db`` with artifacts under
``<working dir>/mlruns/<experiment>/`` (MLflow 3 deprecates the file store).
One experiment per job, one parent run per retrain (tag
``forecasting.run_type=retrain``), one child run per candidate; per-series
detail goes in table artifacts, never in one run per series.

Registry: one registered model per job (named after the job) with the alias
``champion``; each version carries its model spec and backtest score as tags
and ``previous_champion``; the registered model carries the promotion history
(``forecasting.champion_history``) that :func:`rollback_target` walks back,
skipping versions tagged ``rolled_back``. The alias only moves in
:func:`set_champion`, called from the journaled publish step
(:mod:`forecasting.jobs.publish`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import mlflow.artifacts  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.entities import Run  # noqa: E402
from mlflow.entities.model_registry import ModelVersion  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from forecasting import __version__, model_folder  # noqa: E402
from forecasting.errors import ConfigError, ModelError, shorten  # noqa: E402
from forecasting.evaluation.metrics import LEADERBOARD_COLUMNS  # noqa: E402
from forecasting.files import write_csv_atomic  # noqa: E402
from forecasting.models.base import PanelForecaster  # noqa: E402
from forecasting.names import check_experiment_name  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

logger = logging.getLogger(__name__)

CHAMPION = "champion"
MODEL_NAME = "forecaster"
RUN_TYPE_TAG = "forecasting.run_type"
JOB_TAG = "forecasting.job"
MODEL_URI_TAG = "forecasting.model_uri"
SPEC_TAG = "forecasting.spec"
SCORE_TAG = "forecasting.backtest_mase"
DATA_DIGEST_TAG = "forecasting.data_digest"
PREVIOUS_TAG = "previous_champion"
ROLLED_BACK_TAG = "rolled_back"
HISTORY_TAG = "forecasting.champion_history"
"""On the registered model: JSON list of the versions in the order they became champion."""
HISTORY_LIMIT = 200
HTTP_RETRY_DEFAULTS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
"""A scheduled job gives up on an unreachable server after ~10 s, not MLflow's default minutes."""
TRACKING_SCHEMES: tuple[str, ...] = (
    "",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "http",
    "https",
    "databricks",
    "databricks-uc",
    "uc",
)
"""URI schemes MLflow has a tracking store for (``postgresql+psycopg2``: the part before ``+``)."""
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a run id looks like; anything else never reaches an MLflow filter string."""


# --- store ----------------------------------------------------------------------
def default_tracking_uri(root: str | Path | None = None) -> str:
    """``sqlite:///<root>/mlruns/mlflow.db`` (root: the working directory)."""
    return f"sqlite:///{(Path(root or Path.cwd()) / 'mlruns' / 'mlflow.db').resolve()}"


def resolve_tracking_uri(configured: str | None = None) -> str:
    """Config value, else ``MLFLOW_TRACKING_URI``, else the local SQLite default."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def configure(configured: str | None = None) -> str:
    """Point MLflow at the store (creating the SQLite folder) and return the URI used."""
    uri = resolve_tracking_uri(configured)
    check_tracking_uri(uri, key="tracking.uri" if configured else "MLFLOW_TRACKING_URI")
    database = _sqlite_path(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    if not sys.stderr.isatty():
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if uri.startswith(("http://", "https://")):
        for name, value in HTTP_RETRY_DEFAULTS.items():
            os.environ.setdefault(name, value)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def check_tracking_uri(uri: str, *, key: str) -> str:
    """Reject a scheme MLflow has no store for up front (MLflow's own error is a traceback mid-job)."""
    scheme = urlparse(uri).scheme.split("+", 1)[0].lower()
    if scheme not in TRACKING_SCHEMES:
        known = ", ".join(f"{s}:" for s in TRACKING_SCHEMES if s)
        raise ConfigError(
            f"unknown tracking URI scheme {scheme!r} in {shorten(uri)}; known: {known}", key=key
        )
    return uri


def check_run_id(run_id: str, *, key: str) -> str:
    """A run id as MLflow writes them: the value goes into filter strings, so nothing else passes."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise ConfigError(f"not a run id: {shorten(run_id)} (letters, digits, '-', '_')", key=key)
    return run_id


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """The job's experiment id; a new one on a local SQLite store keeps artifacts beside the database."""
    check_experiment_name(name, key="experiment")  # it becomes a folder name under the store
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    database = _sqlite_path(tracking_uri)
    location = (database.parent / name).resolve().as_uri() if database is not None else None
    return mlflow.create_experiment(name, artifact_location=location)


# --- digests and tags -----------------------------------------------------------
def data_digest(panel: SeriesPanel) -> str:
    """sha256 over the records (order-independent of input file order: records are sorted)."""
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    hashed = pd.util.hash_pandas_object(records, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def git_commit() -> str | None:
    """The checkout's commit when the package runs from a git work tree (read-only query)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def run_tags(job: str, *, data: str, config: str) -> dict[str, str]:
    tags = {
        JOB_TAG: job,
        "forecasting.package_version": __version__,
        DATA_DIGEST_TAG: data,
        "forecasting.config_digest": config,
    }
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


# --- runs -------------------------------------------------------------------------
@contextmanager
def retrain_run(experiment_id: str, run_name: str, tags: dict[str, str]) -> Iterator[Run]:
    """The parent run; MLflow marks it FAILED if the body raises, KILLED if it is interrupted."""
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        mlflow.set_tag(RUN_TYPE_TAG, "retrain")
        try:
            yield run
        except KeyboardInterrupt:
            while mlflow.active_run() is not None:  # candidate child runs first, then the parent
                mlflow.end_run("KILLED")
            raise


def end_stale_runs(experiment_id: str, job: str) -> list[str]:
    """Mark retrain runs of ``job`` still RUNNING as KILLED: call only while holding the job lock.

    A retrain killed with SIGKILL cannot end its run; under the lock no other
    retrain of the job is running, so such runs are stale. Returns their ids.
    """
    client = MlflowClient()
    stale = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{JOB_TAG}` = '{job}'",
    )
    for run in stale:
        client.set_terminated(run.info.run_id, "KILLED")
        logger.warning("event=stale_run_killed job=%s run_id=%s", job, run.info.run_id)
    return [run.info.run_id for run in stale]


def log_dataset(panel: SeriesPanel, *, name: str, digest: str, source: str) -> None:
    """The training panel as an MLflow dataset input (context ``training``) with our digest."""
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    with warnings.catch_warnings():  # a plain path "can be interpreted in multiple ways": all local
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            records, source=source, name=name, targets="value", digest=digest[:36]
        )
    mlflow.log_input(dataset, context="training")


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """A table artifact as CSV (readable in the MLflow UI and by pandas; formulas neutralised)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(artifact_file).name
        write_csv_atomic(frame, path, durable=False)  # a scratch copy: MLflow stores it
        parent = str(Path(artifact_file).parent)
        mlflow.log_artifact(str(path), artifact_path=None if parent == "." else parent)


def log_params(params: dict[str, Any]) -> None:
    """``get_params()`` as MLflow params (values as text, truncated to MLflow's limit)."""
    mlflow.log_params({k: json.dumps(v, default=str)[:6000] for k, v in params.items()})


def log_candidate(
    model: PanelForecaster,
    *,
    results: pd.DataFrame,
    scores: pd.Series,
    by_horizon: pd.DataFrame,
    by_series: pd.DataFrame,
    panel: SeriesPanel,
    dataset: dict[str, str],
    tags: dict[str, str],
) -> str:
    """One nested run for a candidate: params, metrics, per-step and per-series tables, plots."""
    parent = mlflow.active_run()
    experiment_id = parent.info.experiment_id if parent else None
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=model.model_name, nested=True, tags=tags
    ) as run:
        mlflow.set_tag(RUN_TYPE_TAG, "candidate")
        mlflow.set_tag("forecasting.model", model.model_name)
        log_params(model.get_params(deep=False))
        mlflow.log_metrics(
            {m: float(scores[m]) for m in LEADERBOARD_COLUMNS if m in scores and pd.notna(scores[m])}
        )
        for step, row in by_horizon.iterrows():
            values = {
                f"{m}_by_step": float(row[m]) for m in LEADERBOARD_COLUMNS if m in row and pd.notna(row[m])
            }
            mlflow.log_metrics(values, step=int(step))
        log_dataset(panel, **dataset)
        log_frame(by_series.reset_index(), "metrics_by_series.csv")
        log_frame(by_horizon.reset_index(), "metrics_by_horizon.csv")
        log_plots(results, panel)
        return run.info.run_id


def _finite_metrics(row: pd.Series, suffix: str = "") -> dict[str, float]:
    return {f"{m}{suffix}": float(row[m]) for m in LEADERBOARD_COLUMNS if m in row and pd.notna(row[m])}


def log_plots(results: pd.DataFrame, panel: SeriesPanel) -> None:
    """Fan chart of the largest series at the last backtest cutoff, and error by horizon."""
    from forecasting.plots import plot_error_by_horizon, plot_forecast

    largest = panel.records.groupby("series_id", observed=True)["value"].sum().idxmax()
    last = results[(results["series_id"] == largest) & (results["cutoff"] == results["cutoff"].max())]
    if not last.empty:
        history = panel.series(str(largest))
        cutoff = last["cutoff"].iloc[0]
        figure = plot_forecast(history[history.index <= cutoff], last, history_months=48)
        mlflow.log_figure(figure, "plots/fan_chart_largest_series.png")
        plt.close(figure)
    figure = plot_error_by_horizon(results)
    mlflow.log_figure(figure, "plots/error_by_horizon.png")
    plt.close(figure)


def log_serving_model(
    model: PanelForecaster,
    *,
    panel: SeriesPanel,
    forecasts: pd.DataFrame,
    horizon: int,
    levels: Sequence[int],
    exog: dict[str, Any] | None,
) -> str:
    """Log the fitted forecaster as a pickle-free pyfunc model; returns its model URI."""
    from forecasting.serving import CODE_FILE, model_signature, write_model_files

    with tempfile.TemporaryDirectory() as folder:
        artifacts = write_model_files(
            folder, model=model, panel=panel, forecasts=forecasts, horizon=horizon, levels=levels, exog=exog
        )
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(Path(folder) / CODE_FILE),
            artifacts=artifacts,
            signature=model_signature(forecasts, horizon),
            input_example=(forecasts[["series_id"]].drop_duplicates().head(1), {"horizon": int(horizon)}),
            pip_requirements=[f"forecasting=={__version__}", f"mlflow=={mlflow.__version__}"],
        )
    mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
    return info.model_uri


def load_forecaster(model_uri: str, *, allow_outside_store: bool = False) -> mlflow.pyfunc.PyFuncModel:
    """Load a logged forecaster; a local path outside the configured store needs ``allow_outside_store``.

    Store URIs (``models:/``, ``runs:/``) and paths under the SQLite store's
    folder load as they are; anything else on disk may be a planted model.
    """
    parsed = urlparse(model_uri)
    if parsed.scheme in ("", "file") and not allow_outside_store:
        path = Path(parsed.path if parsed.scheme else model_uri).resolve()
        database = _sqlite_path(mlflow.get_tracking_uri())
        if database is None or not path.is_relative_to(database.parent.resolve()):
            raise ModelError(
                f"refusing to load model {model_uri!r}: outside the configured store "
                f"({mlflow.get_tracking_uri()}); pass allow_outside_store=True if you trust it"
            )
    return mlflow.pyfunc.load_model(model_uri)


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


def version_for_run(job: str, run_id: str) -> ModelVersion | None:
    run_id = check_run_id(run_id, key="--run")
    versions = MlflowClient().search_model_versions(f"name = '{job}' and run_id = '{run_id}'")
    return max(versions, key=lambda v: int(v.version)) if versions else None


def promotable_version(job: str, run_id: str) -> ModelVersion:
    """The registered version of retrain ``run_id``'s model (registered now if needed), tagged forced.

    The alias does not move here: :func:`set_champion` moves it in the publish step.
    """
    client = MlflowClient()
    run = _get_run(check_run_id(run_id, key="--run"), key="--run")
    if run.data.tags.get(JOB_TAG) != job:
        raise ConfigError(
            f"run {run_id} belongs to job {run.data.tags.get(JOB_TAG)!r}, not {job!r}", key="--run"
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
    from forecasting.jobs.config import check_job_name
    from forecasting.serving import MANIFEST_TAG, write_manifest

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


def end_recovered_run(run_id: str) -> None:
    """Tag a retrain whose journaled publish the next start finished; a killed one (RUNNING) FINISHED.

    A run that failed during its publish (say the server went away) keeps
    FAILED: the tag says its results are nevertheless the ones in service.
    """
    client = MlflowClient()
    client.set_tag(run_id, "forecasting.recovered", "publish step completed by the next start")
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, "FINISHED")


def _get_run(run_id: str, *, key: str) -> Run:
    try:
        return MlflowClient().get_run(run_id)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        store = mlflow.get_tracking_uri()
        raise ConfigError(f"no run {run_id!r} in the tracking store {store}", key=key) from None


# --- comparison ---------------------------------------------------------------------
def retrain_runs(experiment: str) -> pd.DataFrame:
    """FINISHED retrain parent runs of an experiment, newest first (failed or running ones never compare)."""
    if mlflow.get_experiment_by_name(experiment) is None:
        raise ConfigError(f"no experiment {experiment!r} in the tracking store (has the job run?)")
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`{RUN_TYPE_TAG}` = 'retrain' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    if found.empty:
        raise ConfigError(
            f"experiment {experiment!r} has no finished retrain run to compare "
            "(run `forecasting retrain`, or pass --runs)"
        )
    return found


def candidate_leaderboard(experiment: str, parent_run_id: str, *, key: str | None = "--runs") -> pd.DataFrame:
    """The candidates of one retrain with their backtest metrics, best MASE first.

    ``key`` names the option the run id came from, for the error when it has no candidates.
    """
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`mlflow.parentRunId` = '{check_run_id(parent_run_id, key=key or 'run')}'",
    )
    if found.empty:
        raise ConfigError(f"run {parent_run_id} in experiment {experiment!r} has no candidate runs", key=key)
    metrics = [m for m in LEADERBOARD_COLUMNS if f"metrics.{m}" in found.columns]
    table = found[["tags.forecasting.model", *(f"metrics.{m}" for m in metrics)]].copy()
    table.columns = ["model", *metrics]
    table.insert(0, "run_id", parent_run_id)
    return table.sort_values("mase", kind="stable").reset_index(drop=True)


def compare(experiment: str, run_ids: Sequence[str] = ()) -> pd.DataFrame:
    """Leaderboard of the latest retrain, or of the given retrains stacked (``run_id`` column)."""
    if not run_ids:
        latest = str(retrain_runs(experiment)["run_id"].iloc[0])
        return candidate_leaderboard(experiment, latest, key=None)
    return pd.concat([candidate_leaderboard(experiment, r) for r in run_ids], ignore_index=True)


def log_decision(tags: dict[str, str]) -> None:
    mlflow.set_tags(tags)


def log_exports(files: Sequence[tuple[str | Path, str | Path]]) -> None:
    """Log ``(written, published)`` file pairs under ``exports/`` by their published names."""
    with tempfile.TemporaryDirectory() as folder:
        for written, published in files:
            shutil.copyfile(written, Path(folder) / Path(published).name)
        mlflow.log_artifacts(folder, artifact_path="exports")


def log_report(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)
