"""``forecasting data check PATH``: load a file and print what a person needs to trust it.

Prints the format, series count, months covered, rows read and kept, and
the quality report's findings counted by kind with the most telling ones
(:meth:`~forecasting.data.report.DataQualityReport.summary_lines`);
``--report PATH`` saves every finding. Returns 0 when the data is usable; a
:class:`~forecasting.errors.DataError` (not usable) propagates to
:func:`forecasting.cli.main`, which prints the reason on stderr and exits 2.
Usable means what the other commands accept: the same checks of the rows and
of the panel (:func:`~forecasting.data.records.check_panel`: dimensions constant
within a series, a hierarchy naming only the panel's series).

A daily exchange-rate table (IMF layout, or ``--format rates``) gets a rates
summary instead: days and months covered per currency, months without a rate.

Conflicting duplicates (the real BTS file has one) are dropped and listed
here rather than stopping the check at the first, so the report shows every
conflict at once; then the check exits 2 like the loaders, which raise on them
unless told ``conflicts="drop"`` (``series build --conflicts drop``).
"""

from __future__ import annotations

import re
from pathlib import Path

from forecasting.data.currency import monthly_average_rates, read_daily_rates
from forecasting.data.loaders import LoadResult, detect_format, load
from forecasting.data.records import CONFLICT, check_panel
from forecasting.data.report import SUMMARY_LINES, DataQualityReport
from forecasting.data.staleness import DEFAULT_MAX_STALE_MONTHS, flag_stale
from forecasting.data.tables import read_header
from forecasting.errors import DataError
from forecasting.files import output_target, require_regular_file, write_text_atomic

CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def check_path(
    path: str | Path,
    fmt: str = "auto",
    max_stale_months: int = DEFAULT_MAX_STALE_MONTHS,
    *,
    report: str | Path | None = None,
) -> int:
    """Load ``path`` as ``fmt`` and print its data quality summary; 0 when usable.

    Series that ended more than ``max_stale_months`` before the file's last month are flagged.
    ``report``: also write the full report there (every finding once), atomically.
    """
    require_regular_file(path)  # a FIFO or /dev/zero would hang the header read
    if report is not None:
        output_target(report, inputs=[path])  # refuse a folder, a device or the input before any work
    resolved = detect_format(path) if fmt == "auto" else fmt
    if fmt == "rates" or (fmt == "auto" and is_rates_table(path)):
        text = summarize_rates(path)
        if report is not None:
            write_text_atomic(text + "\n", report, inputs=[path])
        print(text)
        return 0
    result = load(path, fmt, conflicts="drop")  # "auto": as detected, with the wide guess explained
    check_panel(result.records, result.structure, file=str(path))  # every command's check of a panel
    flag_stale(result.report, result.records, max_stale_months)
    saved = (
        None if report is None else write_text_atomic(result.report.format() + "\n", report, inputs=[path])
    )
    print(summarize(result, fmt=resolved, n_series=result.records["series_id"].nunique(), saved_to=saved))
    if conflicting_rows(result.report):  # listed in full above; the verdict is every other command's
        raise DataError(
            f"{conflicting_rows(result.report)} rows are conflicting duplicates (listed above): forecast, "
            "backtest and retrain stop on them; series build --conflicts drop leaves those months missing",
            file=str(path),
        )
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


def summarize(
    result: LoadResult,
    *,
    fmt: str,
    n_series: int,
    saved_to: str | Path | None = None,
    limit: int = SUMMARY_LINES,
) -> str:
    """The readable report: what was loaded, then the findings counted by kind, the most telling shown.

    ``saved_to``: where the full report was written, named in the summary.
    """
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
    lines += report.summary_lines(limit=limit, saved_to=saved_to)
    lines.append(f"  result:    {verdict(report)}")
    return "\n".join(lines)


def verdict(report: DataQualityReport) -> str:
    """Whether the other commands take the file as it is (conflicting duplicates stop them)."""
    if conflicting_rows(report):
        return "not usable as it is: the conflicting duplicates above stop forecast, backtest and retrain"
    return "usable" if not report.count("warning") else "usable, with the warnings above"


def conflicting_rows(report: DataQualityReport) -> int:
    """Rows of conflicting duplicates the check dropped to list them all (the other commands stop on them)."""
    return sum(issue.count for issue in report.issues if issue.reason.startswith(CONFLICT))
