"""The canonical record table every loader produces and every later step reads.

Long format (sktime/statsforecast): one row per series and month, ``value`` a
float, ``month`` a monthly ``Period``; dimension columns describe the series.
Missing months are absent rows, never zeros.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.errors import DataError, shorten

KEY_COLUMNS: tuple[str, ...] = ("series_id", "month", "value")
DIMENSIONS: tuple[str, ...] = (
    "crossing",
    "region",
    "flow",
    "measure",
    "direction",
    "unit",
    "currency",
    "source",
)
RECORD_COLUMNS: tuple[str, ...] = KEY_COLUMNS + DIMENSIONS
ANNOTATIONS: tuple[str, ...] = ("estimated_share",)
"""Optional numeric per-row columns (not dimensions): ``estimated_share`` is the share of a
roll-up month that stands in for unreported children (0 when every child reported)."""
REGRESSORS_ATTR = "regressors"
"""Key in a record table's ``attrs``: the per-row numeric columns a source spec declares as
regressors known in advance (e.g. working days). They are neither dimensions nor targets: the
panel carries them row by row and :class:`~forecasting.Forecaster` passes them to the models that
take regressors."""
FLOWS: tuple[str, ...] = ("cargo", "trade_value", "passengers")
DIRECTIONS: tuple[str, ...] = ("import", "export", "inbound", "outbound", "both")
COUNT_FLOWS: tuple[str, ...] = ("cargo", "passengers")
"""Flows that are counts or physical quantities and so can never be negative."""
MAX_MAGNITUDE = 1e100
"""Largest usable absolute value: models square and sum values, which overflows near 1e154.

No trade, cargo or passenger figure comes near it (a year of world trade in
JPY is about 1e16); a larger value is a typo or a unit error. Every panel is
checked, the CLI's and a ``Forecaster``'s alike."""
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters and Unicode line/paragraph separators. In an id or a
dimension a line break splits the row of every CSV and log line that carries it, and
escape sequences rewrite a terminal; text cells must be printable."""


def declared_regressors(frame: pd.DataFrame) -> tuple[str, ...]:
    """The regressor columns ``frame`` declares (its source spec's), those it holds, in order."""
    return tuple(c for c in frame.attrs.get(REGRESSORS_ATTR, ()) if c in frame.columns)


def empty_records() -> pd.DataFrame:
    """A record table with no rows and the canonical columns and dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in RECORD_COLUMNS})
    frame["month"] = pd.Series(dtype=pd.PeriodDtype("M"))
    frame["value"] = pd.Series(dtype="float64")
    return normalize_records(frame)


def normalize_records(frame: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Return ``frame`` with all canonical columns, canonical dtypes, sorted.

    Extra columns are kept after the canonical ones (they may be useful
    dimensions such as ``port_code`` or ``commodity``).
    """
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing required column(s) {missing}", file=file)
    out = frame.copy()
    for column in DIMENSIONS:
        if column not in out.columns:
            out[column] = pd.NA
    out["series_id"] = out["series_id"].astype("string")
    if out["month"].dtype != pd.PeriodDtype("M"):
        raise DataError("must hold monthly periods (Period[M])", file=file, column="month")
    out["value"] = pd.to_numeric(out["value"], errors="raise").astype("float64")
    for column in DIMENSIONS:
        out[column] = out[column].astype("string")
    regressors = declared_regressors(frame)
    for column in (*ANNOTATIONS, *regressors):
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="raise").astype("float64")
    ordered = list(RECORD_COLUMNS) + [c for c in out.columns if c not in RECORD_COLUMNS]
    out = out[ordered].sort_values(["series_id", "month"], kind="stable").reset_index(drop=True)
    if regressors:  # pandas keeps attrs through copies and selections
        out.attrs[REGRESSORS_ATTR] = list(regressors)
    return out


def validate_records(
    records: pd.DataFrame, *, file: str | None = None, lines: np.ndarray | None = None
) -> None:
    """Raise :class:`DataError` for anything a model must never see.

    Checks: empty input, missing series ids, NaN/inf values, magnitudes beyond
    :data:`MAX_MAGNITUDE`, negative counts,
    duplicate (series, month) keys, and a unit or currency that changes within
    a series. ``lines`` are the records' line numbers in ``file`` (loaders
    pass them): errors name a line, never a position in the sorted records.
    """
    if records.empty:
        raise DataError("no records: the input is empty", file=file)
    if records["series_id"].isna().any():
        first = int(np.flatnonzero(records["series_id"].isna().to_numpy())[0])
        raise DataError("missing series_id", file=file, row=_line(lines, first), column="series_id")
    numeric = ("month", "value", *ANNOTATIONS)
    check_printable(records, [c for c in records.columns if c not in numeric], file=file, lines=lines)
    values = records["value"].to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        reason = "value is NaN or infinite (a month not reported is a row left out, not a NaN)"
        _raise_for_rows(records, bad, reason, file, lines)
    check_magnitudes(records, file=file, lines=lines)
    is_count = records["flow"].isin(COUNT_FLOWS).to_numpy(dtype=bool)
    negative = is_count & (values < 0)
    if negative.any():
        _raise_for_rows(records, negative, "negative count", file, lines)
    # months as integers: hashing Period objects row by row costs seconds on the BTS file
    ordinals = pd.PeriodIndex(records["month"], freq="M").asi8
    duplicated = pd.DataFrame({"s": records["series_id"].to_numpy(), "m": ordinals}).duplicated(keep=False)
    duplicated = duplicated.to_numpy()
    if duplicated.any():
        _raise_for_rows(records, duplicated, "duplicate (series_id, month) rows", file, lines)
    for column in ("unit", "currency"):
        per_series = records.dropna(subset=[column]).groupby("series_id", observed=True)[column].nunique()
        mixed = per_series[per_series > 1]
        if not mixed.empty:
            series = str(mixed.index[0])
            found = sorted(records.loc[records["series_id"] == series, column].dropna().unique())
            raise DataError(
                f"mixed {column}s within one series: {found}; convert them first",
                file=file,
                column=column,
                series=series,
            )


