"""``auto``: the model a user gets without naming one.

Each series is forecast by a weighted mean of the members that suit it
(forecast and bounds alike, bound by bound), its weights set by how each
member did in a backtest of that series and of the panel. No decision is
taken for the whole panel; every decision is logged per series
(``decisions_``, ``plan_``, ``weights_``).

- **Members** (``DEFAULT_MEMBERS``): ETS (AICc over the restricted forms,
  statsforecast; it decides the season for itself), Theta with an optimised
  theta, two global gradient-boosting models (mean and median loss, their own
  intervals from ``MEMBER_CALIBRATION_WINDOWS`` refits) and two no-change
  forecasts (seasonal naive and the seasonal profile), each fitted on the last
  ``max_history`` months of a series: older history rarely helps a monthly
  forecast through the structural breaks of a decade and costs time. ARIMA,
  Theta and CES can be added as ``candidates``; by default they cost more time
  than they gave accuracy on the development sets.
- **Which members suit a series** (``plan_``), from its own history:
  *seasonality* by the 90% autocorrelation test of the M4 benchmarks (the
  lag-12 autocorrelation beyond 1.645 of its standard errors, on the series
  and on the series minus its 2x12 moving average, so that a strong trend
  does not hide the season; series shorter than three years are not
  seasonal): the non-seasonal baselines (naive, drift), when they are
  candidates, forecast only the series without seasonality. *Length*: the
  global gradient-boosting members need ``global_min_obs`` months of a series
  (below two seasons they would only stand in with a no-change forecast), the
  seasonal no-change members one season. *Panel*: the global members need
  ``global_min_series`` series to learn from (on the six trade series and the
  eleven of the bundled sample they were the worst members and most of the
  time). A member that does not suit a series
  is not fitted for it, and ``plan_`` says why.
- **Weights** (``weights_``): per series and member, the log of the member's
  backtest MASE relative to the series' other members, shrunk towards that
  member's mean over the panel in proportion ``shrinkage / (n + shrinkage)``,
  where ``n`` is the series' number of backtest errors; the weight is
  ``exp(-(score - best score) / temperature)``, normalised. A series with a
  short or no backtest leans on the panel's ranking, one with a long backtest
  on its own (a trending series whose trend members won its own backtest keeps
  its trend, however the rest of the panel backtests), and every suitable
  member keeps some weight: no ranking switches a series to one member.
  Within a fold the series' MASE scale divides every member's errors alike,
  so it cancels out of the relative log scores, and the panel's ranking is a
  mean of those log ratios: a series whose scale nearly vanished (every
  member's MASE in the hundreds of thousands) weighs in it like any other, so
  it needs no trimming. The
  first ``short_horizon`` (6) steps and the later ones are weighted apart,
  each on the backtest's errors at its own steps (``first_step`` in
  ``weights_``): members that track the level win the first months, seasonal
  and trend members the later ones. On the three development sets this
  two-part weighting beat one weighting for all steps (and finer parts, whose
  few errors per series did not carry over).
- **Backtest**: ``backtest_folds`` rolling origins over ``backtest_horizon``
  months, aligned to each series' own end (:func:`forecasting.models.cv.backtest`
  with ``align="series"``), each member on the series it suits. ETS and
  Theta search their form once per series, at the earliest fold, and refit
  it at the later ones (refitting a chosen ETS form costs a twentieth of the
  search); the GBMs skip their conformal refits unless the intervals are
  calibrated (the weights need point forecasts only).
- **Intervals**: the members' bounds combined with the same weights at
  95 %, which covered close to 95 % on every development set. Each narrower
  level sits at a share of that 95 % distance read from the series' own
  errors (``interval_shape_``): ``q_level / q_95`` of the absolute in-sample
  one-step errors of ``shape_member`` (ETS) about their median. The members'
  bounds assume Gaussian errors (80 % at 0.65 of the 95 % distance); series
  with breaks and outliers have many small errors and a few large ones, and
  their combined 80 % bounds covered well over 80 % of the held-out months
  of BTS and trade. With each series' own shape all three development sets
  came within the 77-83 % band, where no single share for every series did
  (``docs/benchmarks.md``). A series with fewer than ``MIN_SHAPE_ERRORS``
  errors keeps the combined bounds. With ``calibrate=True`` the distance
  from forecast to bound is also scaled per forecast step to the
  combination's backtest coverage (split conformal; a step's errors pooled
  with its neighbours' until ``MIN_SCORES`` are in, steps beyond the backtest
  taking the last step's factor). Off by default: on the development sets
  the backtest's coverage did not carry over to the held-out months (it
  widened M1's and narrowed BTS's and trade's intervals, all away from
  nominal). Against one spike: a member forecast far outside the series'
  recent range is left out of the combination when another member is
  plausible, and no bound lies further than a few recent scales from the
  forecast (:func:`~forecasting.core.intervals.drop_implausible`,
  :func:`~forecasting.core.intervals.cap_widths`; ordinary series never reach either).

Why these members and defaults, and what the default does step by step on
every development set: ``docs/benchmarks.md`` (issue 14).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import ClassVar, NamedTuple, Self

import numpy as np
import pandas as pd
from sklearn.base import clone

from forecasting.core.checks import check_horizon, check_levels
from forecasting.core.conformal import bound_ratio, scaling_factor
from forecasting.core.constants import DEFAULT_LEVELS, FALLBACK_COLUMNS, SEASON_LENGTH
from forecasting.core.intervals import (
    MIN_SHARE,
    bounds_at_multiple,
    cap_widths,
    clip_nonnegative,
    drop_implausible,
    forecast_columns,
    interval_columns,
    nest_intervals,
    recent_ranges,
)
from forecasting.core.params import (
    BOOLEAN,
    LEVEL_LIST,
    N_JOBS,
    NONE,
    POSITIVE_INT,
    Constraint,
    InstanceOf,
    Interval,
)
from forecasting.core.scales import scaled_errors
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.models.base import PanelForecaster, fill_gaps, series_arrays, with_predict_fallbacks
from forecasting.models.cv import TooLittleHistoryError, backtest, fold_offsets
from forecasting.models.ensemble import (
    MEMBER_ERRORS,
    Member,
    combine_forecasts,
    concat_rows,
    member_fallbacks,
    members_use_exog,
    predict_members,
    resolve_members,
)
from forecasting.models.members import MEMBER_LIST
from forecasting.panel import SeriesPanel

DEFAULT_MEMBERS = ("ets", "theta", "gbm", "gbm_median", "seasonal_naive", "seasonal_profile")
MEMBER_CALIBRATION_WINDOWS = 3
"""Conformal refits of a global member whose count is automatic (``calibration_windows=None``): on a
small panel the GBM would refit up to 12 times for its own intervals, which inside ``auto`` are one
input among six and are refitted again at every backtest fold."""
MIN_FACTOR = 0.5
"""Smallest conformal factor: the backtest may narrow the members' intervals by at most half."""
MAX_FACTOR = 20.0
"""Cap on the conformal factor: zero-width member intervals would otherwise ask for infinity."""
MIN_SCORES = 200
"""Fewest backtest errors a step's factor is taken from; steps are pooled with neighbours until reached."""
SHAPE_LEVEL = 95
"""The level whose combined bounds anchor the narrower levels' (:func:`shape_intervals`).

A model internal, not a requested level: the members always forecast it too (``predict``
adds it to the request's levels and returns only those), so a request for ``50, 90`` is
shaped on the same anchor as the default ``80, 95``; a requested level at or above it keeps
the members' combined bounds (then calibrated)."""
MIN_SHAPE_ERRORS = 2 * SEASON_LENGTH
"""Fewest in-sample errors a series' error shape is read from; a shorter series keeps the combined bounds."""
MIN_MASE = 1e-3
"""Floor on a backtest MASE before taking its log: a perfect backtest must not take every weight."""
SEASONAL_SEASONS = 3
"""Years of history the seasonality test needs (the M4 benchmarks' rule); shorter series are non-seasonal."""
DECISION_COLUMNS = ["series_id", "n_obs", "seasonal_acf", "seasonal", "members", "skipped"]
PLAN_COLUMNS = ["series_id", "model", "used", "reason"]
WEIGHT_COLUMNS = ["series_id", "model", "first_step", "backtest_mase", "n_backtest", "score", "weight"]


