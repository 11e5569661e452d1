"""Tiny retrain jobs run in forked child processes, with faults injected at named stages.

Children are forked from the test process (the package is imported once, so a
retrain of a 2-series panel takes seconds). A fault is installed in the child
only: the stage function is wrapped so that the child sends itself a signal
(or raises) when the job reaches it; nothing in the product is patched for the
parent. The parent inspects the SQLite store with plain ``sqlite3`` queries,
never through MLflow, so no database connection is shared across a fork.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import logging
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

FORK = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class Job:
    """One job's files: config, store, exports and models folders under ``root``."""

    root: Path
    name: str

    @property
    def config(self) -> Path:
        return self.root / f"{self.name}.toml"

    @property
    def database(self) -> Path:
        return self.root / "mlruns" / "mlflow.db"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def lock(self) -> Path:
        return self.models / f"{self.name}.lock"

    @property
    def latest(self) -> Path:
        return self.exports / f"forecasts_{self.name}_latest.csv"


def write_panel(path: Path, seed: int = 0, n_months: int = 30) -> Path:
    """Two seasonal cargo series, seeded."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2020-01", periods=n_months, freq="M").astype(str)
    t = np.arange(n_months)
    frames = [
        pd.DataFrame(
            {
                "series_id": f"s{i}/cargo/inbound",
                "month": months,
                "value": 100 * (i + 1) + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n_months),
                "flow": "cargo",
            }
        )
        for i in range(2)
    ]
    pd.concat(frames).to_csv(path, index=False)
    return path


_EMPTY_STORE: list[Path] = []


def empty_store() -> Path:
    """A migrated, empty MLflow SQLite store, made once per test process and copied for each job.

    Creating a store runs MLflow's schema migrations (seconds); a copy of a
    migrated one is taken as it is. Made in a forked child, so the parent
    never holds an MLflow database connection.
    """
    if not _EMPTY_STORE:
        path = Path(tempfile.mkdtemp(prefix="forecasting-store-")) / "mlflow.db"

        def child() -> None:
            from mlflow.tracking import MlflowClient

            MlflowClient(f"sqlite:///{path}").search_experiments()
            os._exit(0)

        process = FORK.Process(target=child)
        process.start()
        process.join(120)
        if process.exitcode != 0:
            raise RuntimeError(f"could not create an empty MLflow store (exit {process.exitcode})")
        atexit.register(shutil.rmtree, path.parent, True)
        _EMPTY_STORE.append(path)
    return _EMPTY_STORE[0]


def store_uri(database: Path) -> str:
    """``sqlite:///<database>``, a copy of the migrated empty store when none is there yet."""
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(empty_store(), database)
    return f"sqlite:///{database}"


def make_job(root: Path, name: str = "tiny", *, tracking_uri: str | None = None) -> Job:
    """Write a job config for a tiny panel with fast models; the store lives in ``root/mlruns``."""
    job = Job(root, name)
    root.mkdir(parents=True, exist_ok=True)
    panel = write_panel(root / f"{name}.csv")
    uri = tracking_uri or store_uri(job.database)  # a copy of a migrated store: no migrations
    tracking = f'[tracking]\nuri = "{uri}"\n' if tracking_uri != "" else ""
    job.config.write_text(
        f'[job]\nname = "{name}"\nhorizon = 3\noutput_dir = "{job.exports}"\nmodels_dir = "{job.models}"\n'
        f"{tracking}"
        f'[[sources]]\npath = "{panel}"\nformat = "long"\n'
        '[candidates]\nmodels = ["naive", "seasonal_naive"]\n'
        "[backtest]\nfolds = 2\n",
        encoding="utf-8",
    )
    return job


# --- faults -------------------------------------------------------------------------
def _stage_targets() -> dict[str, tuple[Any, str]]:
    """Stage name -> (module, attribute) the retrain looks up when it reaches that stage."""
    import forecasting.deployment as deployment
    import forecasting.files as files
    import forecasting.jobs.publish as publish
    import forecasting.jobs.retrain as retrain
    import forecasting.tracking as tracking

    return {
        "load": (retrain, "load_panel"),
        "backtest": (retrain, "_backtest_all"),
        "log_model": (tracking, "log_serving_model"),
        "copy_champion": (deployment, "stage_champion"),
        "export": (retrain, "stage_exports"),
        "export_write": (files.os, "fsync"),
        "alias": (deployment, "set_champion"),
        "link": (deployment, "link_champion"),
        "export_rename": (publish, "_move"),
    }


