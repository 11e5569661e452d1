"""Promotion and exports as one recoverable step: stage everything, journal the flip, then flip.

A retrain (and ``promote``/``rollback``) first writes everything the flip
needs where no reader looks: the champion's model folder as a hidden
versioned folder in ``models_dir`` (with its manifest) and the forecast CSVs
as hidden ``.staged`` files beside the exports. Then a small journal
(``<models_dir>/<job>.publish.json``) records the flip, and the flip runs:
champion alias and promotion history, the ``models/<job>`` link, the CSV
renames; each step is idempotent. A kill before the journal is written leaves
the previous champion, model folder and CSVs in service (the staged files are
removed at the next start); a kill after it is finished by the next start of
the job, which replays the journal under the job lock before anything else.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from forecasting import deployment, tracking
from forecasting.errors import ModelError
from forecasting.export import export_paths, write_csv_atomic
from forecasting.jobs.config import JobConfig
from forecasting.jobs.lock import JobLock

logger = logging.getLogger(__name__)

STAGED_SUFFIX = ".staged"


@dataclass(frozen=True)
class Flip:
    """What one publish changes: the alias target, the folder to link, the CSVs to rename."""

    job: str
    version: str
    folder: str
    previous: str | None = None
    rollback_of: str | None = None
    exports: tuple[tuple[str, str], ...] = ()
    """``(staged, final)`` absolute paths."""
    run_id: str | None = None


def job_lock(config: JobConfig) -> JobLock:
    """The lock every command that changes the job's champion or exports holds."""
    path = Path(config.models_dir) / f"{config.name}.lock"
    return JobLock(path, stale_after=config.stale_lock_hours * 3600)


def journal_path(config: JobConfig) -> Path:
    return Path(config.models_dir) / f"{config.name}.publish.json"


def stage_exports(
    table: pd.DataFrame, config: JobConfig, origin: pd.Period | str, run_id: str
) -> tuple[tuple[str, str], ...]:
    """Write the dated and the latest CSV under hidden staged names; ``(staged, final)`` pairs."""
    pairs = []
    for final in export_paths(config.output_dir, config.name, origin):
        staged = final.with_name(f".{final.name}.{run_id}{STAGED_SUFFIX}")
        write_csv_atomic(table, staged, dialect=config.csv_dialect)
        pairs.append((str(staged.resolve()), str(final.resolve())))
    return tuple(pairs)


def publish(flip: Flip, config: JobConfig) -> None:
    """Journal the flip (atomically, fsynced), then carry it out and drop the journal."""
    path = journal_path(config)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(asdict(flip), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _complete(flip, config)


def _complete(flip: Flip, config: JobConfig) -> None:
    deployment.set_champion(flip.job, flip.version, previous=flip.previous, rollback_of=flip.rollback_of)
    deployment.link_champion(flip.job, Path(flip.folder), config.models_dir)
    for staged, final in flip.exports:
        if Path(staged).exists():  # else renamed before a crash
            _move(staged, final)
    journal_path(config).unlink(missing_ok=True)


def _move(staged: str, final: str) -> None:
    os.replace(staged, final)


def recover(config: JobConfig) -> Flip | None:
    """Finish a flip a killed run journaled, and remove what killed runs staged; call under the job lock."""
    path = journal_path(config)
    flip = _read_journal(path) if path.exists() else None
    if flip is not None:
        logger.warning(
            "event=publish_recovered job=%s version=%s run=%s", flip.job, flip.version, flip.run_id
        )
        _complete(flip, config)
        if flip.run_id:
            tracking.end_recovered_run(flip.run_id)
    discard_staged(config)
    return flip


def _read_journal(path: Path) -> Flip:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Flip(**{**raw, "exports": tuple((str(s), str(f)) for s, f in raw["exports"])})
    except (ValueError, TypeError, KeyError) as error:
        raise ModelError(f"publish journal {path} is unreadable ({error}); inspect, then remove it") from None


def discard_staged(
    config: JobConfig, folder: Path | None = None, exports: Sequence[tuple[str, str]] = ()
) -> None:
    """Remove staged files: the given ones (a failed run), or every staged CSV of the job (at start)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    staged = [Path(s) for s, _ in exports] or Path(config.output_dir).glob(
        f".forecasts_{config.name}_*.csv.*{STAGED_SUFFIX}"
    )
    for path in staged:
        path.unlink(missing_ok=True)