class Role(NamedTuple):
    """Which series a member may forecast: non-seasonal ones only, or all (None), and how long."""

    season: str | None = None
    min_obs: int = 1


ROLES = {
    "seasonal_naive": Role(min_obs=SEASON_LENGTH),
    "seasonal_profile": Role(min_obs=SEASON_LENGTH),
    "naive": Role("nonseasonal", 2),
    "drift": Role("nonseasonal", 3),
}
"""Members with a restricted role; any other member (ETS, ARIMA, Theta, CES, a custom model) forecasts all."""
GLOBAL_MEMBERS = ("gbm", "gbm_median")
"""Global members: they need ``global_min_obs`` months of a series to fit it."""


# --- per-series decisions from the history -------------------------------------------------------
def recent_history(panel: SeriesPanel, months: int | None) -> SeriesPanel:
    """Each series' last ``months`` months (the panel itself when None or when nothing is older)."""
    if months is None:
        return panel
    recent = _months_to_last(panel) < months
    return panel if recent.all() else SeriesPanel(panel.records[recent], panel.report)


def history_before(panel: SeriesPanel, months: int) -> SeriesPanel | None:
    """Each series without its last ``months`` months (None when no series has anything left)."""
    kept = panel.records[_months_to_last(panel) >= months]
    return SeriesPanel(kept, panel.report) if not kept.empty else None


