"""The retraining job end to end on a tiny panel and a temporary SQLite store.

Candidates are the fast baselines; each test has its own store, exports and
models folder under ``tmp_path``, so nothing touches the repository's mlruns/.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import seasonal_panel  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from forecasting import deployment, tracking  # noqa: E402
from forecasting.cli import main  # noqa: E402
from forecasting.errors import ConfigError  # noqa: E402
from forecasting.export import export_columns, read_export  # noqa: E402
from forecasting.jobs.config import load_config  # noqa: E402
from forecasting.jobs.lock import JobLock, JobLockedError  # noqa: E402
from forecasting.jobs.promotion import decide  # noqa: E402
from forecasting.jobs.retrain import run_retrain  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

JOB = "tiny"
FORECAST_COLUMNS = ["series_id", "month", "model", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]


def write_panel_csv(path: Path, n_series: int = 3, n_months: int = 48) -> Path:
    records = seasonal_panel(n_series=n_series, n_months=n_months, seed=1).to_long()
    records["month"] = records["month"].astype(str)
    records["unit"] = "tonnes"
    records[["series_id", "month", "value", "flow", "unit"]].to_csv(path, index=False)
    return path


def write_job(
    folder: Path, models: list[str], *, tracking_uri: str | None = None, margin: float = 0.02, extra: str = ""
) -> Path:
    """A job TOML over a tiny long CSV, writing everything under ``folder``."""
    data = write_panel_csv(folder / "panel.csv")
    uri = tracking_uri or f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"
    text = f"""
[job]
name = "{JOB}"
horizon = 6
output_dir = "{folder / "exports"}"
models_dir = "{folder / "models"}"

[tracking]
uri = "{uri}"

[[sources]]
path = "{data}"
format = "long"

[candidates]
models = {json.dumps(models)}

[backtest]
folds = 2

