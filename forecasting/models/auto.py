"""``auto``: the model a user gets without naming one.

It backtests the candidate models on the training data (rolling origin,
:mod:`forecasting.models.cv`) and forecasts each series with a combination of
them. With ``selection="median"`` (the default) the forecast and each interval
bound are the month-by-month median over the candidates, so whichever model
breaks down on a series or a period is outvoted; ``"weighted"`` weighs them per
series by inverse backtest MASE, ``"global"`` uses the equal-weight subset that
backtested best over the panel, ``"series"`` a subset per series (shrunk to the
global choice unless the series' own winner beats it by ``series_margin``).

The default candidates are two statistical models (ETS, ARIMA), two global
gradient-boosting models (mean and median loss) and two no-change forecasts
(seasonal naive, the seasonal profile), so the median sides with the majority
when one family fails. The anchor (``anchor="seasonal_profile"``) guards
against a combination that adds no value: in each forecast year (steps 1-12,
13-24, ...) where the anchor beat the combination's backtest MASE over the
panel, the anchor forecasts; later years follow the last backtested one, and
``anchor_`` holds the comparison. Which models win depends on the horizon, so
the backtest covers the horizon forecast (``make_model("auto", horizon=h)``).

Intervals are the members' bounds combined bound by bound, then scaled by
split conformal calibration on the same backtest: per level, the distance from
forecast to bound is multiplied by the factor that puts the backtest's errors
inside at the nominal rate, narrowing by at most a fifth (``MIN_FACTOR``) so
two calm folds cannot shrink them further. Measured effects of these choices:
``docs/benchmarks.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from numbers import Real
from typing import ClassVar, Literal, Self

import numpy as np
import pandas as pd

from forecasting.core.checks import check_horizon, check_levels
from forecasting.core.conformal import bound_ratio, scaling_factor
from forecasting.core.constants import DEFAULT_LEVELS, FALLBACK_COLUMNS, SEASON_LENGTH
from forecasting.core.intervals import clip_nonnegative, forecast_columns, interval_columns, nest_intervals
from forecasting.core.params import (
    BOOLEAN,
    N_JOBS,
    NONE,
    POSITIVE_INT,
    Constraint,
    InstanceOf,
    Interval,
    Options,
)
from forecasting.core.scales import scaled_errors
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.models.base import PanelForecaster, with_predict_fallbacks
from forecasting.models.cv import TooLittleHistoryError, backtest
from forecasting.models.ensemble import (
    MEMBER_ERRORS,
    Member,
    combine_forecasts,
    concat_rows,
    fit_members,
    inverse_mase_weights,
    member_fallbacks,
    members_use_exog,
    predict_members,
    resolve_members,
)
from forecasting.models.members import MEMBER_LIST
from forecasting.panel import SeriesPanel

SELECTIONS = ("median", "weighted", "global", "series")
DEFAULT_CANDIDATES = ("ets", "arima", "gbm", "gbm_median", "seasonal_naive", "seasonal_profile")
MIN_FACTOR = 0.8
"""Smallest conformal factor: the backtest may narrow the members' intervals by at most a fifth."""
MIN_MASE = 1e-3
"""Floor on a backtest MASE before inverting it, so a perfect backtest cannot take all the weight."""
MAX_FACTOR = 20.0
"""Cap on the conformal factor: zero-width member intervals would otherwise ask for infinity."""
SELECTION_COLUMNS = ["series_id", "choice", "backtest_mase", "source"]


