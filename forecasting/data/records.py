"""Steps every loader ends with: duplicates, validation and quality warnings.

Warnings (in the report, the data stays usable): gaps inside a series (the
missing months stay missing, never zero), series shorter than two seasonal
cycles (24 months), runs of six or more zero months. Errors: see
:func:`forecasting.data.schema.validate_records` and :func:`resolve_duplicates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from forecasting.data.report import DataQualityReport, some_of
from forecasting.data.schema import (
    COUNT_FLOWS,
    check_constant_dimensions,
    normalize_records,
    validate_records,
)
from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError

MIN_MONTHS = 24
"""Two seasonal cycles: shorter series get a warning (seasonal models fall back)."""
MIN_ZERO_RUN = 6
"""Six or more consecutive zero months usually mean "closed" or "not reported"."""
SPIKE_RATIO = 100.0
"""How far from the months around it (and from the series' typical size) one month must be to be
flagged as an isolated spike: a unit or keying error is a factor of 1,000, a busy month a few."""
SPIKE_REASON = "isolated spike"
SPIKE_WINDOW = 13
"""The months whose median a month is compared with: six each side, itself included."""
REGULAR_SPREAD = 10.0
"""A window whose second largest value is within this factor of its second smallest is regular."""

Conflicts = Literal["error", "drop"]
_LINE = "__line__"


CONFLICT = "conflicting duplicate"
"""How a dropped conflicting duplicate starts in the quality report (``conflicts="drop"``)."""


class LoadResult(NamedTuple):
    """What every loader returns: canonical records and the audit trail of the load."""

    records: pd.DataFrame
    report: DataQualityReport
    structure: SummingStructure | None = None


def drop_blank_values(frame: pd.DataFrame, report: DataQualityReport, *, file: str | None) -> pd.DataFrame:
    """Drop rows whose value cell is blank: the month was not reported and stays missing."""
    blank = frame["value"].isna()
    if blank.any():
        for series_id, rows in frame.index[blank].groupby(frame.loc[blank, "series_id"]).items():
            report.add(
                "dropped",
                "blank value: month not reported (left missing, not zero)",
                count=len(rows),
                file=file,
                rows=list(rows),
                series_id=str(series_id),
            )
    return frame.loc[~blank]


def check_negative_counts(frame: pd.DataFrame, *, file: str | None) -> None:
    """Counts and quantities (cargo, passengers) cannot be negative: name the first offending cell."""
    if "flow" not in frame.columns:
        return
    negative = frame["flow"].isin(COUNT_FLOWS).to_numpy(dtype=bool) & (frame["value"].to_numpy() < 0)
    if negative.any():
        first = int(np.flatnonzero(negative)[0])
        row = frame.iloc[first]
        raise DataError(
            f"negative count {row['value']:g} for month {row['month']} ({int(negative.sum())} such row(s))",
            file=file,
            row=int(frame.index[first]),
            column="value",
            series=str(row["series_id"]),
        )


def check_panel(records: pd.DataFrame, structure: SummingStructure | None, *, file: str | None) -> None:
    """What every command checks of valid records (:func:`validate_records`) before using them as a panel.

    Each series' dimensions are constant, and its hierarchy names only its series.
    :class:`~forecasting.panel.SeriesPanel` and ``data check`` share it, so ``data
    check`` says usable exactly when the other commands accept the file.
    """
    check_constant_dimensions(records, file=file)
    if structure is not None:
        structure.check_series(records["series_id"].astype(str).unique())


def resolve_duplicates(
    frame: pd.DataFrame,
    report: DataQualityReport,
    *,
    file: str | None,
    key: Sequence[str] = ("series_id", "month"),
    conflicts: Conflicts = "error",
) -> pd.DataFrame:
    """Drop exact duplicate rows (reported); raise on, or drop, conflicting ones.

    Two rows with the same key and different values are a conflict: there is
    no principled way to choose, so by default this is a :class:`DataError`
    listing them. ``conflicts="drop"`` removes every row of a conflicting key
    (the month becomes missing) and reports each one with its values.
    """
    if conflicts not in ("error", "drop"):
        raise ValueError(f"The 'conflicts' parameter must be 'error' or 'drop'. Got {conflicts!r} instead.")
    comparable = _comparable(frame)
    exact = comparable.duplicated(keep="first")
    if exact.any():
        report.add(
            "dropped",
            "exact duplicate row (same key, same value and attributes)",
            count=int(exact.sum()),
            file=file,
            rows=list(frame.index[exact]),
        )
        frame, comparable = frame.loc[~exact], comparable.loc[~exact]
    clash = comparable.duplicated(list(key), keep=False)
    if not clash.any():
        return frame
    listing = _describe_conflicts(frame.loc[clash], list(key))
    if conflicts == "error":
        shown = "; ".join(listing[:10]) + (f"; and {len(listing) - 10} more" if len(listing) > 10 else "")
        first = frame.loc[clash].iloc[0]
        raise DataError(
            f"{len(listing)} conflicting duplicate(s), same key with different values: {shown} "
            "(no value can be chosen: correct the file, or series build --conflicts drop leaves those "
            "months missing)",
            file=file,
            row=int(frame.index[clash][0]),
            column="value",
            series=str(first["series_id"]),
        )
    for (series_id, month), rows in frame.loc[clash].groupby(["series_id", "month"], sort=True):
        report.add(
            "dropped",
            f"{CONFLICT}: values {sorted(rows['value'].tolist())} for one month; month left missing",
            count=len(rows),
            file=file,
            rows=list(rows.index),
            series_id=str(series_id),
            month=str(month),
        )
    return frame.loc[~clash]


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with months as integers: hashing Period objects row by row is slow."""
    if "month" in frame.columns and isinstance(frame["month"].dtype, pd.PeriodDtype):
        return frame.assign(month=_ordinals(frame["month"]))
    return frame


def _describe_conflicts(rows: pd.DataFrame, key: list[str]) -> list[str]:
    described = []
    for values, group in rows.groupby(key, sort=True):
        label = "@".join(str(v) for v in values)
        described.append(
            f"{label} values {group['value'].tolist()} (rows {', '.join(map(str, group.index))})"
        )
    return described


def finish_records(frame: pd.DataFrame, report: DataQualityReport, *, file: str | None) -> LoadResult:
    """Canonical columns and dtypes, final validation, and quality warnings in the report.

    ``frame`` is indexed by line number in the file (every loader's convention).
    """
    numbered = frame.assign(**{_LINE: frame.index.to_numpy()}).reset_index(drop=True)
    records = normalize_records(numbered, file=file)
    lines = records.pop(_LINE).to_numpy()
    validate_records(records, file=file, lines=lines)
    add_quality_warnings(records, report, file=file)
    return LoadResult(records, report)


def add_quality_warnings(
    records: pd.DataFrame, report: DataQualityReport, *, file: str | None = None
) -> None:
    """Add gap, short-series and zero-run warnings, one per series (and per run)."""
    ordered = records.sort_values(["series_id", "month"])
    ordinal = _ordinals(ordered["month"])
    grouped = ordinal.groupby(ordered["series_id"], sort=True, observed=True)
    spans = pd.DataFrame({"first": grouped.min(), "last": grouped.max(), "observed": grouped.size()})
    spans["missing"] = spans["last"] - spans["first"] + 1 - spans["observed"]
    for series_id, row in spans[spans["missing"] > 0].iterrows():
        report.add(
            "warning",
            "gap: months missing inside the series (left missing, not filled)",
            count=int(row["missing"]),
            file=file,
            series_id=str(series_id),
        )
    _warn_future_months(ordered["series_id"], ordinal, report, file)
    for series_id, row in spans[spans["observed"] < MIN_MONTHS].iterrows():
        report.add(
            "warning",
            f"short series: fewer than {MIN_MONTHS} observed months (two seasonal cycles)",
            count=int(row["observed"]),
            file=file,
            series_id=str(series_id),
        )
    _warn_zero_runs(ordered, ordinal, report, file)
    _flag_isolated_spikes(ordered, report, file)


def _flag_isolated_spikes(ordered: pd.DataFrame, report: DataQualityReport, file: str | None) -> None:
    """A month :data:`SPIKE_RATIO` times (or a :data:`SPIKE_RATIO`-th of) both the months around it
    and the series' typical non-zero size: a unit or keying error (kg for tonnes, a decimal mark
    read as a thousands separator) that every model would otherwise learn as a level.

    A lumpy series (a shipment in some months, little or nothing in others) has such months by
    nature: only a month among regular ones is flagged, the window's second smallest and second
    largest value (the month itself aside) within :data:`REGULAR_SPREAD`.
    """
    values = ordered["value"].abs()
    around, low_end, high_end = _window_spread(values.to_numpy(), ordered["series_id"].to_numpy())
    typical = (
        values.where(values > 0).groupby(ordered["series_id"], sort=False, observed=True).transform("median")
    )
    values, typical = values.to_numpy(), typical.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        high = (values > SPIKE_RATIO * around) & (values > SPIKE_RATIO * typical)
        low = (values > 0) & (values < around / SPIKE_RATIO) & (values < typical / SPIKE_RATIO)
        regular = (around > 0) & (high_end < REGULAR_SPREAD * low_end)
    flagged = np.flatnonzero(regular & (high | low))
    for index in flagged:
        row, ratio = ordered.iloc[index], values[index] / around[index]
        direction = f"{ratio:,.0f} times" if ratio > 1 else f"1/{1 / ratio:,.0f} of"
        report.add(
            "flagged",
            f"{SPIKE_REASON}: {direction} the months around it and the series' typical size "
            "(a unit or keying error? every model learns it as it stands)",
            file=file,
            series_id=str(row["series_id"]),
            month=str(row["month"]),
        )


def spike_summary(report: DataQualityReport) -> str | None:
    """One line on the isolated spikes ``report`` flags (None without any): how many, a few of them."""
    spikes = [issue for issue in report.issues if issue.reason.startswith(SPIKE_REASON)]
    if not spikes:
        return None
    shown = some_of([f"{issue.series_id}@{issue.month}" for issue in spikes])
    return f"{len(spikes)} isolated spike(s) in the input (a unit or keying error?), e.g. {shown}"


def _window_spread(values: np.ndarray, series_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, second smallest and second largest of each row's centred window of
    :data:`SPIKE_WINDOW` rows of its own series. One rolling over the series laid end to end with
    half a window of NaN between them, so no window reaches into the next series (a rolling per
    series took four seconds on 10,000 series, this one under one)."""
    half = SPIKE_WINDOW // 2
    starts = np.r_[True, series_ids[1:] != series_ids[:-1]] if len(series_ids) else np.zeros(0, bool)
    positions = np.arange(len(values)) + half * np.cumsum(starts)
    padded = np.full(len(values) + half * (int(starts.sum()) + 1), np.nan)
    padded[positions] = values
    window = pd.Series(padded).rolling(SPIKE_WINDOW, center=True, min_periods=half)
    return (
        window.median().to_numpy()[positions],
        window.quantile(1 / (SPIKE_WINDOW - 1), interpolation="higher").to_numpy()[positions],
        window.quantile(1 - 1 / (SPIKE_WINDOW - 1), interpolation="lower").to_numpy()[positions],
    )


def _warn_future_months(
    series_ids: pd.Series, ordinal: pd.Series, report: DataQualityReport, file: str | None
) -> None:
    """Months after the current one cannot have been observed: a typo, or forecasts mixed in?"""
    current = pd.Period(datetime.now(UTC).strftime("%Y-%m"), freq="M")
    future = ordinal > current.ordinal
    if not future.any():
        return
    for series_id, months in ordinal[future].groupby(series_ids[future], sort=True, observed=True):
        report.add(
            "warning",
            f"month in the future (after {current}): a typo, or forecasts mixed into the data?",
            count=len(months),
            file=file,
            series_id=str(series_id),
            month=str(pd.PeriodIndex.from_ordinals([int(months.min())], freq="M")[0]),
        )


def _ordinals(months: pd.Series) -> pd.Series:
    return pd.Series(pd.PeriodIndex(months).asi8, index=months.index)


def _warn_zero_runs(
    ordered: pd.DataFrame, ordinal: pd.Series, report: DataQualityReport, file: str | None
) -> None:
    zero = ordered["value"].to_numpy() == 0
    series = ordered["series_id"].to_numpy()
    consecutive = np.r_[False, (np.diff(ordinal.to_numpy()) == 1) & (series[1:] == series[:-1])]
    continues = zero & np.r_[False, zero[:-1]] & consecutive
    run_id = np.cumsum(~continues)
    runs = pd.DataFrame({"run": run_id[zero], "series_id": series[zero], "start": ordinal.to_numpy()[zero]})
    lengths = runs.groupby("run").agg(
        series_id=("series_id", "first"), start=("start", "first"), n=("start", "size")
    )
    for row in lengths[lengths["n"] >= MIN_ZERO_RUN].itertuples():
        report.add(
            "warning",
            f"run of {MIN_ZERO_RUN} or more zero months (closed, or not reported?)",
            count=int(row.n),
            file=file,
            series_id=str(row.series_id),
            month=str(pd.PeriodIndex.from_ordinals([int(row.start)], freq="M")[0]),
        )
