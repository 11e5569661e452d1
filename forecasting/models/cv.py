"""Rolling-origin cross-validation: one long table of forecasts against what happened.

The primitive lives in the models layer so that combinations (``ensemble``,
``auto``) can weigh or choose their members on it without importing the
evaluation layer, which scores the same table.

Each fold cuts the panel at a ``cutoff`` month with :meth:`SeriesPanel.until`,
fits a fresh ``clone`` of every model on what was known then, and forecasts
the next ``horizon`` months. Exogenous rows after the cutoff reach the model
only as ``X_future`` (calendar and intervention features are known ahead);
the MASE/RMSSE scales come from the fold's training window alone. So no
number in the table could have been computed with hindsight. A model fitted
on the panel in one piece (``fits_in_one_piece``: a global regressor) trains
on every series with history up to its cutoff, scored or not, as its
production fit at that cutoff would; a per-series model only on the series
the fold scores.

The table has one row per series x model x cutoff x step::

    series_id, model, cutoff, month, step, actual, forecast,
    lower_<l>, upper_<l> (each level), scale_mase, scale_rmsse

Nothing is dropped silently. ``results.attrs["backtest"]`` is a
:class:`BacktestLog`: ``.skipped`` lists, per fold, the series left out (too
short at the cutoff, or nothing to score after it) and the test months that
have no actual; ``.fallbacks`` collects every fitted model's ``fallbacks_``
with its cutoff (read by :func:`forecasting.evaluation.backtest.skipped` and ``fallbacks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from forecasting import progress
from forecasting.core.checks import check_levels
from forecasting.core.constants import ALIGNMENTS, DEFAULT_LEVELS, FALLBACK_COLUMNS
from forecasting.core.intervals import interval_columns
from forecasting.core.scales import series_scales
from forecasting.data.staleness import DEFAULT_MAX_STALE_MONTHS
from forecasting.errors import DataError, shorten
from forecasting.executors import run_nested
from forecasting.models.base import PanelForecaster, predict_fallbacks
from forecasting.panel import SeriesPanel

SKIPPED_COLUMNS = ["series_id", "cutoff", "reason"]
BACKTEST_FALLBACK_COLUMNS = [*FALLBACK_COLUMNS[:2], "cutoff", *FALLBACK_COLUMNS[2:]]
"""A fitted model's ``fallbacks_`` rows with the cutoff of the fold that fitted it."""
MIN_TRAIN = 2
"""Fewest training observations a series needs in a fold: a scale needs one difference."""


class TooLittleHistoryError(DataError):
    """No series had enough history for any fold: nothing could be scored (the message says why)."""


def result_columns(levels: Sequence[int]) -> list[str]:
    return [
        "series_id",
        "model",
        "cutoff",
        "month",
        "step",
        "actual",
        "forecast",
        *interval_columns(levels),
        "scale_mase",
        "scale_rmsse",
    ]


