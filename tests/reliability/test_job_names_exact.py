"""A job acts on its own names and runs only, never on another job's that happen to share a prefix.

Job ``p``'s start-up cleanup removed every ``.forecasts_p_*.staged`` file,
job ``p_x``'s staged exports among them (caught mid-publish, ``p_x`` lost its
next export); and a one-off ``forecasting forecast`` run carries the job tag
``forecast``, so a job named ``forecast`` could promote it as its champion and
its stale-run cleanup killed a forecast running at the time. Names are
matched exactly, and only the job's retrain runs are its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forecasting.jobs.config import JobConfig
from forecasting.jobs.publish import discard_staged

from .jobkit import FORK, query, run_cli, store_uri, write_panel

pytestmark = pytest.mark.timeout(180)

RUN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("job", ["p", "p_x", "p-1", "border"])
def test_cleanup_removes_only_the_jobs_own_staged_exports(tmp_path: Path, job: str) -> None:
    neighbours = ["p", "p_x", "p_x_y", "p-1", "p-10", "border", "border_2", "bord"]
    names = {
        name: [
            f".forecasts_{name}_latest.csv.{RUN}.staged",
            f".forecasts_{name}_2022-06.csv.{RUN}.staged",
        ]
        for name in neighbours
    }
    for files in names.values():
        for file in files:
            (tmp_path / file).write_text("staged\n", encoding="utf-8")
    discard_staged(JobConfig(name=job, output_dir=str(tmp_path)))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(f for name, files in names.items() if name != job for f in files)


def test_a_one_off_forecast_run_is_not_a_champion_of_a_job_named_forecast(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "mlruns" / "mlflow.db"
    env = {"MLFLOW_TRACKING_URI": store_uri(database)}
    panel = write_panel(tmp_path / "panel.csv")
    argv = ["forecast", "--input", str(panel), "--horizon", "2", "--model", "naive"]
    assert run_cli([*argv, "--output", str(tmp_path / "f.csv")], env=env) == 0
    [(run_id,)] = query(database, "SELECT run_uuid FROM runs")
    capfd.readouterr()
    promote = ["promote", "--run", run_id]
    assert run_cli([*promote, "--config", str(_config(tmp_path, env))], env=env) == 2
    err = capfd.readouterr().err
    assert f"run {run_id} is a forecast run, not a retrain of job 'forecast'" in err, err
    assert query(database, "SELECT count(*) FROM registered_model_aliases") == [(0,)]
    assert not (tmp_path / "models" / "forecast").exists()


def _config(tmp_path: Path, env: dict[str, str]) -> Path:
    config = tmp_path / "forecast.toml"
    config.write_text(
        f'[job]\nname = "forecast"\nmodels_dir = "{tmp_path / "models"}"\noutput_dir = "{tmp_path / "out"}"\n'
        f'[tracking]\nuri = "{env["MLFLOW_TRACKING_URI"]}"\n',
        encoding="utf-8",
    )
    return config


def _running_forecast_then_cleanup(uri: str) -> None:
    """In a child: a one-off forecast run still running, then the job ``forecast``'s stale-run cleanup."""
    from forecasting import tracking

    tracking.configure(uri)
    experiment = tracking.ensure_experiment("forecast", uri)
    tags = tracking.run_tags("forecast", data="d", config="c")
    context = tracking.retrain_run(experiment, "forecast-panel", tags, run_type="forecast")
    run = context.__enter__()  # left running, as a forecast still at work
    killed = tracking.end_stale_runs(experiment, "forecast")
    os._exit(3 if run.info.run_id in killed else 0)


def test_the_stale_run_cleanup_leaves_a_running_forecast_alone(tmp_path: Path) -> None:
    database = tmp_path / "mlruns" / "mlflow.db"
    child = FORK.Process(target=_running_forecast_then_cleanup, args=(store_uri(database),))
    child.start()
    child.join(120)
    assert child.exitcode == 0, "the job's cleanup killed a one-off forecast run"
    assert query(database, "SELECT status FROM runs") == [("RUNNING",)]
