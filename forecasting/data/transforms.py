"""Reshaping published figures into monthly values, every adjustment in the report.

- :func:`ytd_to_monthly`: customs year-to-date cumulative values -> monthly
  values (difference of cumulative values, reset every January). A cumulative
  value that falls within a year (a revision) is an error by default, or kept
  as a negative monthly value and flagged with ``on_decrease="flag"``. When a
  year's first reported month is not January (the usual "January-February"
  release), its value covers January..that month and is flagged so it can be
  split with :func:`split_combined`.
- :func:`split_combined`: a combined January+February figure, recorded at
  February with January absent, -> two months, by rule ``equal``,
  ``working_days`` (Chinese or Russian working days) or ``reference`` (the
  January share of a reference series in the same year).
- :func:`daily_to_monthly`: daily or weekly counts -> monthly sums. A weekly
  count is spread evenly over its seven days. Months not fully covered are
  flagged as partial and left out (missing, not under-counted) unless
  ``include_partial=True``, in which case they are kept and flagged.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from forecasting.core.calendar import working_days
from forecasting.data.report import DataQualityReport
from forecasting.errors import DataError

SplitRule = Literal["equal", "working_days", "reference"]


def ytd_to_monthly(
    records: pd.DataFrame,
    report: DataQualityReport,
    *,
    file: str | None = None,
    on_decrease: Literal["error", "flag"] = "error",
) -> pd.DataFrame:
    """Turn year-to-date cumulative values into monthly ones (see module docstring)."""
    if on_decrease not in ("error", "flag"):
        raise ValueError(
            f"The 'on_decrease' parameter must be 'error' or 'flag'. Got {on_decrease!r} instead."
        )
    out = records.sort_values(["series_id", "month"], kind="stable").copy()
    months = pd.PeriodIndex(out["month"], freq="M")
    year, month = months.year.to_numpy(), months.month.to_numpy()
    same_year = (out["series_id"].to_numpy()[1:] == out["series_id"].to_numpy()[:-1]) & (
        year[1:] == year[:-1]
    )
    follows = np.r_[False, same_year]
    first_in_year = ~follows
    step = np.r_[0, np.diff(months.asi8)]
    skipped = follows & (step != 1)
    if skipped.any():
        at = int(np.flatnonzero(skipped)[0])
        raise DataError(
            f"year-to-date values skip a month before {months[at]}: "
            "the difference would cover several months",
            file=file,
            series=str(out["series_id"].iloc[at]),
            column="value",
        )
    cumulative = out["value"].to_numpy(dtype="float64")
    monthly = cumulative - np.r_[0.0, cumulative[:-1]] * follows
    out["value"] = monthly
    _check_decreases(out, monthly < 0, report, file, on_decrease)
    report.add(
        "converted",
        "year-to-date cumulative -> monthly (difference, reset every January)",
        count=len(out),
        file=file,
    )
    late = first_in_year & (month != 1)
    for row in out.loc[late].itertuples():
        report.add(
            "flagged",
            f"first month of the year is {row.month}: the value covers January..{row.month} combined",
            file=file,
            series_id=str(row.series_id),
            month=str(row.month),
        )
    return out


def _check_decreases(
    out: pd.DataFrame, decrease: np.ndarray, report: DataQualityReport, file: str | None, on_decrease: str
) -> None:
    if not decrease.any():
        return
    at = int(np.flatnonzero(decrease)[0])
    if on_decrease == "error":
        raise DataError(
            f"year-to-date value falls in {out['month'].iloc[at]} ({int(decrease.sum())} such month(s)); "
            "pass on_decrease='flag' to keep the negative monthly values",
            file=file,
            series=str(out["series_id"].iloc[at]),
            column="value",
        )
    for row in out.loc[decrease].itertuples():
        report.add(
            "flagged",
            f"year-to-date value falls: negative monthly value {row.value:g} kept (revision?)",
            file=file,
            series_id=str(row.series_id),
            month=str(row.month),
        )


def split_combined(
    records: pd.DataFrame,
    report: DataQualityReport,
    *,
    rule: SplitRule = "equal",
    country: str = "CN",
    reference: pd.Series | None = None,
    file: str | None = None,
) -> pd.DataFrame:
    """Split each combined January+February figure (at February, January absent) into two months.

    ``reference`` (rule ``"reference"``) is a monthly series indexed by
    period whose January/(January+February) share is used for the same year.
    """
    if rule not in ("equal", "working_days", "reference"):
        raise ValueError(
            f"The 'rule' parameter must be equal, working_days or reference. Got {rule!r} instead."
        )
    months = pd.PeriodIndex(records["month"], freq="M")
    present = set(zip(records["series_id"], months.asi8, strict=True))
    january = months.asi8 - 1
    combined = (months.month == 2) & np.array(
        [(s, j) not in present for s, j in zip(records["series_id"], january, strict=True)]
    )
    if not combined.any():
        return records
    february = records.loc[combined].copy()
    years = pd.PeriodIndex(february["month"], freq="M").year
    share = _january_share(rule, years, country, reference, file)
    january_rows = february.assign(
        month=pd.PeriodIndex(february["month"], freq="M") - 1, value=february["value"] * share
    )
    february["value"] = february["value"] * (1 - share)
    for row, jan_share in zip(february.itertuples(), share, strict=True):
        report.add(
            "converted",
            f"combined January+February split by {rule} rule (January share {jan_share:.3f})",
            count=2,
            file=file,
            series_id=str(row.series_id),
            month=f"{row.month - 1}..{row.month}",
        )
    kept = records.loc[~combined]
    return pd.concat([kept, january_rows, february]).sort_values(["series_id", "month"], kind="stable")


def _january_share(
    rule: str, years: pd.Index, country: str, reference: pd.Series | None, file: str | None
) -> np.ndarray:
    if rule == "equal":
        return np.full(len(years), 0.5)
    if rule == "working_days":
        wanted = sorted(set(years))
        jan_feb = pd.PeriodIndex([pd.Period(f"{y}-{m:02d}", "M") for y in wanted for m in (1, 2)])
        days = working_days(jan_feb, country).to_numpy().reshape(-1, 2)
        by_year = dict(zip(wanted, days[:, 0] / days.sum(axis=1), strict=True))
        return np.array([by_year[y] for y in years])
    if reference is None:
        raise ValueError("The 'reference' parameter is required for rule='reference'. Got None instead.")
    ref = pd.Series(reference.to_numpy(dtype="float64"), index=pd.PeriodIndex(reference.index, freq="M"))
    shares = []
    for year in years:
        jan, feb = (ref.get(pd.Period(f"{year}-{m:02d}", "M"), np.nan) for m in (1, 2))
        if not (np.isfinite(jan) and np.isfinite(feb)) or jan + feb <= 0:
            raise DataError(f"reference series has no usable January and February {year}", file=file)
        shares.append(jan / (jan + feb))
    return np.array(shares)


def daily_to_monthly(
    frame: pd.DataFrame,
    report: DataQualityReport,
    *,
    date_column: str = "date",
    frequency: Literal["D", "W"] = "D",
    include_partial: bool = False,
    file: str | None = None,
) -> pd.DataFrame:
    """Sum daily (or weekly, dated by the week's last day) counts per series and month.

    ``frame`` has ``series_id``, ``date_column``, ``value`` and optional
    dimension columns (constant per series, carried over). Partially covered
    months are flagged and left out unless ``include_partial``.
    """
    if frequency not in ("D", "W"):
        raise ValueError(f"The 'frequency' parameter must be 'D' or 'W'. Got {frequency!r} instead.")
    dates = pd.to_datetime(frame[date_column], errors="coerce").dt.normalize()
    if dates.isna().any():
        at = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"cannot read {frame[date_column].iloc[at]!r} as a date", file=file, row=at, column=date_column
        )
    clash = pd.DataFrame({"s": frame["series_id"].to_numpy(), "d": dates.to_numpy()}).duplicated()
    if clash.any():
        at = int(np.flatnonzero(clash.to_numpy())[0])
        raise DataError(
            f"date {dates.iloc[at].date()} appears twice",
            file=file,
            row=at,
            series=str(frame["series_id"].iloc[at]),
        )
    days = _spread_to_days(
        frame["series_id"].to_numpy(), dates, frame["value"].to_numpy(dtype="float64"), frequency
    )
    days["month"] = days["day"].dt.to_period("M")
    grouped = days.groupby(["series_id", "month"], sort=True)
    monthly = grouped.agg(value=("value", "sum"), covered=("day", "nunique")).reset_index()
    in_month = monthly["month"].dt.days_in_month.to_numpy()
    partial = monthly["covered"].to_numpy() < in_month
    for row, n_days in zip(monthly.loc[partial].itertuples(), in_month[partial], strict=True):
        action = "flagged" if include_partial else "dropped"
        kept = "kept, under-counted" if include_partial else "left missing"
        report.add(
            action,
            f"partial month: {row.covered} of {n_days} days covered ({kept})",
            count=1,
            file=file,
            series_id=str(row.series_id),
            month=str(row.month),
        )
    if not include_partial:
        monthly = monthly.loc[~partial]
    report.add(
        "converted",
        f"{'daily' if frequency == 'D' else 'weekly'} counts summed to months",
        count=len(frame),
        file=file,
    )
    dimensions = [c for c in frame.columns if c not in ("series_id", date_column, "value")]
    if dimensions:
        monthly = monthly.merge(frame.groupby("series_id")[dimensions].first().reset_index(), on="series_id")
    return monthly.drop(columns="covered").reset_index(drop=True)


def _spread_to_days(series: np.ndarray, dates: pd.Series, values: np.ndarray, frequency: str) -> pd.DataFrame:
    if frequency == "D":
        return pd.DataFrame({"series_id": series, "day": dates.to_numpy(), "value": values})
    offsets = np.tile(np.arange(-6, 1), len(values))
    day = np.repeat(dates.to_numpy(), 7) + offsets.astype("timedelta64[D]")
    return pd.DataFrame({"series_id": np.repeat(series, 7), "day": day, "value": np.repeat(values / 7.0, 7)})
