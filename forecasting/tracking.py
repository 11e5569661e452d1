"""MLflow run logging: stores, runs, logged models, comparisons (registry: :mod:`forecasting.deployment`).

Store: ``tracking.uri`` from the job config wins, then ``MLFLOW_TRACKING_URI``,
then the project's store: ``sqlite:///<project>/mlruns/mlflow.db`` with artifacts
under ``<project>/mlruns/<experiment>/`` (MLflow 3 deprecates the file store), where
``<project>`` is the nearest folder holding an ``mlruns/`` folder, looked for up from
the job config's folder, then up from the working directory. With no project found,
the user's own store under :func:`user_store` (``~/.local/share/forecasting/`` on
Linux), so a command run elsewhere never leaves a new ``mlruns/`` behind.
One experiment per job, one parent run per retrain (tag
``forecasting.run_type=retrain``), one child run per candidate; per-series
detail goes in table artifacts, never in one run per series.

"""

from __future__ import annotations

import hashlib
import json
import logging
import numbers
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import mlflow
import mlflow.artifacts
import mlflow.models
import numpy as np
import pandas as pd
import platformdirs
from mlflow.data.dataset import Dataset
from mlflow.entities import Dataset as DatasetEntity
from mlflow.entities import DatasetInput, InputTag, Metric, Param, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context import registry as context_registry
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from forecasting import progress
from forecasting.core.checks import check_experiment_name
from forecasting.core.constants import VERSION as __version__
from forecasting.core.intervals import frame_levels
from forecasting.errors import ConfigError, ModelError, shorten
from forecasting.evaluation.metrics import leaderboard_columns, metric_levels
from forecasting.evaluation.reconciled import RECONCILED_SEPARATOR
from forecasting.files import existing_file, read_csv_exact, write_csv_atomic
from forecasting.models.base import PanelForecaster
from forecasting.panel import SeriesPanel
from forecasting.serving import CODE_FILE, model_signature, write_model_files

if TYPE_CHECKING:  # matplotlib loads on the first plot only
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

MODEL_NAME = "forecaster"
RUN_TYPE_TAG = "forecasting.run_type"
JOB_TAG = "forecasting.job"
MODEL_URI_TAG = "forecasting.model_uri"
RECOVERED_TAG = "forecasting.recovered"
"""On a retrain whose journaled publish a later start finished: its results are the ones in service."""
SPEC_TAG = "forecasting.spec"
SCORE_TAG = "forecasting.backtest_mase"
DATA_DIGEST_TAG = "forecasting.data_digest"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
"""MLflow 3's UI opens an experiment without this tag as a GenAI one (traces, evaluations); with it,
on its training runs. MLflow 3.17's UI follows its own GenAI / Model training switch instead:
:func:`ui_path` links carry ``workflowType=machine_learning``."""
NOTE_TAG = "mlflow.note.content"
"""The run's description in the MLflow UI (markdown)."""
ERROR_TAG = "forecasting.error"
ERROR_MESSAGE_TAG = "forecasting.error_message"
"""On a run that ended FAILED: the exception's type, and its message."""
MAX_TAG_CHARS, MAX_PARAM_CHARS = 8000, 6000
"""MLflow's limits on a tag's and a param's value; longer ones are cut before they are logged."""
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
STORE_FOLDER, STORE_FILE = "mlruns", "mlflow.db"
"""A project's store: the SQLite database in its ``mlruns/`` folder, artifacts beside it."""
REPORT_ARTIFACT = "data_quality_report.txt"
"""A run's data quality report: every finding of its load, the stale and valueless series by name."""
FAN_CHART = "plots/fan_chart_largest_series.png"
LEVEL_CHART = "plots/mase_by_level.png"
"""Figures a retrain run carries: the forecast of its largest series, its candidates' MASE per level."""
MAX_BATCH_PARAMS = 100
MAX_BATCH_ENTITIES = 1000
"""MLflow's ``log_batch`` limits: params per call, and params plus metrics per call."""


