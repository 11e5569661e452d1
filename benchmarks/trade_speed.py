"""Speed at trade-panel scale: the default ``forecasting forecast`` against statsforecast AutoETS, one run.

Issue 26 item 3: the default model (``auto``) at most 2.5x statsforecast
AutoETS (``season_length=12``, ``n_jobs=2``) on the same panel in the same
run, from 500 to 10,000 series, accuracy no worse. The panels:

- the Swiss exports panel (539 real series, history to 2017-12, 2018 held
  out; read as ``benchmarks/demand_classes.py --swiss`` reads it);
  ``--swiss-limit N`` takes a seeded sample of N of its series;
- a simulated trade panel of N series for each of ``--sizes``: 10 years of
  monthly history and 12 held-out months, each series' Syntetos-Boylan class
  (:mod:`forecasting.core.demand`) drawn in the shares of the Swiss panel's
  classes (on the last ``auto.max_history`` months of its training history, as
  ``auto`` sees it). Smooth and erratic series are level x trend x yearly
  seasonality x noise (erratic: noise with a squared coefficient of variation
  above the class threshold); intermittent and lumpy series are a Bernoulli
  occurrence (one non-zero month in 1.5 to 24) x sizes spread below or above
  that threshold. A series whose history lands in another class than its
  draw is drawn again (at most ``MAX_DRAWS`` times); each series has a scale
  drawn log-uniformly in ``SCALE_RANGE``, so one panel spans 1e-6 to 1e3.

Ours is the command line as a user runs it (``forecasting forecast --input
history.csv --horizon 12 --output fc.csv``: defaults, MLflow tracking to a
temporary sqlite store), timed as a child process (``run_cli``); AutoETS is
timed in this process (``run_statsforecast``). Both are scored on the 12
held-out months: MASE (10 % trimmed mean over series, and the mean) and the
coverage of the 80 % and 95 % intervals; the realised class counts and a
per-class table follow each panel.

``--profile`` then fits and predicts ``auto`` once more on the first panel, in
this process with the serial executor, and prints where its CPU seconds go per
member and phase: the form search (ETS's and Theta's forms, once before the
folds), the backtest folds, the final fit and the predict, and what ``auto``
does outside its members (plan, weights, intervals). Usage::

    nice -n 19 .venv/bin/python benchmarks/trade_speed.py --sizes 500,2000,10000 --profile \\
        --write docs/benchmarks.md
    nice -n 19 .venv/bin/python benchmarks/trade_speed.py --sizes 100 --swiss-limit 60 --profile
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy import (  # noqa: E402
    LEVELS,
    machine,
    markdown_table,
    run_cli,
    run_statsforecast,
    scored_runs,
    split_panel,
    write_section,
)
from benchmarks.demand_classes import class_table, series_classes, swiss_set  # noqa: E402
from forecasting.core.demand import DEMAND_CLASSES, classify  # noqa: E402
from forecasting.evaluation.metrics import leaderboard  # noqa: E402
from forecasting.executors import executor_scope  # noqa: E402
from forecasting.models import auto as auto_module  # noqa: E402
from forecasting.models import auto_members  # noqa: E402
from forecasting.models.base import PanelForecaster  # noqa: E402
from forecasting.models.registry import make_model  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

HORIZON = 12
HISTORY_MONTHS = 120
"""Simulated history: 10 years, as much as ``auto`` reads of a series (``max_history``)."""
FIRST_MONTH = pd.Period("2009-01", "M")
SWISS_CUTOFF = pd.Period("2017-12", "M")
SCALE_RANGE = (1e-6, 1e3)
"""Each simulated series' level (its mean size, or its level at the end of its history) is drawn
log-uniformly in this range."""
SMOOTH_NOISE = (0.03, 0.35)
"""Log-scale standard deviation of a smooth series' noise: CV^2 at most exp(0.35^2) - 1 = 0.13."""
ERRATIC_NOISE = (0.8, 1.4)
"""Of an erratic series' noise: CV^2 from exp(0.8^2) - 1 = 0.90, above ``CV2_THRESHOLD`` (0.49)."""
STEADY_SIZES = (0.1, 0.45)
"""Log-scale standard deviation of an intermittent series' sizes: CV^2 at most 0.22."""
SPREAD_SIZES = (0.9, 1.5)
"""Of a lumpy series' sizes: CV^2 from 1.25."""
OCCURRENCE = (1 / 24, 0.65)
"""Share of non-zero months of a sparse series, drawn log-uniformly: one month in 1.5 to 24."""
GROWTH = 0.1
"""A series' yearly growth rate is drawn in [-GROWTH, GROWTH]."""
SEASONAL_AMPLITUDE = 0.4
"""The yearly season multiplies the level by 1 +- at most this much."""
MAX_DRAWS = 50
PROFILE_PHASES = ("form search", "backtest folds", "final fit", "predict")


