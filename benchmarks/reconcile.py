"""Reconciliation benchmark: BTS and the Swiss grouped panel with hierarchicalforecast, and a timing.

Part 1 (``--bts``): the full BTS panel from ``series build`` (roll-ups and
their summing structure), history to ``--cutoff`` (default 2022-12), the next
12 months held out. ``--swiss``: the Swiss exports file built as a grouped
panel through its source spec (``examples/swiss_exports.toml``: total, 8
regions, 12 goods groups, 96 region x goods group series; ``--cutoff
2017-12`` holds 2018 out). Base forecasts of every series still reported at the
cutoff come from one cheap model (``--model``, default ets); the error
covariance comes from the same model's in-sample one-step errors over the
last ``--residual-months`` months (``--residuals in_sample``, the default, as
the jobs do) or its backtest errors before the cutoff (``--residuals backtest``).
``--windows 24,60,all`` adds MinT's and WLS's MASE per level for each window
of in-sample errors. Every method reconciles the *same* base forecasts and residuals
(centred, as hierarchicalforecast; ``mint_shrink_uncentered`` as hts); per level
we report MASE (the leaderboard's 10 % trimmed mean over series of MASE scaled
by each series' training seasonal-naive MAE, :mod:`forecasting.evaluation.metrics`),
interval coverage (raw reconciled sample paths, and calibrated level by level
on the backtest as the job exports them), the coherence error and the
reconciliation time, next to hierarchicalforecast's ``BottomUp`` and
``MinTrace(method="mint_shrink")``. ``mint_guarded`` is MinT with the levels
kept at their base forecasts that the backtest before the cutoff chose
(:func:`~forecasting.evaluation.reconciled.guard_levels`); its candidates'
backtest scores are printed too. ``--executor local`` fits the base model
(and its backtest) on every core; the default is one process, as the timings
in the docs were taken.

Part 2 (``--simulated``): a 5-level simulated tree of about 53,500 series
(49,152 at the bottom); time and peak memory of each method, point forecasts
and sample-path intervals. Usage::

    nice python benchmarks/reconcile.py --bts --simulated --markdown
    nice python benchmarks/reconcile.py --swiss --cutoff 2017-12 --cache /tmp/cache
    nice python benchmarks/reconcile.py --bts --model auto --executor local --cache /tmp/cache
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.core.intervals import interval_columns  # noqa: E402
from forecasting.core.scales import series_scales  # noqa: E402
from forecasting.data.loaders import load, spec_of  # noqa: E402
from forecasting.data.summing import SummingStructure  # noqa: E402
from forecasting.evaluation.backtest import backtest  # noqa: E402
from forecasting.evaluation.metrics import leaderboard  # noqa: E402
from forecasting.evaluation.reconciled import (  # noqa: E402
    GUARDED,
    GUARDED_PROJECTION,
    LevelGuard,
    guard_levels,
    levels_top_down,
    reconciled_backtest,
    reconciled_rows,
)
from forecasting.executors import EXECUTORS, executor_scope  # noqa: E402
from forecasting.features.flows import build_series  # noqa: E402
from forecasting.models.registry import make_model  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402
from forecasting.reconciliation import (  # noqa: E402
    RESIDUAL_MONTHS,
    RESIDUAL_SOURCES,
    calibrate_intervals,
    interval_factors,
    recent_residuals,
    reconcile,
    reconcile_forecasts,
    residual_matrix,
    shrunk_covariance,
    structure_to_reconcile,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BTS_FILE = SHARED / "border_crossings" / "Border_Crossing_Entry_Data.csv.gz"
SWISS_FILE = SHARED / "trade" / "swiss_exports_monthly.csv.gz"
SWISS_SPEC = ROOT / "examples" / "swiss_exports.toml"
LEVELS = (80, 95)
OUR_METHODS = ("bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink")
CALIBRATED = (*OUR_METHODS, GUARDED)


# --- the problems ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Training panel, the full panel (actuals), the structure of the series active at the cutoff."""

    title: str
    key: str
    """Prefix of the cached base forecasts (empty for BTS, as before the Swiss panel)."""
    train: SeriesPanel
    panel: SeriesPanel
    structure: SummingStructure
    build_seconds: float

    @property
    def levels_bottom_up(self) -> list[str]:
        return list(reversed(levels_top_down(self.structure)))


