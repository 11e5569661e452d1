"""Published figures at other frequencies: growth statements, disaggregation, benchmarking.

News reports give annual, half-year, quarterly or single-month totals and growth
rates ("31.35 bn CNY in 2024, +19.1% on 2023"). This module turns growth rates
into levels and spreads low-frequency totals over months with the
Denton-Cholette proportional method, so monthly values sum *exactly* to every
published total while following the month-to-month shape of an indicator.

statsmodels' ``statsmodels.tsa.interp.dentonm`` minimises the same criterion but
only for a regular stride (every benchmark covers ``k`` consecutive
observations, all back to back). Published figures overlap and are irregular
(a year, its January, the next January, a half-year), so the constrained least
squares is solved here in closed form for any set of period constraints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.errors import DataError

_HALF_YEAR = re.compile(r"^(\d{4})-?H([12])$", re.IGNORECASE)


def period_months(label: str | pd.Period) -> pd.PeriodIndex:
    """The months a published period covers.

    Accepts a ``pd.Period`` of any frequency or a string: ``"2024"`` (year),
    ``"2024Q1"``, ``"2017H1"`` (half-year), ``"2023-01"`` (month) or a range
    ``"2022-02..2023-01"``.
    """
    if isinstance(label, pd.Period):
        return pd.period_range(label.start_time, label.end_time, freq="M")
    text = str(label).strip()
    if ".." in text:
        first, last = (pd.Period(part.strip(), freq="M") for part in text.split("..", 1))
        if last < first:
            raise DataError(f"period range {text!r} ends before it starts")
        return pd.period_range(first, last, freq="M")
    half = _HALF_YEAR.match(text)
    if half:
        year, part = int(half.group(1)), int(half.group(2))
        return pd.period_range(f"{year}-{6 * part - 5:02d}", periods=6, freq="M")
    if re.fullmatch(r"\d{4}", text):
        return pd.period_range(f"{text}-01", periods=12, freq="M")
    try:
        return period_months(pd.Period(text))
    except ValueError as error:
        raise DataError(f"cannot read {text!r} as a period (year, 2024Q1, 2017H1, 2023-01)") from error


def level_from_growth(level: float, growth_pct: float) -> float:
    """The base level implied by ``level`` and its growth in percent on the base.

    "760,000 in 2024, nearly 2.5x 2023" is ``level_from_growth(760_000, 150)``.
    """
    factor = 1.0 + growth_pct / 100.0
    if factor <= 0:
        raise DataError(f"growth of {growth_pct}% leaves no positive base level")
    return level / factor


@dataclass(frozen=True)
class GrowthStatement:
    """ "``period`` grew ``growth_pct`` percent on ``base``", e.g. ``("2024", "2023", 19.1)``."""

    period: str
    base: str
    growth_pct: float


def levels_from_growth(known: Mapping[str, float], statements: Sequence[GrowthStatement]) -> pd.Series:
    """Every level implied by the known levels and the growth statements.

    Statements are resolved in both directions (a known period gives its base,
    a known base gives the period) until nothing new follows; a statement that
    contradicts known levels raises :class:`DataError`. Returns levels indexed
    by period label in chronological order.
    """
    levels = {label: float(value) for label, value in known.items()}
    pending = list(statements)
    while pending:
        unresolved = []
        for statement in pending:
            if statement.period in levels and statement.base in levels:
                _check_consistent(statement, levels)
            elif statement.period in levels:
                levels[statement.base] = level_from_growth(levels[statement.period], statement.growth_pct)
            elif statement.base in levels:
                levels[statement.period] = levels[statement.base] * (1.0 + statement.growth_pct / 100.0)
            else:
                unresolved.append(statement)
        if len(unresolved) == len(pending):
            raise DataError(f"no known level to anchor {unresolved[0]}")
        pending = unresolved
    labels = sorted(levels, key=lambda label: (period_months(label)[0], len(period_months(label))))
    return pd.Series([levels[label] for label in labels], index=labels, name="level")


def _check_consistent(statement: GrowthStatement, levels: Mapping[str, float]) -> None:
    implied = 100.0 * (levels[statement.period] / levels[statement.base] - 1.0)
    if not np.isclose(implied, statement.growth_pct, rtol=1e-9, atol=1e-9):
        raise DataError(
            f"{statement.period} on {statement.base}: known levels imply {implied:.3f}%, "
            f"statement says {statement.growth_pct}%"
        )


def constraint_matrix(months: pd.PeriodIndex, totals: pd.Series) -> np.ndarray:
    """One row per published total, with 1 for each month of ``months`` it covers."""
    matrix = np.zeros((len(totals), len(months)))
    for row, label in enumerate(totals.index):
        covered = period_months(label)
        positions = months.get_indexer(covered)
        if (positions < 0).any():
            raise DataError(
                f"total for {label!s} covers months outside the indicator ({months[0]}..{months[-1]})"
            )
        matrix[row, positions] = 1.0
    return matrix


def denton_proportional(indicator: pd.Series, totals: pd.Series) -> pd.Series:
    """Monthly values that sum exactly to ``totals`` and keep the indicator's shape.

    Denton-Cholette proportional: minimises ``sum((x_t/i_t - x_{t-1}/i_{t-1})**2)``
    subject to ``C x = totals`` (one row of ``C`` per published period), so the
    benchmark-to-indicator ratio changes as smoothly as the totals allow and is
    held flat outside the constrained months.

    Parameters
    ----------
    indicator : Series indexed by consecutive monthly periods, strictly positive.
    totals : Series indexed by period labels (see :func:`period_months`); the
        constraints must be linearly independent (no duplicated period).
    """
    months = _consecutive_months(indicator)
    values = indicator.to_numpy(dtype="float64")
    if not np.isfinite(values).all() or (values <= 0).any():
        raise DataError("the indicator must be finite and strictly positive in every month", column="value")
    targets = totals.to_numpy(dtype="float64")
    if not np.isfinite(targets).all():
        raise DataError("totals must be finite", column="value")
    weighted = constraint_matrix(months, totals) * values  # C @ diag(indicator)
    n, k = len(values), len(targets)
    differences = np.diff(np.eye(n), axis=0)
    system = np.zeros((n + k, n + k))
    system[:n, :n] = differences.T @ differences
    system[:n, n:] = weighted.T
    system[n:, :n] = weighted
    try:
        ratio = np.linalg.solve(system, np.r_[np.zeros(n), targets])[:n]
    except np.linalg.LinAlgError as error:
        raise DataError("the totals overlap in a way that over-determines the months") from error
    return pd.Series(ratio * values, index=months, name=indicator.name)


def benchmark(series: pd.Series, totals: pd.Series) -> pd.Series:
    """A monthly series adjusted to published totals, keeping its own month-to-month movement."""
    return denton_proportional(series, totals)


def disaggregate(totals: pd.Series, indicator: pd.Series | None = None) -> pd.Series:
    """Monthly values for low-frequency ``totals``, shaped like ``indicator``.

    Without an indicator the months follow a flat line within and smooth
    transitions between periods (Denton on a constant indicator).
    """
    if indicator is None:
        covered = [period_months(label) for label in totals.index]
        months = pd.period_range(min(c[0] for c in covered), max(c[-1] for c in covered), freq="M")
        indicator = pd.Series(1.0, index=months, name=totals.name)
    return denton_proportional(indicator, totals)


def _consecutive_months(series: pd.Series) -> pd.PeriodIndex:
    try:
        months = pd.PeriodIndex(series.index, freq="M")
    except (TypeError, ValueError) as error:
        raise DataError(f"the indicator must be indexed by months: {error}", column="month") from error
    if len(months) == 0:
        raise DataError("the indicator is empty")
    expected = pd.period_range(months[0], periods=len(months), freq="M")
    if not months.equals(expected):
        raise DataError("the indicator must cover consecutive months without gaps", column="month")
    return months
