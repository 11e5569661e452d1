"""One retrain per job at a time: an exclusive lock file with stale-lock detection.

The lock file holds the owner's PID, hostname and start time as JSON, and
the owner keeps an ``flock`` on it for as long as it runs: the kernel drops
that flock when the process dies, even by SIGKILL, which proves the owner
gone. The file is written in full before it appears (a temporary file
hard-linked into place), so a reader never sees an empty lock of ours.

A lock is stale (and is cleared with a log line) when no process on this host
holds its flock and

- its owner record names this host (the owner would hold the flock), or cannot be read at all;
- or it names another host and is older than ``stale_after`` seconds (that
  host's flock is not visible here).

A lock a process of this host holds is never taken over, however old.

Taking over a stale lock happens under an ``flock`` on the lock's folder and
re-checks the lock there, so two processes that both saw it stale cannot
both win.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from forecasting.files import job_file

logger = logging.getLogger(__name__)

MAX_OWNER_BYTES = 4096
"""An owner record is a few dozen bytes: more is not one (read as unreadable)."""


class JobLockedError(RuntimeError):
    """Another live retrain of the same job holds the lock."""


class JobLock:
    """Context manager around a lock file created atomically (``link``) and held with ``flock``."""

    def __init__(self, path: str | Path, *, stale_after: float = 6 * 3600.0) -> None:
        self.path = Path(path)
        self.stale_after = stale_after
        self._descriptor: int | None = None

    def acquire(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = _owner_file(self.path)
        try:
            if not _link(temporary, self.path):
                self._take_over_stale(temporary)
        except BaseException:
            os.close(descriptor)
            raise
        finally:
            temporary.unlink(missing_ok=True)  # the flock stays on the linked file
        self._descriptor = descriptor
        _remove_leftovers(self.path)
        return self

    def _take_over_stale(self, temporary: Path) -> None:
        with _takeover_guard(self.path.parent):
            job_file(self.path)  # a FIFO, a folder or a link there is not a lock: refused, never opened
            owner = read_owner(self.path)
            reason = stale_reason(owner, self.stale_after, held=is_held(self.path))
            if reason is None:
                raise JobLockedError(
                    f"job is already running (lock {self.path}: pid {owner.get('pid')} "
                    f"on {owner.get('hostname')}, started {owner.get('started_at')})"
                )
            logger.warning("event=stale_lock_cleared lock=%s reason=%r", self.path, reason)
            self.path.unlink(missing_ok=True)
            if not _link(temporary, self.path):
                raise JobLockedError(f"could not take lock {self.path}: another process took it first")

    def release(self) -> None:
        if self._descriptor is None:
            return
        try:
            if _same_file(self._descriptor, self.path):  # not if a takeover gave it to another run
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def _owner_record() -> dict[str, Any]:
    return {"pid": os.getpid(), "hostname": socket.gethostname(), "started_at": time.time()}


def _owner_file(path: Path) -> tuple[int, Path]:
    """A temporary file beside ``path`` holding our owner record, flocked: (descriptor, path)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # No fsync: after a power loss an empty lock is unreadable and held by no one, so stale.
        os.write(descriptor, json.dumps(_owner_record()).encode("utf-8"))
        os.fchmod(descriptor, 0o644)
    except BaseException:
        os.close(descriptor)
        Path(temporary).unlink(missing_ok=True)
        raise
    return descriptor, Path(temporary)


def _link(temporary: Path, path: Path) -> bool:
    """Make our owner file appear as ``path`` unless something is there (atomic, like O_EXCL)."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    return True


def _remove_leftovers(path: Path, min_age: float = 60.0) -> None:
    """Owner files of runs killed before they linked theirs: no process holds them, a minute old."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with suppress(OSError):
            info = leftover.lstat()
            ours = stat.S_ISREG(info.st_mode)  # an owner file; a FIFO or a link of that name is not
            if ours and time.time() - info.st_mtime > min_age and not is_held(leftover):
                leftover.unlink()


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(descriptor), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


@contextmanager
def _takeover_guard(folder: Path) -> Iterator[None]:
    """An flock on the lock's folder: one takeover at a time (the kernel drops it if we die)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def is_held(path: Path) -> bool:
    """Whether a live process on this host holds the lock file's flock.

    Opened without blocking and without following a link: a FIFO planted at the
    name must not hang the check (a lock file is always a regular file).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:  # cannot look (permissions): the owner cannot be proven gone
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def read_owner(path: Path) -> dict[str, Any]:
    """The lock's owner record; an unreadable one counts as written at its mtime by nobody.

    Unreadable includes a record of the wrong shape (``"started_at": "abc"``): its
    fields are compared and computed with, and must not end a run in a traceback.
    """
    try:
        with open(path, "rb") as handle:  # a few dozen bytes; never read to the end of whatever is there
            owner = json.loads(handle.read(MAX_OWNER_BYTES))
        if isinstance(owner, dict) and _well_formed(owner):
            return owner
    except (OSError, ValueError):
        pass
    try:
        return {"started_at": path.stat().st_mtime, "unreadable": True}
    except OSError:
        return {"started_at": 0.0, "unreadable": True}


def _well_formed(owner: dict[str, Any]) -> bool:
    """PID an int, host a string, start time a finite number (each optional, as older records lack some)."""
    pid, host, started = owner.get("pid"), owner.get("hostname"), owner.get("started_at")
    number = isinstance(started, int | float) and not isinstance(started, bool) and math.isfinite(started)
    return (
        (pid is None or (isinstance(pid, int) and not isinstance(pid, bool)))
        and (host is None or isinstance(host, str))
        and (started is None or number)
    )


def stale_reason(owner: dict[str, Any], stale_after: float, *, held: bool = False) -> str | None:
    """Why a lock can be cleared, or ``None`` while its owner may still be running.

    Which host holds the lock decides how its owner is judged. A process of this
    host that holds the lock's flock (``held``) is running, however old the lock:
    it is never taken over (stop a hung run; taking over would run two at once).
    A lock of this host that no process holds lost its owner, whatever its PID
    now names. Only the owner of another host, whose flock this host cannot see,
    is judged by age: ``stale_after`` seconds.
    """
    if held:
        return None
    if owner.get("unreadable"):
        return "unreadable lock file and no process holds it"
    host = owner.get("hostname")
    if host == socket.gethostname():
        return f"no process on this host holds it (owner pid {owner.get('pid')} is gone)"
    age = time.time() - float(owner.get("started_at") or 0.0)
    if age > stale_after:
        return f"the lock of host {host!r} is {age / 3600:.1f} h old (limit {stale_after / 3600:.1f} h)"
    return None
