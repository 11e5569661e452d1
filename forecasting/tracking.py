"""Every MLflow call of the package: stores, runs, logged models, the registry and comparisons.

Store: ``tracking.uri`` from the job config wins, then ``MLFLOW_TRACKING_URI``,
then ``sqlite:///<working dir>/mlruns/mlflow.db`` with artifacts under
``<working dir>/mlruns/<experiment>/`` (MLflow 3 deprecates the file store).
One experiment per job, one parent run per retrain (tag
``forecasting.run_type=retrain``), one child run per candidate; per-series
detail goes in table artifacts, never in one run per series.

Registry: one registered model per job (named after the job) with the alias
``champion``; each version carries its model spec and backtest score as tags
and ``previous_champion`` so :func:`rollback` can restore the version it
replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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

from forecasting import __version__  # noqa: E402
from forecasting.errors import ConfigError, ModelError  # noqa: E402
from forecasting.evaluation.metrics import LEADERBOARD_COLUMNS  # noqa: E402
from forecasting.evaluation.reconciled import RECONCILED_SEPARATOR  # noqa: E402
from forecasting.models.base import PanelForecaster  # noqa: E402
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
HTTP_RETRY_DEFAULTS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
"""A scheduled job gives up on an unreachable server after ~10 s, not MLflow's default minutes."""


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


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """The job's experiment id; a new one on a local SQLite store keeps artifacts beside the database."""
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
    """A table artifact as CSV (readable in the MLflow UI and by pandas)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(artifact_file).name
        frame.to_csv(path, index=False)
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
    from forecasting.jobs.config import check_job_name

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


# --- comparison ---------------------------------------------------------------------
def retrain_runs(experiment: str) -> pd.DataFrame:
    """Retrain parent runs of an experiment, newest first."""
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`{RUN_TYPE_TAG}` = 'retrain'",
        order_by=["attributes.start_time DESC"],
    )
    if found.empty:
        raise ConfigError(f"experiment {experiment!r} has no retrain runs", key="--experiment")
    return found


def candidate_leaderboard(experiment: str, parent_run_id: str) -> pd.DataFrame:
    """The candidates of one retrain with their backtest metrics, best MASE first."""
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
    )
    if found.empty:
        raise ConfigError(f"run {parent_run_id} has no candidate runs", key="--runs")
    metrics = [m for m in LEADERBOARD_COLUMNS if f"metrics.{m}" in found.columns]
    table = found[["tags.forecasting.model", *(f"metrics.{m}" for m in metrics)]].copy()
    table.columns = ["model", *metrics]
    table.insert(0, "run_id", parent_run_id)
    return table.sort_values("mase", kind="stable").reset_index(drop=True)


def compare(experiment: str, run_ids: Sequence[str] = ()) -> pd.DataFrame:
    """Leaderboard of the latest retrain, or of the given retrains stacked (``run_id`` column)."""
    if not run_ids:
        run_ids = [str(retrain_runs(experiment)["run_id"].iloc[0])]
    return pd.concat([candidate_leaderboard(experiment, r) for r in run_ids], ignore_index=True)


def log_decision(tags: dict[str, str]) -> None:
    mlflow.set_tags(tags)


def log_exports(paths: Sequence[Path]) -> None:
    for path in paths:
        mlflow.log_artifact(str(path), artifact_path="exports")


def log_report(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def log_level_metrics(board: pd.DataFrame) -> None:
    """Per-level metrics of base and reconciled backtests: ``<metric>_<level>_base|reconciled``.

    ``board`` is :func:`forecasting.evaluation.reconciled.leaderboard_by_level`
    output; it is also logged as ``leaderboard_by_level.csv``.
    """
    for _, row in board.iterrows():
        kind = "reconciled" if RECONCILED_SEPARATOR in str(row["model"]) else "base"
        mlflow.log_metrics(_finite_metrics(row, f"_{row['level']}_{kind}"))
    log_frame(board, "leaderboard_by_level.csv")
