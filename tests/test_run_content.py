"""What an analyst reads in MLflow: a retrain's headline metrics, its description, its figures, its error.

The runs are real: small jobs on a seeded trade hierarchy (three crossings, two regions) built by
``series build``, each with its own SQLite store under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import trade_records  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from test_retrain import write_panel_csv  # noqa: E402

from forecasting import tracking  # noqa: E402
from forecasting.cli import main  # noqa: E402
from forecasting.jobs.config import JobConfig, SourceConfig, load_config  # noqa: E402
from forecasting.jobs.retrain import run_retrain  # noqa: E402

JOB = "trade"
MONTHS = pd.period_range("2018-01", "2022-12", freq="M")


def _write_panel(folder: Path, until: str) -> Path:
    """The seeded trade records up to ``until``, built into a panel with its hierarchy by ``series build``."""
    raw = folder / "input.csv"
    records = trade_records(MONTHS, seed=5)
    records = records[records["month"] <= pd.Period(until, "M")]
    records.assign(month=records["month"].astype(str)).to_csv(raw, index=False)
    panel = folder / "panel.csv"
    assert main(["series", "build", "--input", str(raw), "--output", str(panel)]) == 0
    return panel


def small_job(folder: Path, **settings) -> JobConfig:
    """A job with two fast candidates and two folds, its store, models and exports in ``folder``."""
    where = {
        "output_dir": str(folder / "exports"),
        "models_dir": str(folder / "models"),
        "tracking_uri": f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}",
    }
    return load_config(None, candidates=("naive", "seasonal_naive"), folds=2, **where, **settings)


def _job(folder: Path, panel: Path) -> JobConfig:
    return small_job(folder, name=JOB, horizon=3, sources=(SourceConfig(str(panel), "long"),))


def _parent(run_id: str):
    return MlflowClient().get_run(run_id)


@pytest.mark.slow
def test_a_retrain_run_carries_the_numbers_the_decision_and_the_figures(tmp_path) -> None:
    config = _job(tmp_path, _write_panel(tmp_path, "2022-09"))
    first = run_retrain(config)
    run = _parent(first.run_id)
    best = first.leaderboard.iloc[0]
    metrics = run.data.metrics
    # the best candidate's backtest scores, and the same as the serving model's (promoted: no champion yet)
    for name in ("mase", "coverage_80", "coverage_95"):
        assert metrics[f"candidate_{name}"] == pytest.approx(best[name], rel=1e-12)
        assert metrics[name] == pytest.approx(best[name], rel=1e-12)
    assert not any(name.startswith(("champion_", "live_mase")) for name in metrics)
    note = run.data.tags[tracking.NOTE_TAG]
    assert note.startswith(f"**Promoted {best['model']}** for job `{JOB}`: no serving champion yet.")
    assert f"candidate {best['model']} {best['mase']:.3f}, no champion yet" in note
    assert f"In service: `{JOB}` version 1 ({best['model']})" in note
    assert "no forecast in service has an actual yet" in note
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"
    plots = {a.path for a in MlflowClient().list_artifacts(first.run_id, "plots")}
    assert {tracking.FAN_CHART, tracking.LEVEL_CHART} <= plots
    board = "leaderboard_by_level_candidates.csv"
    by_level = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=first.run_id, artifact_path=board))
    assert set(by_level["level"]) == {"bottom", "crossing", "region", "total"}
    assert set(by_level["model"]) == {"naive", "seasonal_naive"}

    # three months later: the champion is gated on this window and the forecasts in service are scored
    config = _job(tmp_path, _write_panel(tmp_path, "2022-12"))
    second = run_retrain(config)
    run = _parent(second.run_id)
    metrics = run.data.metrics
    decision = second.decision
    assert metrics["champion_mase"] == pytest.approx(decision.champion_mase, rel=1e-12)
    assert metrics["candidate_mase"] == pytest.approx(decision.candidate_mase, rel=1e-12)
    serving = "candidate" if decision.promote else "champion"
    for name in ("mase", "coverage_80", "coverage_95"):
        assert metrics[name] == metrics[f"{serving}_{name}"]
    champion_rows = mlflow.search_runs(
        experiment_names=[JOB], filter_string=f"tags.mlflow.parentRunId = '{second.run_id}'"
    ).set_index("tags.forecasting.model")
    assert metrics["champion_coverage_95"] == pytest.approx(
        champion_rows.loc[decision.champion_model, "metrics.coverage_95"], rel=1e-12
    )  # the champion is one of the candidates: the same backtest
    live = second.live.drift
    assert metrics["live_mase"] == pytest.approx(live.live_mase, rel=1e-12)
    note = run.data.tags[tracking.NOTE_TAG]
    assert note.startswith(f"**{decision.outcome.capitalize()} ")
    assert f"{decision.reason}." in note.splitlines()[0]
    assert f"champion {decision.champion_model} (version 1) {decision.champion_mase:.3f}" in note
    assert f"Live: MASE {live.live_mase:.3f} over {live.window[0]}..{live.window[1]}" in note
    # the runs table answers "champion MASE by month": every finished retrain has a mase
    runs = tracking.retrain_runs(JOB)
    assert runs["metrics.mase"].notna().all() and len(runs) == 2


@pytest.mark.slow
def test_a_failed_retrain_run_says_why(tmp_path, monkeypatch) -> None:
    config = _job(tmp_path, _write_panel(tmp_path, "2022-09"))

    def broken(*args, **kwargs):
        raise OSError("No space left on device: '/srv/mlruns'")

    monkeypatch.setattr(tracking, "log_serving_model", broken)
    with pytest.raises(OSError, match="No space left"):
        run_retrain(config)
    (run,) = MlflowClient().search_runs(
        [mlflow.get_experiment_by_name(JOB).experiment_id], "tags.`forecasting.run_type` = 'retrain'"
    )
    assert run.info.status == "FAILED"
    assert run.data.tags[tracking.ERROR_TAG] == "OSError"
    assert run.data.tags[tracking.ERROR_MESSAGE_TAG] == "No space left on device: '/srv/mlruns'"
    note = run.data.tags[tracking.NOTE_TAG]
    assert note.startswith("**Failed**: OSError: No space left on device: '/srv/mlruns'\n\n**Promoted ")
    assert "candidate_mase" in run.data.metrics  # what was decided before the failure stays readable


def test_a_long_error_is_cut_to_what_mlflow_keeps(tmp_path) -> None:
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run() as run:
        pass
    tracking.log_failure(run.info.run_id, ValueError("x" * 20_000))
    tags = _parent(run.info.run_id).data.tags
    assert len(tags[tracking.ERROR_MESSAGE_TAG]) == tracking.MAX_TAG_CHARS
    assert tags[tracking.ERROR_MESSAGE_TAG].endswith("... (20,000 characters, cut)")
    assert tags[tracking.NOTE_TAG].startswith("**Failed**: ValueError: xxx")


def test_params_read_as_plain_values() -> None:
    texts = tracking.param_texts(
        {"model": "ets", "season_length": 12, "damped": True, "alpha": 0.5, "min_obs": None, "lags": (1, 12)}
    )
    assert texts == {
        "model": "ets",
        "season_length": "12",
        "damped": "True",
        "alpha": "0.5",
        "min_obs": "None",
        "lags": "[1, 12]",
    }
    assert tracking.param_texts({"loss": {"name": "absolute_error"}}) == {
        "loss": json.dumps({"name": "absolute_error"})
    }
    assert len(tracking.param_texts({"long": "x" * 7000})["long"]) == tracking.MAX_PARAM_CHARS


def test_a_forecast_run_is_named_by_model_and_panel_and_says_what_it_wrote(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    data = write_panel_csv(tmp_path / "ports.csv", n_series=2, n_months=30)
    out = tmp_path / "forecast.csv"
    argv = ["forecast", "--input", str(data), "--horizon", "4", "--output", str(out), "--model", "naive"]
    assert main(argv) == 0
    run = mlflow.get_run(pd.read_csv(out)["run_id"].iloc[0])
    assert run.info.run_name == "naive on ports.csv"
    assert run.data.params == {
        "model": "naive",
        "horizon": "4",
        "levels": "[80, 95]",
        "align": "calendar",
        "input": str(data),
    }
    assert run.data.tags[tracking.NOTE_TAG] == (
        f"One-off forecast of 2 series of `{data}` with naive: 2017-07..2017-10, written to `{out}`."
    )
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.tags[tracking.EXPERIMENT_KIND_TAG] == tracking.EXPERIMENT_KIND


def test_an_experiment_made_before_the_kind_tag_gets_it(tmp_path) -> None:
    uri = tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    old = mlflow.create_experiment("older")
    assert tracking.EXPERIMENT_KIND_TAG not in mlflow.get_experiment(old).tags
    assert tracking.ensure_experiment("older", uri) == old
    assert mlflow.get_experiment(old).tags[tracking.EXPERIMENT_KIND_TAG] == tracking.EXPERIMENT_KIND


def test_ui_paths_open_the_model_training_view() -> None:
    assert tracking.ui_path("7") == "#/experiments/7?workflowType=machine_learning"
    assert tracking.ui_path("7", "abc") == "#/experiments/7/runs/abc?workflowType=machine_learning"