# --- the simulated trade panel ---------------------------------------------------------------------
def class_quotas(shares: Mapping[str, float], n_series: int) -> dict[str, int]:
    """Series per class in ``shares`` (normalised), rounded by largest remainder to sum to ``n_series``."""
    names = list(shares)
    exact = np.array([shares[name] for name in names], dtype="float64")
    exact = exact / exact.sum() * n_series
    counts = np.floor(exact).astype(int)
    for index in np.argsort(counts - exact, kind="stable")[: n_series - counts.sum()]:
        counts[index] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def _mean_one_lognormal(rng: np.random.Generator, sigma_range: tuple[float, float], n: int) -> np.ndarray:
    sigma = rng.uniform(*sigma_range)
    return rng.lognormal(-(sigma**2) / 2, sigma, n)


def seasonal_series(rng: np.random.Generator, noise: tuple[float, float], n: int) -> np.ndarray:
    """Level 1 at the end of the history x a yearly trend x a yearly season x mean-one lognormal noise."""
    t = np.arange(n)
    trend = np.exp(rng.uniform(-GROWTH, GROWTH) * (t - HISTORY_MONTHS) / 12)
    season = 1 + rng.uniform(0, SEASONAL_AMPLITUDE) * np.sin(2 * np.pi * (t + rng.uniform(0, 12)) / 12)
    return trend * season * _mean_one_lognormal(rng, noise, n)


def sparse_series(rng: np.random.Generator, sizes: tuple[float, float], n: int) -> np.ndarray:
    """A Bernoulli occurrence (probability log-uniform in ``OCCURRENCE``) x mean-one lognormal sizes."""
    occurrence = np.exp(rng.uniform(*np.log(OCCURRENCE)))
    return (rng.random(n) < occurrence) * _mean_one_lognormal(rng, sizes, n)


RECIPES: dict[str, tuple[Callable[[np.random.Generator, tuple[float, float], int], np.ndarray], tuple]] = {
    "smooth": (seasonal_series, SMOOTH_NOISE),
    "erratic": (seasonal_series, ERRATIC_NOISE),
    "intermittent": (sparse_series, STEADY_SIZES),
    "lumpy": (sparse_series, SPREAD_SIZES),
}
"""How a series of each demand class is simulated."""


def simulated_series(demand: str, rng: np.random.Generator) -> np.ndarray:
    """History and held-out months of one series whose history is of class ``demand`` (drawn again
    until it is, at most ``MAX_DRAWS`` times: the last draw stands), at a log-uniform scale."""
    scale = np.exp(rng.uniform(*np.log(SCALE_RANGE)))
    generate, spread = RECIPES[demand]
    for _ in range(MAX_DRAWS):
        y = generate(rng, spread, HISTORY_MONTHS + HORIZON)
        if classify(y[:HISTORY_MONTHS]) == demand:
            break
    return scale * y


def simulated_panel(n_series: int, shares: Mapping[str, float], seed: int) -> pd.DataFrame:
    """Long ``series_id, month, value`` of ``n_series`` simulated series, classes in ``shares``
    (:func:`class_quotas`, in a seeded random order); ``HISTORY_MONTHS + HORIZON`` months each."""
    rng = np.random.default_rng([seed, n_series])
    quotas = class_quotas(shares, n_series)
    classes = rng.permutation(np.repeat(list(quotas), list(quotas.values())))
    values = np.concatenate([simulated_series(demand, rng) for demand in classes])
    months = pd.period_range(FIRST_MONTH, periods=HISTORY_MONTHS + HORIZON, freq="M")
    ids = [f"sim/{i:05d}" for i in range(n_series)]
    return pd.DataFrame(
        {
            "series_id": np.repeat(ids, len(months)),
            "month": pd.PeriodIndex(np.tile(months, n_series), freq="M"),
            "value": values,
        }
    )


# --- the panels ------------------------------------------------------------------------------------
class Panel:
    """A benchmark panel: training history, held-out actuals, and each series' demand class."""

    def __init__(self, label: str, train: SeriesPanel, test: pd.DataFrame, classes: pd.DataFrame) -> None:
        self.label = label
        self.train = train
        self.test = test
        self.classes = classes


def swiss_panel(limit: int | None, seed: int) -> tuple[Panel, dict[str, float]]:
    """The Swiss panel (a seeded sample of ``limit`` series if given) and the whole panel's class shares."""
    train, test, _ = swiss_set(SWISS_CUTOFF, HORIZON)
    classes = series_classes(train)
    counts = classes["demand_class"].value_counts(normalize=True)
    shares = {name: float(counts.get(name, 0.0)) for name in DEMAND_CLASSES}
    if limit is not None and limit < len(train):
        ids = sorted(np.random.default_rng(seed).choice(train.series_ids, limit, replace=False))
        train, test, classes = train.subset(ids), test[test["series_id"].isin(ids)], classes.loc[ids]
    return Panel("Swiss exports", train, test, classes), shares