STAGES: tuple[str, ...] = (
    "load",
    "backtest",
    "log_model",
    "copy_champion",
    "export",
    "export_write",
    "alias",
    "link",
    "export_rename",
)
"""In pipeline order; ``export_write`` is inside the first CSV write, after the data, before the rename.

From ``alias`` on, the run is in its journaled publish step: a kill there is finished by the next start.
"""


def _install_fault(stage: str, action: Callable[[], None]) -> None:
    module, attribute = _stage_targets()[stage]
    original = getattr(module, attribute)

    def faulty(*args: Any, **kwargs: Any) -> Any:
        action()
        return original(*args, **kwargs)

    setattr(module, attribute, faulty)


def kill_self(signum: int) -> Callable[[], None]:
    def action() -> None:
        os.kill(os.getpid(), signum)

    return action


def disk_full() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _child(argv: list[str], env: dict[str, str], fault: tuple[str, Callable[[], None]] | None) -> None:
    os.environ.update(env)
    if fault is not None:
        _install_fault(*fault)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    logging.getLogger().handlers.clear()  # pytest's capture handler: the job logs to stderr like in cron
    from forecasting.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_cli(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    fault: tuple[str, Callable[[], None]] | None = None,
    timeout: float = 120.0,
) -> int:
    """Run ``forecasting <argv>`` in a forked child; its exit code, or ``-signum`` when killed."""
    process = start_cli(argv, env=env, fault=fault)
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise TimeoutError(f"forecasting {' '.join(argv)} did not finish in {timeout} s")
    return int(process.exitcode)


def start_cli(
    argv: list[str], *, env: dict[str, str] | None = None, fault: tuple[str, Callable[[], None]] | None = None
) -> multiprocessing.process.BaseProcess:
    process = FORK.Process(target=_child, args=(argv, env or {}, fault))
    process.start()
    return process


def retrain(job: Job, **kwargs: Any) -> int:
    return run_cli(["retrain", "--config", str(job.config)], **kwargs)


def ran_once(root: Path) -> Job:
    """A job that ran once on 2020-01..2022-06, then got 2022-07 (its 2022-06 export is scored next)."""
    job = make_job(root)
    assert retrain(job) == 0
    write_panel(job.root / f"{job.name}.csv", n_months=31)
    return job


def error_line(err: str) -> str:
    """The one ``forecasting: error:`` line of a command's stderr, asserting there is no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("forecasting: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- inspecting the store without MLflow --------------------------------------------------
def query(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def run_statuses(job: Job) -> dict[str, str]:
    """Retrain parent runs of the job: run id -> status."""
    rows = query(
        job.database,
        "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
        "WHERE t.key = 'forecasting.run_type' AND t.value = 'retrain' AND r.run_uuid IN "
        "(SELECT run_uuid FROM tags WHERE key = 'forecasting.job' AND value = ?)",
        job.name,
    )
    return dict(rows)


def champion(job: Job) -> str | None:
    rows = query(
        job.database,
        "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = 'champion'",
        job.name,
    )
    return str(rows[0][0]) if rows else None


def own_flip(job: Job) -> dict[str, Any]:
    """A publish journal exactly as the job writes it, for the champion in service and ``_latest``."""
    run_id = next(iter(run_statuses(job)))
    final = job.exports.resolve() / job.latest.name
    staged = final.with_name(f".{final.name}.{run_id}.staged")
    return {
        "job": job.name,
        "version": champion(job),
        "folder": str((job.models / job.name).resolve()),
        "previous": None,
        "rollback_of": None,
        "exports": [[str(staged), str(final)]],
        "run_id": run_id,
    }


def export_files(job: Job) -> dict[str, bytes]:
    """Every file in the export folder (temporary files included) -> its bytes."""
    if not job.exports.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(job.exports.iterdir()) if p.is_file()}


def assert_blocked_while_held(lock_path: Path) -> None:
    """Another process's flock on the lock file: taking the job lock is "already running"."""
    from forecasting.jobs.lock import JobLock, JobLockedError  # imported where used, as above

    holder = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(JobLockedError, match="already running"):
            JobLock(lock_path, stale_after=3600).acquire()
    finally:
        os.close(holder)
