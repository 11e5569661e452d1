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

The journal is replayed only when it is entirely the job's own
(:func:`foreign_entry`): its job, a marked versioned folder of that job in
``models_dir``, and staged -> final names of the job's exports in
``output_dir``. Anyone who can write ``models_dir`` could otherwise make the
next start rename any file over any other, or move another job's alias; such a
journal stops the command with a :class:`ConfigError` naming it, before
anything moves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from forecasting import deployment, model_folder, tracking
from forecasting.errors import ConfigError, shorten
from forecasting.export import export_paths, write_csv_atomic
from forecasting.files import job_file, output_target, read_config_text
from forecasting.jobs.config import JobConfig
from forecasting.jobs.lock import JobLock
from forecasting.jobs.monitoring import accuracy_path

logger = logging.getLogger(__name__)

STAGED_SUFFIX = ".staged"
VERSION = re.compile(r"[0-9]{1,12}")
"""A registered model version as MLflow numbers them."""


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
    """The lock every command that changes the job's champion or exports holds, in ``models_dir``."""
    path = usable_folder(config.models_dir, key="job.models_dir") / f"{config.name}.lock"
    return JobLock(path, stale_after=config.stale_lock_hours * 3600)


def usable_folder(path: str | Path, *, key: str) -> Path:
    """``path`` as a folder, created if absent; a :class:`ConfigError` naming ``key`` when it cannot be one.

    A file where the folder should be (a typo in the config) would otherwise
    surface as a traceback from deep inside the lock or the exports.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        kind = "is a file, not a folder" if path.is_file() else f"cannot be created: {error.strerror}"
        raise ConfigError(f"{path} {kind}", key=key) from None
    return path


def journal_path(config: JobConfig) -> Path:
    return Path(config.models_dir) / f"{config.name}.publish.json"


def stage_exports(
    table: pd.DataFrame, config: JobConfig, origin: pd.Period | str, run_id: str
) -> tuple[tuple[str, str], ...]:
    """Write the dated and the latest CSV under hidden staged names; ``(staged, final)`` pairs.

    Only the folder is resolved: a link at a final name is refused (exit 2), never followed.
    """
    check_own_names(config, origin)
    pairs = []
    for final in export_paths(Path(config.output_dir).resolve(), config.name, origin):
        staged = final.with_name(f".{final.name}.{run_id}{STAGED_SUFFIX}")
        write_csv_atomic(table, staged, follow_links=False, dialect=config.csv_dialect)
        pairs.append((str(staged), str(final)))
    return tuple(pairs)


def check_own_names(config: JobConfig, origin: pd.Period | str | None = None) -> None:
    """Refuse (exit 2) a name the job writes in ``output_dir`` that is a link or one of its inputs.

    The package never writes a link there; following one would write outside
    the folder, replacing it would delete what the package did not write. A
    source or the config at such a name would be replaced by the export. The
    dated export's name is checked once ``origin`` (the last month of the data) is known.
    """
    usable_folder(config.output_dir, key="job.output_dir")
    names = [accuracy_path(config.output_dir, config.name)]
    if origin is None:
        names.append(Path(config.output_dir) / f"forecasts_{config.name}_latest.csv")
    else:
        names.extend(export_paths(config.output_dir, config.name, origin))
    for name in names:
        output_target(name, inputs=config.input_files, follow_links=False)


def publish(flip: Flip, config: JobConfig) -> None:
    """Journal the flip (atomically, fsynced), then carry it out and drop the journal."""
    path = journal_path(config)
    # A fresh name (O_EXCL): a link planted at a fixed temporary name is never written through.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(flip), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _complete(flip, config)


def _complete(flip: Flip, config: JobConfig) -> None:
    deployment.set_champion(flip.job, flip.version, previous=flip.previous, rollback_of=flip.rollback_of)
    deployment.link_champion(flip.job, Path(flip.folder), config.models_dir)
    for staged, final in flip.exports:
        if Path(staged).exists():  # else renamed before a crash
            _move(staged, final)
    journal_path(config).unlink(missing_ok=True)


def _move(staged: str, final: str) -> None:
    """Rename a staged export over its final name: only a regular file of the job's is replaced.

    A rename never follows a link, but would replace it, or a FIFO someone put there.
    """
    job_file(final)
    os.replace(staged, final)


def recover(config: JobConfig) -> Flip | None:
    """Finish a flip a killed run journaled, and remove what killed runs staged; call under the job lock."""
    path = journal_path(config)
    flip = read_journal(path, config) if os.path.lexists(path) else None
    if flip is not None:
        logger.warning(
            "event=publish_recovered job=%s version=%s run=%s", flip.job, flip.version, flip.run_id
        )
        _complete(flip, config)
        if flip.run_id:
            tracking.end_recovered_run(flip.run_id)
    discard_staged(config)
    return flip


def read_journal(path: Path, config: JobConfig) -> Flip:
    """The journaled flip, when it is entirely this job's own; else a ConfigError naming the journal."""
    if path.is_symlink():
        raise _refused(path, "it is a link, not a journal the job wrote")
    try:
        text = read_config_text(path)  # a regular file of at most 1 MiB: a FIFO would hang the read
    except ConfigError as error:
        raise _refused(path, str(error).removeprefix(f"file {path}: ")) from None
    try:
        flip = _parse(json.loads(text))
    except (ValueError, TypeError, KeyError) as error:
        raise _refused(path, f"it is unreadable ({shorten(str(error), quote=False)})") from None
    problem = foreign_entry(flip, config)
    if problem is not None:
        raise _refused(path, problem)
    return flip


