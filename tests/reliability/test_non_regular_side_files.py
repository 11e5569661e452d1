"""A FIFO, a folder or a socket at a side-file name is an error naming it, never a hang.

Besides its input a command reads and writes files beside it: the hierarchy
next to a panel, the job's lock, its accuracy table and exports, the journal,
the SQLite store. Opening a FIFO blocks until someone writes to it, so a FIFO
at one of those names hung the command forever (cron piles them up). Every
file the package reads or writes is checked to be a regular file first; each
case ends in seconds with exit 2 naming the path, and the thing at the path is
left as it was.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from forecasting.jobs.lock import JobLock

from .jobkit import FORK, Job, error_line, make_job, ran_once, retrain, run_cli, write_panel

TO_STDOUT = ["--output", "-"]
pytestmark = pytest.mark.timeout(240)

HANG = 60.0
"""Seconds after which a command counts as hung (each case below takes a few)."""


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))  # the socket file stays after the object is closed
    server.close()


MAKERS: dict[str, Callable[[Path], None]] = {"fifo": _fifo, "folder": _folder, "socket": _socket}
KINDS = {"fifo": stat.S_ISFIFO, "folder": stat.S_ISDIR, "socket": stat.S_ISSOCK}


def _plant(path: Path, kind: str) -> None:
    if path.exists() and not path.is_dir():
        path.unlink()
    MAKERS[kind](path)


def _untouched(path: Path, kind: str) -> bool:
    return KINDS[kind](os.lstat(path).st_mode)


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """A job that ran once, so every side file exists; the next month has arrived."""
    return ran_once(tmp_path_factory.mktemp("nonregular"))


@pytest.fixture
def restore(job: Job):  # noqa: ANN201 - yields a registrar
    """Put a job file back (its bytes, or its absence) after the case."""
    saved: list[tuple[Path, bytes | None]] = []

    def keep(path: Path) -> Path:
        saved.append((path, path.read_bytes() if path.is_file() else None))
        return path

    yield keep
    for path, data in saved:
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        elif os.path.lexists(path):
            path.unlink()
        if data is not None:
            path.write_bytes(data)


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("name", ["hierarchy", "lock", "accuracy", "latest"])
def test_retrain_stops_on_a_non_regular_side_file(
    job: Job, name: str, kind: str, restore, capfd: pytest.CaptureFixture[str]
) -> None:
    path = restore(
        {
            "hierarchy": job.root / f"{job.name}.hierarchy.csv",
            "lock": job.lock,
            "accuracy": job.exports / f"accuracy_{job.name}.csv",
            "latest": job.latest,
        }[name]
    )
    _plant(path, kind)
    capfd.readouterr()
    code = retrain(job, timeout=HANG)
    line = error_line(capfd.readouterr().err)
    assert code == 2 and f"file {path}" in line, line
    assert _untouched(path, kind)


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("command", ["data", "forecast", "backtest", "series"])
def test_a_non_regular_hierarchy_beside_an_input_is_an_error(
    tmp_path: Path, command: str, kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    panel = write_panel(tmp_path / "panel.csv")
    hierarchy = tmp_path / "panel.hierarchy.csv"
    _plant(hierarchy, kind)
    argv = {
        "data": ["data", "check", str(panel)],
        "forecast": ["forecast", "--input", str(panel), "--horizon", "2", "--model", "naive", *TO_STDOUT],
        "backtest": ["backtest", "--input", str(panel), "--horizon", "2", "--models", "naive"],
        "series": ["series", "build", "--input", str(panel), "--output", str(tmp_path / "built.csv")],
    }[command]
    capfd.readouterr()
    code = run_cli(argv, timeout=HANG)
    line = error_line(capfd.readouterr().err)
    assert code == 2 and f"file {hierarchy}" in line, line
    assert _untouched(hierarchy, kind)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_the_accuracy_command_stops_on_a_non_regular_table(
    job: Job, kind: str, restore, capfd: pytest.CaptureFixture[str]
) -> None:
    path = restore(job.exports / f"accuracy_{job.name}.csv")
    _plant(path, kind)
    capfd.readouterr()
    code = run_cli(["accuracy", "--config", str(job.config)], timeout=HANG)
    line = error_line(capfd.readouterr().err)
    assert code == 2 and f"file {path}" in line, line
    assert _untouched(path, kind)


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_lock_leftover_that_is_not_a_file_is_left_alone(tmp_path: Path, kind: str) -> None:
    """Owner files of killed runs are cleaned up when the lock is taken; a FIFO with such a name is not
    theirs (and opening it to look for an owner's flock would hang)."""
    lock = tmp_path / "job.lock"
    leftover = tmp_path / f".{lock.name}.planted.tmp"
    _plant(leftover, kind)
    os.utime(leftover, (1.0, 1.0), follow_symlinks=False)  # old enough to count as a leftover
    killed = tmp_path / f".{lock.name}.killed.tmp"  # a real leftover: removed
    killed.write_text("{}", encoding="utf-8")
    os.utime(killed, (1.0, 1.0))
    child = FORK.Process(target=_take_and_release, args=(lock,))
    child.start()
    child.join(HANG)
    if child.is_alive():  # hung on the FIFO: never leave it behind
        child.kill()
        child.join()
    assert child.exitcode == 0, "taking the lock hung or failed"
    assert _untouched(leftover, kind) and not killed.exists()


def _take_and_release(lock: Path) -> None:
    with JobLock(lock, stale_after=3600):
        pass
    os._exit(0)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_non_regular_sqlite_store_is_an_error(
    tmp_path: Path, kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "store.db"
    _plant(database, kind)
    job = make_job(tmp_path, tracking_uri=f"sqlite:///{database}")
    capfd.readouterr()
    code = retrain(job, timeout=HANG)
    line = error_line(capfd.readouterr().err)
    assert code == 2 and str(database) in line, line
    assert _untouched(database, kind)
