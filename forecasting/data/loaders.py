"""Loaders: raw files in, canonical records plus a :class:`DataQualityReport` out.

Every loader returns a :class:`LoadResult` ``(records, report)``; ``SeriesPanel.from_load``
turns it into a :class:`~forecasting.panel.SeriesPanel`. Nothing is dropped,
merged or converted without a report entry. Conventions shared by all loaders:

- a blank value cell means "not reported": the row is dropped and reported,
  the month stays missing (never zero); a written ``nan``/``inf`` is an error;
- exact duplicate rows are dropped and counted; conflicting duplicates (same
  series and month, different value) are an error listing them, or with
  ``conflicts="drop"`` are all dropped (month left missing) and reported;
- ``row`` in errors and reports is the line number in the file (header = 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.bts import BTS_COLUMNS, load_bts
from forecasting.data.parsing import parse_months, parse_numbers
from forecasting.data.records import (
    Conflicts,
    LoadResult,
    check_negative_counts,
    drop_blank_values,
    finish_records,
    resolve_duplicates,
)
from forecasting.data.report import DataQualityReport
from forecasting.data.schema import (
    ANNOTATIONS,
    DIMENSIONS,
    KEY_COLUMNS,
    check_monthly_spacing,
    check_printable,
)
from forecasting.data.sources import (
    BUILTIN_SPECS,
    SourceSpec,
    describe_long_records,
    detect_spec,
    load_source,
)
from forecasting.data.summing import read_structure
from forecasting.data.tables import read_header, read_table, require_columns, text_column
from forecasting.errors import DataError

__all__ = [
    "BUILTIN_SPECS",
    "LoadResult",
    "SourceSpec",
    "load",
    "load_bts",
    "load_long",
    "load_source",
    "load_spec",
    "load_wide",
    "parse_months",
    "parse_numbers",
]


def load_long(
    path: str | Path,
    *,
    sep: str | None = None,
    thousands: str | None = ",",
    decimal: str = ".",
    sheet_name: str | int = 0,
    conflicts: Conflicts = "error",
) -> LoadResult:
    """Load a long table: ``series_id, month, value`` plus optional dimension columns.

    Works for CSV (gzip too; separator guessed unless ``sep``), Parquet and Excel. Extra columns are kept as
    string dimensions and must be constant within a series. ``decimal`` is the
    decimal mark (``.``, ``,``, or ``auto``: the one that reads every cell);
    ``thousands`` separators count only between groups of three digits
    (:func:`~forecasting.data.parsing.parse_numbers`).
    """
    records, report = _long_records(
        path, sep=sep, thousands=thousands, decimal=decimal, reading={"sheet_name": sheet_name}
    )
    result = _finish(records, report, file=str(path), conflicts=conflicts)
    return result._replace(structure=read_structure(path))


def load_spec(spec: SourceSpec, path: str | Path, *, conflicts: Conflicts = "error") -> LoadResult:
    """Load a table described by a source spec: its value columns (wide) or its long rows."""
    if spec.layout == "wide":
        return load_source(spec, path, conflicts=conflicts)
    file = str(path)
    records, report = _long_records(
        path,
        sep=spec.separator,
        thousands=spec.thousands,
        decimal=spec.decimal,
        reading={"quotechar": spec.quotechar, "encoding": spec.encoding},
    )
    records = describe_long_records(records, spec, report, file=file)
    return _finish(records, report, file=file, conflicts=conflicts)


def spec_of(format: str) -> SourceSpec | None:
    """The source spec a ``format`` names (a built-in name or a ``.toml`` file), else None."""
    if format in BUILTIN_SPECS:
        return BUILTIN_SPECS[format]
    if format.endswith(".toml"):
        return SourceSpec.from_toml(format)
    return None


def _long_records(
    path: str | Path,
    *,
    sep: str | None,
    thousands: str | None,
    decimal: str,
    reading: Mapping[str, Any],
) -> tuple[pd.DataFrame, DataQualityReport]:
    """The rows of a long table as records, before duplicates and validation (``reading``: read_table's)."""
    file = str(path)
    frame = read_table(path, sep=sep, **reading)
    require_columns(frame, KEY_COLUMNS, file=file)
    report = DataQualityReport(source=file, rows_read=len(frame))
    series_id = text_column(frame, "series_id")
    if series_id.isna().any():
        raise DataError("blank series_id", file=file, row=int(series_id.index[series_id.isna()][0]))
    records = pd.DataFrame(
        {
            "series_id": series_id,
            "month": parse_months(frame["month"], file=file, column="month"),
            "value": parse_numbers(
                frame["value"], thousands=thousands, decimal=decimal, file=file
            ).to_numpy(),
        },
        index=frame.index,
    )
    for column in [c for c in frame.columns if c not in KEY_COLUMNS]:
        records[column] = text_column(frame, column)
    for column in [c for c in ANNOTATIONS if c in frame.columns]:
        records[column] = parse_numbers(
            frame[column], thousands=thousands, decimal=decimal, file=file, column=column
        ).to_numpy()
    return records, report


def load_wide(
    path: str | Path,
    *,
    month_column: str | None = None,
    sep: str | None = None,
    thousands: str | None = ",",
    decimal: str = ".",
    sheet_name: str | int = 0,
    conflicts: Conflicts = "error",
    dimensions: Mapping[str, str] | None = None,
) -> LoadResult:
    """Load a wide table: one month column (the first by default), one column per series.

    The column headers become series ids; ``dimensions`` (e.g.
    ``{"flow": "cargo", "unit": "tonnes"}``) are applied to every series.
    Blank cells (a series not started yet, or a month not reported) are
    dropped and counted per series.
    """
    file = str(path)
    frame = read_table(path, sep=sep, sheet_name=sheet_name)
    month_column = month_column or str(frame.columns[0])
    require_columns(frame, [month_column], file=file)
    series_columns = [c for c in frame.columns if c != month_column]
    for column in series_columns:  # headers become series ids: name the header line, not a data row
        check_printable(pd.DataFrame({column: [column]}), [column], file=file, lines=np.array([1]))
    if not series_columns:
        raise DataError(f"no series columns besides the month column {month_column!r}", file=file)
    unknown = sorted(set(dimensions or {}) - set(DIMENSIONS))
    if unknown:
        raise DataError(f"unknown dimension(s) {unknown}; known: {list(DIMENSIONS)}", file=file)
    months = pd.Series(parse_months(frame[month_column], file=file, column=month_column), index=frame.index)
    report = DataQualityReport(source=file, rows_read=len(frame))
    parts = [
        pd.DataFrame(
            {
                "series_id": column,
                "month": months,
                "value": parse_numbers(
                    frame[column], thousands=thousands, decimal=decimal, file=file, column=column
                ),
            }
        )
        for column in series_columns
    ]
    records = pd.concat(parts)
    for name, value in (dimensions or {}).items():
        records[name] = value
    return _finish(records, report, file=file, conflicts=conflicts)


def _finish(
    records: pd.DataFrame, report: DataQualityReport, *, file: str, conflicts: Conflicts
) -> LoadResult:
    records = drop_blank_values(records, report, file=file)
    check_monthly_spacing(records["series_id"].to_numpy(), records["month"].array.asi8, file=file)
    check_negative_counts(records, file=file)
    records = resolve_duplicates(records, report, file=file, conflicts=conflicts)
    return finish_records(records, report, file=file)


def load(path: str | Path, format: str = "auto", *, conflicts: Conflicts = "error") -> LoadResult:
    """Load ``path`` as ``long``, ``wide``, ``bts``, a built-in source spec name, or a spec ``.toml``.

    ``auto`` recognises the BTS header, the built-in agency tables by their
    headers, a long table by its ``series_id, month, value`` columns, and
    falls back to a wide table. ``conflicts="drop"`` drops (and reports)
    conflicting duplicates instead of raising: the real BTS file has one.
    """
    if format == "long":
        return load_long(path, conflicts=conflicts)
    if format == "wide":
        return load_wide(path, conflicts=conflicts)
    if format == "bts":
        return load_bts(path, conflicts=conflicts)
    spec = spec_of(format)
    if spec is not None:
        return load_spec(spec, path, conflicts=conflicts)
    if format != "auto":
        known = ["auto", "long", "wide", "bts", *BUILTIN_SPECS, "<spec>.toml"]
        raise DataError(f"unknown format {format!r}; use one of {known}", file=str(path))
    detected = detect_format(path)
    if detected != "wide":
        return load(path, detected, conflicts=conflicts)
    try:
        return load_wide(path, conflicts=conflicts)
    except DataError as error:  # wide is only the guess left: say so, and what else the file could be
        raise DataError(
            f"{error.detail} (read as a wide table, the guess for a header that is not a long table's "
            f"{', '.join(KEY_COLUMNS)}, the BTS file's or a built-in source's: months in the first "
            f"column, a series in each other; the header is {', '.join(read_header(path))}; "
            "name the format with --format)",
            file=error.file,
            row=error.row,
            column=error.column,
            series=error.series,
        ) from error


def detect_format(path: str | Path) -> str:
    """Guess the format of ``path`` from its header: ``bts``, a spec name, ``long`` or ``wide``."""
    header = read_header(path)
    if set(BTS_COLUMNS) <= set(header):
        return "bts"
    spec = detect_spec(path)
    if spec is not None:
        return spec
    if set(KEY_COLUMNS) <= set(header):
        return "long"
    return "wide"
