"""The MLflow pyfunc model a retrain logs and a scoring job loads, without pickles.

The logged model is a directory of plain files:

- ``spec.json``: the model spec (registry name + ``get_params()`` as JSON), the
  horizon and levels the job forecast, and the exogenous settings (calendar
  flag and events) needed to rebuild regressors;
- ``panel.parquet``: the training records (``month`` as ``YYYY-MM``);
- ``forecasts.parquet``: the forecasts computed at fit time, which the job
  also exported.

``predict(DataFrame[series_id], params={"horizon": H})`` returns the stored
forecasts for those series when ``H`` is at most the stored horizon (exactly
what the job exported) and otherwise refits the spec on the stored panel, which
is deterministic. The Python entry point is MLflow's models-from-code file
(a three-line script importing :class:`ForecastModel`), so loading never
unpickles anything.

Trust boundary: ``mlflow.pyfunc.load_model`` runs a folder's ``model.py``
and follows its ``MLmodel`` (which could name a pickle), so a model folder is
code. Promotion writes a manifest (:data:`MANIFEST_FILE`: the sha256 of every
file) into ``models/<job>`` and records the manifest's own sha256 on the
registered version (tag :data:`MANIFEST_TAG`). :func:`load_verified_model`
copies the folder to a private directory, checks every byte of the copy
against that record, and only then lets MLflow import it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator

from forecasting.core.checks import check_job_name
from forecasting.core.constants import MAX_HORIZON
from forecasting.core.constants import VERSION as __version__
from forecasting.errors import DataError, ModelError
from forecasting.features.regressors import exog_from_settings
from forecasting.models.base import PanelForecaster, in_window
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

SPEC_FILE, PANEL_FILE, FORECASTS_FILE, CODE_FILE = (
    "spec.json",
    "panel.parquet",
    "forecasts.parquet",
    "model.py",
)
ENTRY_POINT = (
    '"""MLflow models-from-code entry point: see forecasting.serving."""\n'
    "from mlflow.models import set_model\n\n"
    "from forecasting.serving import ForecastModel\n\n"
    "set_model(ForecastModel())\n"
)
_IMPORTABLE_PREFIXES = ("forecasting.", "sklearn.")
MANIFEST_FILE = "forecasting-manifest.json"
"""In every promoted model folder: job, version and the sha256 of every other file."""
MANIFEST_TAG = "forecasting.manifest_sha256"
"""On the registered model version: the sha256 of its manifest, the trust anchor of a folder."""
MANIFEST_MAX_BYTES = 1 << 20


# --- model spec: registry name + parameters as JSON ----------------------------
def model_spec(model: PanelForecaster) -> dict[str, Any]:
    """``{"model": registry name, "params": JSON-able get_params()}``."""
    return {"model": model.name, "params": encode_params(model.get_params(deep=False))}


def model_from_spec(spec: dict[str, Any]) -> PanelForecaster:
    """A fresh, unfitted forecaster from :func:`model_spec` output."""
    return make_model(spec["model"], **decode_params(spec["params"]))


def spec_key(spec: dict[str, Any]) -> str:
    """Canonical text of a spec, to tell whether two specs are the same model."""
    return json.dumps(spec, sort_keys=True)


def encode_params(value: Any) -> Any:
    """JSON-able form of estimator parameters; nested estimators keep their class and params."""
    if isinstance(value, PanelForecaster):
        return {"__forecaster__": value.name, "params": encode_params(value.get_params(deep=False))}
    if isinstance(value, BaseEstimator):
        cls = type(value)
        return {
            "__estimator__": f"{cls.__module__}.{cls.__qualname__}",
            "params": encode_params(value.get_params(deep=False)),
        }
    if isinstance(value, dict):
        return {str(k): encode_params(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (
            {"__tuple__": [encode_params(v) for v in value]}
            if isinstance(value, tuple)
            else [encode_params(v) for v in value]
        )
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise ModelError(f"cannot store parameter value {value!r} of type {type(value).__name__} as JSON")


def decode_params(value: Any) -> Any:
    """Inverse of :func:`encode_params`; only imports classes from forecasting or scikit-learn."""
    if isinstance(value, list):
        return [decode_params(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(decode_params(v) for v in value["__tuple__"])
    if "__forecaster__" in value:
        return model_from_spec({"model": value["__forecaster__"], "params": value["params"]})
    if "__estimator__" in value:
        module_name, _, class_name = value["__estimator__"].rpartition(".")
        if not module_name.startswith(_IMPORTABLE_PREFIXES):
            raise ModelError(f"refusing to import estimator class {value['__estimator__']!r}")
        cls = getattr(importlib.import_module(module_name), class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
            raise ModelError(f"refusing to build {value['__estimator__']!r}: not an estimator class")
        return cls(**decode_params(value["params"]))
    return {k: decode_params(v) for k, v in value.items()}


# --- writing the artifact -----------------------------------------------------
def panel_to_frame(panel: SeriesPanel) -> pd.DataFrame:
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    return records


def panel_from_frame(records: pd.DataFrame) -> SeriesPanel:
    records = records.copy()
    records["month"] = pd.PeriodIndex(records["month"].astype(str), freq="M")
    return SeriesPanel(records)


def forecasts_to_frame(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Forecasts with ``month`` as ``YYYY-MM`` text: the pyfunc output and the stored file."""
    out = forecasts.reset_index(drop=True).copy()
    out["month"] = out["month"].astype(str).str.slice(0, 7)
    out["series_id"] = out["series_id"].astype(str)
    out["model"] = out["model"].astype(str)
    return out


