"""The job lock under races and crashes, and the promotion history behind rollback.

Takeover of a stale lock: processes started together (a barrier) all find a
lock left by a dead owner; exactly one may win, in every trial. An empty or
unreadable lock whose owner is gone is stale at once, but not while a live
process holds it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from forecasting.jobs.lock import JobLock, JobLockedError

from .jobkit import FORK, assert_blocked_while_held

pytestmark = pytest.mark.timeout(240)

TRIALS = 50
CONTENDERS = 4


def _dead_pid() -> int:
    """A PID that ran on this host and is gone (a reaped child)."""
    child = FORK.Process(target=os._exit, args=(0,))
    child.start()
    child.join()
    return int(child.pid)


def _contend(path: str, barrier, results, release) -> None:  # noqa: ANN001 - multiprocessing proxies
    code = 0
    try:
        barrier.wait(10)
        lock = JobLock(path, stale_after=3600)
        try:
            lock.acquire()
        except JobLockedError:
            results.put("lost")
        else:
            results.put("won")
            release.wait(10)  # hold it until every contender has tried
            lock.release()
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        results.put(f"error {error!r}")
        code = 1
    results.close()
    results.join_thread()  # os._exit would drop a message still in the queue's feeder thread
    os._exit(code)


def _stale_lock(path: Path, trial: int, dead_pid: int) -> None:
    if trial % 2:
        path.write_text("")  # what a crash while writing the old lock left behind
    else:
        owner = {"pid": dead_pid, "hostname": socket.gethostname(), "started_at": time.time()}
        path.write_text(json.dumps(owner))


def test_concurrent_takeover_of_a_stale_lock_has_one_winner(tmp_path: Path) -> None:
    dead = _dead_pid()
    outcomes = []
    for trial in range(TRIALS):
        path = tmp_path / f"job{trial}.lock"
        _stale_lock(path, trial, dead)
        barrier, results, release = FORK.Barrier(CONTENDERS), FORK.Queue(), FORK.Event()
        processes = [
            FORK.Process(target=_contend, args=(str(path), barrier, results, release))
            for _ in range(CONTENDERS)
        ]
        for process in processes:
            process.start()
        trial_results = sorted(results.get(timeout=30) for _ in range(CONTENDERS))
        release.set()
        for process in processes:
            process.join(30)
        outcomes.append(trial_results)
        assert trial_results == ["lost"] * (CONTENDERS - 1) + ["won"], (trial, trial_results)
        assert [p.exitcode for p in processes] == [0] * CONTENDERS
        assert not path.exists(), "the winner removes its lock on release"
    assert len(outcomes) == TRIALS
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no owner files left"


def test_an_unreadable_lock_is_stale_once_no_process_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "job.lock"
    path.write_text("")
    with JobLock(path, stale_after=3600):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_an_unreadable_lock_held_by_a_live_process_blocks(tmp_path: Path) -> None:
    path = tmp_path / "job.lock"
    path.write_text("{garbled")
    assert_blocked_while_held(path)
    assert path.read_text() == "{garbled"


def test_a_lock_killed_holder_leaves_is_taken_over(tmp_path: Path) -> None:
    """SIGKILL cannot clean up, but the kernel drops the flock: the next run may start at once."""
    path = tmp_path / "job.lock"

    def hold() -> None:
        JobLock(path).acquire()
        os.kill(os.getpid(), 9)

    child = FORK.Process(target=hold)
    child.start()
    child.join(30)
    assert child.exitcode == -9 and path.exists()
    assert json.loads(path.read_text())["pid"] == child.pid
    with JobLock(path, stale_after=3600):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_a_live_owner_keeps_its_lock_and_release_spares_a_successor(tmp_path: Path) -> None:
    path = tmp_path / "job.lock"
    first = JobLock(path, stale_after=3600).acquire()
    with pytest.raises(JobLockedError):
        JobLock(path, stale_after=3600).acquire()
    os.utime(path, (0, 0))
    owner = json.loads(path.read_text())
    path.write_text(json.dumps({**owner, "started_at": 0.0}))  # older than the limit, but its flock is held
    with pytest.raises(JobLockedError, match="already running"):
        JobLock(path, stale_after=3600).acquire()
    path.unlink()  # someone removed the lock by hand: a successor takes the name
    second = JobLock(path, stale_after=3600).acquire()
    first.release()  # the first run ends: the successor's lock stays
    assert path.exists()
    second.release()
    assert not path.exists()


# --- compare picks the latest FINISHED retrain --------------------------------------------------
def test_compare_skips_failed_retrains_and_says_why_when_none_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from forecasting import cli, tracking
    from forecasting.jobs.config import load_config
    from forecasting.jobs.retrain import run_retrain

    from .jobkit import make_job

    job = make_job(tmp_path)
    compare = ["compare", "--config", str(job.config)]
    good = run_retrain(load_config(job.config)).run_id

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("forecasting.jobs.retrain.stage_exports", disk_full)
    assert cli.main(["retrain", "--config", str(job.config)]) == 1  # the newest retrain FAILED
    assert tracking.retrain_runs("tiny")["run_id"].tolist() == [good]
    capsys.readouterr()
    assert cli.main(compare) == 0
    assert good in capsys.readouterr().out

    other = make_job(tmp_path, "other")
    assert cli.main(["retrain", "--config", str(other.config)]) == 1  # its only retrain FAILED
    capsys.readouterr()
    assert cli.main(["compare", "--config", str(other.config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "forecasting: error: experiment 'other' has no finished retrain run to compare "
        "(run `forecasting retrain`, or pass --runs)"
    )
    assert cli.main(["compare", "--config", str(other.config), "--experiment", "nope"]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err
