"""One forecast request (horizon, levels) end to end (issue 28): any levels in (0, 100) work.

The job, the ``forecast`` and ``backtest`` commands, the metrics, ``auto``'s calibration
and the export all take the request's levels; the default levels are spelled out once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import seasonal_panel  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from test_retrain import exported, write_job, write_panel_csv  # noqa: E402

import forecasting  # noqa: E402
from forecasting import tracking  # noqa: E402
from forecasting.cli import main  # noqa: E402
from forecasting.core.constants import DEFAULT_LEVELS, MAX_HORIZON  # noqa: E402
from forecasting.core.request import ForecastRequest  # noqa: E402
from forecasting.errors import ConfigError  # noqa: E402
from forecasting.evaluation.metrics import LEADERBOARD_COLUMNS, leaderboard  # noqa: E402
from forecasting.export import export_columns  # noqa: E402
from forecasting.jobs.config import load_config  # noqa: E402
from forecasting.jobs.retrain import run_retrain  # noqa: E402
from forecasting.models.cv import backtest  # noqa: E402
from forecasting.models.registry import make_model  # noqa: E402

LEVELS = (50, 90)
BOUNDS = ["lower_50", "upper_50", "lower_90", "upper_90"]


def job_at_levels(folder: Path, models: list[str], levels: str = "[50, 90]") -> Path:
    path = write_job(folder, models)
    path.write_text(path.read_text().replace("horizon = 6\n", f"horizon = 6\nlevels = {levels}\n", 1))
    return path


# --- the request ---------------------------------------------------------------------------------------
def test_request_sorts_levels_and_is_frozen() -> None:
    request = ForecastRequest(12, [90, 50])
    assert request.levels == (50, 90) and request.horizon == 12
    assert request.interval_columns() == BOUNDS
    assert request.widest == 90
    assert ForecastRequest(3).levels == DEFAULT_LEVELS
    with pytest.raises(AttributeError):
        request.horizon = 6  # type: ignore[misc]


@pytest.mark.parametrize(
    "horizon, levels, key",
    [
        (0, (80,), "horizon"),
        (MAX_HORIZON + 1, (80,), "horizon"),
        (True, (80,), "horizon"),
        (12, (0,), "levels"),
        (12, (100,), "levels"),
        (12, (50, 50), "levels"),
        (12, (80.5,), "levels"),
        (12, ("a",), "levels"),
    ],
)
def test_request_rejects_bad_values_naming_the_key(horizon, levels, key) -> None:
    with pytest.raises(ConfigError) as error:
        ForecastRequest(horizon, levels)
    assert error.value.key == key


def test_request_parses_the_command_line_spelling() -> None:
    assert ForecastRequest.parse(6, "90, 50", levels_key="--levels").levels == LEVELS
    with pytest.raises(ConfigError, match="--levels"):
        ForecastRequest.parse(6, "50,50", levels_key="--levels")


def test_default_levels_are_spelled_out_only_in_the_constant() -> None:
    package = Path(forecasting.__file__).parent
    literal = re.compile(r"\(\s*80\s*,\s*95\s*\)|\[\s*80\s*,\s*95\s*\]|lower_80|upper_95")
    found = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line)
    ]
    assert [where.split(":")[0] for where in found] == ["core/constants.py"], found


# --- metrics and auto at the request's levels --------------------------------------------------------------
def test_leaderboard_scores_coverage_width_and_msis_at_the_backtest_levels() -> None:
    panel = seasonal_panel(n_series=3, n_months=60)
    results = backtest([make_model("seasonal_naive")], panel, horizon=6, folds=2, levels=LEVELS)
    board = leaderboard(results, levels=LEVELS)
    assert [c for c in board.columns if re.match(r"(coverage|width|msis)_", c)] == [
        "coverage_50",
        "coverage_90",
        "width_50",
        "width_90",
        "msis_90",
    ]
    assert board["coverage_50"].iloc[0] <= board["coverage_90"].iloc[0]
    assert list(leaderboard(results).columns) == list(board.columns)  # the table's levels by default
    default = backtest([make_model("seasonal_naive")], panel, horizon=6, folds=2)
    assert list(leaderboard(default).columns) == ["model", *LEADERBOARD_COLUMNS, "n_series", "n_forecasts"]


def test_auto_calibrates_at_the_requested_levels() -> None:
    assert make_model("auto", levels=DEFAULT_LEVELS).levels is None  # the default request: the same model
    model = make_model("auto", horizon=6, levels=[90, 50], calibrate=True, backtest_folds=2)
    assert model.levels == LEVELS
    panel = seasonal_panel(n_series=3, n_months=72)
    model.fit(panel)
    assert sorted(model.calibration_["level"].unique()) == list(LEVELS)
    forecasts = model.predict(6, levels=LEVELS)
    assert list(forecasts.columns[-4:]) == BOUNDS
    assert (forecasts["lower_50"] >= forecasts["lower_90"]).all()
    assert (forecasts["upper_50"] <= forecasts["upper_90"]).all()


# --- the job -------------------------------------------------------------------------------------------
def test_retrain_job_at_levels_50_90_end_to_end(tmp_path) -> None:
    config = load_config(job_at_levels(tmp_path, ["seasonal_naive", "drift", "auto"]))
    assert config.request == ForecastRequest(6, LEVELS)
    result = run_retrain(config)
    assert {"coverage_50", "coverage_90", "msis_90"} <= set(result.leaderboard.columns)
    assert "coverage_80" not in result.leaderboard.columns
    assert result.decision.promote and result.champion_version  # a champion on the first run
    table = exported(tmp_path)
    assert list(table.columns) == export_columns(LEVELS)
    assert table[BOUNDS].notna().all().all()
    assert (table["lower_90"] <= table["lower_50"]).all() and (table["upper_50"] <= table["upper_90"]).all()
    client = MlflowClient(tracking.configure(config.tracking_uri))
    candidates = client.search_runs(
        [client.get_run(result.run_id).info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{result.run_id}'",
    )
    assert len(candidates) == 3
    for run in candidates:
        assert {"coverage_50", "coverage_90", "width_50", "msis_90"} <= set(run.data.metrics)
        assert "coverage_80" not in run.data.metrics


def test_job_levels_must_be_distinct(tmp_path) -> None:
    with pytest.raises(ConfigError, match="job.levels"):
        load_config(job_at_levels(tmp_path, ["naive"], levels="[90, 90]"))


def test_job_levels_without_80_pick_the_drift_rule_level_from_them(tmp_path) -> None:
    config = load_config(job_at_levels(tmp_path, ["naive"]))
    assert config.monitoring.rule.coverage_level == 90
    assert config.monitoring.rule.coverage_band == pytest.approx((0.675, 1.0))


# --- the commands --------------------------------------------------------------------------------------
def test_forecast_levels_reach_the_export(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    data, out = write_panel_csv(tmp_path / "panel.csv"), tmp_path / "forecasts.csv"
    args = ["forecast", "--input", str(data), "--horizon", "3", "--output", str(out)]
    assert main([*args, "--model", "seasonal_naive", "--levels", "90,50"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == export_columns(LEVELS)
    assert len(table) == 3 * 3 and table[BOUNDS].notna().all().all()


@pytest.mark.parametrize("command", ["forecast", "backtest"])
@pytest.mark.parametrize("levels", ["0", "100", "a", "50,50", "80,95.5", ""])
def test_bad_levels_exit_2_naming_the_option(tmp_path, monkeypatch, capsys, command, levels) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    data = write_panel_csv(tmp_path / "panel.csv")
    args = [command, "--input", str(data), "--horizon", "3", "--levels", levels]
    if command == "forecast":
        args += ["--output", str(tmp_path / "out.csv"), "--model", "naive"]
    else:
        args += ["--models", "naive"]
    assert main(args) == 2
    assert "--levels" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_backtest_levels_reach_the_leaderboard(tmp_path, capsys) -> None:
    data = write_panel_csv(tmp_path / "panel.csv")
    args = ["backtest", "--input", str(data), "--horizon", "3", "--folds", "2", "--models", "naive"]
    assert main([*args, "--levels", "50,90"]) == 0
    out = capsys.readouterr().out
    assert "coverage_50" in out and "msis_90" in out and "coverage_80" not in out


def test_forecaster_builds_registry_models_for_the_requested_levels() -> None:
    from forecasting import Forecaster

    estimators = Forecaster(models=["auto", "naive"])._estimators(6, (50, 90))
    assert estimators["auto"].levels == LEVELS
    assert Forecaster(models=["auto"])._estimators(6, DEFAULT_LEVELS)["auto"].levels is None
    with pytest.raises(ConfigError, match="level"):
        Forecaster(models=["naive"]).forecast(seasonal_panel(n_series=1).to_long(), 3, level=(50, 50))