def problem(panel: SeriesPanel, cutoff: str, title: str, key: str, build_seconds: float) -> Problem:
    """The panel's structure, less parents that are not sums and series no longer reported at ``cutoff``."""
    structure, mismatched = structure_to_reconcile(panel)
    if len(mismatched):
        print(f"left out (not sums): {len(mismatched)} parents", file=sys.stderr)
    train = panel.until(cutoff)
    last = train.spans()["last"]
    end = pd.Period(cutoff, freq="M")
    active = [s for s in structure.series if s in last.index and last[s] == end]
    structure = structure.drop_series(set(structure.bottom) - set(active)).restrict(active)
    return Problem(title, key, train.subset(structure.series), panel, structure, build_seconds)


def bts_problem(cutoff: str) -> Problem:
    started = time.perf_counter()
    panel = build_series(SeriesPanel.from_load(load(BTS_FILE, "bts", conflicts="drop")))
    return problem(panel, cutoff, "BTS border crossings", "", time.perf_counter() - started)


def swiss_problem(cutoff: str) -> Problem:
    """The Swiss exports built through their source spec, as ``series build --format`` does."""
    started = time.perf_counter()
    spec = spec_of(str(SWISS_SPEC))
    loaded = SeriesPanel.from_load(load(SWISS_FILE, str(SWISS_SPEC)))
    panel = build_series(loaded, summing=spec.summing if spec else ())
    title = "Swiss exports, grouped (region x goods group)"
    return problem(panel, cutoff, title, "swiss_", time.perf_counter() - started)