def default_step(horizon: int, folds: int) -> int:
    """``horizon // folds`` (at least 1): folds overlap, so K folds fit in little history."""
    return max(horizon // folds, 1)


def fold_offsets(horizon: int, folds: int, step: int | None = None) -> list[int]:
    """Months from the last month back to each fold's cutoff, oldest fold first."""
    step = default_step(horizon, folds) if step is None else step
    return [horizon + step * k for k in reversed(range(folds))]


def fold_cutoffs(
    last_month: pd.Period, *, horizon: int, folds: int, step: int | None = None
) -> list[pd.Period]:
    """The training cutoffs, oldest first; the last fold's horizon ends at ``last_month``."""
    return [last_month - offset for offset in fold_offsets(horizon, folds, step)]


def backtest(
    models: Sequence[PanelForecaster],
    panel: SeriesPanel,
    *,
    horizon: int,
    folds: int = 3,
    step: int | None = None,
    window: Literal["expanding", "sliding"] = "expanding",
    window_length: int | None = None,
    X: pd.DataFrame | None = None,
    levels: Sequence[int] = DEFAULT_LEVELS,
    n_jobs: int = 1,
    min_train: int = MIN_TRAIN,
    align: Literal["calendar", "series"] = "calendar",
    earliest_fit: PanelForecaster | None = None,
) -> pd.DataFrame:
    """Rolling-origin evaluation of ``models`` on ``panel``.

    Parameters
    ----------
    models : estimators to evaluate; each fold fits a ``clone``, the originals stay untouched.
    horizon : months forecast after each cutoff.
    folds : number of cutoffs. The last cutoff is ``horizon`` months before the
        panel's last month; earlier ones are ``step`` months apart
        (default ``max(horizon // folds, 1)``).
    window : "expanding" trains on all history up to the cutoff; "sliding" on
        the last ``window_length`` months only.
    X : exogenous features for training and future months (``month``,
        optional ``series_id``, numeric columns); sliced per fold.
    n_jobs : worker processes for the folds x models when no executor is in use
        (1: this process, -1: all cores); with one, the folds run here and the
        executor takes their per-series work (:func:`forecasting.executors.run_nested`).
    min_train : series with fewer training observations in a fold are not scored
        at that fold (and listed in ``attrs["backtest"].skipped``).
    align : "calendar" cuts every series at the same months; "series" cuts each
        series relative to its own last month (its cutoffs are in the table's
        ``cutoff`` column; ``attrs["backtest"].cutoffs`` lists the latest per
        fold), so a panel of series that end in different years (a competition
        set, discontinued crossings) is backtested on every series.
    earliest_fit : the one model of ``models`` already fitted at the earliest
        fold (every series cut where that fold cuts it; ``auto``'s form search,
        which the later folds refit): that fold forecasts from it, not from a
        refit that would repeat the same work. A per-series model only (a global
        one learns from which series it was given).

    Returns
    -------
    The long table described in the module docstring, with its
    :class:`BacktestLog` in ``attrs["backtest"]``.
    """
    horizon, folds, step = _check_plan(horizon, folds, step)
    levels = check_levels(levels)
    _check_models(models)
    _check_earliest_fit(earliest_fit, models)
    if window not in ("expanding", "sliding"):
        raise ValueError(f"The 'window' parameter must be 'expanding' or 'sliding'. Got {window!r} instead.")
    if window == "sliding" and (window_length is None or window_length < min_train):
        raise ValueError(
            f"The 'window_length' parameter must be an int >= {min_train} for a sliding window. "
            f"Got {window_length!r} instead."
        )
    if align not in ALIGNMENTS:
        raise ValueError(f"The 'align' parameter must be 'calendar' or 'series'. Got {align!r} instead.")
    ends = panel.spans()["last"]
    if align == "calendar":
        ends = pd.Series(ends.max(), index=ends.index)
    length = window_length if window == "sliding" else None
    unscored_too = any(model.fits_in_one_piece for model in models)
    plans = [
        _plan_fold(panel, ends - offset, horizon, length, min_train, unscored_too)
        for offset in fold_offsets(horizon, folds, step)
    ]
    cutoffs = [plan.cutoff for plan in plans]
    fitted = [earliest_fit] + [None] * (len(plans) - 1)
    tasks = [
        (plan, model, horizon, X, levels, fit)
        for plan, fit in zip(plans, fitted, strict=True)
        if plan.train is not None
        for model in models
    ]
    # progress: each fold x model counts every series of the panel, the ones it skips included
    cost = sum(model.fit_cost for model in models)
    progress.expect(len(panel) * len(models) * len(plans), cost / len(models))
    unscored = sum(plan.train is None for plan in plans)
    progress.skip(len(panel) * len(models) * unscored, cost / len(models))
    spread = all(model.fits_in_one_piece for model in models)
    outputs = run_nested(
        _run_fold,
        tasks,
        n_jobs=n_jobs,
        units=len(panel),
        unit_costs=[model.fit_cost for _, model, *_ in tasks],
        spread=spread,
    )
    columns = result_columns(levels)
    frames = [frame for frame, _ in outputs if not frame.empty]
    skipped = _concat([plan.skipped for plan in plans], SKIPPED_COLUMNS)
    if not frames:
        raise TooLittleHistoryError(_nothing_scored(panel, (horizon, folds, step, min_train), skipped))
    results = pd.concat(frames, ignore_index=True)[columns]
    results.attrs["backtest"] = BacktestLog(
        cutoffs=cutoffs,
        skipped=skipped,
        fallbacks=_concat([fallbacks for _, fallbacks in outputs], BACKTEST_FALLBACK_COLUMNS),
    )
    return results


def _nothing_scored(panel: SeriesPanel, plan: tuple[int, int, int, int], skipped: pd.DataFrame) -> str:
    """Why a backtest scored nothing: the history it needs, the history there is, a skip reason."""
    horizon, folds, step, min_train = plan
    first, last = panel.records["month"].min(), panel.records["month"].max()
    needed = horizon + step * (folds - 1) + min_train
    reason = f"; e.g. series {shorten(skipped['series_id'].iloc[0])}: {skipped['reason'].iloc[0]}"
    return (
        f"too little data to backtest: {len(panel)} series over {(last - first).n + 1} months "
        f"({first}..{last}); horizon {horizon} with {folds} fold(s) {step} month(s) apart needs "
        f"at least {needed} months{reason if not skipped.empty else ''}"
    )


@dataclass(eq=False)
class BacktestLog:
    """What a backtest did besides scoring: its cutoffs, skipped series, fallbacks.

    Compared by identity (``eq=False``) so pandas can carry it in ``attrs``
    through ``concat`` and selections without comparing frames.
    """

    cutoffs: list[pd.Period]
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))
    fallbacks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BACKTEST_FALLBACK_COLUMNS))


