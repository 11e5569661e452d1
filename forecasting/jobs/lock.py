"""One retrain per job at a time: an exclusive lock file with stale-lock detection.

The lock file holds the owner's PID, hostname and start time as JSON. A lock
is stale (and is cleared with a log line) when its owner is a process on this
host that no longer exists, or when it is older than ``stale_after`` seconds
(covers owners on other hosts sharing the folder, and hung runs).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

logger = logging.getLogger(__name__)


class JobLockedError(RuntimeError):
    """Another live retrain of the same job holds the lock."""


class JobLock:
    """Context manager around an ``O_CREAT | O_EXCL`` lock file."""

    def __init__(self, path: str | Path, *, stale_after: float = 6 * 3600.0) -> None:
        self.path = Path(path)
        self.stale_after = stale_after
        self._held = False

    def acquire(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = read_owner(self.path)
                reason = stale_reason(owner, self.stale_after)
                if reason is None:
                    raise JobLockedError(
                        f"job is already running (lock {self.path}: pid {owner.get('pid')} "
                        f"on {owner.get('hostname')}, started {owner.get('started_at')})"
                    ) from None
                logger.warning("event=stale_lock_cleared lock=%s reason=%r", self.path, reason)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(_owner_record(), handle)
            self._held = True
            return self
        raise JobLockedError(f"could not take lock {self.path}: another process raced for it")

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def _owner_record() -> dict[str, Any]:
    return {"pid": os.getpid(), "hostname": socket.gethostname(), "started_at": time.time()}


def read_owner(path: Path) -> dict[str, Any]:
    """The lock's owner record; an unreadable lock counts as written at its mtime by nobody."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(owner, dict):
            return owner
    except (OSError, ValueError):
        pass
    try:
        return {"started_at": path.stat().st_mtime}
    except OSError:
        return {"started_at": 0.0}


def stale_reason(owner: dict[str, Any], stale_after: float) -> str | None:
    """Why a lock can be cleared, or ``None`` while its owner may still be running."""
    pid = owner.get("pid")
    if owner.get("hostname") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
        return f"owner pid {pid} is not running"
    age = time.time() - float(owner.get("started_at") or 0.0)
    if age > stale_after:
        return f"lock is {age / 3600:.1f} h old (limit {stale_after / 3600:.1f} h)"
    return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (signal 0 probes without killing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