def _months_to_last(panel: SeriesPanel) -> np.ndarray:
    """Per record, the months from it to its series' last month."""
    records = panel.records
    last = records.groupby("series_id", observed=True)["month"].transform("max").array.asi8
    return last - records["month"].array.asi8


def autocorrelations(y: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelations at lags 0..``lags``."""
    centred = np.asarray(y, dtype="float64") - np.mean(y)
    denominator = float(centred @ centred)
    if denominator == 0:
        return np.r_[1.0, np.zeros(lags)]
    return np.r_[1.0, [float(centred[k:] @ centred[:-k]) / denominator for k in range(1, lags + 1)]]


def seasonal_acf(y: np.ndarray, m: int = SEASON_LENGTH) -> float:
    """|r_m| over its 90% limit 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n); above 1 is seasonal (M4).

    The larger of the statistic on the series and on the series minus its
    centred 2x12 moving average: a strong trend keeps every autocorrelation
    near one and would hide the season from the test on the raw series.
    0 for series shorter than ``SEASONAL_SEASONS`` seasons.
    """
    y = np.asarray(y, dtype="float64")
    if len(y) < SEASONAL_SEASONS * m:
        return 0.0
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    detrended = y[m // 2 : len(y) - m // 2] - np.convolve(y, weights, mode="valid")
    return max(_acf_statistic(y, m), _acf_statistic(detrended, m))


def _acf_statistic(y: np.ndarray, m: int) -> float:
    r = autocorrelations(y, m)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / len(y))
    return float(abs(r[m]) / limit)


def series_decisions(panel: SeriesPanel) -> pd.DataFrame:
    """Per series: observations, the seasonality statistic and the decision."""
    rows = []
    for series_id, y, _ in series_arrays(panel):
        y = fill_gaps(y[np.argmax(np.isfinite(y)) :])[0]
        acf = seasonal_acf(y)
        rows.append((series_id, len(y), acf, acf > 1))
    return pd.DataFrame(rows, columns=DECISION_COLUMNS[:4])


def member_plan(
    decisions: pd.DataFrame,
    members: Sequence[PanelForecaster],
    global_min_obs: int,
    global_min_series: int = 1,
) -> pd.DataFrame:
    """Per series and member: whether it forecasts the series, or why not.

    A series no member's role suits (only non-seasonal baselines among the
    candidates and a seasonal series) keeps every member long enough for it.
    """
    rows = []
    few = len(decisions) < global_min_series
    roles = {m.model_name: _role(m.model_name, global_min_obs) for m in members}
    for row in decisions.itertuples(index=False):
        reasons = {name: _not_suited(role, row) for name, role in roles.items()}
        if few:  # a global model learns across series: a handful teach it little
            reasons |= {
                name: f"{len(decisions)} series in the panel < {global_min_series}"
                for name in roles
                if name in GLOBAL_MEMBERS
            }
        if all(reasons.values()):
            reasons = {name: _too_short(role, row) for name, role in roles.items()}
        for name, reason in reasons.items():
            rows.append((row.series_id, name, reason is None, reason or ""))
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _role(name: str, global_min_obs: int) -> Role:
    return ROLES.get(name, Role(min_obs=global_min_obs if name in GLOBAL_MEMBERS else 1))


def _too_short(role: Role, row) -> str | None:  # noqa: ANN001 - a decisions row
    return f"{row.n_obs} months < {role.min_obs}" if row.n_obs < role.min_obs else None


def _not_suited(role: Role, row) -> str | None:  # noqa: ANN001 - a decisions row
    if row.n_obs < role.min_obs:
        return _too_short(role, row)
    if role.season == "nonseasonal" and row.seasonal:
        return "seasonal"
    return None


def _with_members(decisions: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """``decisions`` plus the members each series uses and those skipped, with the reason."""
    used = plan[plan["used"]].groupby("series_id", sort=False)["model"].agg("+".join)
    left = plan[~plan["used"]]
    skipped = (left["model"] + ": " + left["reason"]).groupby(left["series_id"], sort=False).agg("; ".join)
    out = decisions.copy()
    out["members"] = out["series_id"].map(used).fillna("")
    out["skipped"] = out["series_id"].map(skipped).fillna("")
    return out[DECISION_COLUMNS]


# --- members fitted and backtested on the series they suit ---------------------------------------
def _capped_calibration(member: PanelForecaster) -> PanelForecaster:
    """``member`` with ``MEMBER_CALIBRATION_WINDOWS`` conformal refits if it sets their count itself."""
    if member.get_params().get("calibration_windows", False) is None:
        member.set_params(calibration_windows=MEMBER_CALIBRATION_WINDOWS)
    return member


def backtest_member(
    member: PanelForecaster,
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    intervals: bool,
) -> PanelForecaster:
    """``member`` as the backtest refits it at each fold.

    A member that selects a form per series (ETS's letters, Theta's variant)
    searches once, on the earliest fold's history, and every later fold refits
    that form (``series_params``): the folds are months apart, the search is
    most of the cost, and no fold sees a form chosen on its own test months.
    Without calibration the backtest's intervals are not used, so the GBMs
    skip their conformal refits.
    """
    member = clone(member)
    if not intervals and "calibration_windows" in member.get_params():
        member.set_params(calibration_windows=0)
    if folds > 1 and "series_params" in member.get_params():
        earliest = history_before(panel, max(fold_offsets(horizon, folds)))
        if earliest is not None:
            member.set_params(series_params=clone(member).fit(earliest, X).selected_params_)
    return member


def planned_groups(
    candidates: Sequence[PanelForecaster], plan: pd.DataFrame
) -> list[tuple[PanelForecaster, list[str]]]:
    """Each candidate with the series it forecasts (candidates that suit no series are left out)."""
    groups = []
    for candidate in candidates:
        rows = plan[(plan["model"] == candidate.model_name) & plan["used"]]
        if not rows.empty:
            groups.append((candidate, list(rows["series_id"])))
    return groups


def _failed(name: str, series_ids: Sequence[str], stage: str, error: Exception) -> list[tuple]:
    reason = f"member failed to {stage}: {type(error).__name__}: {error}"
    return [(sid, name, "other members", reason) for sid in series_ids]


def fit_planned(
    groups: Sequence[tuple[PanelForecaster, list[str]]], panel: SeriesPanel, X: pd.DataFrame | None
) -> tuple[list[PanelForecaster], pd.DataFrame]:
    """Each planned member fitted on its series; a member that fails is dropped for them and reported."""
    fitted, failures = [], []
    for member, series_ids in groups:
        try:
            fitted.append(clone(member).fit(panel.subset(series_ids), X))
        except (ConfigError, DataError):
            raise
        except MEMBER_ERRORS as error:  # the other members stand in for it
            failures += _failed(member.model_name, series_ids, "fit", error)
    if not fitted:
        raise ModelError(f"every member failed to fit; first reason: {failures[0][3]}")
    return fitted, pd.DataFrame(failures, columns=FALLBACK_COLUMNS)


def backtest_planned(
    groups: Sequence[tuple[PanelForecaster, list[str]]],
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    horizon: int,
    folds: int,
    *,
    intervals: bool = True,
    levels: Sequence[int] = DEFAULT_LEVELS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every planned member's backtest on its series (origins aligned to each series' end), with
    intervals at ``levels``; ``intervals=False``: only its point forecasts are used
    (:func:`backtest_member`)."""
    frames, failures = [], []
    for member, series_ids in groups:
        subset = panel.subset(series_ids)
        try:
            scored = backtest_member(member, subset, X, horizon, folds, intervals)
            frames.append(
                backtest([scored], subset, horizon=horizon, folds=folds, X=X, align="series", levels=levels)
            )
        except TooLittleHistoryError:  # none of its series is long enough: it weighs by the panel
            continue
        except (ConfigError, DataError):
            raise
        except MEMBER_ERRORS as error:
            failures += _failed(member.model_name, series_ids, "backtest", error)
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    results.attrs.clear()
    return results, pd.DataFrame(failures, columns=FALLBACK_COLUMNS)