def base_forecasts(
    model_name: str, train: SeriesPanel, horizon: int, folds: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, float]:
    """The model's forecasts after the cutoff, its in-sample errors and its backtest before the cutoff."""
    started = time.perf_counter()
    model = make_model(model_name, horizon=horizon).fit(train)
    forecasts = model.predict(horizon, levels=LEVELS)
    in_sample = model.in_sample_residuals()
    step = max(horizon // folds, 1)
    results = backtest(
        [make_model(model_name, horizon=horizon)], train, horizon=horizon, folds=folds, step=step
    )
    return forecasts, results, in_sample, time.perf_counter() - started


def cached_base_forecasts(
    args: argparse.Namespace, train: SeriesPanel, key: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, float]:
    """:func:`base_forecasts`, kept in ``--cache`` (pickles outside the repository) between runs."""
    if args.cache is None:
        return base_forecasts(args.model, train, args.horizon, args.folds)
    name = f"base_{key}{args.model}_{args.cutoff}_{args.horizon}_{args.folds}_in_sample.pkl"
    path = Path(args.cache) / name
    if path.exists():
        return pd.read_pickle(path)
    result = base_forecasts(args.model, train, args.horizon, args.folds)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.to_pickle(result, path)
    return result


def covariance_rows(
    args: argparse.Namespace, results: pd.DataFrame, in_sample: pd.DataFrame | None, ids: list[str]
) -> tuple[pd.DataFrame, str]:
    """The residual rows behind the covariance (``--residuals``) and how to describe them."""
    if args.residuals == "in_sample" and in_sample is not None:
        rows = recent_residuals(in_sample.reindex(columns=ids), months=args.residual_months)
        return rows, f"in-sample one-step errors of the last {len(rows)} months"
    rows = residual_matrix(results)
    return rows, f"{len(rows)} backtest rows ({args.folds} folds)"


def guarded_choice(
    results: pd.DataFrame, structure: SummingStructure, in_sample: pd.DataFrame | None, months: int | None
) -> tuple[LevelGuard, float]:
    """The levels ``mint_guarded`` keeps, chosen on the backtest before the cutoff, and its time."""
    started = time.perf_counter()
    guard = guard_levels(results, structure, in_sample=in_sample, months=months)
    return guard, time.perf_counter() - started


def method_of(label: str, guard: LevelGuard) -> tuple[str, tuple[str, ...] | None]:
    """The projection and kept levels behind a row label (None: the guard left the base as it is)."""
    return (GUARDED_PROJECTION, guard.kept) if label == GUARDED else (label, ())


def ours(
    forecasts: pd.DataFrame, structure: SummingStructure, residuals: pd.DataFrame, guard: LevelGuard
) -> dict[str, tuple[pd.DataFrame, float]]:
    """Each of our methods (and non-negative MinT) on the same base forecasts, with its wall time.

    The intervals are the raw reconciled sample paths' (see :func:`calibrated`).
    """
    out = {}
    for label in CALIBRATED:
        method, kept = method_of(label, guard)
        started = time.perf_counter()
        table = forecasts.assign(reconciliation="none")
        if kept is not None:
            table = reconcile_forecasts(
                forecasts, structure, method, residuals=residuals, levels=LEVELS, keep_levels=kept
            )
        out[label] = (table, time.perf_counter() - started)
    for label, options in (
        ("mint_shrink_nonneg", {"nonnegative": True}),
        ("mint_shrink_uncentered", {"centered": False}),
    ):
        started = time.perf_counter()
        table = reconcile_forecasts(
            forecasts, structure, "mint_shrink", residuals=residuals, levels=LEVELS, **options
        )
        out[label] = (table, time.perf_counter() - started)
    return out


def calibrated(
    runs: dict[str, tuple[pd.DataFrame, float]],
    results: pd.DataFrame,
    structure: SummingStructure,
    in_sample: pd.DataFrame | None,
    months: int | None,
    guard: LevelGuard,
) -> dict[str, tuple[pd.DataFrame, float]]:
    """Our methods' tables with intervals calibrated level by level, as the job exports them.

    The factors come from the backtest: its second fold reconciled with the
    errors known at its cutoff (``in_sample`` up to it, or the first fold's)
    and scored against its actuals, as ``reconcile_job_forecasts`` does.
    """
    out = {}
    for label in CALIBRATED:
        method, kept = method_of(label, guard)
        table, seconds = runs[label]
        if kept is None:
            continue  # nothing reconciled: the base intervals
        started = time.perf_counter()
        both = reconciled_backtest(
            results, structure, method, levels=LEVELS, in_sample=in_sample, months=months, keep_levels=kept
        )
        factors = interval_factors(reconciled_rows(both, method), structure, LEVELS)
        table = calibrate_intervals(table, factors, structure)
        out[label] = (table, seconds + time.perf_counter() - started)
    return out


def point_seconds(
    forecasts: pd.DataFrame, structure: SummingStructure, residuals: pd.DataFrame
) -> dict[str, float]:
    """Point reconciliation only (matrix in, matrix out), the part hierarchicalforecast is timed on."""
    wide = forecasts.pivot(index="series_id", columns="month", values=["forecast", "lower_95", "upper_95"])
    wide = wide.loc[structure.series]
    base = wide["forecast"].to_numpy()
    spread = (wide["upper_95"].to_numpy()[:, 0] - wide["lower_95"].to_numpy()[:, 0]) / (2 * 1.96)
    out = {}
    for method in OUR_METHODS:
        started = time.perf_counter()
        covariance = shrunk_covariance(residuals.reindex(columns=structure.series).to_numpy(), spread**2)
        reconcile(structure, base, method, covariance=covariance)
        out[method] = time.perf_counter() - started
    return out


def hierarchicalforecast_runs(
    forecasts: pd.DataFrame, structure: SummingStructure, residuals: pd.DataFrame, model_name: str
) -> dict[str, tuple[pd.DataFrame, float]]:
    """hierarchicalforecast's BottomUp and MinTrace(mint_shrink) on the same forecasts and residuals."""
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import BottomUp, MinTrace

    ids = structure.series
    s_df = pd.DataFrame(structure.S.toarray(), columns=structure.bottom)
    s_df.insert(0, "unique_id", ids)
    levels = structure.level_of()
    tags = {level: np.array(levels.index[levels == level]) for level in levels_top_down(structure)}
    y_hat = forecasts.rename(columns={"series_id": "unique_id", "forecast": model_name})
    y_hat["ds"] = pd.PeriodIndex(y_hat["month"].astype(str), freq="M").to_timestamp()
    y_hat = y_hat[["unique_id", "ds", model_name]]
    rows = residuals.reindex(columns=ids)
    stamps = pd.date_range("1900-01-31", periods=len(rows), freq="ME")
    y_df = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, len(rows)),
            "ds": np.tile(stamps, len(ids)),
            "y": rows.to_numpy().T.ravel(),
            model_name: 0.0,
        }
    )
    out = {}
    for label, reconciler in (
        ("hf_bottom_up", BottomUp()),
        ("hf_mint_shrink", MinTrace(method="mint_shrink")),
    ):
        started = time.perf_counter()
        result = HierarchicalReconciliation([reconciler]).reconcile(
            Y_hat_df=y_hat, S_df=s_df, tags=tags, Y_df=y_df
        )
        seconds = time.perf_counter() - started
        column = [c for c in result.columns if c.startswith(f"{model_name}/")][0]
        table = result.rename(columns={"unique_id": "series_id", column: "forecast"})
        table["month"] = pd.PeriodIndex(table["ds"], freq="M").astype(str)
        out[label] = (table[["series_id", "month", "forecast"]], seconds)
    return out


