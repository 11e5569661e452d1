"""Forecast CSV exports: the stable file schema downstream spreadsheets and scripts read.

One row per series x month with the series' dimensions, the point forecast, the
80/95 % intervals, the unit, the MLflow run that produced it and when. Files are
written by the package's one CSV writer (:func:`forecasting.files.write_csv_atomic`:
formulas neutralised, temporary file in the same folder, then ``os.replace``) so a
reader never sees half a file and a crash leaves the previous export in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.core.checks import check_job_name
from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.intervals import interval_columns
from forecasting.data.schema import DIMENSIONS
from forecasting.errors import ConfigError, DataError
from forecasting.files import (
    FORMULA_PREFIXES,
    neutralise_formulas,
    read_csv_exact,
    refuse_link,
    restore_formulas,
    write_csv_atomic,
)

__all__ = [
    "FORMULA_PREFIXES",
    "export_columns",
    "export_forecasts",
    "export_paths",
    "forecast_table",
    "neutralise_formulas",
    "read_export",
    "restore_formulas",
    "round_forecasts",
    "utc_timestamp",
    "write_csv_atomic",
]
from forecasting.reconciliation.frames import UNRECONCILED

EXPORT_DIMENSIONS: tuple[str, ...] = tuple(d for d in DIMENSIONS if d != "unit")
"""Dimension columns written after ``series_id`` (``unit`` has its own column at the end)."""


def export_columns(levels: Sequence[int] = DEFAULT_LEVELS) -> list[str]:
    """The column order of a forecast CSV for the given interval levels."""
    return [
        "series_id",
        *EXPORT_DIMENSIONS,
        "month",
        "model",
        "forecast",
        *interval_columns(levels),
        "unit",
        "run_id",
        "generated_at",
        "reconciliation",
    ]


def utc_timestamp(moment: datetime | None = None) -> str:
    """UTC ISO-8601 with a ``Z`` suffix, to the second: ``2026-11-23T13:05:00Z``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def forecast_table(
    forecasts: pd.DataFrame,
    metadata: pd.DataFrame,
    *,
    run_id: str,
    generated_at: str | None = None,
    levels: Sequence[int] = DEFAULT_LEVELS,
) -> pd.DataFrame:
    """Join model forecasts with series metadata into the export schema.

    ``forecasts`` is a model's ``predict`` output (``month`` a Period or a
    ``YYYY-MM`` string); ``metadata`` is ``SeriesPanel.metadata`` (indexed by
    ``series_id``). Every forecast series must have a metadata row. A
    ``reconciliation`` column of the forecasts (the method, see
    :mod:`forecasting.reconciliation`) is kept; without one every row says ``none``.
    """
    unknown = sorted(set(forecasts["series_id"].astype(str)) - set(metadata.index.astype(str)))
    if unknown:
        raise DataError(f"forecasts for series without metadata: {unknown[:5]}", series=unknown[0])
    numbers = forecasts[["forecast", *interval_columns(levels)]].to_numpy(dtype="float64")
    not_finite = ~np.isfinite(numbers).all(axis=1)
    if not_finite.any():  # fit_and_forecast swaps in fallbacks; anything left must never be exported
        series = str(forecasts["series_id"].to_numpy()[not_finite][0])
        raise DataError("forecast or interval is not a finite number: not exported", series=series)
    table = forecasts.copy()
    table["series_id"] = table["series_id"].astype(str)
    table["month"] = table["month"].astype(str).str.slice(0, 7)
    dims = metadata.reindex(columns=[*EXPORT_DIMENSIONS, "unit"])
    dims.index = dims.index.astype(str)
    table = table.join(dims, on="series_id")
    if "reconciliation" not in table:
        table["reconciliation"] = UNRECONCILED
    table["run_id"] = run_id
    table["generated_at"] = generated_at or utc_timestamp()
    table = table.sort_values(["series_id", "month"], kind="stable").reset_index(drop=True)
    return table[export_columns(levels)]  # its text as it is: the writer neutralises formulas, once


def check_significant_digits(value: object, *, key: str = "--round", file: str | None = None) -> int | None:
    """``None`` (full precision) or a positive int of significant digits; ConfigError naming ``key``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"must be a positive integer (significant digits). Got {value!r}", key=key, file=file
        )
    return int(value)


def rounded_columns(table: pd.DataFrame) -> list[str]:
    """The number columns ``--round`` rounds: ``forecast`` and every interval bound."""
    return [c for c in table.columns if c == "forecast" or str(c).startswith(("lower_", "upper_"))]


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Each value rounded to ``digits`` significant digits (correctly rounded, as ``%.<digits>g`` prints).

    Rounding is monotone, so nested intervals stay nested (bounds may meet the forecast).
    """
    return np.array([float(f"{v:.{digits}g}") for v in np.asarray(values, dtype="float64")], dtype="float64")


def round_forecasts(table: pd.DataFrame, digits: int | None) -> pd.DataFrame:
    """``table`` with its forecast and bounds rounded to ``digits`` significant digits (None: as is)."""
    if digits is None:
        return table
    out = table.copy()
    for column in rounded_columns(out):
        out[column] = round_significant(out[column].to_numpy(), digits)
    return out


def read_export(path: str | Path, **options: object) -> pd.DataFrame:
    """A forecast CSV this package wrote, in either dialect (``default``, ``excel-eu``), every cell exact:
    numbers as written, ids as they were before the writer neutralised formulas (``=x``, ``-5``, ``NA``)."""
    return read_csv_exact(path, **options)


def export_paths(output_dir: str | Path, job: str, origin: pd.Period | str) -> tuple[Path, Path]:
    """``forecasts_<job>_<YYYY-MM>.csv`` (forecast origin month) and ``forecasts_<job>_latest.csv``."""
    check_job_name(job)
    output_dir = Path(output_dir)
    month = str(pd.Period(origin, freq="M"))
    return output_dir / f"forecasts_{job}_{month}.csv", output_dir / f"forecasts_{job}_latest.csv"


def export_forecasts(
    table: pd.DataFrame,
    output_dir: str | Path,
    job: str,
    origin: pd.Period | str,
    *,
    dialect: str = "default",
) -> tuple[Path, Path]:
    """Write the dated and the ``latest`` CSV; returns both paths.

    ``origin`` is the last observed month of the data, so re-running a job on
    the same data overwrites the same dated file.
    """
    dated, latest = export_paths(output_dir, job, origin)
    for path in (dated, latest):  # the job's own names: a link there is refused before anything is written
        refuse_link(path)
    for path in (dated, latest):  # left by a writer killed before its rename (the job lock excludes others)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
    write_csv_atomic(table, dated, dialect=dialect, follow_links=False)  # the job's own names: no link
    write_csv_atomic(table, latest, dialect=dialect, follow_links=False)
    return dated, latest