# --- store ----------------------------------------------------------------------
def default_tracking_uri(config_file: str | Path | None = None) -> str:
    """The project's SQLite store, else the user's (module docstring): never a new ``mlruns/`` by accident."""
    starts = [Path(config_file).resolve().parent] if config_file is not None else []
    for start in [*starts, Path.cwd().resolve()]:
        database = project_store(start)
        if database is not None:
            return f"sqlite:///{database}"
    return f"sqlite:///{user_store()}"


def project_store(start: Path) -> Path | None:
    """``<folder>/mlruns/mlflow.db`` of the nearest folder from ``start`` up with an ``mlruns/`` folder."""
    for folder in (start, *start.parents):
        if (folder / STORE_FOLDER).is_dir():
            return folder / STORE_FOLDER / STORE_FILE
    return None


def user_store() -> Path:
    """The store of commands run outside any project: in the user's data folder (``XDG_DATA_HOME``)."""
    return Path(platformdirs.user_data_dir("forecasting", appauthor=False)) / STORE_FOLDER / STORE_FILE


def resolve_tracking_uri(configured: str | None = None, *, config_file: str | Path | None = None) -> str:
    """Config value, else ``MLFLOW_TRACKING_URI``, else the project's (or the user's) SQLite store."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(config_file)


def configure(configured: str | None = None, *, config_file: str | Path | None = None) -> str:
    """Point MLflow at the store (creating the SQLite folder) and return the URI used.

    ``config_file``: the job config the command runs, whose project's store comes first.
    """
    uri = resolve_tracking_uri(configured, config_file=config_file)
    check_tracking_uri(uri, key="tracking.uri" if configured else "MLFLOW_TRACKING_URI")
    database = _sqlite_path(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        existing_file(database, config=True)  # SQLite would block on a FIFO, fail late on a folder
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
    """The job's experiment id; a new one on a local SQLite store keeps artifacts beside the database.

    Tagged as model development (:data:`EXPERIMENT_KIND_TAG`), an experiment made before too.
    """
    check_experiment_name(name, key="experiment")  # it becomes a folder name under the store
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            MlflowClient().set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return experiment.experiment_id
    database = _sqlite_path(tracking_uri)
    location = (database.parent / name).resolve().as_uri() if database is not None else None
    return mlflow.create_experiment(
        name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    )


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
def retrain_run(
    experiment_id: str, run_name: str, tags: dict[str, str], *, run_type: str = "retrain"
) -> Iterator[Run]:
    """The parent run; FAILED with the error on it (:func:`log_failure`) if the body raises,
    KILLED if it is interrupted.

    ``run_type`` (tag :data:`RUN_TYPE_TAG`) is set as the run starts: only ``retrain``
    runs are a job's, which ``promote``, the stale-run cleanup and ``compare`` act on.
    """
    tags = {**tags, RUN_TYPE_TAG: run_type}
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run,
        _failure_recorded(run.info.run_id),
    ):
        yield run


@contextmanager
def _failure_recorded(run_id: str) -> Iterator[None]:
    """The active run ended KILLED on an interrupt, its error on it (:func:`log_failure`) on a failure."""
    try:
        yield
    except KeyboardInterrupt:
        while mlflow.active_run() is not None:  # candidate child runs first, then the parent
            mlflow.end_run("KILLED")
        raise
    except Exception as error:  # candidate runs are ended FAILED by their own ``with``
        log_failure(run_id, error)
        raise


class RunOpening:
    """A command's run, opened in a thread while the command's work runs.

    Opening a run first opens the store: on a fresh SQLite store MLflow creates
    its schema, about 1.4 s, as long as loading and planning a 500-series
    forecast, with the workers idle. The thread sets up the store and the
    experiment (:func:`ensure_experiment`) and creates the run with its tags,
    ``params`` and training ``dataset``, so the run shows RUNNING from the start.
    The command wraps its work in :meth:`working` (an error there ends the run
    FAILED with the error on it, an interrupt KILLED, as :func:`retrain_run`
    would) and logs the rest in :meth:`resumed`, which waits for the run and
    makes it the active one. A store that fails to open fails the command there.
    """

    def __init__(
        self,
        experiment: str,
        tracking_uri: str,
        run_name: str,
        tags: dict[str, str],
        *,
        run_type: str,
        params: dict[str, Any],
        dataset: Callable[[], Dataset] | None = None,
    ) -> None:
        self._experiment, self._tracking_uri, self._run_name = experiment, tracking_uri, run_name
        self._tags = {**tags, RUN_TYPE_TAG: run_type}
        self._params, self._dataset = params, dataset
        self._run_id: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, name="forecasting-run-opening", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            experiment_id = ensure_experiment(self._experiment, self._tracking_uri)
            client = MlflowClient()
            tags = context_registry.resolve_tags(self._tags)  # what mlflow.start_run adds: user, source
            self._run_id = client.create_run(experiment_id, tags=tags, run_name=self._run_name).info.run_id
            log_batch(self._run_id, params=[Param(k, v) for k, v in param_texts(self._params).items()])
            if self._dataset is not None:
                client.log_inputs(self._run_id, datasets=[_training_input(self._dataset())])
        except BaseException as error:  # the command raises it where it waits for the run
            self._error = error
            if self._run_id is not None:
                self._end(error)

    def run_id(self) -> str:
        """The run's id once it is open; the error that kept it from opening, raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._run_id is not None
        return self._run_id

    @contextmanager
    def working(self) -> Iterator[None]:
        """The command's work before it logs: a failure or an interrupt ends the run as it ends it."""
        try:
            yield
        except BaseException as error:
            self._thread.join()
            if self._run_id is not None and self._error is None:
                self._end(error)
            raise

    @contextmanager
    def resumed(self) -> Iterator[Run]:
        """The run, active for what the command logs now; ended as :func:`retrain_run` ends its run."""
        with mlflow.start_run(run_id=self.run_id()) as run, _failure_recorded(run.info.run_id):
            yield run

    def _end(self, error: BaseException) -> None:
        """End the run KILLED (an interrupt) or FAILED with ``error`` on it; best effort."""
        assert self._run_id is not None
        interrupted = isinstance(error, KeyboardInterrupt)
        if not interrupted:
            log_failure(self._run_id, error)
        try:
            MlflowClient().set_terminated(self._run_id, "KILLED" if interrupted else "FAILED")
        except (MlflowException, OSError) as lost:
            logger.warning("event=run_status_not_logged run_id=%s error=%r", self._run_id, str(lost))


