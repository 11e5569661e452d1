"""Exchange rates and units: monthly average rates, currency conversion, unit scaling.

Rates are "currency units per USD" (the IMF representative-rate convention),
one column per currency code. A value in currency ``C`` converts to target
``T`` as ``value / rate[C] * rate[T]`` with the monthly average rates of its
month. A series holding two currencies is an error (it is almost always a
mistake upstream); a series whose units differ only by a scale prefix
("tonnes" and "thousand tonnes") is reconciled by :func:`scale_units`, while
truly different units ("tonnes" and "TEU") are an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.parsing import parse_numbers
from forecasting.data.report import DataQualityReport
from forecasting.data.tables import read_table, require_columns
from forecasting.errors import DataError

UNIT_PREFIXES: dict[str, float] = {
    "thousand": 1e3,
    "ten thousand": 1e4,
    "hundred million": 1e8,
    "million": 1e6,
    "billion": 1e9,
}
"""Scale words in front of a base unit: "thousand tonnes" -> 1e3 tonnes ("hundred million" = CNY yi)."""


def read_daily_rates(
    path: str | Path, *, sep: str = ";", date_column: str = "Date", date_format: str = "%d-%b-%Y"
) -> pd.DataFrame:
    """Read a daily rates table (IMF layout: ``Date;CNY;JPY;KRW;USD``); blanks stay NaN.

    Returns a frame indexed by day with one float column per currency.
    """
    file = str(path)
    raw = read_table(path, sep=sep)
    require_columns(raw, [date_column], file=file)
    days = pd.to_datetime(raw[date_column].str.strip(), format=date_format, errors="coerce")
    if days.isna().any():
        line = int(raw.index[days.isna()][0])
        raise DataError(
            f"cannot read {raw.at[line, date_column]!r} as a date ({date_format})",
            file=file,
            row=line,
            column=date_column,
        )
    rates = pd.DataFrame(
        {
            c: parse_numbers(raw[c], thousands=None, file=file, column=c).to_numpy()
            for c in raw.columns
            if c != date_column
        },
        index=pd.DatetimeIndex(days, name="date"),
    )
    non_positive = rates.le(0).to_numpy()
    if non_positive.any():
        row, col = (int(i[0]) for i in np.nonzero(non_positive))
        raise DataError(
            "exchange rate must be positive", file=file, row=int(raw.index[row]), column=rates.columns[col]
        )
    return rates


def monthly_average_rates(daily: pd.DataFrame) -> pd.DataFrame:
    """Mean of the available daily rates per month (blank days skipped), indexed by month."""
    monthly = daily.groupby(daily.index.to_period("M")).mean()
    monthly.index.name = "month"
    return monthly


def convert_currency(
    records: pd.DataFrame,
    rates: pd.DataFrame,
    report: DataQualityReport,
    *,
    to: str = "USD",
    file: str | None = None,
) -> pd.DataFrame:
    """Convert every record with a currency into ``to`` at the monthly average rate of its month.

    Records without a currency (counts) are left as they are. ``unit`` follows
    the currency when it named it.
    """
    _check_one_per_series(records, "currency", file)
    if to not in rates.columns and to != "USD":
        raise DataError(f"no rates for target currency {to!r}; have {list(rates.columns)}", file=file)
    out = records.copy()
    currency = out["currency"].astype("string")
    convert = currency.notna().to_numpy() & (currency != to).fillna(False).to_numpy()
    if not convert.any():
        return out
    missing_currency = sorted(set(currency[convert]) - set(rates.columns))
    if missing_currency:
        raise DataError(
            f"no exchange rates for {missing_currency}; have {list(rates.columns)}",
            file=file,
            column="currency",
        )
    months = pd.PeriodIndex(out["month"], freq="M")[convert]
    source_rate = _lookup(rates, months, currency[convert].to_numpy())
    target_rate = (
        np.ones(len(months))
        if to == "USD" and to not in rates.columns
        else _lookup(rates, months, np.full(len(months), to))
    )
    bad = ~np.isfinite(source_rate) | ~np.isfinite(target_rate)
    if bad.any():
        at = np.flatnonzero(convert)[np.flatnonzero(bad)[0]]
        raise DataError(
            f"no {out['currency'].iloc[at]}/{to} rate for {out['month'].iloc[at]}",
            file=file,
            series=str(out["series_id"].iloc[at]),
            column="currency",
        )
    out.loc[convert, "value"] = out.loc[convert, "value"].to_numpy() / source_rate * target_rate
    names_currency = (out["unit"].astype("string") == currency).fillna(False).to_numpy() & convert
    out.loc[names_currency, "unit"] = to
    for (series_id, source), group in (
        out.loc[convert].assign(_from=currency[convert]).groupby(["series_id", "_from"])
    ):
        report.add(
            "converted",
            f"{source} -> {to} at monthly average exchange rates",
            count=len(group),
            file=file,
            series_id=str(series_id),
        )
    out.loc[convert, "currency"] = to
    return out


def _lookup(rates: pd.DataFrame, months: pd.PeriodIndex, currencies: np.ndarray) -> np.ndarray:
    stacked = rates.stack(future_stack=True)
    keys = pd.MultiIndex.from_arrays([months, currencies])
    return stacked.reindex(keys).to_numpy(dtype="float64")


def scale_units(
    records: pd.DataFrame,
    report: DataQualityReport,
    *,
    prefixes: Mapping[str, float] | None = None,
    file: str | None = None,
) -> pd.DataFrame:
    """Rescale "thousand tonnes" -> "tonnes", "million USD" -> "USD" (value times the factor).

    Afterwards every series must have one unit: "tonnes" and "TEU" in one
    series is a :class:`DataError`.
    """
    table = dict(prefixes or UNIT_PREFIXES)
    out = records.copy()
    units = out["unit"].astype("string")
    for prefix in sorted(table, key=len, reverse=True):
        hit = units.str.startswith(prefix + " ").fillna(False).to_numpy()
        if not hit.any():
            continue
        base = units[hit].str.slice(len(prefix) + 1)
        out.loc[hit, "value"] = out.loc[hit, "value"].to_numpy() * table[prefix]
        out.loc[hit, "unit"] = base.to_numpy()
        for (series_id, unit), group in out.loc[hit].assign(_unit=units[hit]).groupby(["series_id", "_unit"]):
            report.add(
                "converted",
                f"{unit} -> {unit[len(prefix) + 1 :]} (x{table[prefix]:g})",
                count=len(group),
                file=file,
                series_id=str(series_id),
            )
        units = out["unit"].astype("string")
    _check_one_per_series(out, "unit", file)
    return out


def _check_one_per_series(records: pd.DataFrame, column: str, file: str | None) -> None:
    counts = records.dropna(subset=[column]).groupby("series_id")[column].nunique()
    mixed = counts[counts > 1]
    if not mixed.empty:
        series = str(mixed.index[0])
        found = sorted(records.loc[records["series_id"] == series, column].dropna().unique())
        plural = {"currency": "currencies"}.get(column, f"{column}s")
        raise DataError(f"mixed {plural} within one series: {found}", file=file, column=column, series=series)
