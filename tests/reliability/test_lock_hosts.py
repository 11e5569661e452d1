"""Which host holds the job lock decides when it may be taken over.

The stale-lock check judged every lock by its age alone once its PID was
alive: a run of this host that held the lock's flock was taken over when it
outlived ``stale_lock_hours`` (two runs of one job at once), and a lock of this
host whose PID had been reused by another process waited hours. On this host
the flock is the proof: held means running, not held means gone. Only a lock
of another host, whose flock this host cannot see, ages out.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from forecasting.jobs.lock import JobLock, JobLockedError

from .jobkit import assert_blocked_while_held

pytestmark = pytest.mark.timeout(60)


def _record(path: Path, *, pid: int, host: str, age_hours: float) -> None:
    path.write_text(
        json.dumps({"pid": pid, "hostname": host, "started_at": time.time() - 3600 * age_hours}), "utf-8"
    )


@pytest.mark.parametrize("age_hours", [0.0, 2.0, 100.0])
def test_a_lock_this_host_holds_is_never_taken_over(tmp_path: Path, age_hours: float) -> None:
    path = tmp_path / "job.lock"
    _record(path, pid=os.getpid(), host=socket.gethostname(), age_hours=age_hours)
    assert_blocked_while_held(path)  # a live process of this host holds the flock
    assert json.loads(path.read_text("utf-8"))["pid"] == os.getpid()


@pytest.mark.parametrize("pid", [1, os.getppid()], ids=["init", "parent"])
def test_a_lock_of_this_host_nobody_holds_is_taken_over_whatever_its_pid_names(
    tmp_path: Path, pid: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The PID is alive (reused, or never the owner): without the flock the owner is gone."""
    path = tmp_path / "job.lock"
    _record(path, pid=pid, host=socket.gethostname(), age_hours=0.0)
    with JobLock(path, stale_after=3600):
        assert json.loads(path.read_text("utf-8"))["pid"] == os.getpid()
    assert "no process on this host holds it" in caplog.text


@pytest.mark.parametrize(("age_hours", "taken"), [(0.5, False), (2.0, True)])
def test_a_lock_of_another_host_ages_out(tmp_path: Path, age_hours: float, taken: bool) -> None:
    path = tmp_path / "job.lock"
    _record(path, pid=os.getpid(), host="another-host.example", age_hours=age_hours)
    if taken:
        with JobLock(path, stale_after=3600):
            assert json.loads(path.read_text("utf-8"))["hostname"] == socket.gethostname()
    else:
        with pytest.raises(JobLockedError, match="another-host.example"):
            JobLock(path, stale_after=3600).acquire()