def log_failure(run_id: str, error: BaseException) -> None:
    """The error on a run that fails: its type and message as tags, and first in the description.

    Best effort: when the store itself is what failed, the run's status is all it can keep.
    """
    message = str(error) or repr(error)
    client = MlflowClient()
    try:
        before = client.get_run(run_id).data.tags.get(NOTE_TAG, "")
        tags = {
            ERROR_TAG: type(error).__name__,
            ERROR_MESSAGE_TAG: _tag_text(message),
            NOTE_TAG: _tag_text(f"**Failed**: {type(error).__name__}: {message}\n\n{before}".rstrip()),
        }
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    except (MlflowException, OSError) as lost:
        logger.warning("event=run_error_not_logged run_id=%s error=%r", run_id, str(lost))


def _tag_text(text: str) -> str:
    """``text`` within MLflow's tag length, cut with a note when longer."""
    if len(text) <= MAX_TAG_CHARS:
        return text
    note = f"... ({len(text):,} characters, cut)"
    return text[: MAX_TAG_CHARS - len(note)] + note


def set_description(text: str) -> None:
    """The active run's description (markdown, ``mlflow.note.content``): what it did and decided."""
    mlflow.set_tag(NOTE_TAG, _tag_text(text))


def ui_path(experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI's page of an experiment (or run) in its model-training view, after the UI's address."""
    page = f"#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{page}?workflowType=machine_learning"


def end_stale_runs(experiment_id: str, job: str) -> list[str]:
    """Mark retrain runs of ``job`` still RUNNING as KILLED: call only while holding the job lock.

    Not a one-off ``forecast`` run, which no job lock covers (it may be running now).

    A retrain killed with SIGKILL cannot end its run; under the lock no other
    retrain of the job is running, so such runs are stale. Returns their ids.
    """
    client = MlflowClient()
    stale = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'RUNNING' and tags.`{JOB_TAG}` = '{job}' "
            f"and tags.`{RUN_TYPE_TAG}` = 'retrain'"
        ),
    )
    for run in stale:
        client.set_terminated(run.info.run_id, "KILLED")
        logger.warning("event=stale_run_killed job=%s run_id=%s", job, run.info.run_id)
    return [run.info.run_id for run in stale]


@progress.phase("log_dataset")
def log_dataset(panel: SeriesPanel, *, name: str, digest: str, source: str) -> Dataset:
    """The training panel as an MLflow dataset input (context ``training``) with our digest.

    Returns the dataset, so the candidate runs log the same one without building it again.
    A phase of its own in the command's progress.
    """
    dataset = training_dataset(panel, name=name, digest=digest, source=source)
    mlflow.log_input(dataset, context="training")
    return dataset


def training_dataset(panel: SeriesPanel, *, name: str, digest: str, source: str) -> Dataset:
    """The training panel as an MLflow dataset with our digest (:func:`log_dataset` logs it)."""
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    with warnings.catch_warnings():  # a plain path "can be interpreted in multiple ways": all local
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            records, source=source, name=name, targets="value", digest=digest[:36]
        )
        # MLflow infers the column types row by row over the whole panel (42 s on the built BTS
        # panel); the same schema comes from one row plus, per column, a row where it is missing.
        dataset.__dict__["schema"] = mlflow.models.infer_signature(_schema_rows(records)).inputs
    return dataset


def _training_input(dataset: Dataset) -> DatasetInput:
    """``dataset`` as :func:`mlflow.log_input` logs it with context "training", for a client call."""
    fields = dataset.to_dict()
    entity = DatasetEntity(
        name=fields["name"],
        digest=fields["digest"],
        source_type=fields["source_type"],
        source=fields["source"],
        schema=fields.get("schema"),
        profile=fields.get("profile"),
    )
    return DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")])


def _schema_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Per column its first present and first missing row: every type and nullability the frame has."""
    missing = records.isna().to_numpy()
    rows = {0}
    for column in range(missing.shape[1]):
        for wanted in (False, True):
            found = np.flatnonzero(missing[:, column] == wanted)
            rows.update(found[:1].tolist())
    return records.iloc[sorted(rows)]


def in_run() -> bool:
    """Whether an MLflow run is active, so an artifact has a run to go to."""
    return mlflow.active_run() is not None


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """A table artifact as CSV (readable in the MLflow UI and by pandas; formulas neutralised)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(artifact_file).name
        write_csv_atomic(frame, path, durable=False)  # a scratch copy: MLflow stores it
        parent = str(Path(artifact_file).parent)
        mlflow.log_artifact(str(path), artifact_path=None if parent == "." else parent)


def log_params(params: dict[str, Any]) -> None:
    """``get_params()`` as MLflow params (values as text, truncated to MLflow's limit)."""
    mlflow.log_params(param_texts(params))


def param_texts(params: dict[str, Any]) -> dict[str, str]:
    """Each value as a person reads it: ``ets``, ``12``, ``None``; lists and tables as JSON."""
    return {k: _param_text(v)[:MAX_PARAM_CHARS] for k, v in params.items()}


def _param_text(value: Any) -> str:
    if value is None or isinstance(value, str | numbers.Number):  # numpy scalars too
        return str(value)
    return json.dumps(value, default=str)


def log_batch(run_id: str, *, metrics: Sequence[Metric] = (), params: Sequence[Param] = ()) -> None:
    """Params and metrics in as few ``log_batch`` calls as MLflow allows.

    Each call is one store transaction (a commit, on SQLite a disk sync), so a
    candidate's dozens of values cost one instead of one per ``log_metrics``.
    """
    client = MlflowClient()
    params, metrics = list(params), list(metrics)
    while params or metrics:
        batch_params, params = params[:MAX_BATCH_PARAMS], params[MAX_BATCH_PARAMS:]
        room = MAX_BATCH_ENTITIES - len(batch_params)
        batch_metrics, metrics = metrics[:room], metrics[room:]
        client.log_batch(run_id, metrics=batch_metrics, params=batch_params)


def log_candidate(
    model: PanelForecaster,
    *,
    results: pd.DataFrame,
    scores: pd.Series,
    by_horizon: pd.DataFrame,
    by_series: pd.DataFrame,
    panel: SeriesPanel,
    dataset: Dataset,
    tags: dict[str, str],
) -> str:
    """One nested run for a candidate: params, metrics, per-step and per-series tables, plots.

    ``dataset`` is the parent run's training input (:func:`log_dataset`).
    Tags go with the run's creation and params and metrics in one batch.
    """
    parent = mlflow.active_run()
    experiment_id = parent.info.experiment_id if parent else None
    tags = {**tags, RUN_TYPE_TAG: "candidate", "forecasting.model": model.model_name}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=model.model_name, nested=True, tags=tags
    ) as run:
        now = int(time.time() * 1000)
        metrics = [Metric(m, v, now, 0) for m, v in _finite_metrics(scores).items()]
        metrics += [
            Metric(m, v, now, int(step))
            for step, row in by_horizon.iterrows()
            for m, v in _finite_metrics(row, "_by_step").items()
        ]
        params = [Param(k, v) for k, v in param_texts(model.get_params(deep=False)).items()]
        log_batch(run.info.run_id, metrics=metrics, params=params)
        mlflow.log_input(dataset, context="training")
        log_frame(by_series.reset_index(), "metrics_by_series.csv")
        log_frame(by_horizon.reset_index(), "metrics_by_horizon.csv")
        log_plots(results, panel)
        return run.info.run_id


def _finite_metrics(row: pd.Series, suffix: str = "") -> dict[str, float]:
    names = leaderboard_columns(metric_levels(list(row.index)))  # coverage etc. at the request's levels
    return {f"{m}{suffix}": float(row[m]) for m in names if m in row and pd.notna(row[m])}


def log_plots(results: pd.DataFrame, panel: SeriesPanel) -> None:
    """Fan chart of the largest series at the last backtest cutoff.

    The error by horizon is charted by MLflow from the ``*_by_step`` metrics
    and drawn once for all candidates by :func:`log_error_by_horizon`. The
    figures are pyplot-free :class:`~matplotlib.figure.Figure` objects, so no
    backend is switched: a notebook importing this module keeps its own.
    """
    from forecasting.plots import plot_forecast

    largest = largest_series(panel)
    last = results[(results["series_id"] == largest) & (results["cutoff"] == results["cutoff"].max())]
    if not last.empty:
        history = panel.series(largest)
        cutoff = last["cutoff"].iloc[0]
        levels = frame_levels(results)  # the backtest's, i.e. the request's
        figure = plot_forecast(history[history.index <= cutoff], last, levels, history_months=48)
        mlflow.log_figure(figure, FAN_CHART)


def largest_series(panel: SeriesPanel) -> str:
    """The series with the largest total: the one a reader of the fan chart looks at first."""
    return str(panel.records.groupby("series_id", observed=True)["value"].sum().idxmax())


def log_forecast_plot(panel: SeriesPanel, forecasts: pd.DataFrame, levels: Sequence[int]) -> None:
    """Fan chart of the largest series' forecast in service (as exported), on the active (retrain) run."""
    from forecasting.plots import plot_forecast, value_label

    largest = largest_series(panel)
    ahead = forecasts[forecasts["series_id"] == largest]
    if not ahead.empty:  # a stale largest series is not forecast
        unit = value_label(panel, largest)
        figure = plot_forecast(panel.series(largest), ahead, levels, unit=unit, history_months=48)
        mlflow.log_figure(figure, FAN_CHART)


def log_level_chart(board: pd.DataFrame) -> None:
    """Each candidate's backtest MASE at each level of the hierarchy, on the active (retrain) run.

    ``board`` is :func:`forecasting.evaluation.reconciled.leaderboard_by_level` of the candidates'
    backtests; also logged as ``leaderboard_by_level_candidates.csv``.
    """
    from forecasting.plots import plot_reconciled_by_level

    log_frame(board, "leaderboard_by_level_candidates.csv")
    mlflow.log_figure(plot_reconciled_by_level(board), LEVEL_CHART)


def log_headline(metrics: dict[str, float | None]) -> None:
    """The retrain's headline numbers as metrics of its parent run (the runs table's columns, charted
    across runs); unknown (None) or non-finite ones are left out."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)})


def log_error_by_horizon(results: pd.DataFrame) -> None:
    """Every candidate's backtest MASE against months ahead in one figure, on the active (retrain) run."""
    from forecasting.plots import plot_error_by_horizon

    mlflow.log_figure(plot_error_by_horizon(results), "plots/error_by_horizon.png")


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


def end_recovered_run(run_id: str) -> None:
    """Tag a retrain whose journaled publish the next start finished; a killed one (RUNNING) FINISHED.

    A run that failed during its publish (say the server went away) keeps
    FAILED: the tag says its results are nevertheless the ones in service.
    """
    client = MlflowClient()
    client.set_tag(run_id, RECOVERED_TAG, "publish step completed by the next start")
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, "FINISHED")