def textbook_deviation(
    forecasts: pd.DataFrame, structure: SummingStructure, residuals: pd.DataFrame, model_name: str
) -> tuple[float, float]:
    """Largest relative deviation of ours and of hierarchicalforecast from the dense textbook MinT.

    Identical inputs for both: residuals with gaps filled by 0 and centred
    (hierarchicalforecast's convention); the textbook value is
    ``S (S'W^-1S)^-1 S'W^-1 y`` computed densely with numpy.
    """
    filled = residuals.reindex(columns=structure.series).fillna(0.0)
    base = forecasts.pivot(index="series_id", columns="month", values="forecast").loc[structure.series]
    covariance = shrunk_covariance(filled.to_numpy())
    ours_values = reconcile(structure, base.to_numpy(), "mint_shrink", covariance=covariance)
    peer = hierarchicalforecast_runs(forecasts, structure, filled, model_name)["hf_mint_shrink"][0]
    peer_values = peer.pivot(index="series_id", columns="month", values="forecast").loc[structure.series]
    summing = structure.S.toarray()
    w_inv_s = np.linalg.solve(covariance.dense(), summing)
    textbook = summing @ np.linalg.solve(summing.T @ w_inv_s, w_inv_s.T @ base.to_numpy())
    scale = np.maximum(np.abs(textbook), 1.0)
    return (
        float(np.max(np.abs(ours_values - textbook) / scale)),
        float(np.max(np.abs(peer_values.to_numpy() - textbook) / scale)),
    )


def scored(
    label: str, table: pd.DataFrame, panel: SeriesPanel, scales: pd.DataFrame, levels: pd.Series
) -> pd.DataFrame:
    """The table in backtest form (actuals, scales, level) for :func:`leaderboard`."""
    actuals = panel.records[["series_id", "month", "value"]].rename(columns={"value": "actual"})
    actuals = actuals.assign(series_id=actuals["series_id"].astype(str), month=actuals["month"].astype(str))
    frame = table.assign(month=table["month"].astype(str)).merge(actuals, on=["series_id", "month"])
    for column in interval_columns(LEVELS):
        if column not in frame:
            frame[column] = np.nan
    frame = frame.join(scales, on="series_id")
    frame["model"] = label
    frame["level"] = frame["series_id"].map(levels)
    return frame


