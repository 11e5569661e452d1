"""Tracking store resolution, digests, the pickle-free model spec, the served model and the CLI views."""

from __future__ import annotations

import json
import os
import threading

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import seasonal_panel  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402
from test_retrain import JOB, write_job, write_panel_csv  # noqa: E402

from forecasting import tracking  # noqa: E402
from forecasting.cli import main  # noqa: E402
from forecasting.errors import DataError, ModelError  # noqa: E402
from forecasting.evaluation.backtest import backtest  # noqa: E402
from forecasting.evaluation.metrics import leaderboard, metrics_by_horizon, metrics_by_series  # noqa: E402
from forecasting.export import export_columns  # noqa: E402
from forecasting.jobs.config import load_config  # noqa: E402
from forecasting.jobs.retrain import run_retrain  # noqa: E402
from forecasting.models.baselines import SeasonalNaive  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402
from forecasting.sample import load_sample  # noqa: E402
from forecasting.serving import decode_params, encode_params, model_from_spec, model_spec  # noqa: E402


def test_tracking_uri_precedence(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "mlruns").mkdir()
    monkeypatch.chdir(tmp_path)
    assert tracking.resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.resolve_tracking_uri() == "http://127.0.0.1:5999"
    assert tracking.resolve_tracking_uri("sqlite:////srv/x.db") == "sqlite:////srv/x.db"


def _outside_any_project(folder) -> None:
    """These tests need a temporary folder no project encloses (no ``mlruns/`` above it)."""
    found = [parent for parent in folder.resolve().parents if (parent / "mlruns").is_dir()]
    if found:
        pytest.skip(f"the temporary folder lies inside a project: {found[0] / 'mlruns'} exists")