def write_model_files(
    directory: str | Path,
    *,
    model: PanelForecaster,
    panel: SeriesPanel,
    forecasts: pd.DataFrame,
    horizon: int,
    levels: Sequence[int],
    exog: dict[str, Any] | None,
) -> dict[str, str]:
    """Write spec, panel and forecasts; returns the ``artifacts`` mapping for ``log_model``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = {
        **model_spec(model),
        "horizon": int(horizon),
        "levels": [int(level) for level in levels],
        "exog": exog if model.uses_exog else None,
        "package_version": __version__,
    }
    (directory / SPEC_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True), encoding="utf-8")
    panel_to_frame(panel).to_parquet(directory / PANEL_FILE, index=False)
    forecasts_to_frame(forecasts).to_parquet(directory / FORECASTS_FILE, index=False)
    (directory / CODE_FILE).write_text(ENTRY_POINT, encoding="utf-8")
    return {name: str(directory / name) for name in (SPEC_FILE, PANEL_FILE, FORECASTS_FILE)}


def model_signature(forecasts: pd.DataFrame, horizon: int) -> ModelSignature:
    """Input: rows of ``series_id``; params: ``horizon``; output: the forecast frame."""
    example = forecasts_to_frame(forecasts)
    return infer_signature(
        example[["series_id"]].drop_duplicates(), example, params={"horizon": int(horizon)}
    )


# --- the pyfunc model ----------------------------------------------------------
class ForecastModel(mlflow.pyfunc.PythonModel):
    """Serve stored forecasts; refit the stored spec for longer horizons."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        # Everything is read now: a verified model is loaded from a private copy deleted afterwards.
        self.spec_ = json.loads(Path(context.artifacts[SPEC_FILE]).read_text(encoding="utf-8"))
        self.forecasts_ = pd.read_parquet(context.artifacts[FORECASTS_FILE])
        self.panel_records_ = pd.read_parquet(context.artifacts[PANEL_FILE])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        horizon = int((params or {}).get("horizon") or self.spec_["horizon"])
        if horizon < 1:
            raise ValueError(f"The 'horizon' parameter must be a positive int. Got {horizon} instead.")
        if horizon > MAX_HORIZON:  # a refit for it would allocate gigabytes
            raise ValueError(f"The 'horizon' parameter must be at most {MAX_HORIZON}. Got {horizon} instead.")
        wanted = _requested_series(model_input, set(self.forecasts_["series_id"]))
        if horizon <= self.spec_["horizon"]:
            forecasts = self.forecasts_
        else:
            forecasts = forecasts_to_frame(self.refit(horizon))
        chosen = forecasts[forecasts["series_id"].isin(wanted)]
        step = chosen.groupby("series_id", sort=False).cumcount() + 1
        return chosen[step <= horizon].reset_index(drop=True)

    def refit(self, horizon: int) -> pd.DataFrame:
        """Fit the stored spec on the stored panel and forecast the ``horizon`` months after the
        panel's last month (the job's window, for series that ended early too)."""
        panel = panel_from_frame(self.panel_records_)
        model = model_from_spec(self.spec_)
        exog = self.spec_.get("exog")
        steps = panel.steps_to_window(horizon)
        if exog is None:
            forecasts = model.fit(panel).predict(steps, levels=self.spec_["levels"])
        else:
            X, X_future = exog_from_settings(panel, steps, exog)
            forecasts = model.fit(panel, X).predict(steps, X_future, levels=self.spec_["levels"])
        return in_window(forecasts, panel.records["month"].max(), horizon)


def _requested_series(model_input: pd.DataFrame, known: set[str]) -> list[str]:
    if "series_id" not in model_input.columns:
        raise DataError("model input needs a 'series_id' column", column="series_id")
    wanted = [str(s) for s in pd.unique(model_input["series_id"])]
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise DataError(f"unknown series {unknown[:5]}; the model knows {len(known)}", series=unknown[0])
    return wanted