class _FoldPlan:
    """What one fold trains on and scores against, decided before any model runs.

    ``train`` holds the series the fold scores; ``context`` every series with
    history up to its cutoff, scored or not (None when no model needs it).
    """

    def __init__(
        self,
        cutoffs: pd.Series,
        train: SeriesPanel | None,
        actuals: pd.DataFrame,
        scales: pd.DataFrame,
        skipped: pd.DataFrame,
        context: SeriesPanel | None = None,
    ) -> None:
        self.cutoffs = cutoffs
        self.cutoff = cutoffs.max()
        self.train = train
        self.actuals = actuals
        self.scales = scales
        self.skipped = skipped
        self.context = context

    def training(self, model: PanelForecaster) -> SeriesPanel:
        """What ``model`` fits on at this fold.

        A model fitted on the panel in one piece (a global regressor) learns
        from every series, so it sees what the production fit at this cutoff
        would see: every series with history, scored or not. A per-series
        model needs only the series the fold scores.
        """
        return self.context if model.fits_in_one_piece and self.context is not None else self.train


def _check_plan(horizon: int, folds: int, step: int | None) -> tuple[int, int, int]:
    for name, value in (("horizon", horizon), ("folds", folds)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(
                f"The {name!r} parameter of backtest must be a positive int. Got {value!r} instead."
            )
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1):
        raise ValueError(f"The 'step' parameter of backtest must be a positive int. Got {step!r} instead.")
    return int(horizon), int(folds), default_step(horizon, folds) if step is None else int(step)


def _check_models(models: Sequence[PanelForecaster]) -> None:
    if not models:
        raise ValueError("The 'models' parameter of backtest must hold at least one model. Got none.")
    names = [model.model_name for model in models]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(
            f"The 'models' parameter of backtest must have distinct model names. Got {duplicated} twice; "
            "subclass or wrap one of them to give it its own name."
        )


def _check_earliest_fit(earliest_fit: PanelForecaster | None, models: Sequence[PanelForecaster]) -> None:
    if earliest_fit is None:
        return
    if len(models) != 1 or earliest_fit.model_name != models[0].model_name:
        raise ValueError(
            "The 'earliest_fit' parameter of backtest must be the one model backtested, fitted. "
            f"Got {earliest_fit.model_name!r} for {[model.model_name for model in models]}."
        )
    if earliest_fit.fits_in_one_piece:
        raise ValueError(
            "The 'earliest_fit' parameter of backtest must be a per-series model: a global one's "
            f"fit depends on the series it learnt from. Got {earliest_fit.model_name!r}."
        )


def _plan_fold(
    panel: SeriesPanel,
    cutoffs: pd.Series,
    horizon: int,
    window_length: int | None,
    min_train: int,
    unscored_too: bool = False,
) -> _FoldPlan:
    """The fold that cuts each series at its entry of ``cutoffs`` (series_id -> month);
    ``unscored_too``: also the training panel of every series with history (``_FoldPlan.context``)."""
    records = panel.records
    months = records["month"].array.asi8
    cut = records["series_id"].astype(str).map(cutoffs.map(lambda month: month.ordinal)).to_numpy("int64")
    in_train = months <= cut
    if window_length is not None:
        in_train &= months > cut - window_length
    in_test = (months > cut) & (months <= cut + horizon)
    grouped = records[in_train].groupby("series_id", observed=True)["month"]
    n_train, last_train = grouped.size(), grouped.max()
    n_train.index, last_train.index = n_train.index.astype(str), last_train.index.astype(str)
    tested = records[in_test]
    test_ids = set(tested["series_id"].astype(str))
    skipped = []
    kept = []
    for series_id in sorted(test_ids | set(n_train.index)):
        n_obs = int(n_train.get(series_id, 0))
        cutoff = cutoffs[series_id]
        if series_id not in test_ids:
            skipped.append((series_id, cutoff, f"no actual in {cutoff + 1}..{cutoff + horizon}"))
        elif n_obs < min_train:
            skipped.append((series_id, cutoff, f"{n_obs} training observation(s), needs {min_train}"))
        elif (cutoff - last_train[series_id]).n > DEFAULT_MAX_STALE_MONTHS:
            last = last_train[series_id]
            skipped.append((series_id, cutoff, f"stale at the cutoff: last observation {last}"))
        else:
            kept.append(series_id)
    train_records = records[in_train & records["series_id"].isin(kept)]
    train = panel.part(train_records) if kept else None
    context = train
    if train is not None and unscored_too and len(kept) < len(n_train):
        context = panel.part(records[in_train])
    actuals = tested[tested["series_id"].isin(kept)][["series_id", "month", "value"]].rename(
        columns={"value": "actual"}
    )
    actuals = actuals.assign(series_id=actuals["series_id"].astype(str))
    for series_id, count in actuals.groupby("series_id").size().items():
        if count < horizon:
            skipped.append(
                (
                    series_id,
                    cutoffs[series_id],
                    f"{horizon - count} test month(s) without an actual, not scored",
                )
            )
    scales = (
        series_scales(train.wide())
        if train is not None
        else pd.DataFrame(columns=["scale_mase", "scale_rmsse"])
    )
    skipped = pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
    return _FoldPlan(cutoffs, train, actuals, scales, skipped, context)