def upper_level_misses(frame: pd.DataFrame, label: str) -> list[str]:
    """Markdown rows: the region and total series whose actuals fall outside ``label``'s 95 % interval.

    Few series hold these levels (33 on BTS), so a handful of series decide their coverage.
    """
    rows = frame[(frame["model"] == label) & frame["level"].isin(["region", "total"])]
    outside = rows[(rows["actual"] < rows["lower_95"]) | (rows["actual"] > rows["upper_95"])]
    lines = [
        f"Region and total series outside the 95 % interval of `{label}` (of "
        f"{rows['series_id'].nunique()} series, {len(rows)} series-months):",
        "",
        "| series | months outside |",
        "|---|---|",
    ]
    for series_id, months in outside.groupby("series_id")["month"]:
        lines.append(f"| {series_id} | {', '.join(sorted(months))} |")
    return lines


def coherence_error(table: pd.DataFrame, structure: SummingStructure) -> float:
    """Largest |parent - sum of children| / max(|parent|, 1) over parents and months."""
    wide = table.pivot(index="series_id", columns="month", values="forecast").loc[structure.series]
    values = wide.to_numpy()
    aggregates = len(structure.aggregates)
    summed = structure.A @ values[aggregates:]
    return float(np.max(np.abs(values[:aggregates] - summed) / np.maximum(np.abs(values[:aggregates]), 1.0)))


def roll_up_coverage(panel: SeriesPanel, first: str = "2019-01", last: str = "2023-12") -> str:
    """How many region and total series exist for >= 95 % of the months in ``first..last``."""
    ids = [s for s in panel.series_ids if s.startswith(("region/", "total/"))]
    share = panel.wide().loc[first:last, ids].notna().mean()
    estimated = panel.estimated_share()
    low = ", ".join(f"{s} {v:.0%}" for s, v in share[share < 0.95].sort_values().items())
    return (
        f"Roll-ups: {int((share >= 0.95).sum())} of {len(ids)} region and total series exist for >= 95 % "
        f"of the months {first}..{last}" + (f" (below: {low})" if low else "") + "; "
        f"{int((estimated > 0).sum().sum()):,} parent months are built with an estimated share "
        f"(largest {float(estimated.max().max()):.1%}); "
        f"{len(panel.mismatched_parents())} parents are not sums."
    )


def window_sweep(
    forecasts: pd.DataFrame,
    structure: SummingStructure,
    in_sample: pd.DataFrame,
    windows: list[int | None],
    score: Callable[[str, pd.DataFrame], pd.DataFrame],
    order: list[str],
) -> list[str]:
    """MASE per level of forecasts reconciled by MinT and WLS with each window of in-sample errors.

    (Few sample paths: only the point forecasts are scored; a series without
    errors in the window takes its variance from its base interval.)
    """
    points = forecasts
    frames = [score("base", points)]
    for months in windows:
        rows = recent_residuals(in_sample.reindex(columns=structure.series), months=months)
        for method in ("mint_shrink", "wls_var"):
            table = reconcile_forecasts(points, structure, method, residuals=rows, levels=LEVELS, samples=20)
            frames.append(score(f"{method} {len(rows)}", table))
    board = leaderboard(pd.concat(frames, ignore_index=True), by=("model", "level"))
    mase = board.pivot(index="model", columns="level", values="mase")[order]
    labels = ["base"] + [
        f"{method} {len(recent_residuals(in_sample, months=months))}"
        for method in ("mint_shrink", "wls_var")
        for months in windows
    ]
    lines = [
        "MASE per level by window of in-sample errors (months of errors after the method's name):",
        "",
        "| method, months | " + " | ".join(order) + " |",
        "|---|" + "---|" * len(order),
    ]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(f"{mase.loc[label, lv]:.3f}" for lv in order) + " |")
    return lines


