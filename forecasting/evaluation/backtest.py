"""Backtests for evaluation: the rolling-origin table of :mod:`forecasting.models.cv`, its log, a file runner.

The table (one row per series x model x cutoff x step, with actuals and the
fold's MASE/RMSSE scales) is built by :func:`forecasting.models.cv.backtest`,
which the combinations use too; :mod:`forecasting.evaluation.metrics` scores it.

What a summary over series leaves out is said, never dropped silently:
:func:`left_out` lists every series/fold the backtest skipped and every scored
one whose scale is undefined (all-zero training window), each with its reason;
:func:`reason_counts` counts them per kind of reason (what ``forecasting
backtest`` prints), :func:`series_details` has one row per series and model
next to them (``backtest --details``), and :func:`dominance_warnings` says when
a few series carry a model's mean MASE.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting import progress
from forecasting.core.checks import check_align
from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.request import ForecastRequest
from forecasting.data.loaders import load
from forecasting.data.staleness import DEFAULT_MAX_STALE_MONTHS, stale_reason, stale_summary
from forecasting.errors import ConfigError, DataError, shorten
from forecasting.evaluation.metrics import (
    MASE_AGGREGATE,
    dominant_series,
    leaderboard,
    metrics_by_series,
    score_columns,
    table_levels,
)
from forecasting.models.cv import (
    MIN_TRAIN,
    BacktestLog,
    TooLittleHistoryError,
    backtest,
    fold_cutoffs,
    fold_offsets,
    result_columns,
)
from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel, log_unusable_input

logger = logging.getLogger(__name__)

__all__ = [
    "BacktestLog",
    "TooLittleHistoryError",
    "backtest",
    "backtest_file",
    "dominance_warnings",
    "fallbacks",
    "fold_cutoffs",
    "left_out",
    "reason_counts",
    "result_columns",
    "series_details",
    "skipped",
]

LEFT_OUT_COLUMNS = ["series_id", "cutoff", "reason"]


def detail_columns(levels: Sequence[int]) -> list[str]:
    """The columns of :func:`series_details` for a backtest at ``levels``."""
    return ["series_id", "model", "folds", "n_forecasts", *score_columns(levels), "cutoff", "reason"]


DETAIL_COLUMNS = detail_columns(DEFAULT_LEVELS)
"""``backtest --details``: per series and model its metrics over the folds it was scored in
(``cutoff`` and ``reason`` empty), then per series/fold left out the cutoff and why (model and
metrics empty: a skip holds for every model)."""
ALL_ZERO_REASON = "all-zero training window: scale 0, MASE and the other scaled metrics undefined"
NO_SCALE_REASON = "no two months a season or a month apart in the training window: no scale"
REASON_KINDS = (
    (
        re.compile(r"^series ended more than \d+ month"),
        "stale: the whole series, ended before the panel's last month (--include-stale keeps it)",
    ),
    (re.compile(r"^no actual in "), "no actual in the test window (series not reported there)"),
    (re.compile(r"training observation"), "too little history at the cutoff"),
    (
        re.compile(r"test month\(s\) without an actual"),
        "some test months without an actual (the rest scored)",
    ),
)
"""Kinds of :func:`skipped` reasons, which name months and counts (``forecasting.models.cv``)."""


def backtest_log(results: pd.DataFrame) -> BacktestLog:
    """The :class:`BacktestLog` of a backtest table."""
    log = results.attrs.get("backtest")
    if not isinstance(log, BacktestLog):
        raise ValueError("The 'results' parameter must be a backtest table; attrs['backtest'] is absent.")
    return log


def skipped(results: pd.DataFrame) -> pd.DataFrame:
    """The series/fold pairs (and unscored test months) a backtest left out, with the reason."""
    return backtest_log(results).skipped


def fallbacks(results: pd.DataFrame) -> pd.DataFrame:
    """Every fallback the backtest's fitted models reported, with its cutoff."""
    return backtest_log(results).fallbacks


