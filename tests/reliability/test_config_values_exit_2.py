"""Issue 27, item 8: values that are wrong twice over or of the wrong kind are exit 2, never a traceback.

Duplicate interval levels in a job config and a model named twice on the
command line ended in a traceback deep in the backtest; a ``models_dir`` or
``output_dir`` that is a file, in one from the lock or the export writer. Each
is now one line naming the key. A lock whose owner record has the wrong shape
(``"started_at": "abc"``) is an unreadable lock: cleared with a warning naming
it when no process holds it, "already running" while one does.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import pytest

from forecasting.cli import main
from forecasting.jobs.lock import JobLock

from .jobkit import assert_blocked_while_held, make_job, run_cli, write_panel

pytestmark = pytest.mark.timeout(120)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("forecasting: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_duplicate_interval_levels_in_a_job_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "job.toml"
    config.write_text('[job]\nname = "t"\nlevels = [80, 95, 80]\n', encoding="utf-8")
    assert main(["retrain", "--config", str(config)]) == 2
    assert "key 'job.levels': must not repeat a level. Got 80 twice" in _one_line(capsys.readouterr().err)


def test_a_model_named_twice_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    panel = write_panel(tmp_path / "panel.csv")
    argv = ["backtest", "--input", str(panel), "--horizon", "2", "--models", "naive,drift,naive"]
    assert main(argv) == 2
    assert "key '--models': names 'naive' twice" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["retrain", "promote", "rollback"])
def test_a_models_dir_that_is_a_file(tmp_path: Path, command: str, capfd: pytest.CaptureFixture[str]) -> None:
    job = make_job(tmp_path)
    job.models.write_text("not a folder\n", encoding="utf-8")
    argv = {"promote": ["promote", "--run", "0" * 32], "retrain": ["retrain"], "rollback": ["rollback"]}
    capfd.readouterr()
    assert run_cli([*argv[command], "--config", str(job.config)]) == 2
    line = _one_line(capfd.readouterr().err)
    assert "key 'job.models_dir'" in line and f"{job.models} is a file" in line, line
    assert job.models.read_text(encoding="utf-8") == "not a folder\n"


def test_an_output_dir_that_is_a_file_stops_the_retrain_before_any_work(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job(tmp_path)
    job.exports.write_text("not a folder\n", encoding="utf-8")
    capfd.readouterr()
    assert run_cli(["retrain", "--config", str(job.config)]) == 2
    err = capfd.readouterr().err
    assert "key 'job.output_dir'" in _one_line(err) and "event=backtested" not in err, err


def _malformed_lock(path: Path) -> None:
    owner = {"pid": 2**22 + 12345, "hostname": socket.gethostname(), "started_at": "abc"}
    path.write_text(json.dumps(owner), encoding="utf-8")


def test_a_lock_with_a_malformed_start_time_nobody_holds_is_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "job.lock"
    for owner in ({"started_at": "abc"}, {"pid": "12", "started_at": 1.0}, {"started_at": float("nan")}):
        path.write_text(json.dumps(owner), encoding="utf-8")
        with caplog.at_level(logging.WARNING), JobLock(path, stale_after=3600):
            assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()
        assert f"lock={path}" in caplog.text and "unreadable" in caplog.text
        caplog.clear()
    _malformed_lock(path)
    with JobLock(path, stale_after=3600):
        pass


def test_a_lock_with_a_malformed_start_time_held_by_a_live_process_blocks(tmp_path: Path) -> None:
    path = tmp_path / "job.lock"
    _malformed_lock(path)
    assert_blocked_while_held(path)
    assert json.loads(path.read_text(encoding="utf-8"))["started_at"] == "abc"
