"""Live accuracy: forecasts that were in service, scored against the actuals that arrived since.

A forecast made at ``origin`` (the last observed month of the data it was fitted
on) for ``month`` is scored like a backtest row: ``step = month - origin``, and
the MASE/RMSSE scales come from :func:`~forecasting.core.scales.series_scales`
of the panel up to ``origin``. So a live table has the backtest table's columns
and goes straight into :func:`~forecasting.evaluation.metrics.leaderboard` and
:func:`~forecasting.evaluation.metrics.metrics_by_horizon`; live and backtest
MASE are on one scale.

Each live row also carries its per-row error terms (``mase`` = |error| /
scale, ``smape``, ``bias`` = error / scale, ``coverage_<l>`` = 1 if the actual
is inside the interval): the mean over a series' rows is that series' metric.

Drift (:func:`drift_report`) compares, over the last ``months`` scored
months, each series' live MASE with the backtest MASE its forecasts were
promoted on (the ``backtest_mase`` column), and the job's live interval
coverage with a band. A series drifts when its window MASE exceeds
``mase_factor`` x its backtest MASE *and* at least ``min_months`` of the
window's months do so on their own: a level shift keeps every month after it
bad, while a noisy series had the same noise in its backtest and exceeds the
factor, if ever, in an isolated month.

The job's coverage is judged on distinct (series, month) forecasts: the
forecasts of one month made at several origins share that month's actual, so
they are one observation, not several (each pair counts its share of covering
origins). Coverage outside the band is drift when it is *significant* (a
one-sided binomial test of the covered pairs against the band edge it lies
beyond gives p < ``coverage_alpha``: a few pairs outside the band is what
sampling does) and *persistent* (the window without its ``min_months - 1``
months furthest outside is still beyond that edge). The series of one job
share each month's shocks (a holiday that moved to another month, a strike,
a border closure), so a single month can miss on every series at once;
intervals that no longer fit miss month after month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betainc

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.intervals import interval_columns
from forecasting.core.scales import series_scales
from forecasting.evaluation.metrics import leaderboard, row_terms
from forecasting.panel import SeriesPanel

LIVE_KEY: tuple[str, ...] = ("origin", "series_id", "step")
"""A live row is unique on these: one forecast origin, series and months ahead."""
ERROR_TERMS: tuple[str, ...] = ("mase", "smape", "bias")
DRIFT_COLUMNS = ["series_id", "live_mase", "backtest_mase", "ratio", "months_over", "n_forecasts", "drifted"]


def error_columns(levels: Sequence[int]) -> list[str]:
    """The per-row error terms a live row carries, in table order."""
    return ["error", *ERROR_TERMS, *(f"coverage_{level}" for level in sorted(levels))]


def score_forecasts(
    forecasts: pd.DataFrame, panel: SeriesPanel, *, origin: pd.Period, levels: Sequence[int] = DEFAULT_LEVELS
) -> pd.DataFrame:
    """Rows of one forecast ``origin`` that now have an actual in ``panel``, with scales and error terms.

    ``forecasts`` holds ``series_id``, ``month`` (Period or ``YYYY-MM``),
    ``model``, ``forecast`` and the interval bounds; extra columns are kept.
    Rows whose month has no actual yet (or lies on or before ``origin``) are
    not returned, so a later call scores them once their actual arrives.
    """
    origin = pd.Period(origin, freq="M")
    table = forecasts.assign(
        series_id=forecasts["series_id"].astype(str),
        month=pd.PeriodIndex(forecasts["month"].astype(str), freq="M"),
    )
    table = table[table["month"] > origin]
    actuals = panel.records[["series_id", "month", "value"]].rename(columns={"value": "actual"})
    actuals = actuals.assign(series_id=actuals["series_id"].astype(str))
    scored = table.merge(actuals, on=["series_id", "month"], how="inner", validate="one_to_one")
    scored = scored.dropna(subset=["actual"])
    if scored.empty:
        return scored.assign(origin=origin, step=0, scale_mase=np.nan, scale_rmsse=np.nan)
    scored["origin"] = origin
    scored["step"] = (scored["month"] - origin).map(lambda offset: offset.n).astype("int64")
    history = panel.subset(sorted(set(scored["series_id"]))).until(origin)
    scored = scored.join(series_scales(history.wide()), on="series_id")
    terms = row_terms(scored, levels=())  # the point terms; coverage at each level below
    scored["error"] = scored["forecast"] - scored["actual"]
    for column in ERROR_TERMS:
        scored[column] = terms[column]
    for level in sorted(levels):  # each level of the job's request
        inside = scored["actual"].between(scored[f"lower_{level}"], scored[f"upper_{level}"])
        scored[f"coverage_{level}"] = inside.astype("float64")
    return scored.sort_values(["series_id", "step"], kind="stable").reset_index(drop=True)


def _missing_levels(
    frame: pd.DataFrame, levels: Sequence[int], read: Sequence[int] = DEFAULT_LEVELS
) -> dict[str, float]:
    """NaN bounds for the columns of the ``read`` levels that ``frame`` lacks (other than ``levels``')."""
    wanted = set(interval_columns(read)) - set(interval_columns(levels))
    return {column: np.nan for column in wanted if column not in frame.columns}


def revised_actuals(table: pd.DataFrame, panel: SeriesPanel, *, rtol: float = 1e-9) -> pd.DataFrame:
    """Scored (series, month) pairs whose actual in ``panel`` now differs from the value scored against.

    Returns ``series_id, month, scored, current, origins`` (one row per
    distinct scored value); months no longer in the panel are listed with a
    NaN ``current``.
    """
    columns = ["series_id", "month", "scored", "current", "origins"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    scored = table.groupby(["series_id", "month", "actual"], observed=True, sort=True)["origin"]
    pairs = scored.agg(lambda origins: ",".join(sorted({str(o) for o in origins}))).reset_index()
    current = panel.records[["series_id", "month", "value"]].assign(
        series_id=panel.records["series_id"].astype(str)
    )
    pairs = pairs.merge(current, on=["series_id", "month"], how="left")
    differs = ~np.isclose(pairs["actual"], pairs["value"], rtol=rtol, atol=0.0)
    changed = pairs[differs].rename(columns={"actual": "scored", "value": "current", "origin": "origins"})
    return changed[columns].reset_index(drop=True)


# --- drift --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriftRule:
    """When live accuracy counts as drift (``[monitoring]`` of the job config)."""

    months: int = 3
    mase_factor: float = 3.0
    min_months: int = 2
    """Persistence: months of the window in which a series' live MASE must itself exceed the factor,
    and the job's coverage must stay outside the band without the ``min_months - 1`` worst months."""
    coverage_level: int = 80
    coverage_band: tuple[float, float] = (0.6, 0.95)
    coverage_alpha: float = 0.05
    """Significance the coverage breach needs (binomial test over distinct series-month forecasts)."""
    min_forecasts: int = 3


@dataclass(frozen=True)
class DriftReport:
    """The drift verdict over the last ``rule.months`` scored months."""

    rule: DriftRule
    window: tuple[pd.Period, pd.Period]
    by_series: pd.DataFrame
    live_mase: float
    backtest_mase: float
    coverage: float
    """Mean over the window's distinct (series, month) pairs of the share of forecasts covering the actual."""
    months_scored: int
    """Distinct months in the window; the job-level rules wait for a full window (one month is noise)."""
    coverage_pairs: int = 0
    """Distinct (series, month) pairs behind ``coverage``: the binomial test's number of trials."""
    coverage_p_value: float = 1.0
    """One-sided binomial p-value of ``coverage`` against the band edge it lies beyond (1 inside the band)."""
    coverage_months_out: int = 0
    """Months of the window whose own coverage lies beyond that same band edge."""
    coverage_without_worst: float = float("nan")
    """Coverage of the window without its ``min_months - 1`` months furthest beyond that edge."""

    @property
    def series(self) -> list[str]:
        """Series whose live MASE exceeds ``mase_factor`` x their backtest MASE."""
        return self.by_series.loc[self.by_series["drifted"], "series_id"].tolist()

    @property
    def mase_drift(self) -> bool:
        """The job as a whole: mean live MASE over series above ``mase_factor`` x mean backtest MASE."""
        full = self.months_scored >= self.rule.months
        return bool(full and self.live_mase > self.rule.mase_factor * self.backtest_mase)

    @property
    def coverage_drift(self) -> bool:
        """Coverage beyond a band edge over a full window, significantly and without its worst months too."""
        rule = self.rule
        low, high = rule.coverage_band
        full = self.months_scored >= rule.months
        significant = self.coverage_p_value < rule.coverage_alpha
        rest = self.coverage_without_worst
        persistent = rest < low if self.coverage < low else rest > high
        return bool(full and significant and persistent)

    @property
    def drifted(self) -> bool:
        return bool(self.series) or self.mase_drift or self.coverage_drift

    def reasons(self) -> list[str]:
        """One human-readable line per finding (empty when nothing drifted)."""
        rule, (first, last) = self.rule, self.window
        reasons = []
        if self.mase_drift:
            reasons.append(
                f"live MASE {self.live_mase:.3f} > {rule.mase_factor:g} x backtest MASE "
                f"{self.backtest_mase:.3f} over {first}..{last}"
            )
        for row in self.by_series[self.by_series["drifted"]].itertuples():
            reasons.append(
                f"series {row.series_id}: live MASE {row.live_mase:.3f} > {rule.mase_factor:g} x "
                f"backtest MASE {row.backtest_mase:.3f} over {first}..{last}"
            )
        if self.coverage_drift:
            low, high = rule.coverage_band
            reasons.append(
                f"live {rule.coverage_level}% coverage {self.coverage:.3f} outside [{low:g}, {high:g}] "
                f"over {first}..{last}"
            )
        return reasons


def live_window(table: pd.DataFrame, months: int) -> pd.DataFrame:
    """Rows whose target month is among the last ``months`` months up to the latest scored one."""
    last = table["month"].max()
    return table[table["month"] > last - months]


def drift_report(table: pd.DataFrame, rule: DriftRule) -> DriftReport | None:
    """Apply ``rule`` to a live table with a ``backtest_mase`` column; ``None`` when nothing is scored."""
    if table.empty:
        return None
    window = live_window(table, rule.months)
    per_series = window.groupby("series_id", observed=True, sort=True).agg(
        live_mase=("mase", "mean"),
        backtest_mase=("backtest_mase", "mean"),
        coverage=(f"coverage_{rule.coverage_level}", "mean"),
        n_forecasts=("mase", "count"),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        per_series["ratio"] = per_series["live_mase"] / per_series["backtest_mase"]
    monthly = window.groupby(["series_id", "month"], observed=True)[["mase", "backtest_mase"]].mean()
    over = monthly["mase"] > rule.mase_factor * monthly["backtest_mase"]
    per_series["months_over"] = (
        over.groupby(level="series_id", observed=True).sum().reindex(per_series.index, fill_value=0)
    )
    per_series["drifted"] = (
        (per_series["ratio"] > rule.mase_factor)
        & (per_series["months_over"] >= rule.min_months)
        & (per_series["n_forecasts"] >= rule.min_forecasts)
    )
    by_series = per_series.reset_index()[DRIFT_COLUMNS]
    judged = per_series.dropna(subset=["live_mase", "backtest_mase"])
    pairs = window.groupby(["series_id", "month"], observed=True)[f"coverage_{rule.coverage_level}"].mean()
    return DriftReport(
        rule=rule,
        window=(window["month"].min(), window["month"].max()),
        by_series=by_series,
        live_mase=float(judged["live_mase"].mean()),
        backtest_mase=float(judged["backtest_mase"].mean()),
        months_scored=int(window["month"].nunique()),
        **coverage_test(pairs.dropna(), rule.coverage_band, rule.min_months - 1),
    )


def coverage_test(pairs: pd.Series, band: tuple[float, float], drop: int) -> dict[str, float | int]:
    """The coverage fields of a :class:`DriftReport` from ``pairs`` (share covered per series and month).

    ``coverage_p_value`` is the one-sided binomial tail, over ``len(pairs)``
    trials, of the covered pairs against the band edge the coverage lies
    beyond (1.0 inside the band); ``coverage_months_out`` counts the months
    beyond that edge on their own and ``coverage_without_worst`` is the
    coverage without the ``drop`` months furthest beyond it.
    """
    if pairs.empty:
        return {"coverage": float("nan"), "coverage_pairs": 0}
    low, high = band
    coverage, n, hits = float(pairs.mean()), len(pairs), float(pairs.sum())
    monthly = pairs.groupby(level="month", observed=True).mean()
    below = coverage < low
    if not below and coverage <= high:
        return {"coverage": coverage, "coverage_pairs": n, "coverage_without_worst": coverage}
    beyond = monthly < low if below else monthly > high
    worst = monthly.sort_values(ascending=below).index[:drop]
    rest = pairs[~pairs.index.get_level_values("month").isin(worst)]
    return {
        "coverage": coverage,
        "coverage_pairs": n,
        "coverage_p_value": binomial_tail(hits, n, low if below else high, below=below),
        "coverage_months_out": int(beyond.sum()),
        "coverage_without_worst": float(rest.mean()) if len(rest) else float("nan"),
    }


def binomial_tail(hits: float, n: int, p: float, *, below: bool) -> float:
    """``P(X <= hits)`` (``below``) or ``P(X >= hits)`` for ``X ~ Binomial(n, p)``.

    Written with the regularised incomplete beta function, which equals the
    binomial tail at whole ``hits`` and interpolates between them, so a pair
    covered by two of three origins counts as 2/3 of a hit.
    """
    if below:
        return 1.0 if hits >= n else float(betainc(n - hits, hits + 1.0, 1.0 - p))
    return 1.0 if hits <= 0 else float(betainc(hits, n - hits + 1.0, p))


def live_history(table: pd.DataFrame, levels: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
    """Per target month: live MASE, the promised backtest MASE, sMAPE, bias and coverage (index ``month``).

    Averaged per series first, then over series, as the backtest leaderboard is.
    """
    metrics = ["mase", *ERROR_TERMS[1:], *(f"coverage_{level}" for level in sorted(levels))]
    per_series = table.groupby(["month", "series_id"], observed=True)[[*metrics, "backtest_mase"]].mean()
    history = per_series.groupby("month", observed=True).mean()
    return history[["mase", "backtest_mase", *metrics[1:]]].sort_index()


def live_leaderboard(
    table: pd.DataFrame, by: Sequence[str] = ("model",), levels: Sequence[int] = DEFAULT_LEVELS
) -> pd.DataFrame:
    """The backtest leaderboard's metrics over live rows, per ``by`` group (``model``, ``step``, ...),
    intervals at the job's ``levels`` (a level the table lacks scores NaN)."""
    return leaderboard(table.assign(**_missing_levels(table, (), levels)), by=by, levels=levels)
