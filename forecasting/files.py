"""Files the package reads and writes: regular inputs only, bounded reads, one CSV writer.

The bottom layer of the package (it imports nothing from it but the errors and constants),
so loaders, tracking, exports and the CLI share the same rules:

- an input must be a regular file: a FIFO would hang a read, ``/dev/zero``
  never ends, a folder is a typo; each is an error naming the path;
- a header or config is read with a size cap, never to the end of whatever is there;
- every CSV goes through :func:`write_csv_atomic` (and a text report through
  :func:`write_text_atomic`): text cells a spreadsheet would execute are
  neutralised, the file is written beside the target and renamed over it, and
  only a regular file (or nothing) is ever replaced, never a device, a FIFO, a
  folder or the input file itself. ``-`` means stdout;
- at a name only the job writes (its exports, its accuracy table, its lock) a symbolic
  link is never followed nor replaced (:func:`refuse_link`): the package never
  puts one there, so someone else did, and its target lies outside the job's folder;
  :func:`job_file` reads such a name back only when a regular file (or nothing) is there.

Side files count too: the hierarchy beside a panel, the lock, the accuracy table,
old exports. Every one is checked with :func:`require_regular_file` (or
:func:`output_target` for a write) before it is opened.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pandas as pd

from forecasting.core.constants import CSV_DIALECTS
from forecasting.errors import ConfigError, DataError, shorten

STDOUT = "-"
"""``--output -`` writes the CSV to standard output."""
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters that make Excel/LibreOffice evaluate a cell (CSV injection)."""
QUOTE = "'"
"""What :func:`neutralise_formulas` puts before such a cell (and before a cell starting with a quote)."""
MAX_HEADER_CHARS = 1 << 20
"""A header line longer than 1 MiB is not a table header (``/dev/zero``, a binary file)."""
MAX_CONFIG_BYTES = 1 << 20
"""Job configs and source specs are a few kB; a larger file is not one."""
CSV_DIALECT_FORMATS: dict[str, dict[str, str]] = {
    "default": {"sep": ",", "decimal": "."},
    "excel-eu": {"sep": ";", "decimal": ","},
}
"""Field separator and decimal mark of each of :data:`CSV_DIALECTS`."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


PANEL_SUFFIXES = (".csv.gz", ".csv", ".parquet", ".xlsx")


def beside(panel_path: str | Path, suffix: str) -> Path:
    """A side file of a panel file: ``beside("panel.csv", ".hierarchy.csv")`` is ``panel.hierarchy.csv``."""
    path = Path(panel_path)
    name = path.name
    for known in PANEL_SUFFIXES:
        if name.endswith(known):
            name = name[: -len(known)]
            break
    return path.with_name(f"{name}{suffix}")


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (``a FIFO (named pipe)``)."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def require_regular_file(path: str | Path, *, config: bool = False) -> Path:
    """``path`` when it is a regular file (links followed), checked without opening it.

    Raises :class:`DataError` (a :class:`ConfigError` when ``config``) naming the path.
    """
    error = ConfigError if config else DataError
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error("no such file", file=str(path)) from None
    except OSError as failure:
        raise error(f"cannot read: {failure.strerror}", file=str(path)) from None
    if not stat.S_ISREG(mode):
        raise error(f"{file_kind(mode)}, not a regular file", file=str(path))
    return Path(path)


def existing_file(path: str | Path, *, config: bool = False) -> Path | None:
    """``path`` when a regular file is there, None when nothing is (a dangling link is an error).

    For optional side files (the hierarchy beside a panel): absent is fine, a FIFO is not.
    """
    if not os.path.lexists(path):
        return None
    return require_regular_file(path, config=config)


def job_file(path: str | Path) -> Path | None:
    """A name only the job writes, before reading it back: None when absent, else the regular file.

    A link there is refused (:func:`refuse_link`), and so is anything that is not a
    regular file (a FIFO would hang the read): a :class:`ConfigError` naming the path.
    """
    if not os.path.lexists(path):
        return None
    refuse_link(path)
    return require_regular_file(path, config=True)


def read_config_text(path: str | Path) -> str:
    """A config or spec file's text, after checking it is a regular file of at most 1 MiB."""
    path = require_regular_file(path, config=True)
    with open(path, "rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES:,} bytes: not a config file", file=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise ConfigError(f"not UTF-8 text: {failure}", file=str(path)) from None


def read_first_line(handle: IO[str], *, file: str) -> str:
    """The first line of an open text file, at most :data:`MAX_HEADER_CHARS` characters."""
    line = handle.readline(MAX_HEADER_CHARS + 1)
    if len(line) > MAX_HEADER_CHARS:
        raise DataError(f"the first line is longer than {MAX_HEADER_CHARS:,} characters", file=file)
    return line


def refuse_link(path: str | Path) -> Path:
    """``path``, unless it is a symbolic link: then a :class:`ConfigError` naming it.

    For the names only the job writes (and reads back): following such a link
    would write or read a file outside the job's folder, replacing it would
    delete what the package did not write.
    """
    if os.path.islink(path):
        raise ConfigError(
            f"a symbolic link (to {shorten(os.readlink(path))}) at a name only the job writes: "
            "refusing to follow or replace it; remove the link",
            file=str(path),
        )
    return Path(path)


# --- writing -----------------------------------------------------------------------------
def output_target(
    path: str | Path, *, inputs: Iterable[str | Path] = (), follow_links: bool = True
) -> Path | None:
    """Where a CSV or report for ``path`` goes: None for stdout (``-``), else the file to replace.

    A link is followed (the file it points to is written, the link stays),
    unless ``follow_links`` is false (the job's own names): then it is refused.
    Raises :class:`ConfigError` naming the path when it is a folder, a device,
    a FIFO or a socket, or the same file as one of ``inputs``.
    """
    if str(path) == STDOUT:
        return None
    if not follow_links:
        refuse_link(path)
    target = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as failure:
        raise ConfigError(f"cannot write: {failure.strerror}", file=str(path)) from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"refusing to replace {file_kind(mode)} with a file", file=str(path))
    for source in inputs:
        if os.path.exists(source) and os.path.samefile(source, target):
            raise ConfigError(
                f"the same file as the input {source}: refusing to overwrite it", file=str(path)
            )
    return target


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells a spreadsheet would execute with a quote (OWASP CSV injection).

    A cell that already starts with a quote gets one too, so that
    :func:`restore_formulas` gives back every cell exactly (``=x`` -> ``'=x``,
    ``'a`` -> ``''a``). Applied once, by the writers, never twice.
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]):
            continue
        text = out[column].astype("string")
        risky = text.str.startswith((*FORMULA_PREFIXES, QUOTE)).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            out[column] = out[column].astype("object")
            out.loc[risky, column] = QUOTE + text[risky].astype(str)
    return out


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """The text cells as they were before :func:`neutralise_formulas`: the quote it put first is dropped.

    What the package reads back from its own CSVs (exports, the accuracy table),
    so a series ``=A1`` or ``-5`` is matched by its own id again.
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column]):
            continue
        text = out[column].astype("string")
        quoted = text.str.startswith(QUOTE).fillna(False).to_numpy(dtype=bool)
        if quoted.any():
            out[column] = out[column].astype("object")
            out.loc[quoted, column] = text[quoted].str.slice(1).astype(str)
    return out


def check_csv_dialect(value: object, *, key: str = "--csv-dialect", file: str | None = None) -> str:
    """One of :data:`CSV_DIALECTS`; ConfigError naming ``key`` otherwise."""
    if value not in CSV_DIALECTS:
        raise ConfigError(f"must be one of {list(CSV_DIALECTS)}. Got {value!r}", key=key, file=file)
    return str(value)


def csv_dialect_of(path: str | Path) -> str:
    """The dialect a CSV written by :func:`write_csv_atomic` was written in, told by its header line.

    Column names hold neither ``,`` nor ``;``: a header with a ``;`` and no ``,`` is ``excel-eu``.
    """
    with open(require_regular_file(path), encoding="utf-8", newline="") as handle:
        header = read_first_line(handle, file=str(path))
    return "excel-eu" if ";" in header and "," not in header else "default"


def read_csv_exact(path: str | Path, **options: object) -> pd.DataFrame:
    """Read a CSV this package wrote, in either dialect, every cell exactly as it was before writing.

    Numbers: pandas' default float parser can be one unit in the last place off;
    ``round_trip`` is not. Text: ``NA``, ``null`` or ``nan`` are ids like any other
    (only an empty cell is missing), and the writer's formula quotes are removed
    (:func:`restore_formulas`).
    """
    fmt = CSV_DIALECT_FORMATS[csv_dialect_of(path)]
    options = {"keep_default_na": False, "na_values": [""], **options}
    frame = pd.read_csv(path, sep=fmt["sep"], decimal=fmt["decimal"], float_precision="round_trip", **options)
    return restore_formulas(frame)


def render_csv(frame: pd.DataFrame, dialect: str = "default") -> str:
    """The exact text :func:`write_csv_atomic` writes for ``frame``."""
    fmt = CSV_DIALECT_FORMATS[check_csv_dialect(dialect, key="dialect")]
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\n", **fmt)


def write_csv_atomic(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    durable: bool = True,
    follow_links: bool = True,
    dialect: str = "default",
    staging: Staging | None = None,
) -> Path | None:
    """Write ``frame`` (formulas neutralised) as UTF-8 CSV; returns the path, None for stdout.

    The file is written via a temporary file in the same folder and
    ``os.replace``, so a reader never sees half a file and a crash leaves the
    previous one in place; ``durable`` also syncs it to disk before the rename
    (a scratch file that is copied elsewhere at once does not need it). See
    :func:`output_target` for what is refused (with ``follow_links`` false, a link too).
    ``dialect``: one of :data:`CSV_DIALECTS` (``excel-eu``: ``;`` between fields, a decimal
    comma; :func:`read_csv_exact` reads either back). With ``staging`` (:func:`written_together`)
    the file is renamed into place with the others of the group, not now.
    """
    fmt = CSV_DIALECT_FORMATS[check_csv_dialect(dialect, key="dialect")]
    inputs = list(inputs)
    target = output_target(path, inputs=inputs, follow_links=follow_links)
    safe = neutralise_formulas(frame)
    if target is None:
        safe.to_csv(sys.stdout, index=False, lineterminator="\n", **fmt)
        sys.stdout.flush()
        return None
    _replace(
        target,
        lambda handle: safe.to_csv(handle, index=False, lineterminator="\n", **fmt),
        inputs,
        durable,
        follow_links=follow_links,
        staging=staging,
    )
    return target


def write_text_atomic(
    text: str,
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    durable: bool = True,
    staging: Staging | None = None,
) -> Path | None:
    """Write ``text`` as a UTF-8 file the way :func:`write_csv_atomic` writes a CSV (``-``: stdout).

    For reports a person reads beside a built panel: a crash leaves the previous
    one, and the same files are refused (:func:`output_target`).
    """
    inputs = list(inputs)
    target = output_target(path, inputs=inputs)
    if target is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return None
    _replace(target, lambda handle: handle.write(text), inputs, durable, staging=staging)
    return target


@dataclass
class _Staged:
    temporary: Path
    target: Path
    inputs: list[str | Path]
    follow_links: bool


@dataclass
class Staging:
    """Files written in full beside their targets, renamed over them together (:func:`written_together`)."""

    staged: list[_Staged] = field(default_factory=list)

    def commit(self) -> None:
        """Check every target again, then rename each file into place (nothing is renamed if one fails)."""
        for file in self.staged:
            output_target(file.target, inputs=file.inputs, follow_links=file.follow_links)
        while self.staged:
            file = self.staged[0]
            os.replace(file.temporary, file.target)
            self.staged.pop(0)

    def discard(self) -> None:
        """Remove what was written and not renamed."""
        for file in self.staged:
            file.temporary.unlink(missing_ok=True)
        self.staged.clear()


@contextmanager
def written_together() -> Iterator[Staging]:
    """Files that belong together (a panel, its hierarchy, its report) appear together or not at all.

    Writers given the yielded :class:`Staging` write their whole file beside its
    target; when the block ends they are renamed into place one after the other
    (renames in one folder, no data left to write). A failure in the block, a
    disk full in the last file included, leaves every previous file as it was.
    """
    staging = Staging()
    try:
        yield staging
        staging.commit()
    finally:
        staging.discard()


def _replace(
    target: Path,
    write: Callable[[IO[str]], object],
    inputs: list[str | Path],
    durable: bool,
    *,
    follow_links: bool = True,
    staging: Staging | None = None,
) -> None:
    """Write a temporary file beside ``target`` with ``write``, then rename it over ``target``
    (or leave the rename to ``staging``)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as failure:
        raise ConfigError(f"cannot create the folder: {failure.strerror}", file=str(target.parent)) from None
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; exports are meant to be shared
        if staging is not None:
            staging.staged.append(_Staged(Path(temporary), target, inputs, follow_links))
            return
        output_target(target, inputs=inputs, follow_links=follow_links)  # still the same kind of file
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