class Auto(PanelForecaster):
    """Median (or backtest-weighted) combination of candidate models, with calibrated intervals.

    Parameters
    ----------
    candidates : registry names or estimators to combine.
    selection : "median" (of all candidates), "weighted" (per-series inverse
        backtest MASE weights), "global" (one equal-weight subset for the panel)
        or "series" (a subset per series).
    series_margin : with ``selection="series"``, a series leaves the global
        choice only if its own best combination has a backtest MASE at least
        this fraction lower.
    backtest_horizon, backtest_folds : the internal rolling-origin backtest;
        ``make_model("auto", horizon=h)`` sets the horizon to the one forecast.
    anchor : the candidate that each forecast year falls back to when the
        combination lost to it in the backtest over that year (module
        docstring); ``None``, or a name that is not a candidate, never falls back.
    calibrate : scale intervals to their backtest coverage (split conformal).
    n_jobs : passed to every candidate that takes it (parallelism inside the candidates).
    """

    name = "auto"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "candidates": [MEMBER_LIST],
        "selection": [Options(*SELECTIONS)],
        "series_margin": [Interval(Real, 0, 1)],
        "backtest_horizon": [POSITIVE_INT],
        "backtest_folds": [POSITIVE_INT],
        "anchor": [NONE, InstanceOf(str, "a model name")],
        "calibrate": [BOOLEAN],
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        candidates: Sequence[Member] = DEFAULT_CANDIDATES,
        selection: Literal["median", "weighted", "global", "series"] = "median",
        series_margin: float = 0.2,
        backtest_horizon: int = 12,
        backtest_folds: int = 2,
        anchor: str | None = "seasonal_profile",
        calibrate: bool = True,
        n_jobs: int = 1,
    ) -> None:
        self.candidates = candidates
        self.selection = selection
        self.series_margin = series_margin
        self.backtest_horizon = backtest_horizon
        self.backtest_folds = backtest_folds
        self.anchor = anchor
        self.calibrate = calibrate
        self.n_jobs = n_jobs

    @property
    def uses_exog(self) -> bool:  # type: ignore[override]
        """True when any candidate uses exogenous regressors (X is passed to all; others ignore it)."""
        return members_use_exog(self.candidates)

    # --- fit -------------------------------------------------------------------------------
    def fit(self, panel: SeriesPanel, X: pd.DataFrame | None = None) -> Self:
        self._validate_params()
        candidates = resolve_members(self.candidates, self.n_jobs)
        results, failures = self._backtest(candidates, panel, X)
        names = [m.model_name for m in candidates if m.model_name not in set(failures["model"])]
        if not names:
            raise ModelError(
                f"every candidate failed in the backtest; first reason: {failures['reason'].iloc[0]}"
            )
        self.backtest_scores_ = _combination_scores(results, names)
        if self.selection == "median":
            self.weights_ = _equal_weights(panel.series_ids, names)
            combined = _combined_backtest(results, DEFAULT_LEVELS)
            self.selection_ = _combination_table(self.weights_, combined, "median of the candidates")
        elif self.selection == "weighted":
            self.weights_ = _series_weights(self.backtest_scores_, panel.series_ids, names)
            combined = _combined_backtest(results, DEFAULT_LEVELS, self.weights_)
            self.selection_ = _combination_table(self.weights_, combined, "inverse backtest MASE weights")
        else:
            self.selection_ = self._select(panel.series_ids, names)
            self.weights_ = _choice_weights(self.selection_, names)
            combined = _combined_backtest(results, DEFAULT_LEVELS, self.weights_)
        self.anchor_ = _anchor_table(combined, results, self.anchor)
        combined = _anchored_backtest(combined, results, self.anchor, self.anchor_)
        used = set(self.weights_.loc[self.weights_["weight"] > 0, "model"])
        if self.anchor_["anchored"].any():
            used.add(self.anchor)
        chosen = [m for m in candidates if m.model_name in used]
        self.members_, fit_failures = fit_members(chosen, panel, X)
        self.calibration_ = (
            _calibration(combined, DEFAULT_LEVELS) if self.calibrate else _no_calibration(DEFAULT_LEVELS)
        )
        self.fallbacks_ = concat_rows(
            [failures, fit_failures, member_fallbacks(self.members_)], FALLBACK_COLUMNS
        )
        self.last_month_ = dict(panel.spans()["last"])
        self.nonnegative_ = (panel.records.groupby("series_id", observed=True)["value"].min() >= 0).to_dict()
        return self

    def _backtest(
        self, candidates: list[PanelForecaster], panel: SeriesPanel, X: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each candidate's backtest; a candidate that cannot be backtested is dropped and reported."""
        frames, failures = [], []
        for candidate in candidates:
            try:
                frames.append(
                    backtest(
                        [candidate],
                        panel,
                        horizon=self.backtest_horizon,
                        folds=self.backtest_folds,
                        X=X,
                    )
                )
            except TooLittleHistoryError:  # no candidate can be scored: selection says so per series
                continue
            except (ConfigError, DataError):
                raise
            except MEMBER_ERRORS as error:
                reason = f"candidate failed in the backtest: {type(error).__name__}: {error}"
                failures += [
                    (sid, candidate.model_name, "other candidates", reason) for sid in panel.series_ids
                ]
        results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return results, pd.DataFrame(failures, columns=FALLBACK_COLUMNS)

    def _select(self, series_ids: list[str], names: list[str]) -> pd.DataFrame:
        scores = self.backtest_scores_
        everything = "+".join(names)
        if scores.empty:
            return pd.DataFrame(
                [(sid, everything, np.nan, "no backtest: too little history") for sid in series_ids],
                columns=SELECTION_COLUMNS,
            )
        best_global = scores.mean(axis=0).idxmin()
        rows = []
        for series_id in series_ids:
            if series_id not in scores.index:
                rows.append((series_id, best_global, np.nan, "global choice (series not backtested)"))
                continue
            own = scores.loc[series_id]
            choice, source = best_global, "global choice"
            if self.selection == "series" and own.min() < (1 - self.series_margin) * own[best_global]:
                choice, source = own.idxmin(), "series backtest"
            rows.append((series_id, choice, float(own[choice]), source))
        return pd.DataFrame(rows, columns=SELECTION_COLUMNS)

    # --- predict ---------------------------------------------------------------------------
    def predict(
        self,
        horizon: int,
        X_future: pd.DataFrame | None = None,
        levels: Sequence[int] = DEFAULT_LEVELS,
    ) -> pd.DataFrame:
        self._check_fitted()
        horizon, levels = check_horizon(horizon), check_levels(levels)
        stacked, failures = predict_members(self.members_, horizon, X_future, levels)
        if self.selection == "median":
            combined = combine_forecasts(stacked, levels, "median")
        else:
            members = {m.model_name for m in self.members_}
            weights = self.weights_[self.weights_["model"].isin(members)]
            combined = combine_forecasts(stacked, levels, "weighted", weights)
        combined = self._anchored_forecasts(combined, stacked, levels)
        combined = _scale_intervals(combined, self.calibration_, levels)
        nonnegative = combined["series_id"].map(self.nonnegative_).to_numpy(dtype=bool)
        clip_nonnegative(combined, ["forecast", *interval_columns(levels)], nonnegative)
        combined["model"] = self.model_name
        return with_predict_fallbacks(combined[forecast_columns(levels)], failures)

    def _anchored_forecasts(
        self, combined: pd.DataFrame, stacked: pd.DataFrame, levels: Sequence[int]
    ) -> pd.DataFrame:
        """The anchor's forecasts in the forecast years where it beat the combination in the backtest.

        Years beyond the backtest horizon follow the last backtested year.
        """
        anchored = self.anchor_.loc[self.anchor_["anchored"], "year"].to_numpy()
        if len(anchored) == 0:
            return combined
        last = combined["series_id"].map({sid: month.ordinal for sid, month in self.last_month_.items()})
        steps = pd.PeriodIndex(combined["month"]).asi8 - last.to_numpy(dtype="int64")
        years = np.minimum(forecast_year(steps), self.anchor_["year"].max())
        anchor_rows = stacked[stacked["model"] == self.anchor]
        return _with_anchor(combined, anchor_rows, ["series_id", "month"], years, anchored, levels)


def forecast_year(steps: np.ndarray) -> np.ndarray:
    """0 for forecast steps 1-12, 1 for 13-24, ...: the blocks the anchor rule decides on."""
    return (np.asarray(steps) - 1) // SEASON_LENGTH


# --- the anchor: never worse than the anchor model in the backtest, year by year ---------------
def _anchor_table(combined: pd.DataFrame, results: pd.DataFrame, anchor: str | None) -> pd.DataFrame:
    """Per forecast year of the backtest: the combination's and the anchor's MASE over the panel.

    MASE here is the mean scaled absolute error over every backtest forecast
    of that year that both made; ``anchored`` is True where the anchor's is lower.
    """
    columns = ["year", "first_step", "last_step", "combination_mase", "anchor_mase", "anchored"]
    if anchor is None or combined.empty or anchor not in set(results["model"]):
        return pd.DataFrame(columns=columns).astype({"anchored": bool})
    keys = ["series_id", "cutoff", "month"]
    own = results.loc[results["model"] == anchor, [*keys, "step", "forecast"]]
    both = combined.merge(own, on=keys, suffixes=("", "_anchor"))
    errors = pd.DataFrame(
        {
            "year": forecast_year(both["step"].to_numpy()),
            "combination_mase": scaled_errors(both["forecast"], both["actual"], both["scale_mase"]),
            "anchor_mase": scaled_errors(both["forecast_anchor"], both["actual"], both["scale_mase"]),
        }
    ).dropna()
    table = errors.groupby("year")[["combination_mase", "anchor_mase"]].mean().reset_index()
    table.insert(1, "first_step", table["year"] * SEASON_LENGTH + 1)
    table.insert(2, "last_step", (table["year"] + 1) * SEASON_LENGTH)
    table["anchored"] = table["anchor_mase"] < table["combination_mase"]
    return table[columns]


def _anchored_backtest(
    combined: pd.DataFrame, results: pd.DataFrame, anchor: str | None, table: pd.DataFrame
) -> pd.DataFrame:
    """The combination's backtest with the anchor's forecasts in the years it takes over."""
    anchored = table.loc[table["anchored"], "year"].to_numpy()
    if len(anchored) == 0:
        return combined
    years = forecast_year(combined["step"].to_numpy())
    anchor_rows = results[results["model"] == anchor]
    keys = ["series_id", "cutoff", "month"]
    return _with_anchor(combined, anchor_rows, keys, years, anchored, DEFAULT_LEVELS)


def _with_anchor(
    frame: pd.DataFrame,
    anchor_rows: pd.DataFrame,
    keys: list[str],
    years: np.ndarray,
    anchored: np.ndarray,
    levels: Sequence[int],
) -> pd.DataFrame:
    """``frame`` with the anchor's forecast and bounds in the rows whose year is ``anchored``.

    A row the anchor has no forecast for (a series it could not fit) keeps the combination's.
    """
    values = ["forecast", *interval_columns(levels)]
    merged = frame.merge(anchor_rows[[*keys, *values]], on=keys, how="left", suffixes=("", "_anchor"))
    take = np.isin(years, anchored) & merged["forecast_anchor"].notna().to_numpy()
    for column in values:
        merged[column] = merged[column].where(~take, merged[f"{column}_anchor"])
    return merged[frame.columns]


# --- combinations on the backtest table ------------------------------------------------------
def _combination_scores(results: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per-series backtest MASE (rows) of every equal-weight subset of ``names`` (columns, "a+b")."""
    if results.empty:
        return pd.DataFrame()
    keys = ["series_id", "cutoff", "month"]
    forecasts = results.pivot_table(index=keys, columns="model", values="forecast", observed=True)
    forecasts = forecasts[[n for n in names if n in forecasts.columns]].dropna()
    rows = results.drop_duplicates(keys).set_index(keys).loc[forecasts.index]
    series = forecasts.index.get_level_values("series_id")
    scores = {}
    for size in range(1, forecasts.shape[1] + 1):
        for subset in itertools.combinations(forecasts.columns, size):
            mean = forecasts[list(subset)].mean(axis=1)
            error = pd.Series(scaled_errors(mean, rows["actual"], rows["scale_mase"]), index=series)
            scores["+".join(subset)] = error.groupby(level="series_id").mean()
    return pd.DataFrame(scores).dropna(how="all").fillna(np.inf)


def _choice_weights(selection: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Equal weights over each series' chosen members, zero for the other ``names``."""
    rows = []
    for series_id, choice in selection[["series_id", "choice"]].itertuples(index=False):
        members = choice.split("+")
        rows += [(series_id, name, 1.0 / len(members) if name in members else 0.0) for name in names]
    return pd.DataFrame(rows, columns=["series_id", "model", "weight"])


def _series_weights(scores: pd.DataFrame, series_ids: list[str], names: list[str]) -> pd.DataFrame:
    """Inverse backtest MASE weights per series; equal weights for series without a backtest."""
    backtested = [sid for sid in series_ids if sid in scores.index]
    frames = []
    if backtested:
        single = scores.loc[backtested, names].rename_axis(index="series_id", columns="model")
        frames.append(inverse_mase_weights(single.stack().rename("mase").to_frame(), floor=MIN_MASE))
    frames.append(_equal_weights([sid for sid in series_ids if sid not in scores.index], names))
    weights = concat_rows(frames, ["series_id", "model", "weight"])
    position = weights["series_id"].map({sid: i for i, sid in enumerate(series_ids)}).to_numpy()
    return weights.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)


def _equal_weights(series_ids: Sequence[str], names: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(sid, name, 1.0 / len(names)) for sid in series_ids for name in names],
        columns=["series_id", "model", "weight"],
    )


