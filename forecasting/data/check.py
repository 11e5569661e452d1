"""``forecasting data check PATH``: load a file and print what a person needs to trust it.

Prints the format, series count, months covered, rows read and kept, and
every issue of the quality report (issues repeated over many series are
grouped, with a few series named). Returns 0 when the data is usable; a
:class:`~forecasting.errors.DataError` (not usable) propagates to
:func:`forecasting.cli.main`, which prints the reason on stderr and exits 2.

A daily exchange-rate table (IMF layout, or ``--format rates``) gets a rates
summary instead: days and months covered per currency, months without a rate.

Conflicting duplicates (the real BTS file has one) are dropped and listed
here rather than stopping the check, so the report shows every conflict at
once; the loaders raise on them unless told ``conflicts="drop"``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from forecasting.data.currency import monthly_average_rates, read_daily_rates
from forecasting.data.loaders import LoadResult, detect_format, load
from forecasting.data.report import DataQualityReport, QualityIssue
from forecasting.data.staleness import DEFAULT_MAX_STALE_MONTHS, flag_stale
from forecasting.data.tables import read_header
from forecasting.errors import DataError
from forecasting.files import require_regular_file

CURRENCY_CODE = re.compile(r"[A-Z]{3}")

SHOWN_SERIES = 3


def check_path(path: str | Path, fmt: str = "auto", max_stale_months: int = DEFAULT_MAX_STALE_MONTHS) -> int:
    """Load ``path`` as ``fmt`` and print its data quality summary; 0 when usable.

    Series that ended more than ``max_stale_months`` before the file's last month are flagged.
    """
    require_regular_file(path)  # a FIFO or /dev/zero would hang the header read
    resolved = detect_format(path) if fmt == "auto" else fmt
    if fmt == "rates" or (fmt == "auto" and is_rates_table(path)):
        print(summarize_rates(path))
        return 0
    result = load(path, resolved, conflicts="drop")
    flag_stale(result.report, result.records, max_stale_months)
    print(summarize(result, fmt=resolved, n_series=result.records["series_id"].nunique()))
    return 0


def is_rates_table(path: str | Path) -> bool:
    """A daily exchange-rate table: a ``Date`` column then currency codes (the IMF layout)."""
    header = read_header(path)
    return (
        len(header) >= 2
        and header[0].lower() == "date"
        and all(CURRENCY_CODE.fullmatch(c) for c in header[1:])
    )


def summarize_rates(path: str | Path) -> str:
    """Days and months covered per currency, and months without any rate (conversion would fail)."""
    daily = read_daily_rates(path)
    monthly = monthly_average_rates(daily)
    lines = [
        str(path),
        "  format:    rates (daily, currency units per USD; monthly averages of the available days)",
        f"  days:      {daily.index.min().date()} .. {daily.index.max().date()} ({len(daily):,} rows)",
        f"  months:    {monthly.index.min()} .. {monthly.index.max()} ({len(monthly)} months)",
    ]
    if daily.notna().sum().sum() == 0:
        raise DataError("no exchange rate in the table", file=str(path))
    for currency in daily.columns:
        days = int(daily[currency].notna().sum())
        empty = monthly.index[monthly[currency].isna()]
        gaps = f"; no rate in {len(empty)} month(s): {', '.join(map(str, empty[:4]))}" if len(empty) else ""
        lines.append(f"  {currency + ':':<10} {days:,} days with a rate, {len(daily) - days:,} blank{gaps}")
    lines.append("  result:    usable (convert with forecasting.data.currency.convert_currency)")
    return "\n".join(lines)


def summarize(result: LoadResult, *, fmt: str, n_series: int) -> str:
    """The readable report: what was loaded, then the grouped issues."""
    records, report = result.records, result.report
    first, last = records["month"].min(), records["month"].max()
    span = (last - first).n + 1
    lines = [
        f"{report.source}",
        f"  format:    {fmt}",
        f"  series:    {n_series:,}",
        f"  months:    {first} .. {last} ({span} months)",
        f"  rows read: {report.rows_read:,}; records kept: {len(records):,}",
    ]
    for column in ("flow", "unit", "currency"):
        counts = records.drop_duplicates("series_id")[column].value_counts(dropna=True)
        if not counts.empty:
            shown = ", ".join(f"{name} {n:,}" for name, n in counts.items())
            lines.append(f"  {column + ':':<10} {shown} (series)")
    lines.append(_issue_lines(report))
    usable = "usable" if not report.count("warning") else "usable, with the warnings above"
    lines.append(f"  result:    {usable}")
    return "\n".join(lines)


def _issue_lines(report: DataQualityReport) -> str:
    if not report.issues:
        return "  issues:    none: no rows dropped, merged, converted or flagged"
    lines = ["  issues:"]
    groups: dict[tuple[str, str], list[QualityIssue]] = {}
    for issue in report.issues:
        groups.setdefault((issue.action, issue.reason), []).append(issue)
    for (action, reason), issues in groups.items():
        if len(issues) == 1:
            lines.append("    " + replace(issues[0], file=None).describe())
            continue
        series = pd.unique(pd.Series([i.series_id for i in issues if i.series_id]))
        named = ", ".join(series[:SHOWN_SERIES]) + (
            f", +{len(series) - SHOWN_SERIES} more" if len(series) > SHOWN_SERIES else ""
        )
        total = sum(i.count for i in issues)
        lines.append(f"    {action:<9} {total:>7,}  {reason} [{len(issues):,} times; series {named}]")
    return "\n".join(lines)
