"""Reading a raw table (CSV, gzip CSV, Parquet, Excel) before any interpretation.

Every cell of a CSV is read as text so nothing is guessed (``2023.10`` stays
``2023.10``, port ``0101`` keeps its zero); the frame is indexed by line
number in the file (header = line 1), which is the ``row`` errors report.
"""

from __future__ import annotations

import csv
import gzip
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from forecasting.errors import DataError
from forecasting.files import read_first_line, require_regular_file

EXCEL_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm", ".xls")
UNREADABLE_FILE_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError, KeyError, zipfile.BadZipFile)
"""What pandas, pyarrow and openpyxl raise for a corrupt Parquet or Excel file (ArrowInvalid: ValueError)."""
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")


def read_table(
    path: str | Path,
    *,
    sep: str | None = ",",
    quotechar: str = '"',
    encoding: str = "utf-8",
    sheet_name: str | int = 0,
    usecols: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read a file into a frame of raw cells indexed by line number.

    ``sep=None`` guesses the separator (``;``, tab or ``,``) from the header line.

    Raises
    ------
    DataError
        For a missing file, an empty file or a header without data rows.
    """
    path = require_regular_file(path)
    file = str(path)
    if path.stat().st_size == 0:
        raise DataError("empty input: the file has no header and no rows", file=file)
    sep = sep or sniff_separator(path)
    suffix = path.suffix.lower()
    if suffix not in PARQUET_SUFFIXES + EXCEL_SUFFIXES:
        reject_nul_bytes(path)
    try:
        if suffix in PARQUET_SUFFIXES:
            frame = pd.read_parquet(path)
        elif suffix in EXCEL_SUFFIXES:
            frame = pd.read_excel(path, sheet_name=sheet_name, dtype=object)
        else:
            with warnings.catch_warnings():
                # A row with more cells than the header would otherwise shift or lose cells silently.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    path,
                    sep=sep,
                    quotechar=quotechar,
                    encoding=encoding,
                    # object, not pandas 3's str dtype: with str columns a trailing delimiter warns
                    # like a row with extra cells (pandas checks it for object columns only).
                    dtype=object,
                    keep_default_na=False,
                    index_col=False,
                    usecols=list(usecols) if usecols is not None else None,
                )
    except pd.errors.EmptyDataError as error:
        raise DataError("empty input: the file has no header and no rows", file=file) from error
    except pd.errors.ParserWarning as error:
        raise DataError(f"a row has more cells than the header: {error}", file=file) from error
    except (pd.errors.ParserError, UnicodeDecodeError, *UNREADABLE_FILE_ERRORS) as error:
        raise DataError(f"cannot read the table: {error}", file=file) from error
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError("header only: the file has no data rows", file=file)
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
    return frame


def require_columns(frame: pd.DataFrame, required: Iterable[str], *, file: str | None) -> None:
    """Raise a :class:`DataError` listing every required column the table lacks."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"missing required column(s) {missing}; found {list(frame.columns)}", file=file)


def text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped strings with blanks as missing (``<NA>``)."""
    text = strip_text(frame[column])
    return text.mask(text == "")


def strip_text(values: pd.Series) -> pd.Series:
    """Strip surrounding whitespace, once per distinct value (columns repeat a few names)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    stripped = pd.Series(uniques, dtype="string").str.strip()
    return pd.Series(stripped.to_numpy()[codes], index=values.index, dtype="string").mask(codes < 0)


def read_header(path: str | Path) -> list[str]:
    """The column names of a table (first line of a CSV, gzip or not; first row of a sheet).

    Only a regular file is opened, and at most :data:`~forecasting.files.MAX_HEADER_CHARS`
    characters are read, so a FIFO or ``/dev/zero`` is an error, not a hang.
    """
    suffix = require_regular_file(path).suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            return [str(c) for c in pq.read_schema(path).names]
        if suffix in EXCEL_SUFFIXES:
            return [str(c).strip() for c in pd.read_excel(path, nrows=0).columns]
    except UNREADABLE_FILE_ERRORS as error:
        raise DataError(f"cannot read the header: {error}", file=str(path)) from error
    opener = gzip.open if suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            line = read_first_line(handle, file=str(path)).strip()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the header: {error}", file=str(path)) from error
    if not line:
        return []
    return [
        cell.strip().strip('"').strip() for cell in next(csv.reader([line], delimiter=guess_separator(line)))
    ]


def reject_nul_bytes(path: Path) -> None:
    """NUL bytes mean UTF-16 or a binary file; the CSV parser would cut cells at them silently."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                if b"\x00" in chunk:
                    raise DataError(
                        "NUL bytes in a text table: UTF-16 or a binary file? Save it as UTF-8 CSV",
                        file=str(path),
                    )
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read the table: {error}", file=str(path)) from error


def guess_separator(header_line: str) -> str:
    """The most frequent of ``;``, tab and ``,`` in a header line (``,`` when none occurs)."""
    return max((";", "\t", ","), key=header_line.count)


def sniff_separator(path: str | Path) -> str:
    """The separator of a CSV file, guessed from its first line."""
    suffix = require_regular_file(path).suffix.lower()
    if suffix in PARQUET_SUFFIXES + EXCEL_SUFFIXES:
        return ","
    opener = gzip.open if suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            return guess_separator(read_first_line(handle, file=str(path)))
    except (OSError, EOFError, UnicodeDecodeError):
        return ","