def _parse(raw: object) -> Flip:
    fields = {field.name for field in dataclasses.fields(Flip)}
    if not isinstance(raw, dict) or not set(raw) <= fields:
        raise TypeError(f"not a journal object with the fields {sorted(fields)}")
    flip = Flip(**{**raw, "exports": tuple((s, f) for s, f in raw.get("exports", ()))})
    texts = [flip.job, flip.version, flip.folder, *(name for pair in flip.exports for name in pair)]
    optional = [flip.previous, flip.rollback_of, flip.run_id]
    if not all(isinstance(v, str) for v in texts) or any(not isinstance(v, str | None) for v in optional):
        raise TypeError("a field that holds a name or a version is not text")
    return flip


def foreign_entry(flip: Flip, config: JobConfig) -> str | None:
    """What in ``flip`` is not this job's own (None when all of it is): the only journals replayed."""
    job = config.name
    if flip.job != job:
        return f"it names job {shorten(flip.job)}, not {job!r}"
    for name in ("version", "previous", "rollback_of"):
        value = getattr(flip, name)
        if value is not None and not VERSION.fullmatch(value):
            return f"its {name} {shorten(value)} is not a model version"
    if flip.run_id is not None and not tracking.RUN_ID.fullmatch(flip.run_id):
        return f"its run id {shorten(flip.run_id)} is not a run id"
    models_dir, folder = Path(config.models_dir).resolve(), Path(flip.folder)
    if (
        folder.parent != models_dir
        or not folder.name.startswith(f"{model_folder.version_prefix(job)}{flip.version}-")
        or not model_folder.is_owned(folder, job, version=flip.version)
    ):
        where = f"a marked version {flip.version} folder of {job!r} in {models_dir}"
        return f"its model folder {shorten(flip.folder)} is not {where}"
    output_dir = Path(config.output_dir).resolve()
    finals = re.compile(rf"forecasts_{re.escape(job)}_([0-9]{{4}}-[0-9]{{2}}|latest)\.csv")
    for staged, final in flip.exports:
        staged_path, final_path = Path(staged), Path(final)
        if not (
            final_path.parent == output_dir == staged_path.parent
            and finals.fullmatch(final_path.name)
            and staged_path.name == f".{final_path.name}.{flip.run_id}{STAGED_SUFFIX}"
        ):
            where = f"a staged export of {job!r} in {output_dir}"
            return f"it would move {shorten(staged)} to {shorten(final)}: not {where}"
        if os.path.islink(final):  # renaming over it would delete what the package did not write
            return f"its export {shorten(final)} is a symbolic link"
    if len({final for _, final in flip.exports}) != len(flip.exports):
        return "it names one export twice"
    return None


def _refused(path: Path, reason: str) -> ConfigError:
    return ConfigError(
        f"this publish journal is not replayed: {reason}; nothing was moved. Inspect it, then remove it",
        file=str(path),
    )


def discard_staged(
    config: JobConfig, folder: Path | None = None, exports: Sequence[tuple[str, str]] = ()
) -> None:
    """Remove staged files: the given ones (a failed run), or every staged CSV of the job (at start).

    Only the job's own staged names: job ``p``'s are not job ``p_x``'s, whose names also start with ``p_``.
    """
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    staged = [Path(s) for s, _ in exports] or [
        path
        for path in Path(config.output_dir).glob(f".forecasts_{config.name}_*{STAGED_SUFFIX}")
        if staged_name(config.name).fullmatch(path.name)
    ]
    for path in staged:
        path.unlink(missing_ok=True)


def staged_name(job: str) -> re.Pattern[str]:
    """The name of a staged export of ``job``: ``.forecasts_<job>_<YYYY-MM|latest>.csv.<run id>.staged``."""
    return re.compile(
        rf"\.forecasts_{re.escape(job)}_([0-9]{{4}}-[0-9]{{2}}|latest)\.csv\.{tracking.RUN_ID.pattern}"
        rf"{re.escape(STAGED_SUFFIX)}"
    )