# --- weights from the backtest, shrunk towards the panel ------------------------------------------
def member_weights(
    results: pd.DataFrame, plan: pd.DataFrame, shrinkage: float, temperature: float
) -> pd.DataFrame:
    """Per series and used member: backtest MASE, shrunk relative log score and weight (module docstring)."""
    used = plan.loc[plan["used"], ["series_id", "model"]].drop_duplicates()
    table = used.merge(_backtest_mase(results), on=["series_id", "model"], how="left")
    table["n_backtest"] = table["n_backtest"].fillna(0).astype("int64")
    log_mase = np.log(table["backtest_mase"].clip(lower=MIN_MASE))
    relative = log_mase - log_mase.groupby(table["series_id"]).transform("mean")
    panel_mean = relative.groupby(table["model"]).transform("mean").fillna(0.0)
    n = table["n_backtest"].where(relative.notna(), 0)
    table["score"] = (n * relative.fillna(0.0) + shrinkage * panel_mean) / (n + shrinkage)
    best = table.groupby("series_id")["score"].transform("min")
    table["weight"] = np.exp(-(table["score"] - best) / temperature)
    table["weight"] /= table.groupby("series_id")["weight"].transform("sum")
    return table[[c for c in WEIGHT_COLUMNS if c != "first_step"]]


