"""A small retrain against a real ``mlflow server`` over HTTP, and against the default local store.

The server runs on 127.0.0.1 with a SQLite backend and proxied artifacts in its
own temporary folder; it is always terminated, even when the test fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_retrain import JOB, assert_same_forecasts, exported, write_job  # noqa: E402

from forecasting import deployment  # noqa: E402
from forecasting.jobs.config import load_config  # noqa: E402
from forecasting.jobs.retrain import run_retrain  # noqa: E402

SERVER_START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    tail = log.read_text()[-2000:]
    raise TimeoutError(f"mlflow server not healthy after {SERVER_START_TIMEOUT:.0f} s:\n{tail}")


@contextmanager
def running_mlflow(arguments: list[str], folder: Path) -> Iterator[str]:
    """``mlflow <arguments>`` on a free 127.0.0.1 port, its log in ``folder``; yields its URL once healthy
    and always terminates it. The server's job runner (GenAI scorers) is not started."""
    port = _free_port()
    log = folder / "server.log"
    command = [str(Path(sys.executable).with_name("mlflow")), *arguments, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def mlflow_server(tmp_path) -> Iterator[str]:
    folder = tmp_path / "server"
    folder.mkdir()
    store = ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    artifacts = ["--artifacts-destination", str(folder / "artifacts"), "--serve-artifacts"]
    with running_mlflow(["server", *store, *artifacts], folder) as url:
        yield url


def _check_job(folder: Path, result) -> None:
    assert result.decision.promote and str(result.champion_version) == "1"
    assert str(deployment.champion_version(JOB).version) == "1"
    series = pd.DataFrame({"series_id": ["s0", "s1", "s2"]})
    served = mlflow.pyfunc.load_model(f"models:/{JOB}@champion").predict(series, params={"horizon": 6})
    assert_same_forecasts(served, exported(folder))
    local = mlflow.pyfunc.load_model(str(folder / "models" / JOB)).predict(series, params={"horizon": 6})
    assert_same_forecasts(local, exported(folder))


def test_retrain_against_a_real_tracking_server(tmp_path, mlflow_server) -> None:
    config = load_config(write_job(tmp_path, ["naive", "seasonal_naive"], tracking_uri=mlflow_server))
    result = run_retrain(config)
    assert mlflow.get_tracking_uri() == mlflow_server
    _check_job(tmp_path, result)
    run = mlflow.get_run(result.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert any((tmp_path / "server" / "artifacts").rglob("forecasts_tiny_latest.csv"))
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_retrain_against_the_default_local_store(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "mlruns").mkdir()  # the project's store
    monkeypatch.chdir(tmp_path)
    path = write_job(tmp_path, ["naive", "seasonal_naive"])
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("uri =")))
    config = load_config(path)
    assert config.tracking_uri is None
    result = run_retrain(config)
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    _check_job(tmp_path, result)
    assert any((tmp_path / "mlruns" / JOB).rglob("MLmodel"))