def simulated(n_series: int, shares: Mapping[str, float], seed: int) -> Panel:
    cutoff = FIRST_MONTH + HISTORY_MONTHS - 1
    train, test = split_panel(SeriesPanel(simulated_panel(n_series, shares, seed)), cutoff, HORIZON)
    return Panel(f"simulated {n_series:,}", train, test, series_classes(train))


def class_counts(classes: pd.DataFrame) -> str:
    counts = classes["demand_class"].value_counts()
    return ", ".join(f"{name} {counts.get(name, 0):,}" for name in DEMAND_CLASSES)


# --- the timing table ------------------------------------------------------------------------------
def time_panel(panel: Panel, n_jobs: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Ours and AutoETS on ``panel``, one after the other: the table's row and the per-class table."""
    print(f"{panel.label}: {panel.train}; classes: {class_counts(panel.classes)}", file=sys.stderr)
    history = panel.train.records[["series_id", "month", "value"]]
    with tempfile.TemporaryDirectory() as workdir:
        ours = run_cli(history, Path(workdir), HORIZON)
    peer = run_statsforecast("AutoETS", panel.train, HORIZON, n_jobs)
    results = scored_runs([ours, peer], panel.train, panel.test)
    board = leaderboard(results, levels=LEVELS).set_index("model").loc[[ours.label, peer.label]]
    mine, theirs = board.iloc[0], board.iloc[1]
    row = {
        "panel": panel.label,
        "series": len(panel.train),
        "ours s": f"{ours.seconds:.1f}",
        "AutoETS s": f"{peer.seconds:.1f}",
        "ratio": f"{ours.seconds / peer.seconds:.2f}x",
        "ours MASE (mean)": _mase(mine),
        "AutoETS MASE (mean)": _mase(theirs),
        "ours cov 80 / 95": _coverage(mine),
        "AutoETS cov 80 / 95": _coverage(theirs),
    }
    return row, class_table(results, panel.classes, [ours, peer])


def _mase(row: pd.Series) -> str:
    return f"{row['mase']:.3f} ({row['mase_mean']:.3f})"


def _coverage(row: pd.Series) -> str:
    return f"{100 * row['coverage_80']:.1f} / {100 * row['coverage_95']:.1f}"


def _cell(value: object) -> str:
    """A profile cell: seconds and shares to two decimals, counts as they are, none blank."""
    if pd.isna(value):
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


# --- the profile -----------------------------------------------------------------------------------
class MemberProfile:
    """CPU seconds of ``auto``'s members per phase, read by wrapping the functions ``auto`` calls.

    A phase is a call of :func:`~forecasting.models.auto_members.backtest_member`
    (form search), :func:`~forecasting.models.cv.backtest` (folds),
    :func:`~forecasting.models.auto_members.final_fit` (final fit) or
    :func:`~forecasting.models.ensemble.predict_members` (predict); within it,
    each outermost ``fit``/``predict`` of a model counts for that model's name.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.phase_seconds: defaultdict[str, float] = defaultdict(float)
        self.phase: str | None = None
        self.inside_member = False

    def timed_phase(self, phase: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.phase, start = phase, time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.phase_seconds[phase] += time.process_time() - start
                self.phase = None

        return wrapped

    def timed_member(self, method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapped(model: PanelForecaster, *args: Any, **kwargs: Any) -> Any:
            if self.phase is None or self.inside_member:
                return method(model, *args, **kwargs)
            self.inside_member, start = True, time.process_time()
            try:
                return method(model, *args, **kwargs)
            finally:
                self.seconds[(model.model_name, self.phase)] += time.process_time() - start
                self.inside_member = False

        return wrapped

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        wrappers = [
            (auto_members, "backtest_member", self.timed_phase("form search", auto_members.backtest_member)),
            (auto_members, "backtest", self.timed_phase("backtest folds", auto_members.backtest)),
            (auto_members, "final_fit", self.timed_phase("final fit", auto_members.final_fit)),
            (auto_module, "predict_members", self.timed_phase("predict", auto_module.predict_members)),
            (PanelForecaster, "fit", self.timed_member(PanelForecaster.fit)),
            (PanelForecaster, "predict", self.timed_member(PanelForecaster.predict)),
        ]
        with contextlib.ExitStack() as stack:
            for owner, name, wrapper in wrappers:
                stack.enter_context(mock.patch.object(owner, name, wrapper))
            yield

    def table(self, total: float, series: pd.Series) -> pd.DataFrame:
        """CPU seconds per member (rows; ``series`` it forecasts) and phase, with what no member took."""
        table = (
            pd.Series(self.seconds).unstack(fill_value=0.0).reindex(columns=PROFILE_PHASES, fill_value=0.0)
        )
        table.loc["(between members)"] = pd.Series(self.phase_seconds) - table.sum()
        table["other"] = 0.0
        table.loc["(auto: plan, weights, intervals)"] = 0.0
        table.loc["(auto: plan, weights, intervals)", "other"] = total - sum(self.phase_seconds.values())
        table["total"] = table.sum(axis=1)
        table["share"] = table["total"] / total
        table.loc["total"] = table.sum()
        table.insert(0, "series", series.reindex(table.index).astype("Int64"))
        return table.rename_axis("member")


def profile_auto(panel: Panel) -> tuple[pd.DataFrame, float]:
    """:class:`MemberProfile` of ``auto`` fitted and predicted on ``panel`` here, and its wall time."""
    profile, model = MemberProfile(), make_model("auto", horizon=HORIZON)
    with profile.installed(), executor_scope("serial"):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        model.fit(panel.train).predict(HORIZON, levels=LEVELS)
        total, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
    series = model.plan_[model.plan_["used"]].groupby("model").size()
    return profile.table(total, series), wall


# --- the run ---------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,10000", help="simulated panels' series counts ('' none)")
    parser.add_argument("--swiss-limit", type=int, help="a seeded sample of this many Swiss series")
    parser.add_argument("--no-swiss", action="store_true", help="leave the Swiss panel out of the table")
    parser.add_argument("--seed", type=int, default=0, help="seeds the simulated panels and the Swiss sample")
    parser.add_argument("--n-jobs", type=int, default=2, help="processes for statsforecast AutoETS")
    parser.add_argument("--profile", action="store_true", help="profile auto's members on the first panel")
    parser.add_argument("--write", type=Path, help="add or replace this run's section in this markdown file")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    started = time.perf_counter()

    swiss, shares = swiss_panel(args.swiss_limit, args.seed)
    rounded = {name: round(share, 4) for name, share in shares.items()}
    print(f"class shares of the Swiss panel: {rounded}", file=sys.stderr)
    panels = ([] if args.no_swiss else [swiss]) + [simulated(n, shares, args.seed) for n in sizes]
    if not panels:
        parser.error("no panel: give --sizes or leave out --no-swiss")
    rows = []
    pd.set_option("display.width", 200)
    for panel in panels:
        row, by_class = time_panel(panel, args.n_jobs)
        rows.append(row)
        print(f"\n{panel.label} ({len(panel.train):,} series): per demand class")
        print(by_class.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    table = pd.DataFrame(rows)
    print("\n" + table.to_string(index=False))
    counts = "; ".join(f"{panel.label}: {class_counts(panel.classes)}" for panel in panels)
    print(f"\nclasses per panel: {counts}")
    profile = profile_auto(panels[0]) if args.profile else None
    if profile is not None:
        print(f"\nauto on {panels[0].label}: CPU seconds per member and phase (wall {profile[1]:.1f} s)")
        print(profile[0].to_string(float_format=lambda v: f"{v:.2f}"))
    if args.write:
        wall = (time.perf_counter() - started) / 60
        write_section(args.write, "trade-speed", section(table, counts, profile, panels[0], argv, wall, args))
    return 0


def section(
    table: pd.DataFrame,
    counts: str,
    profile: tuple[pd.DataFrame, float] | None,
    first: Panel,
    argv: Sequence[str] | None,
    wall: float,
    args: argparse.Namespace,
) -> str:
    """The dated markdown section of the run: the table, the class counts, the profile, the command."""
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["benchmarks/trade_speed.py", *(argv if argv is not None else sys.argv[1:])])
    parts = [
        "## Speed on trade panels: the default `forecasting forecast` vs statsforecast AutoETS",
        f"{today}; {machine()}; whole run {wall:.1f} min. Ours: the command line in a child process "
        f"(loading, MLflow tracking and the CSV export included); AutoETS: season 12, n_jobs "
        f"{args.n_jobs}. MASE: 10 % trimmed mean over series (mean); scored on the 12 held-out months.",
        markdown_table(table),
        f"Demand classes (Syntetos-Boylan, on what auto sees): {counts}.",
    ]
    if profile is not None:
        parts += [
            f"Where auto's CPU seconds go on {first.label} ({len(first.train):,} series; one process, "
            f"serial executor, wall {profile[1]:.1f} s):",
            markdown_table(profile[0].astype("object").map(_cell), index=True),
        ]
    parts.append(f"```sh\nnice -n 19 .venv/bin/python {command}\n```")
    return "\n\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