def _without_stale(panel: SeriesPanel, max_stale_months: int) -> tuple[SeriesPanel, pd.DataFrame]:
    """``panel`` less its stale series (logged), and those as rows of the backtest's skipped table."""
    stale = panel.stale(max_stale_months)
    if stale.empty:
        return panel, pd.DataFrame(columns=LEFT_OUT_COLUMNS)
    panel_last = panel.records["month"].max()
    summary = stale_summary(stale, panel_last, max_stale_months)
    logger.info("event=stale_series series=%d action=left_out summary=%s", len(stale), json.dumps(summary))
    rows = pd.DataFrame(
        {
            "series_id": stale["series_id"].astype(str),
            "cutoff": pd.Series(pd.NaT, index=stale.index, dtype="period[M]"),
            "reason": stale_reason(panel_last, max_stale_months),
        }
    )
    return panel.without(stale["series_id"]), rows


def check_folds(
    panel: SeriesPanel,
    *,
    horizon: int,
    folds: int,
    step: int | None = None,
    key: str = "--folds",
    align: str = "calendar",
) -> None:
    """Refuse folds whose cutoff no series has history before: they would be left out without a word.

    A :class:`ConfigError` naming ``key`` says how many folds the data allows (when
    not even one does, the backtest's own error says how much data it needs).
    """
    if _scorable_folds(panel, horizon, folds, step, align) == folds:
        return
    allowed = next(
        (k for k in range(folds - 1, 0, -1) if _scorable_folds(panel, horizon, k, step, align) == k), 0
    )
    if allowed == 0:
        return
    offset = max(fold_offsets(horizon, folds, step))
    earliest = (
        f"{offset} months before each series' last month"
        if align == "series"
        else f"a cutoff in {panel.records['month'].max() - offset}"
    )
    raise ConfigError(
        f"{folds} folds of {horizon} months reach back to {earliest}, before any series has "
        f"{MIN_TRAIN} months of history; this data allows at most {allowed} fold(s)",
        key=key,
    )


def _scorable_folds(panel: SeriesPanel, horizon: int, folds: int, step: int | None, align: str) -> int:
    """How many of the folds' cutoffs leave some series ``MIN_TRAIN`` observed months to train on
    (cut at the panel's last month less the fold's offset, or at each series' own with ``series``)."""
    records = panel.records
    months = records["month"].array.asi8
    ids = records["series_id"].to_numpy()
    last = pd.Series(months).groupby(ids).transform("max").to_numpy() if align == "series" else months.max()
    return sum(
        int(pd.Series(months <= last - offset).groupby(ids).sum().max() >= MIN_TRAIN)
        for offset in fold_offsets(horizon, folds, step)
    )