def _combination_table(weights: pd.DataFrame, combined: pd.DataFrame, how: str) -> pd.DataFrame:
    """The selection table of a combination of all candidates: members and its backtest MASE."""
    mase = pd.Series(dtype="float64")
    if not combined.empty:
        error = scaled_errors(combined["forecast"], combined["actual"], combined["scale_mase"])
        mase = pd.Series(error, index=combined.index).groupby(combined["series_id"]).mean()
    rows = []
    for series_id, group in weights.groupby("series_id", sort=False):
        members = "+".join(group.loc[group["weight"] > 0, "model"])
        backtested = series_id in mase.index and np.isfinite(mase[series_id])
        source = how if backtested else f"{how} (series not backtested)"
        rows.append((series_id, members, float(mase[series_id]) if backtested else np.nan, source))
    return pd.DataFrame(rows, columns=SELECTION_COLUMNS)


def _calibration(combined: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
    """Per level, the conformal factor (at least ``MIN_FACTOR``) on the distance from forecast to bound."""
    if combined.empty:
        return _no_calibration(levels)
    rows = []
    forecast, actual = combined["forecast"].to_numpy(), combined["actual"].to_numpy()
    for level in levels:
        lower, upper = combined[f"lower_{level}"].to_numpy(), combined[f"upper_{level}"].to_numpy()
        ratio = bound_ratio(forecast, actual, lower, upper)
        if len(ratio) < 20:
            rows.append((level, 1.0, len(ratio)))
            continue
        rows.append((level, max(scaling_factor(ratio, level, MAX_FACTOR), MIN_FACTOR), len(ratio)))
    return pd.DataFrame(rows, columns=["level", "factor", "n_backtest"])


def _combined_backtest(
    results: pd.DataFrame, levels: Sequence[int], weights: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The backtest forecasts of the combination (median, or weighted by every series x model
    ``weights``), with actuals and MASE scales."""
    if results.empty:
        return pd.DataFrame()
    keys = ["series_id", "cutoff", "month"]
    method = "median" if weights is None else "weighted"
    combined = combine_forecasts(results, levels, method, weights, keys=keys).dropna(subset=["forecast"])
    actual = results.drop_duplicates(keys)[[*keys, "step", "actual", "scale_mase"]]
    return combined.merge(actual, on=keys, how="left")


def _no_calibration(levels: Sequence[int]) -> pd.DataFrame:
    return pd.DataFrame({"level": list(levels), "factor": 1.0, "n_backtest": 0})


def _scale_intervals(
    combined: pd.DataFrame, calibration: pd.DataFrame, levels: Sequence[int]
) -> pd.DataFrame:
    """Stretch each bound's distance from the forecast by its level's factor; keep levels nested."""
    factors = dict(zip(calibration["level"], calibration["factor"], strict=True))
    out = combined.copy()
    forecast = out["forecast"]
    for level in levels:
        factor = _factor_for(level, factors)
        out[f"lower_{level}"] = forecast - factor * (forecast - out[f"lower_{level}"])
        out[f"upper_{level}"] = forecast + factor * (out[f"upper_{level}"] - forecast)
    nest_intervals(out, levels)
    return out


def _factor_for(level: int, factors: dict[int, float]) -> float:
    """The calibrated factor of ``level``, or of the nearest calibrated level for others."""
    if level in factors:
        return float(factors[level])
    nearest = min(factors, key=lambda known: abs(known - level))
    return float(factors[nearest])