[promotion]
margin = {margin}
{extra}
"""
    path = folder / "job.toml"
    path.write_text(text, encoding="utf-8")
    return path


def exported(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "exports" / f"forecasts_{JOB}_latest.csv", dtype={"month": str})


def assert_same_forecasts(served: pd.DataFrame, export: pd.DataFrame) -> None:
    left = served[FORECAST_COLUMNS].sort_values(["series_id", "month"]).reset_index(drop=True)
    right = export[FORECAST_COLUMNS].sort_values(["series_id", "month"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)


def spec_model(model_dir: Path) -> str:
    spec = next(model_dir.rglob("spec.json"))
    return json.loads(spec.read_text())["model"]


@pytest.mark.slow
def test_first_run_promotes_second_keeps_and_the_logged_model_serves_the_export(tmp_path) -> None:
    config_path = write_job(tmp_path, ["naive", "seasonal_naive", "drift"])
    config = load_config(config_path)
    first = run_retrain(config)
    assert first.decision.promote and first.decision.reason == "no serving champion yet"
    assert first.decision.candidate_model == "seasonal_naive"  # the panel is strongly seasonal
    assert first.champion_version == "1"
    assert first.leaderboard["model"].tolist()[0] == "seasonal_naive"

    export = exported(tmp_path)
    assert list(export.columns) == export_columns()
    assert len(export) == 3 * 6 and set(export["run_id"]) == {first.run_id}
    assert export["month"].iloc[:6].tolist() == [f"2019-{m:02d}" for m in range(1, 7)]
    assert (tmp_path / "exports" / f"forecasts_{JOB}_2018-12.csv").read_bytes() == (
        tmp_path / "exports" / f"forecasts_{JOB}_latest.csv"
    ).read_bytes()

    series = pd.DataFrame({"series_id": ["s0", "s1", "s2"]})
    for uri in (f"models:/{JOB}@champion", str(tmp_path / "models" / JOB), first.model_uri):
        served = mlflow.pyfunc.load_model(uri).predict(series, params={"horizon": 6})
        assert_same_forecasts(served, export)
    local = mlflow.pyfunc.load_model(str(tmp_path / "models" / JOB))
    three = local.predict(series.iloc[:1], params={"horizon": 3})
    assert three["month"].tolist() == ["2019-01", "2019-02", "2019-03"]

    run = MlflowClient().get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["promotion.decision"] == "promoted"
    assert run.data.tags["forecasting.data_digest"] == tracking.data_digest(seasonal_panel_from(tmp_path))
    children = mlflow.search_runs(
        experiment_names=[JOB], filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'"
    )
    assert sorted(children["tags.forecasting.model"]) == ["drift", "naive", "seasonal_naive"]
    assert children["metrics.mase"].notna().all()
    child = children["run_id"].iloc[0]
    artifacts = {a.path for a in MlflowClient().list_artifacts(child)} | {
        a.path for a in MlflowClient().list_artifacts(child, "plots")
    }
    assert {"metrics_by_series.csv", "plots/fan_chart_largest_series.png"} <= artifacts
    # The error by horizon: the candidates' step metrics, and one figure of all of them on the retrain run.
    assert "plots/error_by_horizon.png" in {
        a.path for a in MlflowClient().list_artifacts(first.run_id, "plots")
    }
    history = MlflowClient().get_metric_history(child, "mase_by_step")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5, 6]

    assert main(["retrain", "--config", str(config_path)]) == 0
    second = retrain_runs()
    latest = second.sort_values("start_time").iloc[-1]
    assert latest["tags.promotion.decision"] == "kept"
    assert float(latest["tags.promotion.candidate_mase"]) == pytest.approx(
        float(latest["tags.promotion.champion_mase"]), rel=1e-5
    )
    assert str(deployment.champion_version(JOB).version) == "1"
    assert len(MlflowClient().search_model_versions(f"name = '{JOB}'")) == 1
    assert_same_forecasts(
        mlflow.pyfunc.load_model(f"models:/{JOB}@champion").predict(series, params={"horizon": 6}),
        exported(tmp_path),
    )


def retrain_runs() -> pd.DataFrame:
    return mlflow.search_runs(experiment_names=[JOB], filter_string="tags.`forecasting.run_type` = 'retrain'")


def seasonal_panel_from(folder: Path):
    from forecasting.data.loaders import load

    return SeriesPanel.from_load(load(folder / "panel.csv", "long"))


@pytest.mark.slow
def test_gate_promotes_a_clearly_better_model_then_rollback_restores(tmp_path) -> None:
    run_retrain(load_config(write_job(tmp_path, ["naive"])))
    assert spec_model(tmp_path / "models" / JOB) == "naive"
    second = run_retrain(load_config(write_job(tmp_path, ["naive", "seasonal_naive"])))
    assert second.decision.promote and second.decision.candidate_model == "seasonal_naive"
    assert second.decision.champion_model == "naive"
    assert second.decision.candidate_mase < 0.98 * second.decision.champion_mase
    tags = MlflowClient().get_run(second.run_id).data.tags
    assert tags["promotion.champion_version"] == "1" and tags["promotion.decision"] == "promoted"
    champion = deployment.champion_version(JOB)
    assert str(champion.version) == "2" and champion.tags["previous_champion"] == "1"
    assert spec_model(tmp_path / "models" / JOB) == "seasonal_naive"

    assert main(["rollback", "--config", str(tmp_path / "job.toml")]) == 0
    assert str(deployment.champion_version(JOB).version) == "1"
    assert spec_model(tmp_path / "models" / JOB) == "naive"
    assert main(["rollback", "--config", str(tmp_path / "job.toml")]) == 1  # nothing before version 1

    assert main(["promote", "--run", second.run_id, "--config", str(tmp_path / "job.toml")]) == 0
    assert str(deployment.champion_version(JOB).version) == "2"
    assert spec_model(tmp_path / "models" / JOB) == "seasonal_naive"


def test_gate_keeps_the_champion_when_the_candidate_is_not_better_by_the_margin() -> None:
    champion = {"champion_model": "naive", "champion_mase": 1.0, "champion_version": "3"}
    kept = decide("ets", 0.99, **champion, margin=0.02)
    assert not kept.promote and kept.tags()["promotion.champion_mase"] == "1"
    promoted = decide("ets", 0.97, **champion, margin=0.02)
    assert promoted.promote and promoted.tags()["promotion.candidate_mase"] == "0.97"
    assert not decide("ets", 1.0, **champion, margin=0.0).promote  # a tie keeps the champion
    assert decide("ets", 5.0, champion_version=None).promote


def _scored(model: str, errors: dict[str, float]) -> pd.DataFrame:
    """A one-month backtest table whose series' MASE are ``errors`` (actual 0, scale 1)."""
    table = pd.DataFrame({"series_id": list(errors), "forecast": list(errors.values())})
    return table.assign(
        model=model,
        cutoff=pd.Period("2018-06", "M"),
        month=pd.Period("2018-07", "M"),
        step=1,
        actual=0.0,
        lower_80=-1.0,
        upper_80=1.0,
        lower_95=-2.0,
        upper_95=2.0,
        scale_mase=1.0,
        scale_rmsse=1.0,
    )