# --- the trust boundary: manifest written at promotion, checked before loading -----------------
def build_manifest(folder: str | Path, *, job: str, version: str) -> bytes:
    """The manifest of a model folder: job, version and the sha256 of every file but the manifest."""
    folder = Path(folder)
    files = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ModelError(f"refusing model folder {folder}: {name} is a symbolic link")
        if path.is_file() and name != MANIFEST_FILE:
            files[name] = _sha256(path)
    manifest = {"job": job, "version": str(version), "files": files}
    return json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")


def write_manifest(folder: str | Path, *, job: str, version: str) -> str:
    """Write :data:`MANIFEST_FILE` into ``folder``; returns the manifest's sha256 for the registry."""
    data = build_manifest(folder, job=job, version=version)
    (Path(folder) / MANIFEST_FILE).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_verified_model(
    path: str | Path,
    *,
    job: str,
    tracking_uri: str | None = None,
    manifest_sha256: str | None = None,
) -> mlflow.pyfunc.PyFuncModel:
    """Load ``models/<job>`` only if every file is the one the registry recorded at promotion.

    The folder is copied to a private temporary directory, the copy is
    checked against its manifest and the manifest against the registered
    version's :data:`MANIFEST_TAG` (from the store at ``tracking_uri``, or
    ``manifest_sha256`` when the scoring host cannot reach the registry), and
    only the verified copy is loaded; nothing in the folder is imported or
    unpickled before that. ``job`` (required) pins the registered model it must belong to:
    a folder another job promoted is verified against that job's record and would pass.

    Raises
    ------
    ModelError
        Naming the folder and the first file that differs, or why the record is missing.
    """
    check_job_name(job, key="job")
    source = Path(path).resolve()
    manifest_path = source / MANIFEST_FILE
    if not source.is_dir() or not manifest_path.is_file():
        raise ModelError(f"refusing model folder {path}: no {MANIFEST_FILE} (not promoted by forecasting?)")
    _refuse_special_files(source, path)
    with tempfile.TemporaryDirectory(prefix="forecasting-verified-") as private:
        copy = Path(private) / "model"
        shutil.copytree(source, copy, symlinks=True)
        manifest_bytes = (copy / MANIFEST_FILE).read_bytes()[:MANIFEST_MAX_BYTES]
        manifest = _read_manifest(manifest_bytes, path)
        if manifest["job"] != job:
            raise ModelError(f"refusing model folder {path}: it holds job {manifest['job']!r}, not {job!r}")
        expected = manifest_sha256 or _registered_manifest_digest(manifest, tracking_uri, path)
        if hashlib.sha256(manifest_bytes).hexdigest() != expected:
            raise ModelError(
                f"refusing model folder {path}: {MANIFEST_FILE} differs from the record of version "
                f"{manifest['version']} of {manifest['job']!r} in the registry"
            )
        actual = json.loads(build_manifest(copy, job=manifest["job"], version=manifest["version"]))
        changed = _first_difference(manifest["files"], actual["files"])
        if changed is not None:
            raise ModelError(f"refusing model folder {path}: {changed} since promotion")
        return mlflow.pyfunc.load_model(str(copy))


def _refuse_special_files(folder: Path, path: str | Path) -> None:
    """Only folders and regular files may be copied: a FIFO would hang the copy, a link point anywhere."""
    for entry in folder.rglob("*"):
        if entry.is_symlink() or not (entry.is_dir() or entry.is_file()):
            name = entry.relative_to(folder).as_posix()
            raise ModelError(f"refusing model folder {path}: {name} is not a regular file")


def _read_manifest(data: bytes, path: str | Path) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not (isinstance(manifest, dict) and {"job", "version", "files"} <= set(manifest)):
        raise ModelError(f"refusing model folder {path}: {MANIFEST_FILE} is not a forecasting manifest")
    return manifest


def _registered_manifest_digest(manifest: dict[str, Any], tracking_uri: str | None, path: str | Path) -> str:
    job, version = str(manifest["job"]), str(manifest["version"])
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        recorded = client.get_model_version(job, version).tags.get(MANIFEST_TAG)
    except MlflowException as error:
        raise ModelError(
            f"refusing model folder {path}: version {version} of {job!r} is not in the registry "
            f"({tracking_uri or mlflow.get_registry_uri()}): {error.message}"
        ) from None
    if not recorded:
        raise ModelError(
            f"refusing model folder {path}: the registry records no manifest for version {version}"
        )
    return recorded


def _first_difference(expected: dict[str, str], actual: dict[str, str]) -> str | None:
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            return f"{name} is missing"
        if name not in expected:
            return f"{name} was added"
        if expected[name] != actual[name]:
            return f"{name} was changed"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