def check_magnitudes(
    records: pd.DataFrame, *, file: str | None = None, lines: np.ndarray | None = None
) -> None:
    """Values beyond :data:`MAX_MAGNITUDE` make model arithmetic overflow: name the first one's row."""
    values = records["value"].to_numpy(dtype="float64")
    huge = np.isfinite(values) & (np.abs(values) > MAX_MAGNITUDE)  # inf is validate_records' to name
    if huge.any():
        rows = np.flatnonzero(huge)
        first = int(rows[0]) if lines is None else int(rows[np.argmin(lines[rows])])
        raise DataError(
            f"value {values[first]:g} is too large to forecast (magnitude above "
            f"{MAX_MAGNITUDE:g}: arithmetic on it overflows); {int(huge.sum())} such row(s)",
            file=file,
            row=_line(lines, first),
            column="value",
            series=str(records["series_id"].iloc[first]),
        )


def check_monthly_spacing(
    series_ids: np.ndarray, ordinals: np.ndarray, *, column: str = "month", file: str | None = None
) -> None:
    """DataError "monthly data only" when the months of every series are a quarter, a year or
    more apart (their steps' greatest common divisor is over one): quarterly rows read as
    monthly series with two months in three missing, filled in by every model without a word.

    ``series_ids`` and ``ordinals`` (monthly ``Period`` ordinals) pair up row by row.
    """
    cells = pd.DataFrame({"series_id": series_ids, "month": ordinals}).drop_duplicates()
    cells = cells.sort_values(["series_id", "month"])
    same_series = cells["series_id"].to_numpy()[1:] == cells["series_id"].to_numpy()[:-1]
    steps = np.diff(cells["month"].to_numpy())[same_series]
    spacing = int(np.gcd.reduce(steps)) if len(steps) >= 2 else 1
    if spacing > 1:
        kind = {3: "quarterly", 6: "half-yearly", 12: "yearly"}.get(spacing, f"every {spacing} months")
        raise DataError(
            f"monthly data only: the months of every series are {spacing} apart ({kind} data); "
            "give one row per month",
            file=file,
            column=column,
        )


def dimension_columns(records: pd.DataFrame) -> list[str]:
    """The columns that describe a series (known dimensions first, then extra text columns)."""
    present = [c for c in DIMENSIONS if c in records.columns]
    known = (*KEY_COLUMNS, *DIMENSIONS, *ANNOTATIONS, *declared_regressors(records))  # regressors vary
    extra = [c for c in records.columns if c not in known]
    return present + extra


def check_constant_dimensions(records: pd.DataFrame, *, file: str | None = None) -> None:
    """Raise :class:`DataError` naming the series and column whose dimension changes within the series."""
    columns = dimension_columns(records)
    if not columns:
        return
    varying = records.groupby("series_id", sort=True, observed=True)[columns].nunique(dropna=True)
    bad = varying[(varying > 1).any(axis=1)]
    if bad.empty:
        return
    series = str(bad.index[0])
    column = str(bad.columns[(bad.iloc[0] > 1).to_numpy()][0])
    found = records.loc[records["series_id"] == series, column].dropna().unique()[:3]
    raise DataError(
        f"dimension {shorten(column)} changes within the series: {', '.join(map(shorten, found))}",
        file=file,
        series=series,
        column=column,
    )


def _raise_for_rows(
    records: pd.DataFrame, mask: np.ndarray, what: str, file: str | None, lines: np.ndarray | None
) -> None:
    rows = np.flatnonzero(mask)
    first = records.iloc[rows[0]]
    shown = ", ".join(
        f"{shorten(records.iloc[r]['series_id'], quote=False)}@{records.iloc[r]['month']}" for r in rows[:5]
    )
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise DataError(
        f"{what} in {len(rows)} row(s): {shown}{more}",
        file=file,
        row=_line(lines, int(rows[0])),
        column="value",
        series=str(first["series_id"]),
    )


def check_printable(
    frame: pd.DataFrame, columns: Sequence[str], *, file: str | None = None, lines: np.ndarray | None = None
) -> None:
    """Raise :class:`DataError` naming the first line and the column of a text cell with a control character.

    ``lines`` are the rows' line numbers in ``file`` (None: no row is named).
    Each distinct value is checked once (columns repeat a few names).
    """
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        bad = [v for v in pd.unique(values.dropna()) if isinstance(v, str) and CONTROL_CHARACTERS.search(v)]
        if not bad:
            continue
        rows = np.flatnonzero(values.isin(bad).to_numpy(dtype=bool))
        first = int(rows[0]) if lines is None else int(rows[np.argmin(lines[rows])])
        text = str(values.iloc[first])
        characters = sorted(set(CONTROL_CHARACTERS.findall(text)))
        raise DataError(
            f"control character {characters[0]!r} in {shorten(text)} ({len(rows)} such row(s)): "
            "ids and dimensions must be printable text",
            file=file,
            row=_line(lines, first),
            column=column,
        )


def _line(lines: np.ndarray | None, position: int) -> int | None:
    """The file line of a record, or ``None`` (no row) for records not read from a file."""
    return None if lines is None else int(lines[position])
