"""Settings that cannot work are refused before the work they would spoil, naming the key.

TOML has ``nan`` and ``inf``, and every comparison with NaN is false: a
``monitoring.mase_factor = nan`` or ``job.stale_lock_hours = inf`` passed every
range check. Folds reaching back before any data were silently left out of the
scores. ``backtest --reconcile`` checked its method after the whole backtest,
and a job or forecast to reconcile found out its input had no hierarchy after
hours of backtests and fits. Each is exit 2 naming the key, as early as the
information is there (the configuration, else the loaded data).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from forecasting.cli import main
from forecasting.errors import ConfigError
from forecasting.jobs.config import parse_config

from .jobkit import error_line, make_job, retrain, write_panel

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("monitoring", "mase_factor", "nan"),
        ("monitoring", "mase_factor", "inf"),
        ("monitoring", "coverage_alpha", "nan"),
        ("job", "stale_lock_hours", "nan"),
        ("job", "stale_lock_hours", "inf"),
        ("promotion", "margin", "nan"),
        ("promotion", "margin", "-inf"),
    ],
)
def test_nan_and_infinite_thresholds_name_their_key(table: str, key: str, value: str) -> None:
    raw = tomllib.loads(f"[{table}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=f"key '{table}.{key}'"):
        parse_config(raw)


@pytest.mark.parametrize(("folds", "allowed"), [(50, 26), (27, 26), (40, 26)])
def test_folds_before_any_data_are_refused_with_the_number_that_fits(
    tmp_path: Path, folds: int, allowed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = write_panel(tmp_path / "panel.csv")  # 30 months: horizon 3, one month apart, 2 to train
    argv = ["backtest", "--input", str(panel), "--horizon", "3", "--models", "naive", "--folds", str(folds)]
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err)
    assert "key '--folds'" in line and f"allows at most {allowed} fold(s)" in line, line


def test_the_folds_that_fit_are_accepted(tmp_path: Path) -> None:
    panel = write_panel(tmp_path / "panel.csv")
    argv = ["backtest", "--input", str(panel), "--horizon", "3", "--models", "naive", "--folds", "26"]
    assert main(argv) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reconcile", "bogus"], "key '--reconcile': must be one of"),
        (["--reconcile", "ols", "--folds", "1"], "key '--reconcile': needs --folds >= 2"),
    ],
)
def test_backtest_refuses_its_reconcile_options_before_backtesting(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = write_panel(tmp_path / "panel.csv")
    assert main(["backtest", "--input", str(panel), "--horizon", "2", "--models", "naive", *extra]) == 2
    err = capsys.readouterr().err
    assert message in error_line(err) and "phase=backtest" not in err, err


def test_a_forecast_to_reconcile_without_a_hierarchy_stops_before_the_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    panel = write_panel(tmp_path / "panel.csv")
    argv = ["forecast", "--input", str(panel), "--horizon", "2", "--model", "naive", "--reconcile", "ols"]
    assert main([*argv, "--output", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert "key '--reconcile': needs a hierarchy" in error_line(err) and "event=fit" not in err, err
    assert not (tmp_path / "never.db").exists()


def test_a_job_to_reconcile_without_a_hierarchy_stops_before_the_backtests(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job(tmp_path)
    with job.config.open("a", encoding="utf-8") as config:
        config.write('[reconcile]\nmethod = "ols"\n')
    capfd.readouterr()
    assert retrain(job) == 2
    err = capfd.readouterr().err
    assert "key 'reconcile.method': needs a hierarchy" in error_line(err) and "event=backtested" not in err, (
        err
    )