def test_gate_compares_trimmed_means_so_one_series_cannot_decide(monkeypatch) -> None:
    """The candidate is twice as good on 19 of 20 series and fails one (MASE 400,000, a mean of
    20,000): on the trimmed mean it is promoted; the champion's broken series cannot save it either."""
    from types import SimpleNamespace

    from forecasting.jobs.config import JobConfig
    from forecasting.jobs.retrain import _Backtests, _decide, _mase
    from forecasting.models.registry import make_model
    from forecasting.serving import model_spec, spec_key

    ids = [f"s{i:02d}" for i in range(20)]
    candidate = _scored("seasonal_naive", {**dict.fromkeys(ids, 0.5), "s07": 400_000.0})
    champion = make_model("naive")
    spec = model_spec(champion)
    cache = _Backtests({spec_key(spec): _scored("naive", dict.fromkeys(ids, 1.0))})
    version = SimpleNamespace(version="3", tags={tracking.SPEC_TAG: spec_key(spec)})
    monkeypatch.setattr(deployment, "champion_version", lambda job: version)
    assert _mase(candidate) == pytest.approx(0.5)  # candidate["forecast"].mean() is 20,000.475
    decision, kept = _decide(
        JobConfig(name=JOB), make_model("seasonal_naive"), _mase(candidate), None, None, cache
    )
    assert decision.promote and kept == ("3", spec)
    assert (decision.candidate_mase, decision.champion_mase) == pytest.approx((0.5, 1.0))
    # Reversed: a champion with a broken series still wins on the other nineteen.
    cache = _Backtests({spec_key(spec): candidate.assign(model="naive")})
    steady = _scored("seasonal_naive", dict.fromkeys(ids, 1.0))
    decision, _ = _decide(JobConfig(name=JOB), make_model("seasonal_naive"), _mase(steady), None, None, cache)
    assert not decision.promote and decision.champion_mase == pytest.approx(0.5)


@pytest.mark.slow
def test_failed_job_marks_run_failed_and_leaves_champion_and_exports(tmp_path, monkeypatch) -> None:
    run_retrain(load_config(write_job(tmp_path, ["naive"])))
    before = (tmp_path / "exports" / f"forecasts_{JOB}_latest.csv").read_bytes()
    config_path = write_job(tmp_path, ["naive", "seasonal_naive"])

    def broken_export(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("forecasting.jobs.retrain.stage_exports", broken_export)
    assert main(["retrain", "--config", str(config_path)]) == 1
    assert str(deployment.champion_version(JOB).version) == "1"
    assert spec_model(tmp_path / "models" / JOB) == "naive"
    assert (tmp_path / "exports" / f"forecasts_{JOB}_latest.csv").read_bytes() == before
    runs = retrain_runs()
    assert sorted(runs["status"]) == ["FAILED", "FINISHED"]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[backtest]\nfolds = 0", "backtest"),
        ("[promotion]\nmargin = 2.0", "promotion"),
        ("[series]\ntargets = [1]", "series.targets[0]"),
        ("[job]\nhorizon = 'twelve'", "job"),
        ("[scheduling]\ncron = 'x'", "scheduling"),
        (
            "[candidates]\nmodels = ['arima']\n[candidates.params.arima]\nsearch = 'bogus'",
            "candidates.params.arima",
        ),
        ("[candidates]\nmodels = ['ets']\n[candidates.params.ets]\nbogus = 1", "candidates.params.ets"),
    ],
)
def test_invalid_config_exits_2_naming_the_key(tmp_path, capsys, extra, key) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(extra, encoding="utf-8")
    assert main(["retrain", "--config", str(path)]) == 2
    assert f"key '{key}" in capsys.readouterr().err


