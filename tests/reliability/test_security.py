"""Security: formula-safe exports, no path traversal into file names, no unpickling, a guarded model path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from forecasting import deployment, tracking
from forecasting.data.loaders import load_long
from forecasting.errors import ConfigError, ModelError
from forecasting.export import FORMULA_PREFIXES, export_forecasts, export_paths, forecast_table
from forecasting.jobs.config import load_config
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel
from forecasting.serving import decode_params

from .jobkit import store_uri

pytestmark = pytest.mark.timeout(120)

PAYLOADS = (
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
)


@pytest.fixture
def hostile_csv(tmp_path: Path) -> Path:
    """A long table whose ids and dimensions are spreadsheet formulas (and a traversal attempt)."""
    months = pd.period_range("2021-01", periods=24, freq="M").astype(str)
    rows = []
    for index, payload in enumerate(PAYLOADS):
        sid = payload if index else "../../../../tmp/evil"
        for k, month in enumerate(months):
            rows.append(
                {
                    "series_id": sid,
                    "month": month,
                    "value": 10.0 + k,
                    "flow": "cargo",
                    "crossing": payload,
                    "region": "=1",
                    "measure": "@x",
                    "direction": "+y",
                    "unit": "-z",
                    "currency": "=c",
                    "source": payload,
                }
            )
    path = tmp_path / "hostile.csv"
    pd.DataFrame(rows).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    return path


def test_exports_neutralise_formulas_in_every_text_cell(hostile_csv: Path, tmp_path: Path) -> None:
    panel = SeriesPanel.from_load(load_long(hostile_csv))
    forecasts = make_model("naive").fit(panel).predict(3)
    table = forecast_table(forecasts, panel.metadata, run_id="=run")
    out = tmp_path / "out"
    dated, latest = export_forecasts(table, out, "border", "2022-12")
    assert sorted(p.name for p in out.iterdir()) == [dated.name, latest.name]
    with latest.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(panel.series_ids) == 5  # the tab and CR payloads are one id once surrounding blanks are cut
    assert len(rows) == 5 * 3
    numeric = {"forecast", "lower_80", "upper_80", "lower_95", "upper_95"}
    for row in rows:
        for column, cell in row.items():
            if column in numeric:
                float(cell)
                continue
            assert not cell.startswith(FORMULA_PREFIXES), f"{column}={cell!r} would run in a spreadsheet"
    texts = {row["crossing"] for row in rows}
    assert '\'=HYPERLINK("http://x","y")' in texts and "'@SUM(A1:A9)" in texts
    assert {row["run_id"] for row in rows} == {"'=run"}


def test_negative_numbers_stay_numbers(tmp_path: Path) -> None:
    forecasts = pd.DataFrame(
        {
            "series_id": "s",
            "month": pd.period_range("2023-01", periods=2, freq="M"),
            "model": "naive",
            "forecast": [-1.5, 2.0],
            **{c: [-3.0, 1.0] for c in ("lower_80", "lower_95")},
            **{c: [0.0, 3.0] for c in ("upper_80", "upper_95")},
        }
    )
    metadata = pd.DataFrame({"flow": ["trade_value"]}, index=pd.Index(["s"], name="series_id"))
    table = forecast_table(forecasts, metadata, run_id="r")
    assert table["forecast"].tolist() == [-1.5, 2.0]


# --- path traversal ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/abs", "x\\y", "Upper", "a b", ""])
def test_job_names_from_config_cannot_escape(name: str, tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_text(f"[job]\nname = {json.dumps(name)}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="job.name"):
        load_config(path)


@pytest.mark.parametrize("name", ["../evil", "a/../../b", "/etc/cron.d/x"])
def test_job_names_from_code_cannot_escape(name: str, tmp_path: Path) -> None:
    """Overrides and direct calls are checked too, not only the TOML file."""
    with pytest.raises(ConfigError, match="name"):
        load_config(None, name=name)
    with pytest.raises(ConfigError, match="name"):
        export_paths(tmp_path, name, "2023-01")
    with pytest.raises((ConfigError, ModelError)):
        deployment.stage_champion(name, "1", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_series_names_never_become_file_names(hostile_csv: Path, tmp_path: Path) -> None:
    panel = SeriesPanel.from_load(load_long(hostile_csv))
    assert "../../../../tmp/evil" in panel.series_ids
    forecasts = make_model("naive").fit(panel).predict(2)
    out = tmp_path / "deep" / "out"
    export_forecasts(forecast_table(forecasts, panel.metadata, run_id="r"), out, "job", "2022-12")
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "deep/out/forecasts_job_2022-12.csv",
        "deep/out/forecasts_job_latest.csv",
        "hostile.csv",
    ]


# --- no unpickling ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "os.system",
        "builtins.eval",
        "pickle.loads",
        "forecasting.jobs.lock.is_held",  # a function, not an estimator class
        "sklearn.utils.Bunch",  # a class, but not an estimator
    ],
)
def test_model_specs_only_build_estimator_classes(target: str) -> None:
    with pytest.raises(ModelError, match="refusing"):
        decode_params({"__estimator__": target, "params": {"pid": 1}})


def test_spec_round_trip_still_builds_estimators() -> None:
    spec = {"__estimator__": "sklearn.linear_model.Ridge", "params": {"alpha": 2.0}}
    assert decode_params(spec).get_params()["alpha"] == 2.0


@pytest.fixture
def logged_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A serving model logged in-process to a fresh SQLite store under ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    months = pd.period_range("2021-01", periods=24, freq="M")
    frame = pd.DataFrame({"series_id": "s", "month": months, "value": np.arange(24.0) + 5, "flow": "cargo"})
    from forecasting.panel import SeriesPanel

    panel = SeriesPanel(frame)
    model = make_model("seasonal_naive")
    forecasts = model.fit(panel).predict(3)
    uri = tracking.configure(store_uri(tmp_path / "mlruns" / "mlflow.db"))
    experiment = tracking.ensure_experiment("security", uri)
    with mlflow.start_run(experiment_id=experiment):
        model_uri = tracking.log_serving_model(
            model, panel=panel, forecasts=forecasts, horizon=3, levels=(80, 95), exog=None
        )
    local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(tmp_path / "download")))
    return model_uri, local


def test_logged_model_holds_no_pickles(logged_model: tuple[str, Path]) -> None:
    model_uri, local = logged_model
    files = [p for p in local.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "MLmodel",
        "model.py",
        "spec.json",
        "panel.parquet",
        "forecasts.parquet",
    }
    for path in files:
        assert path.suffix not in {".pkl", ".pickle", ".joblib", ".cloudpickle"}, path
        assert path.read_bytes()[:2] not in {b"\x80\x04", b"\x80\x05"}, f"{path} is a pickle"
    mlmodel = (local / "MLmodel").read_text(encoding="utf-8")
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert "python_model.pkl" not in mlmodel


def test_loading_a_model_outside_the_store_needs_a_flag(
    logged_model: tuple[str, Path], tmp_path: Path
) -> None:
    model_uri, local = logged_model
    stored = tracking.load_forecaster(model_uri)
    assert len(stored.predict(pd.DataFrame({"series_id": ["s"]}), params={"horizon": 3})) == 3
    with pytest.raises(ModelError, match="outside"):
        tracking.load_forecaster(str(local))
    loaded = tracking.load_forecaster(str(local), allow_outside_store=True)
    assert len(loaded.predict(pd.DataFrame({"series_id": ["s"]}), params={"horizon": 2})) == 2