def horizon_weights(
    results: pd.DataFrame,
    plan: pd.DataFrame,
    shrinkage: float,
    temperature: float,
    first_steps: Sequence[int],
) -> pd.DataFrame:
    """:func:`member_weights` per part of the horizon, each from the backtest errors at its steps.

    A part runs from its ``first_steps`` entry to the step before the next one
    (the last part to the end); the ``first_step`` column names it.
    """
    steps = results["step"] if not results.empty else pd.Series(dtype="int64")
    parts = []
    for first, after in zip(first_steps, [*first_steps[1:], np.inf], strict=True):
        at = results[(steps >= first) & (steps < after)]
        parts.append(member_weights(at, plan, shrinkage, temperature).assign(first_step=first))
    return pd.concat(parts, ignore_index=True)[WEIGHT_COLUMNS]


def combine_by_horizon(
    stacked: pd.DataFrame,
    steps: np.ndarray,
    weights: pd.DataFrame,
    levels: Sequence[int],
    keys: Sequence[str] = ("series_id", "month"),
) -> pd.DataFrame:
    """The weighted combination, each forecast step with the weights of its part of the horizon."""
    firsts = np.sort(weights["first_step"].unique())
    part = firsts[np.clip(np.searchsorted(firsts, steps, side="right") - 1, 0, None)]
    combined = [
        combine_forecasts(
            stacked[part == first],
            levels,
            "weighted",
            weights.loc[weights["first_step"] == first, ["series_id", "model", "weight"]],
            keys,
        )
        for first in firsts
        if (part == first).any()
    ]
    return pd.concat(combined, ignore_index=True).sort_values(list(keys), ignore_index=True)


def _backtest_mase(results: pd.DataFrame) -> pd.DataFrame:
    """Mean scaled absolute error and its count per series and member (finite errors only)."""
    if results.empty:
        return pd.DataFrame(
            {"series_id": pd.Series(dtype=str), "model": pd.Series(dtype=str)}
            | {"backtest_mase": pd.Series(dtype="float64"), "n_backtest": pd.Series(dtype="int64")}
        )
    errors = results[["series_id", "model"]].assign(
        error=scaled_errors(results["forecast"], results["actual"], results["scale_mase"])
    )
    errors = errors[np.isfinite(errors["error"])]
    grouped = errors.groupby(["series_id", "model"])["error"]
    return pd.DataFrame({"backtest_mase": grouped.mean(), "n_backtest": grouped.size()}).reset_index()