def run_hierarchy(args: argparse.Namespace, problem: Problem) -> str:
    """Base, our methods, mint_guarded and hierarchicalforecast on one problem: the markdown tables."""
    structure, order = problem.structure, problem.levels_bottom_up
    print(f"{structure!r}; series build {problem.build_seconds:.1f}s", file=sys.stderr)
    forecasts, results, in_sample, base_seconds = cached_base_forecasts(args, problem.train, problem.key)
    results = results[results["series_id"].isin(structure.series)]
    residuals, described = covariance_rows(args, results, in_sample, structure.series)
    calibrating = None if args.residuals == "backtest" or in_sample is None else in_sample
    if calibrating is not None:
        calibrating = calibrating.reindex(columns=structure.series)
    print(f"base {args.model}: {base_seconds:.1f}s, residuals: {described}", file=sys.stderr)
    forecasts = forecasts[forecasts["series_id"].isin(structure.series)]
    guard, guard_seconds = guarded_choice(results, structure, calibrating, args.residual_months)
    runs = {"base": (forecasts, 0.0), **ours(forecasts, structure, residuals, guard)}
    calibrated_runs = calibrated(runs, results, structure, calibrating, args.residual_months, guard)
    runs.update(hierarchicalforecast_runs(forecasts, structure, residuals, args.model))
    scales = series_scales(problem.train.wide())
    levels = structure.level_of()

    def score(label: str, table: pd.DataFrame) -> pd.DataFrame:
        return scored(label, table, problem.panel, scales, levels)

    frames = [score(label, table) for label, (table, _) in runs.items()]
    frames += [score(f"{label} calibrated", table) for label, (table, _) in calibrated_runs.items()]
    board = leaderboard(pd.concat(frames, ignore_index=True), by=("model", "level"))
    mase = board.pivot(index="model", columns="level", values="mase")[order]
    coverage = board.pivot(index="model", columns="level", values="coverage_95")[order]
    coverage80 = board.pivot(index="model", columns="level", values="coverage_80")[order]
    counts = levels.value_counts()
    lines = [roll_up_coverage(problem.panel), ""] if problem.key == "" else []
    lines += [
        f"{problem.title}, history to {args.cutoff}, next {args.horizon} months held out; "
        f"base model `{args.model}`; {len(structure)} series in the structure "
        f"({', '.join(f'{counts.get(level, 0)} {level}' for level in order)}); "
        f"residuals: {described}; "
        f"series build {problem.build_seconds:.0f} s, "
        f"base forecasts and backtest {base_seconds:.0f} s; MASE: 10 % trimmed mean over series.",
        "",
        "| method | " + " | ".join(f"MASE {level}" for level in order) + " | coverage 80 / 95 "
        "(all levels) | calibrated | coherence error | seconds (calibrated) |",
        "|---|" + "---|" * (len(order) + 4),
    ]
    rows = ["base", *OUR_METHODS, GUARDED, "mint_shrink_nonneg", "mint_shrink_uncentered"]
    rows += ["hf_bottom_up", "hf_mint_shrink"]
    overall = board.groupby("model")[["coverage_80", "coverage_95"]].mean()

    def cover(label: str) -> str:
        if label not in overall.index or label.startswith("hf_"):
            return "n/a"
        return f"{overall.loc[label, 'coverage_80']:.3f} / {overall.loc[label, 'coverage_95']:.3f}"

    for label in rows:
        table, seconds = runs[label]
        cells = " | ".join(f"{mase.loc[label, level]:.3f}" for level in order)
        timing = f"{seconds:.2f}"
        if label in calibrated_runs:
            timing += f" ({calibrated_runs[label][1]:.2f})"
        coherence = (
            "n/a" if label == GUARDED and guard.kept is None else f"{coherence_error(table, structure):.1e}"
        )
        lines.append(
            f"| {label} | {cells} | {cover(label)} | {cover(f'{label} calibrated')} | {coherence} "
            f"| {timing} |"
        )
    lines += ["", *guard_lines(guard, guard_seconds)]
    lines += ["", "Coverage of the 80 % / 95 % intervals by level:", ""]
    lines += ["| method | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    calibrated_labels = [f"{label} calibrated" for label in calibrated_runs]
    for label in ["base", *CALIBRATED, "mint_shrink_nonneg", "mint_shrink_uncentered", *calibrated_labels]:
        cells = " | ".join(
            f"{coverage80.loc[label, level]:.3f} / {coverage.loc[label, level]:.3f}" for level in order
        )
        lines.append(f"| {label} | {cells} |")
    if problem.key == "":
        lines += ["", *upper_level_misses(pd.concat(frames, ignore_index=True), "mint_shrink calibrated")]
    ours_off, peer_off = textbook_deviation(forecasts, structure, residuals, args.model)
    lines += [
        "",
        "MinT (mint_shrink) against the dense textbook formula on identical inputs (residual gaps as 0, "
        f"centred): largest relative deviation, ours {ours_off:.1e}, hierarchicalforecast {peer_off:.1e}.",
    ]
    point = point_seconds(forecasts, structure, residuals)
    lines += [
        "",
        "Point reconciliation only (matrix in, matrix out, covariance included): "
        + ", ".join(f"{method} {seconds:.3f} s" for method, seconds in point.items())
        + f"; hierarchicalforecast BottomUp {runs['hf_bottom_up'][1]:.2f} s, "
        f"MinTrace(mint_shrink) {runs['hf_mint_shrink'][1]:.2f} s (whole `reconcile` call).",
    ]
    if args.windows and in_sample is not None:
        windows = [None if w == "all" else int(w) for w in args.windows.split(",")]
        lines += ["", *window_sweep(forecasts, structure, in_sample, windows, score, order)]
    return "\n".join(lines)


def guard_lines(guard: LevelGuard, seconds: float) -> list[str]:
    """Markdown: each candidate's MASE per level on the backtest before the cutoff, and the choice."""
    scores = guard.scores
    levels = [c for c in scores.columns if c not in ("accepted", "mean_ratio")]
    chosen = "all (nothing reconciled)" if guard.kept is None else ", ".join(guard.kept) or "none"
    lines = [
        f"`{GUARDED}`, chosen on the backtest before the cutoff ({seconds:.1f} s), keeps at base: {chosen}.",
        "",
        "| candidate | " + " | ".join(levels) + " | no level worse | mean ratio to base |",
        "|---|" + "---|" * (len(levels) + 2),
    ]
    for candidate, row in scores.iterrows():
        cells = " | ".join(f"{row[level]:.3f}" for level in levels)
        lines.append(
            f"| {candidate} | {cells} | {'yes' if row['accepted'] else 'no'} | {row['mean_ratio']:.3f} |"
        )
    return lines


# --- the simulated 50,000-series hierarchy --------------------------------------------------------------
def simulated_structure(branching: tuple[int, ...] = (16, 16, 16, 12)) -> SummingStructure:
    """total -> 16 -> 256 -> 4,096 -> 49,152 bottom series (5 levels, 53,521 series)."""
    names = ("total", "level1", "level2", "level3")
    parents, children, levels = [], [], []
    frontier = ["t"]
    for depth, width in enumerate(branching):
        following = []
        for parent in frontier:
            for k in range(width):
                child = f"{parent}.{k}"
                parents.append(parent)
                children.append(child)
                levels.append(names[depth])
                following.append(child)
        frontier = following
    return SummingStructure.from_edges(pd.DataFrame({"parent": parents, "child": children, "level": levels}))


def run_simulated(args: argparse.Namespace) -> str:
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    structure = simulated_structure()
    build = time.perf_counter() - started
    n, m = len(structure), len(structure.bottom)
    S = structure.S
    history = S @ rng.gamma(2.0, 10.0, (m, 36))
    residuals = (history * 0.1 * rng.standard_normal(history.shape)).T
    base = (S @ rng.gamma(2.0, 10.0, (m, args.horizon))) * (1 + 0.1 * rng.standard_normal((n, args.horizon)))
    lines = [
        f"Simulated 5-level tree: {n:,} series ({m:,} bottom, {len(structure.aggregates):,} parents), "
        f"{args.horizon} months, 36 residual rows; structure built in {build:.1f} s.",
        "",
        "| method | point forecasts (s) | coherence error |",
        "|---|---|---|",
    ]
    for method in ("bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink"):
        started = time.perf_counter()
        covariance = shrunk_covariance(residuals) if method in ("wls_var", "mint_shrink") else None
        result = reconcile(structure, base, method, covariance=covariance)
        seconds = time.perf_counter() - started
        error = np.max(
            np.abs(structure.A @ result[len(structure.aggregates) :] - result[: len(structure.aggregates)])
        )
        lines.append(f"| {method} | {seconds:.2f} | {error:.1e} |")
    months = pd.period_range("2024-01", periods=args.horizon, freq="M").astype(str)
    sigma = 0.1 * np.abs(base)
    table = pd.DataFrame(
        {
            "series_id": np.repeat(structure.series, args.horizon),
            "month": np.tile(months, n),
            "model": "sim",
            "forecast": base.ravel(),
            **{
                f"{side}_{level}": (base + sign * z * sigma).ravel()
                for level, z in ((80, 1.2816), (95, 1.96))
                for side, sign in (("lower", -1), ("upper", 1))
            },
        }
    )
    frame = pd.DataFrame(residuals, columns=structure.series)
    started, cpu = time.perf_counter(), time.process_time()
    reconcile_forecasts(table, structure, "mint_shrink", residuals=frame, samples=args.samples)
    full, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    lines += [
        "",
        f"mint_shrink on the long table with {args.samples}-path intervals, {n * args.horizon:,} rows: "
        f"{full:.1f} s ({cpu:.1f} s CPU). Peak memory of the whole process (ru_maxrss): {peak:.2f} GiB.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bts", action="store_true")
    parser.add_argument("--swiss", action="store_true", help="the Swiss exports as a grouped panel")
    parser.add_argument("--simulated", action="store_true")
    parser.add_argument("--cutoff", default="2022-12")
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--model", default="ets")
    parser.add_argument("--folds", type=int, default=2, help="backtest folds (calibration)")
    parser.add_argument("--residuals", choices=RESIDUAL_SOURCES, default=RESIDUAL_SOURCES[0])
    parser.add_argument("--residual-months", type=int, default=RESIDUAL_MONTHS, help="in-sample window")
    parser.add_argument("--windows", default=None, help="e.g. 24,60,all: MASE by in-sample window")
    parser.add_argument("--samples", type=int, default=500, help="sample paths for the intervals")
    parser.add_argument(
        "--cache", default=None, help="folder for the base forecasts between runs (not the repo)"
    )
    parser.add_argument(
        "--executor", choices=EXECUTORS, default="serial", help="where the base model fits (local: all cores)"
    )
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"machine: {platform.node()}, {machine}, python {platform.python_version()}")
    if args.simulated:
        print(run_simulated(args), flush=True)
    with executor_scope(args.executor):
        if args.bts:
            print(run_hierarchy(args, bts_problem(args.cutoff)), flush=True)
        if args.swiss:
            print(run_hierarchy(args, swiss_problem(args.cutoff)), flush=True)


if __name__ == "__main__":
    main()
