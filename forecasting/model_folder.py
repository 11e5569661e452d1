"""Which ``<models_dir>/<job>`` folders the package wrote, so it never replaces anything else.

Promotion copies the champion into a fresh hidden folder ``.<job>-v<version>-<random>``
and points the link ``<models_dir>/<job>`` at it. The folder gets a marker
file (:data:`MARKER`, JSON with job, version and run) the moment it is
created, before anything is downloaded into it. Only marked folders, and links
to them, are ever replaced or removed: a user folder or file that happens to
sit at ``<models_dir>/<job>`` (``models_dir = "."`` and a job named like a
project folder) stops the job with a :class:`ConfigError` naming the path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from forecasting.errors import ConfigError

MARKER = ".forecasting-model"
"""The marker file in every model folder the package writes."""
MAX_MARKER_BYTES = 4096
"""A marker is a few dozen bytes; anything larger is not one of ours."""
MKDTEMP_SUFFIX = "[a-z0-9_]{8}"
"""The random part ``tempfile.mkdtemp`` adds to a prefix: eight of its letters, digits and ``_``."""


def version_prefix(job: str) -> str:
    """Name prefix of the job's versioned folders: ``.<job>-v``."""
    return f".{job}-v"


def claim(folder: Path, *, job: str, version: str, run_id: str | None) -> None:
    """Mark a folder the package just created as its own."""
    marker = {"package": "forecasting", "job": job, "version": str(version), "run_id": run_id}
    (folder / MARKER).write_text(json.dumps(marker, sort_keys=True), encoding="utf-8")


def is_owned(folder: Path, job: str, *, version: str | None = None) -> bool:
    """Whether ``folder`` is a real folder (not a link) holding this job's marker (for ``version``)."""
    marker = folder / MARKER
    if folder.is_symlink() or not folder.is_dir() or marker.is_symlink() or not marker.is_file():
        return False
    if marker.stat().st_size > MAX_MARKER_BYTES:
        return False
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return (
        isinstance(content, dict)
        and content.get("package") == "forecasting"
        and content.get("job") == job
        and (version is None or content.get("version") == version)
    )


def job_folder(models_dir: str | Path, job: str) -> Path:
    """``<models_dir>/<job>`` (absolute), checked with :func:`check_replaceable` before any work."""
    target = Path(models_dir).resolve() / job
    check_replaceable(target, job)
    return target


def check_replaceable(target: Path, job: str) -> None:
    """Raise :class:`ConfigError` unless ``target`` is absent or something the package wrote.

    The package writes a relative link to a marked ``.<job>-v*`` folder beside
    it (a dangling such link is also ours: its folder was removed; so is a
    link to an unmarked folder of that name holding an MLflow model, written
    before markers existed), or, in older layouts, a marked real folder.
    """
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        destination = os.readlink(target)
        ours = os.sep not in destination and destination.startswith(version_prefix(job))
        linked = target.parent / destination
        if ours and (not os.path.lexists(linked) or is_owned(linked, job) or _is_legacy(linked, job)):
            return
    elif is_owned(target, job):
        return
    raise ConfigError(
        f"{target} exists and was not written by forecasting (no {MARKER} marker): "
        "refusing to replace it; move it away or set another job.models_dir",
        key="job.models_dir",
    )


def _is_legacy(folder: Path, job: str) -> bool:
    """A versioned folder written before markers existed: ``.<job>-v<n>-<random>`` holding an MLmodel.

    Its link may be replaced (upgrades keep working); the folder itself is
    never removed, since nothing proves who wrote it.
    """
    pattern = rf"{re.escape(version_prefix(job))}\d+-\w+"
    return (
        re.fullmatch(pattern, folder.name) is not None
        and folder.is_dir()
        and not folder.is_symlink()
        and (folder / "MLmodel").is_file()
    )


def remove_owned(path: Path, job: str) -> None:
    """Remove a link or a marked folder of ``job``; anything else is left alone."""
    if path.is_symlink():
        path.unlink()
    elif is_owned(path, job):
        shutil.rmtree(path, ignore_errors=True)


def leftovers(models_dir: Path, job: str, keep: Path) -> list[Path]:
    """The job's marked versioned folders other than ``keep`` and its half-made links.

    Earlier promotions leave old versions; a copy killed mid-way leaves a
    marked folder or a ``.<job>.link-*`` link. Only names the package makes
    (:func:`staged_folder_name`) are listed: a user's copy of a folder under
    another name (``.<job>-v3-<random>.bak``) carries the marker too, and is theirs.
    """
    folders = [
        folder
        for folder in models_dir.glob(f"{version_prefix(job)}*")
        if folder != keep and staged_folder_name(job).fullmatch(folder.name) and is_owned(folder, job)
    ]
    return folders + [link for link in models_dir.glob(f".{job}.link-*") if link.is_symlink()]


def staged_folder_name(job: str) -> re.Pattern[str]:
    """The name of a versioned folder the package makes: ``.<job>-v<version>-<8 random characters>``."""
    return re.compile(rf"{re.escape(version_prefix(job))}[0-9]+-{MKDTEMP_SUFFIX}")