def backtest_file(
    path: str,
    *,
    horizon: int,
    folds: int = 3,
    models: Sequence[str] = ("seasonal_naive", "ets", "theta", "arima"),
    format: str = "auto",
    n_jobs: int = 1,
    selection: Mapping[str, Any] | None = None,
    max_stale_months: int | None = DEFAULT_MAX_STALE_MONTHS,
    levels: Sequence[int] = DEFAULT_LEVELS,
    align: str = "calendar",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load ``path`` with the package loaders and backtest registry ``models`` on it
    (on the part :meth:`SeriesPanel.select` keeps with ``selection``, when given).
    Series that ended more than ``max_stale_months`` before the panel's last month are
    left out, as a forecast leaves them out (logged; ``None`` keeps them).

    ``align`` (``--align``): each fold cuts every series at the same month
    (``calendar``) or each series relative to its own last month (``series``).
    Intervals are forecast and scored at ``levels`` (``--levels``). Returns ``(leaderboard, results)``;
    what ``forecasting backtest`` prints. Bad options are
    :class:`ConfigError` naming the command-line option, too little data a :class:`DataError`.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ConfigError(f"must be a positive integer. Got {folds}", key="--folds")
    request = ForecastRequest.parse(horizon, levels, horizon_key="--horizon", levels_key="--levels")
    horizon, levels = request.horizon, request.levels
    if n_jobs == 0:
        raise ConfigError("must not be 0 (1: serial, -1: all cores)", key="--n-jobs")
    check_align(align)
    unknown = [name for name in models if name not in available_models()]
    if unknown or not models:
        got = f"unknown model {shorten(unknown[0])}" if unknown else "no model named"
        raise ConfigError(f"{got}; known: {', '.join(available_models())}", key="--models")
    twice = sorted({name for name in models if models.count(name) > 1})
    if twice:  # one leaderboard row per model
        raise ConfigError(f"names {shorten(twice[0])} twice", key="--models")
    with progress.phase("load"):
        panel = SeriesPanel.from_load(load(path, format=format))
    log_unusable_input(panel)
    if selection:
        panel = panel.select(**selection)
    stale = pd.DataFrame(columns=LEFT_OUT_COLUMNS)
    if max_stale_months is not None:
        panel, stale = _without_stale(panel, max_stale_months)
    check_folds(panel, horizon=horizon, folds=folds, align=align)
    estimators = [make_model(name, horizon=horizon, levels=levels) for name in models]
    try:
        with progress.phase("backtest"):
            results = backtest(
                estimators, panel, horizon=horizon, folds=folds, levels=levels, n_jobs=n_jobs, align=align
            )
    except DataError as error:
        raise DataError(str(error), file=path) from None
    if not stale.empty:  # left out before any fold: listed with the fold's skips (--details, the summary)
        log = results.attrs["backtest"]
        log.skipped = pd.concat(
            [frame for frame in (log.skipped, stale) if not frame.empty], ignore_index=True
        )
    return leaderboard(results, levels=levels), results


def left_out(results: pd.DataFrame) -> pd.DataFrame:
    """Every series/fold the backtest skipped, and every scored one with no MASE scale, with the reason."""
    rows = results.drop_duplicates(["series_id", "cutoff"])
    scale = rows["scale_mase"].to_numpy(dtype="float64")
    undefined = rows[~(scale > 0)]
    reasons = np.where(
        undefined["scale_mase"].to_numpy(dtype="float64") == 0, ALL_ZERO_REASON, NO_SCALE_REASON
    )
    unscaled = pd.DataFrame(
        {"series_id": undefined["series_id"].astype(str), "cutoff": undefined["cutoff"], "reason": reasons}
    )
    skips = skipped(results)[LEFT_OUT_COLUMNS].assign(series_id=lambda f: f["series_id"].astype(str))
    frames = [frame for frame in (skips, unscaled) if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=LEFT_OUT_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["series_id", "cutoff"], kind="stable").reset_index(drop=True)


def reason_kind(reason: str) -> str:
    """The kind of a left-out reason, without the months and counts that make each one unique."""
    if reason in (ALL_ZERO_REASON, NO_SCALE_REASON):
        return reason
    for pattern, kind in REASON_KINDS:
        if pattern.search(reason):
            return kind
    return re.sub(r"\d+", "N", re.sub(r"\d{4}-\d{2}", "YYYY-MM", reason))


def reason_counts(left: pd.DataFrame) -> pd.Series:
    """Series/folds per kind of reason (:func:`left_out`), most first."""
    kinds = left["reason"].astype(str).map(reason_kind)
    return kinds.value_counts(sort=True).rename("series_folds").rename_axis("reason")


def series_details(results: pd.DataFrame) -> pd.DataFrame:
    """:func:`detail_columns`: the per-series metrics behind the leaderboard, then what was left out."""
    levels = table_levels(results)
    scored = metrics_by_series(results, levels).reset_index()
    folds = results.groupby(["model", "series_id"], observed=True)["cutoff"].nunique().rename("folds")
    scored = scored.join(folds, on=["model", "series_id"]).assign(cutoff="", reason="")
    left = left_out(results).assign(cutoff=lambda f: f["cutoff"].astype(str), model="")
    table = pd.concat([scored, left], ignore_index=True)
    table["folds"] = table["folds"].astype("Int64")
    table["n_forecasts"] = table["n_forecasts"].astype("Int64")
    table["series_id"] = table["series_id"].astype(str)
    order = table["cutoff"].ne("")  # per series: its scored rows first
    table = table.assign(_order=order).sort_values(["series_id", "_order", "model", "cutoff"], kind="stable")
    return table[detail_columns(levels)].reset_index(drop=True)


def dominance_warnings(results: pd.DataFrame) -> list[str]:
    """One line per model whose mean MASE a few series carry (:func:`dominant_series`), naming them."""
    lines = []
    for model, rows in dominant_series(results).groupby("model", sort=False):
        named = ", ".join(
            f"{sid} ({mase:,.0f})" for sid, mase in zip(rows["series_id"], rows["mase"], strict=True)
        )
        lines.append(
            f"{len(rows)} of {int(rows['n_series'].iloc[0]):,} series carry {rows['share'].sum():.0%} of "
            f"{model}'s MASE summed over series, so its mase_mean is theirs: {named}; "
            f"models are ranked by mase ({MASE_AGGREGATE})"
        )
    return lines