def combined_backtest(results: pd.DataFrame, weights: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """The weighted combination's backtest forecasts with actuals, steps and MASE scales."""
    if results.empty:
        return pd.DataFrame()
    keys = ["series_id", "cutoff", "month"]
    combined = combine_by_horizon(results, results["step"].to_numpy(), weights, levels, keys)
    actual = results.drop_duplicates(keys)[[*keys, "step", "actual", "scale_mase"]]
    return combined.dropna(subset=["forecast"]).merge(actual, on=keys, how="left")


# --- intervals shaped by each series' errors, calibrated step by step ---------------------------
def error_shapes(residuals: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Per series (rows) and level below ``SHAPE_LEVEL`` (columns): the share of the 95 % distance.

    The share is ``q_level / q_95`` of the series' absolute one-step errors
    about their median (a bias is not spread); series with fewer than
    ``MIN_SHAPE_ERRORS`` errors or no spread at some level (most errors equal) are left out.
    """
    narrower = [level for level in levels if level < SHAPE_LEVEL]
    rows = {}
    for series_id, errors in residuals.items():
        errors = errors.to_numpy(dtype="float64")
        errors = errors[np.isfinite(errors)]
        if len(errors) < MIN_SHAPE_ERRORS:
            continue
        spread = np.abs(errors - np.median(errors))
        anchor = np.quantile(spread, SHAPE_LEVEL / 100)
        shares = np.quantile(spread, np.array(narrower) / 100) / anchor if anchor > 0 else np.zeros(1)
        if (shares > MIN_SHARE).all():  # a zero share makes a zero-width interval: combined bounds instead
            rows[series_id] = shares
    return pd.DataFrame.from_dict(rows, orient="index", columns=narrower).rename_axis("series_id")


def shape_intervals(combined: pd.DataFrame, shapes: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Each level below 95 % at its series' share (:func:`error_shapes`) of the 95 % distance.

    Rows of series without a shape keep their combined bounds.
    """
    out = combined.copy()
    for level in shapes.columns:
        share = out["series_id"].map(shapes[level]).to_numpy(dtype="float64")
        shaped = np.isfinite(share)
        lower, upper = bounds_at_multiple(
            out["forecast"], out[f"lower_{SHAPE_LEVEL}"], out[f"upper_{SHAPE_LEVEL}"], share
        )
        out[f"lower_{level}"] = np.where(shaped, lower, out[f"lower_{level}"])
        out[f"upper_{level}"] = np.where(shaped, upper, out[f"upper_{level}"])
    nest_intervals(out, levels)
    return out


def step_calibration(combined: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Per level and forecast step, the conformal factor on the distance from forecast to bound.

    A step's errors are pooled with its neighbours' until ``MIN_SCORES`` are in;
    factors are clipped to [``MIN_FACTOR``, ``MAX_FACTOR``].
    """
    columns = ["level", "step", "factor", "n_backtest"]
    if combined.empty:
        return pd.DataFrame(columns=columns)
    steps = combined["step"].to_numpy()
    forecast, actual = combined["forecast"].to_numpy(), combined["actual"].to_numpy()
    rows = []
    for level in levels:
        lower, upper = combined[f"lower_{level}"].to_numpy(), combined[f"upper_{level}"].to_numpy()
        ratio = bound_ratio(forecast, actual, lower, upper)
        for step in range(1, int(steps.max()) + 1):
            width, pooled = 0, ratio[steps == step]
            while len(pooled) < MIN_SCORES and width < steps.max():
                width += 1
                pooled = ratio[np.abs(steps - step) <= width]
            factor = scaling_factor(pooled, level, MAX_FACTOR) if len(pooled) else 1.0
            rows.append((level, step, float(np.clip(factor, MIN_FACTOR, MAX_FACTOR)), len(pooled)))
    return pd.DataFrame(rows, columns=columns)


def scale_intervals(
    combined: pd.DataFrame, steps: np.ndarray, calibration: pd.DataFrame, levels: Sequence[int]
) -> pd.DataFrame:
    """Stretch each bound's distance from the forecast by its level's factor at that step.

    Steps beyond the backtest take its last step's factor; an uncalibrated
    level takes the nearest calibrated level's. Levels stay nested.
    """
    out = combined.copy()
    forecast = out["forecast"]
    for level in levels:
        factor = _factors(calibration, level, steps)
        out[f"lower_{level}"] = forecast - factor * (forecast - out[f"lower_{level}"])
        out[f"upper_{level}"] = forecast + factor * (out[f"upper_{level}"] - forecast)
    nest_intervals(out, levels)
    return out


def _factors(calibration: pd.DataFrame, level: int, steps: np.ndarray) -> np.ndarray:
    if calibration.empty:
        return np.ones(len(steps))
    known = calibration["level"].unique()
    nearest = known[np.argmin(np.abs(known - level))]
    table = calibration[calibration["level"] == nearest].set_index("step")["factor"]
    return table.reindex(np.clip(steps, table.index.min(), table.index.max())).to_numpy()


class Auto(PanelForecaster):
    """Per-series weighted combination of the members that suit each series, with calibrated intervals.

    Parameters
    ----------
    candidates : registry names or estimators; members in ``ROLES`` forecast
        only the series their role allows (module docstring), others every series.
    shrinkage : how many backtest errors of a series weigh as much as the
        panel's ranking of the members (larger: closer to one ranking for all).
    temperature : how sharply weights follow the scores (smaller: closer to
        the best member; larger: closer to an equal-weight mean).
    global_min_obs : months a series needs for the global members (GBMs).
    global_min_series : series a panel needs for the global members (GBMs) to be used at all.
    max_history : months of each series' most recent history the members see (None: all).
    backtest_horizon, backtest_folds : the internal backtest that weighs the
        members and calibrates the intervals; ``make_model("auto", horizon=h)``
        sets the horizon to h.
    short_horizon : the first ``short_horizon`` forecast steps and the later
        ones are weighted apart, each part on the backtest's errors at its
        steps (None, or a backtest no longer than it: one weighting for all).
    shape_member : the member whose in-sample one-step errors set, per series,
        each level below 95 % as a share of the 95 % bounds' distance (module
        docstring); None: every level as the members' bounds combine.
    calibrate : scale intervals to their backtest coverage (split conformal).
    levels : the forecast request's interval levels, at which ``fit`` calibrates
        (``calibrate``) and reads the error shapes; None: ``DEFAULT_LEVELS``. The
        job and ``make_model(..., levels=...)`` set them from the request; ``predict``
        at other levels takes each one's nearest calibrated level's factors.
    n_jobs : passed to every candidate that takes it (parallelism inside the candidates).
    """

    name = "auto"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "candidates": [MEMBER_LIST],
        "shrinkage": [Interval(Real, 0, None)],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "global_min_obs": [POSITIVE_INT],
        "global_min_series": [POSITIVE_INT],
        "max_history": [NONE, Interval(Integral, 2 * SEASON_LENGTH, None)],
        "backtest_horizon": [POSITIVE_INT],
        "backtest_folds": [POSITIVE_INT],
        "short_horizon": [NONE, POSITIVE_INT],
        "shape_member": [NONE, InstanceOf(str, "a member name")],
        "calibrate": [BOOLEAN],
        "levels": [NONE, LEVEL_LIST],
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        candidates: Sequence[Member] = DEFAULT_MEMBERS,
        shrinkage: float = 48.0,
        temperature: float = 0.15,
        global_min_obs: int = 2 * SEASON_LENGTH,
        global_min_series: int = 30,
        max_history: int | None = 120,
        backtest_horizon: int = 12,
        backtest_folds: int = 2,
        short_horizon: int | None = 6,
        shape_member: str | None = "ets",
        calibrate: bool = False,
        levels: Sequence[int] | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.candidates = candidates
        self.shrinkage = shrinkage
        self.temperature = temperature
        self.global_min_obs = global_min_obs
        self.global_min_series = global_min_series
        self.max_history = max_history
        self.backtest_horizon = backtest_horizon
        self.backtest_folds = backtest_folds
        self.short_horizon = short_horizon
        self.shape_member = shape_member
        self.calibrate = calibrate
        self.levels = levels
        self.n_jobs = n_jobs

    @property
    def uses_exog(self) -> bool:  # type: ignore[override]
        """True when any candidate uses exogenous regressors (X is passed to all; others ignore it)."""
        return members_use_exog(self.candidates)

    def fit(self, panel: SeriesPanel, X: pd.DataFrame | None = None) -> Self:
        self._validate_params()
        candidates = [_capped_calibration(m) for m in resolve_members(self.candidates, self.n_jobs)]
        self._check_shape_member(candidates)
        self.nonnegative_ = (panel.records.groupby("series_id", observed=True)["value"].min() >= 0).to_dict()
        panel = recent_history(panel, self.max_history)
        decisions = series_decisions(panel)
        self.plan_ = member_plan(decisions, candidates, self.global_min_obs, self.global_min_series)
        self.decisions_ = _with_members(decisions, self.plan_)
        groups = planned_groups(candidates, self.plan_)
        levels = self._levels()
        horizon, folds = self.backtest_horizon, self.backtest_folds
        results, backtest_failures = backtest_planned(
            groups, panel, X, horizon, folds, intervals=self.calibrate, levels=levels
        )
        self.weights_ = horizon_weights(
            results, self.plan_, self.shrinkage, self.temperature, self._first_steps()
        )
        combined = combined_backtest(results, self.weights_, levels) if self.calibrate else pd.DataFrame()
        self.calibration_ = step_calibration(combined, levels)
        self.members_, fit_failures = fit_planned(groups, panel, X)
        self.fallbacks_ = concat_rows(
            [backtest_failures, fit_failures, member_fallbacks(self.members_)], FALLBACK_COLUMNS
        )
        self.last_month_ = dict(panel.spans()["last"])
        self.recent_ranges_ = recent_ranges((sid, y) for sid, y, _ in series_arrays(panel))
        self.interval_shape_ = self._error_shapes(levels)
        return self

    def _levels(self) -> tuple[int, ...]:
        """The requested levels fit calibrates at (``levels``, else :data:`DEFAULT_LEVELS`)."""
        return DEFAULT_LEVELS if self.levels is None else check_levels(self.levels)

    def predict(
        self,
        horizon: int,
        X_future: pd.DataFrame | None = None,
        levels: Sequence[int] = DEFAULT_LEVELS,
    ) -> pd.DataFrame:
        self._check_fitted()
        horizon, levels = check_horizon(horizon), check_levels(levels)
        shapes = self._shapes(levels)
        member_levels = sorted({*levels, SHAPE_LEVEL}) if len(shapes.columns) else levels
        stacked, failures = predict_members(self.members_, horizon, X_future, member_levels)
        stacked = drop_implausible(stacked, self.recent_ranges_)  # a spike a member's level absorbed
        combined = combine_by_horizon(stacked, self._steps(stacked), self.weights_, member_levels)
        combined = shape_intervals(combined, shapes, member_levels)
        combined = scale_intervals(combined, self._steps(combined), self.calibration_, levels)
        combined = cap_widths(combined, self.recent_ranges_, levels)
        nonnegative = combined["series_id"].map(self.nonnegative_).to_numpy(dtype=bool)
        clip_nonnegative(combined, ["forecast", *interval_columns(levels)], nonnegative)
        combined["model"] = self.model_name
        return with_predict_fallbacks(combined[forecast_columns(levels)], failures)

    def in_sample_residuals(self, months: int | None = None) -> pd.DataFrame | None:
        """The combination's in-sample one-step errors, from the members that have them.

        ``y - sum_m w_m f_m = sum_m w_m (y - f_m)`` with the first steps'
        weights. Global members (the GBMs) have no in-sample one-step errors:
        in each month a series' weights are renormalised over the members with
        an error then. None when no member has any (reconciliation then uses
        backtest errors).
        """
        self._check_fitted()
        tables = {m.model_name: m.in_sample_residuals(months) for m in self.members_}
        tables = {name: table for name, table in tables.items() if table is not None and len(table)}
        if not tables:
            return None
        index = sorted(set().union(*(table.index for table in tables.values())))
        columns = [sid for sid in self.last_month_ if any(sid in table for table in tables.values())]
        first = self.weights_[self.weights_["first_step"] == self.weights_["first_step"].min()]
        weights = first.pivot(index="series_id", columns="model", values="weight").reindex(columns)
        total = np.zeros((len(index), len(columns)))
        weight_sum = np.zeros_like(total)
        for name, table in tables.items():
            errors = table.reindex(index=index, columns=columns).to_numpy(dtype="float64")
            weight = weights[name].fillna(0.0).to_numpy() if name in weights else np.zeros(len(columns))
            counted = np.isfinite(errors) & (weight > 0)
            total += np.where(counted, errors * weight, 0.0)
            weight_sum += np.where(counted, weight, 0.0)
        combined = np.divide(total, weight_sum, out=np.full_like(total, np.nan), where=weight_sum > 0)
        return pd.DataFrame(combined, index=pd.PeriodIndex(index, freq="M"), columns=columns)

    def _check_shape_member(self, candidates: Sequence[PanelForecaster]) -> None:
        names = [member.model_name for member in candidates]
        if self.shape_member is not None and self.shape_member not in names:
            raise ConfigError(
                f"The 'shape_member' parameter must name one of the candidates {names} or be None. "
                f"Got {self.shape_member!r} instead."
            )

    def _shapes(self, levels: Sequence[int]) -> pd.DataFrame:
        """The shares for ``levels``: those of ``interval_shape_`` when it has them, else read anew."""
        narrower = [level for level in levels if level < SHAPE_LEVEL]
        if set(narrower) <= set(self.interval_shape_.columns):
            return self.interval_shape_[narrower]
        return self._error_shapes(levels)

    def _error_shapes(self, levels: Sequence[int]) -> pd.DataFrame:
        """:func:`error_shapes` of ``shape_member``'s in-sample errors.

        Empty when there is no such member or it failed to fit (the fallbacks
        report it); an error when the member has no in-sample errors.
        """
        member = next((m for m in self.members_ if m.model_name == self.shape_member), None)
        if member is None:
            return pd.DataFrame(index=pd.Index([], name="series_id"))
        residuals = member.in_sample_residuals()
        if residuals is None:
            raise ConfigError(
                f"The 'shape_member' parameter must name a member with in-sample one-step errors; "
                f"{self.shape_member!r} has none (global and combined models do not)."
            )
        return error_shapes(residuals, levels)

    def _steps(self, forecasts: pd.DataFrame) -> np.ndarray:
        """Months from each row's series' last training month to the row's month."""
        last = forecasts["series_id"].map({sid: month.ordinal for sid, month in self.last_month_.items()})
        return pd.PeriodIndex(forecasts["month"]).asi8 - last.to_numpy(dtype="int64")

    def _first_steps(self) -> list[int]:
        """Where the parts of the horizon weighted apart begin: a part needs backtest errors."""
        split = self.short_horizon is not None and self.short_horizon < self.backtest_horizon
        return [1, self.short_horizon + 1] if split else [1]