def test_config_errors_name_nested_keys(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[candidates]\nmodels = ["naive", "prophet"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'candidates.models\[1\]'.*prophet"):
        load_config(path)
    path.write_text('[[sources]]\nformat = "long"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'sources\[0\].path'"):
        load_config(path)
    event = '[[regressors.events]]\nname = "closure"\nkind = "pulse"\nstart = "2020-13"\n'
    path.write_text(event, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"regressors.events\[0\]"):
        load_config(path)


def test_default_config_is_the_sample_job_and_digest_is_stable() -> None:
    config = load_config(None)
    assert config.uses_sample and config.name == "sample" and config.horizon == 12
    assert config.digest() == load_config(None).digest()
    assert config.digest() != load_config(None, horizon=6).digest()


def test_lock_blocks_a_second_run_and_clears_stale_locks(tmp_path) -> None:
    path = tmp_path / "job.lock"
    with JobLock(path), pytest.raises(JobLockedError, match="already running"):
        JobLock(path).acquire()
    assert not path.exists()

    import socket

    dead = {"pid": 2**22 + 12345, "hostname": socket.gethostname(), "started_at": time.time()}
    path.write_text(json.dumps(dead))
    with JobLock(path):  # owner pid does not exist: stale
        assert json.loads(path.read_text())["pid"] == os.getpid()

    path.write_text(json.dumps({"pid": 1, "hostname": "elsewhere", "started_at": time.time() - 7200}))
    with pytest.raises(JobLockedError):
        JobLock(path, stale_after=3 * 3600).acquire()
    with JobLock(path, stale_after=3600):  # older than the limit: stale
        pass
    path.write_text("not json")  # unreadable, and no process holds it: stale at once
    with JobLock(path):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_retrain_exits_1_while_the_job_is_locked(tmp_path) -> None:
    config_path = write_job(tmp_path, ["naive"])
    with JobLock(tmp_path / "models" / f"{JOB}.lock"):
        assert main(["retrain", "--config", str(config_path)]) == 1
    assert not (tmp_path / "exports").exists()


@pytest.mark.slow
def test_a_preset_and_its_base_model_are_separate_candidates(tmp_path) -> None:
    """``gbm_median`` is ``gbm`` with other parameters: each keeps its own rows, run and champion spec."""
    params = "\n".join(
        f"[candidates.params.{name}]\nmax_iter = 20\ncalibration_windows = 2"
        for name in ("gbm", "gbm_median")
    )
    config = load_config(write_job(tmp_path, ["gbm", "gbm_median"], extra=params))
    result = run_retrain(config)
    board = result.leaderboard.set_index("model")
    assert sorted(board.index) == ["gbm", "gbm_median"]
    children = mlflow.search_runs(
        experiment_names=[JOB], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    ).set_index("tags.forecasting.model")
    assert sorted(children.index) == ["gbm", "gbm_median"]
    for name in ("gbm", "gbm_median"):
        assert children.loc[name, "metrics.mase"] == pytest.approx(board.loc[name, "mase"], rel=1e-9)
    assert children.loc["gbm_median", "params.loss"] == "absolute_error"  # a plain value, not JSON
    assert result.decision.candidate_model == board.index[0]
    export = exported(tmp_path)
    assert set(export["model"]) == {board.index[0]}
    series = pd.DataFrame({"series_id": ["s0", "s1", "s2"]})
    served = mlflow.pyfunc.load_model(f"models:/{JOB}@champion").predict(series, params={"horizon": 6})
    assert_same_forecasts(served, export)


@pytest.mark.slow
def test_job_round_and_csv_dialect_shape_both_exports_and_their_mlflow_copies(tmp_path) -> None:
    path = write_job(tmp_path, ["naive"])
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("[job]\n", '[job]\nround = 3\ncsv_dialect = "excel-eu"\n', 1), encoding="utf-8"
    )
    result = run_retrain(load_config(path))
    dated, latest = (Path(p) for p in result.exports)
    assert dated.read_bytes() == latest.read_bytes()
    assert latest.read_text(encoding="utf-8").splitlines()[0] == ";".join(export_columns())
    table = read_export(latest)
    for column in ("forecast", "lower_80", "upper_95"):
        values = table[column].to_numpy()
        np.testing.assert_array_equal(values, [float(f"{v:.3g}") for v in values])
    logged = mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path=f"exports/{latest.name}")
    assert Path(logged).read_bytes() == latest.read_bytes()