def test_the_default_store_is_the_projects_found_from_the_config_then_the_working_directory(
    tmp_path, monkeypatch, user_data_home
) -> None:
    """Never a new mlruns/ wherever a command happens to run: the project's, else the user's store."""
    _outside_any_project(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere" / "deep"
    (project / "mlruns").mkdir(parents=True)
    (project / "examples").mkdir()
    elsewhere.mkdir(parents=True)
    store = f"sqlite:///{project.resolve() / 'mlruns' / 'mlflow.db'}"
    user = f"sqlite:///{user_data_home / 'forecasting' / 'mlruns' / 'mlflow.db'}"
    monkeypatch.chdir(project / "examples")  # a notebook or a shell in a sub-folder of the project
    assert tracking.resolve_tracking_uri() == store
    monkeypatch.chdir(elsewhere)  # outside any project: the user's store, not ./mlruns
    assert tracking.resolve_tracking_uri() == user
    assert tracking.resolve_tracking_uri(config_file=project / "examples" / "job.toml") == store
    assert tracking.configure(None) == user
    assert not (elsewhere / "mlruns").exists() and not (tmp_path / "elsewhere" / "mlruns").exists()
    assert (user_data_home / "forecasting" / "mlruns").is_dir()


@pytest.mark.slow
def test_a_one_off_forecast_elsewhere_leaves_no_store_behind(
    tmp_path, monkeypatch, capsys, user_data_home
) -> None:
    _outside_any_project(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = write_panel_csv(tmp_path / "panel.csv", n_series=2, n_months=30)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = ["forecast", "--input", str(data), "--horizon", "2", "--output", "f.csv", "--model", "naive"]
    assert main(argv) == 0
    assert sorted(p.name for p in work.iterdir()) == ["f.csv"]
    run_id = pd.read_csv(work / "f.csv")["run_id"].iloc[0]
    store = f"sqlite:///{user_data_home / 'forecasting' / 'mlruns' / 'mlflow.db'}"
    assert mlflow.get_tracking_uri() == store
    assert capsys.readouterr().out.rstrip().endswith(f"(run {run_id} in {store})")  # where to look for it
    assert mlflow.get_run(run_id).info.run_name == "naive on panel.csv"


def test_data_digest_is_stable_and_sensitive_to_values() -> None:
    panel = seasonal_panel(n_series=2, n_months=24)
    assert tracking.data_digest(panel) == tracking.data_digest(seasonal_panel(n_series=2, n_months=24))
    changed = panel.to_long()
    changed.loc[5, "value"] += 1.0
    assert tracking.data_digest(panel) != tracking.data_digest(type(panel)(changed))


def test_model_spec_round_trips_through_json_without_pickle() -> None:
    model = SeasonalNaive(season_length=6)
    spec = json.loads(json.dumps(model_spec(model)))
    assert spec == {"model": "seasonal_naive", "params": {"min_obs": None, "n_jobs": 1, "season_length": 6}}
    assert model_from_spec(spec).get_params() == model.get_params()
    nested = {"regressor": HistGradientBoostingRegressor(max_iter=7), "lags": (1, 12), "models": [model]}
    decoded = decode_params(json.loads(json.dumps(encode_params(nested))))
    assert decoded["regressor"].get_params()["max_iter"] == 7 and decoded["lags"] == (1, 12)
    assert decoded["models"][0].get_params() == model.get_params()
    with pytest.raises(ModelError, match="refusing to import"):
        decode_params({"__estimator__": "os.system", "params": {}})


@pytest.mark.slow
def test_served_model_refits_for_longer_horizons_and_checks_series(tmp_path) -> None:
    run_retrain(load_config(write_job(tmp_path, ["naive", "seasonal_naive"])))
    served = mlflow.pyfunc.load_model(str(tmp_path / "models" / JOB))
    longer = served.predict(pd.DataFrame({"series_id": ["s1"]}), params={"horizon": 9})
    from forecasting.data.loaders import load

    direct = SeasonalNaive().fit(SeriesPanel.from_load(load(tmp_path / "panel.csv", "long"))).predict(9)
    direct = direct[direct["series_id"] == "s1"]
    assert longer["month"].tolist() == [str(m) for m in direct["month"]]
    assert longer["forecast"].tolist() == pytest.approx(direct["forecast"].tolist())
    assert longer["upper_95"].tolist() == pytest.approx(direct["upper_95"].tolist())
    with pytest.raises(DataError, match="unknown series"):
        served.predict(pd.DataFrame({"series_id": ["nope"]}), params={"horizon": 3})


@pytest.mark.slow
def test_compare_prints_the_latest_leaderboard(tmp_path, capsys) -> None:
    path = write_job(tmp_path, ["naive", "seasonal_naive"])
    result = run_retrain(load_config(path))
    capsys.readouterr()
    assert main(["compare", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["run_id", "model", "mase"] and lines[0].split()[-1] == "champion"
    assert [line.split()[1] for line in lines[1:3]] == ["seasonal_naive", "naive"]
    assert all(line.split()[0] == result.run_id for line in lines[1:3])
    assert lines[1].split()[-1] == "*" and lines[2].split()[-1] != "*"  # the champion's row
    assert lines[3].startswith("champion (*): version 1 of job 'tiny', model seasonal_naive")
    assert lines[4].startswith("last decision: promoted (")
    table = tracking.compare(JOB, [result.run_id, result.run_id])
    assert len(table) == 4
    mase = table.set_index("model")["mase"].iloc[0]
    assert mase == pytest.approx(result.leaderboard.set_index("model").loc["seasonal_naive", "mase"])


@pytest.mark.slow
def test_one_off_forecast_writes_the_export_schema_and_is_tracked(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    data = write_panel_csv(tmp_path / "panel.csv", n_series=2, n_months=30)
    out = tmp_path / "out" / "forecast.csv"
    args = [
        "forecast",
        "--input",
        str(data),
        "--horizon",
        "4",
        "--output",
        str(out),
        "--model",
        "seasonal_naive",
    ]
    assert main(args) == 0
    table = pd.read_csv(out, dtype={"month": str})
    assert list(table.columns) == export_columns() and len(table) == 8
    run = mlflow.get_run(table["run_id"].iloc[0])
    assert run.info.status == "FINISHED" and run.data.params["model"] == "seasonal_naive"
    assert main([*args[:-1], "prophet"]) == 2


def test_a_one_off_forecast_run_opens_beside_the_fit_and_ends_failed_or_killed_with_it(
    tmp_path, monkeypatch
) -> None:
    """The run opens in a thread while the model fits (:class:`tracking.RunOpening`): it is RUNNING
    during the fit with its tags, params and training dataset; a fit that fails ends it FAILED with
    the error on it, an interrupt KILLED; a store that cannot open fails the command, no export."""
    from forecasting.jobs import commands

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    data = write_panel_csv(tmp_path / "panel.csv", n_series=2, n_months=30)
    output = tmp_path / "fc.csv"
    args = ["forecast", "--input", str(data), "--horizon", "4", "--output", str(output)]
    args += ["--model", "seasonal_naive", "--executor", "serial"]
    real_fit, real_open, opened, seen = (
        commands.fit_and_forecast,
        tracking.RunOpening._open,
        threading.Event(),
        [],
    )

    def open_run(self) -> None:
        real_open(self)
        opened.set()

    def fit_then(outcome: BaseException | None):
        def fit(model, panel, config, exog, align):
            assert opened.wait(60)
            opened.clear()
            runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
            seen.append(sorted((run.info.status, run.data.tags.get(tracking.RUN_TYPE_TAG)) for run in runs))
            if outcome is not None:
                raise outcome
            return real_fit(model, panel, config, exog, align)

        return fit

    def runs() -> list:
        return mlflow.search_runs(
            search_all_experiments=True, output_format="list", order_by=["start_time DESC"]
        )

    monkeypatch.setattr(tracking.RunOpening, "_open", open_run)
    monkeypatch.setattr(commands, "fit_and_forecast", fit_then(None))
    assert main(args) == 0
    assert seen == [[("RUNNING", "forecast")]]
    (done,) = runs()
    assert done.info.status == "FINISHED" and done.data.params["horizon"] == "4"
    assert done.data.tags["mlflow.user"] and done.data.tags["mlflow.runName"] == "seasonal_naive on panel.csv"
    (dataset,) = done.inputs.dataset_inputs
    assert dataset.dataset.name == "panel" and dataset.tags[0].value == "training"
    assert pd.read_csv(output)["run_id"].eq(done.info.run_id).all()

    monkeypatch.setattr(commands, "fit_and_forecast", fit_then(ModelError("every member failed")))
    with pytest.raises(ModelError):
        main(args)
    assert runs()[0].info.status == "FAILED"
    assert runs()[0].data.tags[tracking.ERROR_MESSAGE_TAG] == "every member failed"
    monkeypatch.setattr(commands, "fit_and_forecast", fit_then(KeyboardInterrupt()))
    assert main(args) == 1
    assert [run.info.status for run in runs()] == ["KILLED", "FAILED", "FINISHED"]

    output.unlink()

    def unavailable(name: str, uri: str) -> str:
        raise MlflowException("the tracking store is not reachable")

    monkeypatch.setattr(tracking, "ensure_experiment", unavailable)
    monkeypatch.setattr(commands, "fit_and_forecast", real_fit)
    monkeypatch.setattr(tracking.RunOpening, "_open", real_open)
    with pytest.raises(MlflowException, match="not reachable"):
        main(args)
    assert not output.exists() and len(runs()) == 3


def test_log_batch_splits_at_mlflow_limits_and_keeps_every_value(tmp_path, monkeypatch) -> None:
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    calls = []
    real = tracking.MlflowClient.log_batch
    monkeypatch.setattr(
        tracking.MlflowClient,
        "log_batch",
        lambda self, run_id, metrics=(), params=(), **kw: (
            calls.append((len(params), len(metrics)))
            or real(self, run_id, metrics=metrics, params=params, **kw)
        ),
    )
    params = [Param(f"p{i}", str(i)) for i in range(150)]
    metrics = [Metric("m", float(i), 0, i) for i in range(1900)]
    with mlflow.start_run() as run:
        tracking.log_batch(run.info.run_id, metrics=metrics, params=params)
    assert calls == [(100, 900), (50, 950), (0, 50)]
    stored = MlflowClient().get_run(run.info.run_id)
    assert stored.data.params == {f"p{i}": str(i) for i in range(150)}
    history = MlflowClient().get_metric_history(run.info.run_id, "m")
    assert sorted((m.step, m.value) for m in history) == [(i, float(i)) for i in range(1900)]


def test_candidate_run_has_tags_params_metrics_and_the_training_input(tmp_path) -> None:
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    panel = seasonal_panel(n_series=12, n_months=48)  # 12 series: the trimmed mean cuts one each side
    model = SeasonalNaive()
    results = backtest([model], panel, horizon=3, folds=2)
    board = leaderboard(results).set_index("model")
    with mlflow.start_run():
        dataset = tracking.log_dataset(panel, name="panel", digest=tracking.data_digest(panel), source="x")
        child = tracking.log_candidate(
            model,
            results=results,
            scores=board.loc["seasonal_naive"],
            by_horizon=metrics_by_horizon(results).droplevel("model"),
            by_series=metrics_by_series(results),
            panel=panel,
            dataset=dataset,
            tags={tracking.JOB_TAG: "job"},
        )
    run = MlflowClient().get_run(child)
    assert run.data.tags[tracking.RUN_TYPE_TAG] == "candidate"
    assert run.data.tags["forecasting.model"] == "seasonal_naive"
    assert run.data.tags[tracking.JOB_TAG] == "job"
    assert run.data.params == {
        "min_obs": "None",
        "n_jobs": "1",
        "season_length": "12",
    }  # as a person reads them
    assert run.data.metrics["mase"] == pytest.approx(board.loc["seasonal_naive", "mase"])
    per_series = metrics_by_series(results)["mase"]
    middle = per_series.sort_values().iloc[1:-1].mean()
    assert run.data.metrics["mase"] == pytest.approx(middle)  # what the gate compares
    assert run.data.metrics["mase_mean"] == pytest.approx(per_series.mean())
    assert per_series.mean() != pytest.approx(middle)
    assert run.data.metrics["mase_median"] == pytest.approx(per_series.median())
    steps = MlflowClient().get_metric_history(child, "mase_by_step")
    expected = metrics_by_horizon(results)["mase"].droplevel("model")
    assert {m.step: m.value for m in steps} == pytest.approx(expected.to_dict())
    assert [i.dataset.digest for i in run.inputs.dataset_inputs] == [dataset.digest]


def test_logged_dataset_schema_is_the_one_mlflow_infers_from_the_whole_panel(tmp_path) -> None:
    from mlflow.types.utils import _infer_schema

    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    records = load_sample().to_long()
    records.loc[records.index[5:9], "crossing"] = None  # a dimension missing on some rows only
    panel = SeriesPanel(records)
    with mlflow.start_run() as run:
        dataset = tracking.log_dataset(panel, name="panel", digest=tracking.data_digest(panel), source="x")
    whole = panel.to_long()
    whole["month"] = whole["month"].astype(str)
    assert dataset.schema == _infer_schema(whole)
    logged = MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs[0].dataset
    assert json.loads(logged.schema) == {"mlflow_colspec": _infer_schema(whole).to_dict()}