def _run_fold(
    plan: _FoldPlan,
    model: PanelForecaster,
    horizon: int,
    X: pd.DataFrame | None,
    levels: Sequence[int],
    fitted: PanelForecaster | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One model at one fold: fitted on the fold's training history (unless given ``fitted`` there)
    and scored against its actuals; with the fitted model's fallbacks."""
    cutoff = plan.cutoff
    train = plan.training(model)
    lasts = train.spans()["last"]
    scored_lasts = lasts[plan.train.series_ids]
    # A scored series whose last observation precedes its cutoff needs a longer forecast to reach the window.
    lag = int(max((plan.cutoffs[sid] - last).n for sid, last in scored_lasts.items()))
    X_train = X[pd.PeriodIndex(X["month"], freq="M") <= cutoff] if X is not None else None
    X_future = _future_exog(X, plan.cutoffs[lasts.index] + horizon, lasts, horizon + lag)
    if fitted is None:
        fitted = clone(model).fit(train, X_train)
    forecasts = fitted.predict(horizon + lag, X_future, levels)
    forecasts = forecasts.assign(series_id=forecasts["series_id"].astype(str))
    scored = plan.actuals.merge(forecasts, on=["series_id", "month"], how="inner", validate="one_to_one")
    scored["cutoff"] = scored["series_id"].map(plan.cutoffs).astype(pd.PeriodDtype("M"))
    scored["step"] = scored["month"].array.asi8 - scored["cutoff"].array.asi8
    scored = scored.join(plan.scales, on="series_id")
    reported = [getattr(fitted, "fallbacks_", None), predict_fallbacks(forecasts)]
    reported = [frame for frame in reported if frame is not None and not frame.empty]
    if reported:
        fallbacks = pd.concat(reported, ignore_index=True)
        series_ids = fallbacks["series_id"].astype(str)
        scored_ids = series_ids.isin(scored_lasts.index)  # not the series only trained on
        fallbacks = fallbacks.assign(cutoff=series_ids.map(plan.cutoffs).fillna(cutoff))
        fallbacks = fallbacks.loc[scored_ids, BACKTEST_FALLBACK_COLUMNS]
    else:
        fallbacks = pd.DataFrame(columns=BACKTEST_FALLBACK_COLUMNS)
    return scored.sort_values(["series_id", "step"]).reset_index(drop=True), fallbacks


def _future_exog(
    X: pd.DataFrame | None, window_ends: pd.Series, lasts: pd.Series, periods: int
) -> pd.DataFrame | None:
    """The rows of ``X`` up to each series' window end, padded to what ``predict(periods)`` reads.

    With one horizon for the panel, a series that ends on its cutoff is
    forecast ``periods`` months from its last month, past its own window, so
    that the series that end earlier reach theirs. Those months are never
    scored and a forecast never reads a later month's features, so they
    repeat the last row before the window ends: the model still sees nothing
    after any series' window.
    """
    if X is None:
        return None
    months = pd.PeriodIndex(X["month"], freq="M")
    if "series_id" not in X.columns:
        end = window_ends.max()
        return _pad_after(X[months <= end], end, (lasts + periods).max())
    X = X.assign(series_id=X["series_id"].astype(str))
    parts = []
    for series_id, rows in X.groupby("series_id", sort=False):
        if series_id not in window_ends.index:
            continue
        end = window_ends[series_id]
        kept = rows[pd.PeriodIndex(rows["month"], freq="M") <= end]
        parts.append(_pad_after(kept, end, lasts[series_id] + periods))
    return pd.concat(parts, ignore_index=True) if parts else X.iloc[:0]


def _pad_after(rows: pd.DataFrame, end: pd.Period, until: pd.Period) -> pd.DataFrame:
    """``rows`` (months up to ``end``) with their latest row repeated for each month ``end + 1 .. until``."""
    if until <= end or rows.empty:
        return rows
    months = pd.PeriodIndex(rows["month"], freq="M")
    padding = pd.period_range(end + 1, until, freq="M")
    latest = rows.iloc[[int(np.argmax(months.asi8))] * len(padding)].copy()
    latest["month"] = padding if isinstance(rows["month"].dtype, pd.PeriodDtype) else padding.astype(str)
    return pd.concat([rows, latest], ignore_index=True)


def _concat(frames: Sequence[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
