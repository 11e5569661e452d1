"""Cell parsing shared by every loader: months and numbers as agencies publish them.

Parsing works on the distinct values of a column (a column of 400,000 cells
usually holds a few hundred distinct months), tries one format for the whole
column and only falls back to the other known formats for cells the first one
does not read. A cell nothing reads is a :class:`DataError` naming the file,
row, column and the bad value. Rows are reported as the index label of the
input Series: loaders index their frames by line number in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import DataError, shorten

MONTH_FORMATS: tuple[str, ...] = (
    "%Y-%m",  # 2023-01
    "%Y-%m-%d",  # 2023-01-01 (any day of the month: month-end dates are common)
    "%b %Y",  # Jan 2023
    "%B %Y",  # January 2023
    "%Y/%m",  # 2023/01
    "%Y.%m",  # 2023.01
    "%Y-%m-%d %H:%M:%S",  # timestamps written out by spreadsheets
)
"""The month formats recognised when a loader is not told which one a column uses."""
FIRST_MONTH, LAST_MONTH = pd.Period("1678-01", freq="M"), pd.Period("2261-12", freq="M")
"""Months pandas timestamps can hold (regressors and plots use them); ``3022-12`` is a typo."""


def parse_months(
    values: Sequence[Any] | pd.Series | pd.Index,
    *,
    file: str | None = None,
    column: str = "month",
    formats: Sequence[str] | None = None,
) -> pd.PeriodIndex:
    """Parse a column of month labels into a monthly ``PeriodIndex``.

    Accepts ``2023-01``, ``2023-01-01``, ``Jan 2023``, ``January 2023``,
    ``2023/01`` and ``2023.01`` (or only ``formats`` when given, as strptime
    patterns), timestamps and periods. The format is detected once per column.

    Raises
    ------
    DataError
        For a blank or unreadable cell, naming file, row, column and the value.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    months = _parse_month_column(series, file, column, formats)
    _raise_for_out_of_range(months, series, file, column)
    return months


def _parse_month_column(
    series: pd.Series, file: str | None, column: str, formats: Sequence[str] | None
) -> pd.PeriodIndex:
    if isinstance(series.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(series.dt.asfreq("M"))
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        _raise_for_blank(series.isna().to_numpy(), series, file, column, "month")
        return pd.PeriodIndex(series.dt.tz_localize(None) if series.dt.tz else series, freq="M")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = pd.Index([_month_text(v) for v in uniques], dtype="object")
    blank = codes < 0
    if texts.isna().any():
        blank |= np.isin(codes, np.flatnonzero(texts.isna()))
    _raise_for_blank(blank, series, file, column, "month")
    parsed = _parse_distinct_months(texts.fillna(""), tuple(formats or MONTH_FORMATS))
    failed = parsed.isna()
    if failed.any():
        bad_codes = np.flatnonzero(failed)
        first = int(np.flatnonzero(np.isin(codes, bad_codes))[0])
        tried = ", ".join(formats or MONTH_FORMATS)
        raise DataError(
            f"cannot read {shorten(series.iloc[first])} as a month (formats tried: {tried})",
            file=file,
            row=_row_label(series, first),
            column=column,
        )
    return pd.PeriodIndex(parsed.take(codes), freq="M")


def _raise_for_out_of_range(months: pd.PeriodIndex, series: pd.Series, file: str | None, column: str) -> None:
    ordinals = months.asi8
    outside = ~months.isna() & ((ordinals < FIRST_MONTH.ordinal) | (ordinals > LAST_MONTH.ordinal))
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"month {shorten(series.iloc[first])} is outside {FIRST_MONTH}..{LAST_MONTH} (a typo?)",
            file=file,
            row=_row_label(series, first),
            column=column,
        )


def parse_numbers(
    values: Sequence[Any] | pd.Series,
    *,
    thousands: str | None = ",",
    decimal: str = ".",
    file: str | None = None,
    column: str = "value",
) -> pd.Series:
    """Parse numbers written with thousands separators (``1,187.5``, ``1 187,5``).

    Blank cells become NaN (the caller decides whether a blank means "not
    reported"); written-out ``nan``/``inf`` and anything unreadable raise.

    Raises
    ------
    DataError
        Naming file, row, column and the value that is not a finite number.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        numbers = series.astype("float64")
        _raise_for_non_finite(numbers, numbers.notna(), series, file, column)
        return numbers
    text = series.map(lambda v: v if isinstance(v, str) else (np.nan if _is_blank(v) else repr(v)))
    text = text.str.strip()
    if thousands:
        separators = [thousands] + (["\u00a0", "\u202f"] if thousands.isspace() else [])
        for separator in separators:
            text = text.str.replace(separator, "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    blank = text.isna() | (text == "")
    numbers = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
    # pandas 3 reads an overflowing number (1e309) as inf, pandas 2 not at all: unreadable on both.
    written_inf = text.str.lower().str.lstrip("+-").isin(["inf", "infinity"])
    numbers = numbers.mask(np.isinf(numbers) & ~written_inf)
    unreadable = numbers.isna() & ~blank
    written_nan = unreadable & text.str.lower().isin(["nan", "+nan", "-nan"])
    if written_nan.any():
        _raise_for_non_finite(numbers, written_nan, series, file, column)
    if unreadable.any():
        first = int(np.flatnonzero(unreadable.to_numpy())[0])
        raise DataError(
            f"cannot read {shorten(series.iloc[first])} as a number "
            f"(thousands separator {thousands!r}, decimal mark {decimal!r})",
            file=file,
            row=_row_label(series, first),
            column=column,
        )
    _raise_for_non_finite(numbers, ~blank, series, file, column)
    return numbers


def _parse_distinct_months(uniques: pd.Index, formats: tuple[str, ...]) -> pd.Series:
    """Try the format that reads most cells first, then the others for what is left."""
    # Seconds, not nanoseconds: a typo such as 3022-12 must reach the range check, not overflow here.
    parsed = pd.Series(pd.NaT, index=range(len(uniques)), dtype="datetime64[s]")
    if len(uniques) == 0:
        return parsed
    text = pd.Series(uniques.astype(str), index=parsed.index)
    attempts = {fmt: pd.to_datetime(text, format=fmt, errors="coerce") for fmt in formats}
    for fmt in sorted(formats, key=lambda f: -attempts[f].notna().sum()):
        parsed = parsed.fillna(attempts[fmt])
        if parsed.notna().all():
            break
    return parsed


def _month_text(value: Any) -> Any:
    if _is_blank(value):
        return np.nan
    if isinstance(value, pd.Period):
        return value.asfreq("M").strftime("%Y-%m")
    if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "strftime"):
        return pd.Timestamp(value).strftime("%Y-%m")
    return " ".join(str(value).split())


def _is_blank(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() == ""
    return (
        value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or value is pd.NA
    )


def _raise_for_blank(blank: np.ndarray, series: pd.Series, file: str | None, column: str, what: str) -> None:
    if blank.any():
        first = int(np.flatnonzero(blank)[0])
        raise DataError(f"blank {what}", file=file, row=_row_label(series, first), column=column)


def _raise_for_non_finite(
    numbers: pd.Series, present: pd.Series, original: pd.Series, file: str | None, column: str
) -> None:
    bad = present.to_numpy(dtype=bool) & ~np.isfinite(numbers.to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"value {shorten(original.iloc[first])} is NaN or infinite",
            file=file,
            row=_row_label(original, first),
            column=column,
        )


def _row_label(series: pd.Series, position: int) -> int:
    label = series.index[position]
    return int(label) if isinstance(label, int | np.integer) else position
