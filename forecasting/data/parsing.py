"""Cell parsing shared by every loader: months and numbers as agencies publish them.

Parsing works on the distinct values of a column (a column of 400,000 cells
usually holds a few hundred distinct months), tries one format for the whole
column and only falls back to the other known formats for cells the first one
does not read. A cell nothing reads is a :class:`DataError` naming the file,
row, column and the bad value. Rows are reported as the index label of the
input Series: loaders index their frames by line number in the file.
"""

from __future__ import annotations

import datetime
import re
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

    A thousands separator is accepted only between groups of three digits
    (``1,187.5``, not ``100,38`` or ``1,2,3,4``) and the decimal mark is
    ``decimal`` (``.`` or ``,``), so a cell written in another convention is an
    error, never a different number. ``decimal="auto"`` takes the mark that
    reads every cell of the column; a column both read differently (only
    ``1,234``-like cells) is ambiguous and an error. Blank cells, and the
    :data:`MISSING_MARKERS` that R and spreadsheets write for a missing value,
    become NaN (the caller decides whether a blank means "not reported");
    written-out ``nan``/``inf`` and anything unreadable raise.

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
    blank = text.isna() | (text == "") | text.isin(MISSING_MARKERS)
    if decimal != "auto":
        thousands = _other_mark(thousands, decimal)  # decimal="," with the default "," -> "."
    else:
        decimal, thousands = _detect_decimal(text.where(~blank), thousands, series, file, column)
    numbers = _read_numbers(text.where(~blank), thousands, decimal)
    unreadable = numbers.isna() & ~blank
    written = text.str.lower().str.lstrip("+-")
    written_non_finite = unreadable & written.isin(["nan", "inf", "infinity"])
    if written_non_finite.any():
        _raise_for_non_finite(numbers, written_non_finite, series, file, column)
    if unreadable.any():
        first = int(np.flatnonzero(unreadable.to_numpy())[0])
        raise DataError(
            f"cannot read {shorten(series.iloc[first])} as a number ({_convention(thousands, decimal)})",
            file=file,
            row=_row_label(series, first),
            column=column,
        )
    return numbers


MISSING_MARKERS: tuple[str, ...] = ("NA", "N/A", "#N/A")
"""Cells that say "no value", read as blank: R's ``write.csv`` writes ``NA``, spreadsheets ``#N/A``.
A written-out ``nan`` is not one: it is what a failed computation prints, and stays an error."""
DECIMAL_MARKS: tuple[str, ...] = (".", ",")
"""The decimal marks :func:`parse_numbers` knows (``auto`` picks one per column)."""
_WIDE_SPACES = "\u00a0\u202f"


def _number_pattern(thousands: str | None, decimal: str) -> re.Pattern[str]:
    """Sign, digits (thousands groups of exactly three), decimal part, exponent."""
    if decimal not in DECIMAL_MARKS:
        raise ValueError(f"The 'decimal' parameter must be '.', ',' or 'auto'. Got {decimal!r} instead.")
    if thousands == decimal:
        raise ValueError(f"The thousands separator and the decimal mark are both {decimal!r}.")
    mark = re.escape(decimal)
    whole = r"\d+"
    if thousands:
        group = "[" + re.escape(thousands) + (_WIDE_SPACES if thousands.isspace() else "") + "]"
        whole = rf"(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)"
    return re.compile(rf"[+-]?(?:{whole}(?:{mark}\d*)?|{mark}\d+)(?:[eE][+-]?\d+)?")


def _read_numbers(text: pd.Series, thousands: str | None, decimal: str) -> pd.Series:
    """Float per cell; NaN for blanks and cells not written as a finite number in this convention."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    distinct = pd.Series(uniques, dtype="object").astype(str)
    valid = distinct.str.fullmatch(_number_pattern(thousands, decimal))
    cleaned = distinct.where(valid)
    if thousands:
        cleaned = cleaned.str.replace("[" + re.escape(thousands) + _WIDE_SPACES + "]", "", regex=True)
    if decimal != ".":
        cleaned = cleaned.str.replace(decimal, ".", regex=False)
    parsed = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype="float64", copy=True)
    parsed[~np.isfinite(parsed)] = np.nan  # 1e309 overflows: unreadable, not infinite
    numbers = np.full(len(text), np.nan)
    present = codes >= 0
    numbers[present] = parsed[codes[present]]
    return pd.Series(numbers, index=text.index, dtype="float64")


def _detect_decimal(
    text: pd.Series, thousands: str | None, original: pd.Series, file: str | None, column: str
) -> tuple[str, str | None]:
    """The decimal mark (and thousands separator) that reads every cell, if only one does."""
    conventions = [(mark, _other_mark(thousands, mark)) for mark in DECIMAL_MARKS]
    readings = [_read_numbers(text, separator, mark) for mark, separator in conventions]
    reads_all = [bool((reading.notna() | text.isna()).all()) for reading in readings]
    if reads_all == [False, True]:
        return conventions[1]
    if all(reads_all):
        differ = (readings[0] != readings[1]) & text.notna()
        if differ.any():
            first = int(np.flatnonzero(differ.to_numpy())[0])
            raise DataError(
                f"ambiguous decimal mark: {shorten(original.iloc[first])} reads as "
                f"{readings[0].iloc[first]:g} or {readings[1].iloc[first]:g}; set decimal to '.' or ','",
                file=file,
                row=_row_label(original, first),
                column=column,
            )
    return conventions[0]


def _other_mark(thousands: str | None, decimal: str) -> str | None:
    """``thousands`` unless it is the decimal mark, then the other mark."""
    if thousands != decimal:
        return thousands
    return next(mark for mark in DECIMAL_MARKS if mark != decimal)


def _convention(thousands: str | None, decimal: str) -> str:
    separator = f"thousands separator {thousands!r} only between groups of 3 digits, " if thousands else ""
    return f"{separator}decimal mark {decimal!r}; for another convention set decimal in a source spec"


def _parse_distinct_months(uniques: pd.Index, formats: tuple[str, ...]) -> pd.Series:
    """Try the format that reads most cells first, then the others for what is left."""
    # Seconds, not nanoseconds: a typo such as 3022-12 must reach the range check, not overflow here.
    parsed = pd.Series(pd.NaT, index=range(len(uniques)), dtype="datetime64[s]")
    if len(uniques) == 0:
        return parsed
    text = uniques.astype(str)
    attempts = {fmt: pd.Series([_strptime(t, fmt) for t in text], dtype="datetime64[s]") for fmt in formats}
    for fmt in sorted(formats, key=lambda f: -attempts[f].notna().sum()):
        parsed = parsed.fillna(attempts[fmt])
        if parsed.notna().all():
            break
    return parsed


def _strptime(text: str, fmt: str) -> np.datetime64:
    """``text`` read with ``fmt`` at second resolution (NaT if it does not match).

    The standard library reads years up to 9999 under every pandas version,
    where ``pandas.to_datetime`` would overflow its nanoseconds first.
    """
    try:
        return np.datetime64(datetime.datetime.strptime(text, fmt), "s")
    except ValueError:
        return np.datetime64("NaT", "s")


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