def get_run(run_id: str, *, key: str) -> Run:
    """The run, or a ConfigError naming ``key`` when the store has no such run."""
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
    logged = [c.removeprefix("metrics.") for c in found.columns if c.startswith("metrics.")]
    metrics = [m for m in leaderboard_columns(metric_levels(logged)) if f"metrics.{m}" in found.columns]
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


def load_frame(run_id: str, artifact_file: str) -> pd.DataFrame | None:
    """A table artifact of a run logged by :func:`log_frame`; ``None`` when the run or file is gone."""
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_file)
    except (MlflowException, OSError):
        return None
    return read_csv_exact(path, dtype=str, na_values=[])  # every cell as the text it was


def log_live_accuracy(
    metrics: dict[str, float], history: pd.DataFrame, tags: dict[str, str], figure: Figure | None
) -> None:
    """Live accuracy on the retrain run: summary metrics, one point per scored month, drift tags, plot.

    ``history`` (index: month Periods, one column per metric) is logged as
    ``<metric>_by_month`` with the month's ordinal as step and its first day
    as timestamp, so the UI's chart plots live against backtest MASE over time.
    """
    run = mlflow.active_run()
    points = [
        Metric(f"{name}_by_month", float(value), int(month.to_timestamp().timestamp() * 1000), month.ordinal)
        for month, row in history.iterrows()
        for name, value in row.items()
        if pd.notna(value)
    ]
    log_batch(run.info.run_id, metrics=points)
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if pd.notna(v)})
    mlflow.set_tags(tags)
    log_frame(
        history.reset_index().assign(month=lambda f: f["month"].astype(str)), "monitoring/live_by_month.csv"
    )
    if figure is not None:
        mlflow.log_figure(figure, "plots/live_accuracy.png")


def log_level_metrics(board: pd.DataFrame, figure: Figure | None = None) -> None:
    """Per-level metrics of base and reconciled backtests: ``<metric>_<level>_base|reconciled``.

    ``board`` is :func:`forecasting.evaluation.reconciled.leaderboard_by_level`
    output; it is also logged as ``leaderboard_by_level.csv``, and ``figure``
    (base vs reconciled by level) as ``plots/reconciled_by_level.png``.
    """
    for _, row in board.iterrows():
        kind = "reconciled" if RECONCILED_SEPARATOR in str(row["model"]) else "base"
        mlflow.log_metrics(_finite_metrics(row, f"_{row['level']}_{kind}"))
    log_frame(board, "leaderboard_by_level.csv")
    if figure is not None:
        mlflow.log_figure(figure, "plots/reconciled_by_level.png")
