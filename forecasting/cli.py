"""The ``forecasting`` command line.

Exit codes: 0 success, 1 the job failed, 2 bad input or configuration (the
reason goes to stderr, without a traceback), 3 ``retrain`` succeeded but the
forecasts in service drifted (docs/scheduling.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# Only light modules at import time: the parser, and so `forecasting --help`, must not pay for pandas,
# MLflow or the models (tests/test_cli_start.py). Each handler imports what it runs.
from forecasting.core.constants import (
    ALIGNMENTS,
    CSV_DIALECTS,
    DEFAULT_EXECUTOR,
    DEFAULT_LEVELS,
    DEFAULT_MAX_STALE_MONTHS,
    RESIDUAL_MONTHS,
)
from forecasting.core.constants import VERSION as __version__
from forecasting.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

LEVELS_HELP = (
    "comma-separated interval levels in (0, 100), e.g. 50,90: columns lower_<l>/upper_<l> "
    f"(default {','.join(map(str, DEFAULT_LEVELS))})"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecasting", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"forecasting {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(commands)
    _add_series_commands(commands)
    _add_backtest_commands(commands)
    _add_job_commands(commands)
    _add_executor_options(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():
            return int(args.handler(args) or EXIT_OK)
    except (DataError, ConfigError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        print(f"forecasting: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("forecasting: interrupted", file=sys.stderr)
        return EXIT_FAILED


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (systemd stop, a scheduler's timeout) unwinds every command like Ctrl-C: its run ended
    KILLED, the workers stopped, a lock released, no half-written export, exit 1. Without it the
    process dies where it stands: a run left RUNNING, worker processes left behind. Only the main
    thread can set a handler (a command called from another thread keeps the default)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --- data ---------------------------------------------------------------------
def _add_data_commands(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="inspect and check input data")
    sub = data.add_subparsers(dest="data_command", required=True)
    check = sub.add_parser("check", help="load a file and print its data quality report")
    check.add_argument("path")
    check.add_argument(
        "--format",
        default="auto",
        help="auto, long, wide, bts, rates, us_census, japan_mof, kosis, or a source spec .toml",
    )
    _add_stale_option(check)
    check.add_argument(
        "--report", default=None, metavar="PATH", help="also write the full report there (every finding once)"
    )
    check.set_defaults(handler=_data_check)


def _data_check(args: argparse.Namespace) -> int:
    from forecasting.data.check import check_path
    from forecasting.data.staleness import check_max_stale_months

    return check_path(
        args.path, args.format, check_max_stale_months(args.max_stale_months), report=args.report
    )


def _add_stale_option(
    command: argparse.ArgumentParser, default: int | None = DEFAULT_MAX_STALE_MONTHS
) -> None:
    """``--max-stale-months``; ``default`` None where ``--align series`` must tell it given from not."""
    command.add_argument(
        "--max-stale-months",
        type=int,
        default=default,
        metavar="N",
        help="a series that ended more than N months before the panel's last month is stale: reported, "
        f"and not forecast unless --include-stale (default {DEFAULT_MAX_STALE_MONTHS})",
    )


def _add_align_option(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--align",
        choices=ALIGNMENTS,
        default=ALIGNMENTS[0],
        help=f"{what}: calendar (default), the same months for every series, from the panel's last month "
        "(stale series left out); series, from each series' own last month (series that end in "
        "different years: company, industry or macro series, a competition set)",
    )


# --- series and sample ----------------------------------------------------------
def _add_series_commands(commands: argparse._SubParsersAction) -> None:
    series = commands.add_parser("series", help="build monthly series with roll-ups from a data file")
    series_sub = series.add_subparsers(dest="series_command", required=True)
    build = series_sub.add_parser("build", help="add roll-ups and derived series, write a long CSV")
    build.add_argument("--input", required=True, help="data file (long, wide, BTS or a source spec)")
    build.add_argument("--format", default="auto", help="auto, long, wide, bts, or a source spec .toml")
    build.add_argument(
        "--output", required=True, help="long CSV to write (series_id, month, value, ...); - for stdout"
    )
    build.add_argument(
        "--conflicts",
        choices=("error", "drop"),
        default="error",
        help="rows with the same series and month but different values: stop (default) or drop "
        "them all and report them (the month stays missing)",
    )
    build.add_argument(
        "--max-estimated-share",
        type=float,
        default=0.05,
        help="largest share of a roll-up month that may be estimated for unreported children "
        "(default 0.05; 0 leaves every month with an unreported child missing)",
    )
    _add_stale_option(build)
    build.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="where the full data quality report goes (default: <output stem>.report.txt beside the "
        "output; none with --output -)",
    )
    build.set_defaults(handler=_series_build)
    sample = commands.add_parser("sample", help="the bundled SIMULATED sample")
    sample_sub = sample.add_subparsers(dest="sample_command", required=True)
    generate = sample_sub.add_parser("generate", help="write the simulated sample CSV (seeded)")
    generate.add_argument(
        "--output",
        required=True,
        help="where to write it; - for stdout (the bundled data/sample/border_panel.csv is only "
        "replaced when named here)",
    )
    generate.set_defaults(handler=_sample_generate)


def _series_build(args: argparse.Namespace) -> int:
    from forecasting.data.loaders import load, spec_of
    from forecasting.data.staleness import check_max_stale_months, flag_stale
    from forecasting.data.summing import structure_path
    from forecasting.features.flows import build_series
    from forecasting.features.hierarchy import check_estimated_share, write_long_csv
    from forecasting.files import output_target, write_csv_atomic, write_text_atomic, written_together
    from forecasting.jobs import commands
    from forecasting.panel import SeriesPanel

    share = check_estimated_share(args.max_estimated_share)
    inputs = commands.input_files(args)
    output = output_target(args.output, inputs=inputs)  # refuse a device, a folder or the input first
    report = _report_target(args.report, output, inputs)
    if output is not None:  # and the same for the hierarchy written beside it (beside a link's target)
        output_target(structure_path(output), inputs=inputs)
    spec = spec_of(args.format)  # a source spec may declare the dimensions its series add up along
    loaded = SeriesPanel.from_load(load(args.input, args.format, conflicts=args.conflicts))
    panel = build_series(loaded, max_estimated_share=share, summing=spec.summing if spec else ())
    flag_stale(panel.report, panel.records, check_max_stale_months(args.max_stale_months))
    with written_together() as staging:  # the panel, its hierarchy and its report, or none of them
        path = write_long_csv(panel, args.output, inputs=inputs, staging=staging)
        saved = None
        if report is not None:
            saved = write_text_atomic(panel.report.format() + "\n", report, inputs=inputs, staging=staging)
        hierarchy = None
        if path is not None:
            edges = panel.structure.to_frame()
            hierarchy = write_csv_atomic(edges, structure_path(path), inputs=inputs, staging=staging)
    print(panel.report.summary(saved_to=saved), file=sys.stderr)
    print(f"wrote {len(panel)} series, {len(panel.records):,} rows to {path or 'stdout'}", file=sys.stderr)
    if hierarchy is not None:
        print(f"wrote the hierarchy ({panel.structure!r}) to {hierarchy}", file=sys.stderr)
    return EXIT_OK


def _report_target(given: str | None, output: Path | None, inputs: list[str]) -> Path | None:
    """Where ``series build`` writes its full report: ``--report``, else beside the output (none for stdout).

    Checked before any work, and never the output, its hierarchy or an input.
    """
    from forecasting.data.report import report_path
    from forecasting.data.summing import structure_path
    from forecasting.files import STDOUT, output_target

    if given == STDOUT:
        raise ConfigError("must be a file: the summary already goes to stderr", key="--report")
    target = output_target(given, inputs=inputs) if given is not None else None
    if given is None and output is not None:
        target = output_target(report_path(output), inputs=inputs)
    if target is not None and output is not None:
        taken = {os.path.abspath(output), os.path.abspath(structure_path(output))}
        if os.path.abspath(target) in taken:
            raise ConfigError("is the output or its hierarchy file: choose another path", key="--report")
    return target


def _sample_generate(args: argparse.Namespace) -> int:
    from forecasting.sample import write_sample

    path = write_sample(args.output)
    print(f"wrote the simulated sample to {path or 'stdout'}", file=sys.stderr)
    return EXIT_OK


# --- backtest -----------------------------------------------------------------------------------
def _add_backtest_commands(commands: argparse._SubParsersAction) -> None:
    backtest = commands.add_parser(
        "backtest", help="rolling-origin backtest of models on a file; prints the leaderboard"
    )
    backtest.add_argument(
        "--input", required=True, help="a data file any loader reads (long, wide, bts, trade)"
    )
    backtest.add_argument("--horizon", type=int, required=True, help="months forecast after each cutoff")
    backtest.add_argument("--folds", type=int, default=3, help="number of cutoffs (default 3)")
    backtest.add_argument("--levels", default=None, help=LEVELS_HELP)
    backtest.add_argument(
        "--models", default="seasonal_naive,ets,theta,arima", help="comma-separated registry names"
    )
    backtest.add_argument("--format", default="auto", help="auto, long, wide, bts, or a source spec")
    backtest.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="worker processes of the local executor (-1: all cores, 1: none)",
    )
    backtest.add_argument(
        "--reconcile",
        default=None,
        metavar="METHOD",
        help="also score each fold reconciled along the hierarchy next to the input, per level",
    )
    _add_selection_options(backtest)
    _add_align_option(backtest, "each fold's cutoffs")
    _add_stale_option(backtest, default=None)
    backtest.add_argument(
        "--include-stale", action="store_true", help="backtest stale series too (those with actuals)"
    )
    backtest.add_argument(
        "--details",
        default=None,
        metavar="PATH",
        help="write a CSV of each series' metrics per model, and of each series/fold left out with "
        "the reason",
    )
    backtest.set_defaults(handler=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    import pandas as pd

    from forecasting.evaluation.backtest import (
        backtest_file,
        dominance_warnings,
        fallbacks,
        series_details,
        skipped,
    )
    from forecasting.evaluation.metrics import MASE_AGGREGATE
    from forecasting.files import output_target, write_csv_atomic
    from forecasting.jobs import commands
    from forecasting.jobs.reconcile import check_reconcile_method

    models = [name.strip() for name in args.models.split(",") if name.strip()]
    align, max_stale_months, include_stale = commands.aligned_staleness(args)
    if args.reconcile is not None:  # refused before the backtest, not after it
        check_reconcile_method(args.reconcile, key="--reconcile")
        if args.folds < 2:
            reason = "each fold is reconciled with the errors of earlier ones"
            raise ConfigError(f"needs --folds >= 2 ({reason}). Got {args.folds}", key="--reconcile")
    inputs = commands.input_files(args)
    if args.details is not None and output_target(args.details, inputs=inputs) is None:
        raise ConfigError("needs a file: standard output carries the leaderboard", key="--details")
    board, results = backtest_file(
        args.input,
        horizon=args.horizon,
        folds=args.folds,
        models=models,
        format=args.format,
        n_jobs=args.n_jobs,
        selection=commands.selection(args),
        max_stale_months=None if align == "series" or include_stale else max_stale_months,
        levels=DEFAULT_LEVELS if args.levels is None else args.levels,
        align=align,
    )
    with pd.option_context("display.width", 160, "display.max_columns", None):
        print(board.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"mase: {MASE_AGGREGATE} (ranks the models); mase_median, mase_mean: the median and the mean")
    for warning in dominance_warnings(results):
        print(f"forecasting: warning: {warning}", file=sys.stderr)
    cutoffs = ", ".join(str(c) for c in results.attrs["backtest"].cutoffs)
    if align == "series":
        cutoffs = f"each series' own, the latest {cutoffs}"
    counts = f"skipped: {len(skipped(results))} series/fold; fallbacks: {len(fallbacks(results))}"
    print(f"cutoffs: {cutoffs}; {counts}")
    _print_left_out(results)
    if args.details is not None:
        path = write_csv_atomic(series_details(results), args.details, inputs=inputs)
        print(f"wrote the per-series metrics and what was left out to {path}")
    if args.reconcile is not None:
        _print_reconciled(args, results)
    return EXIT_OK


def _print_left_out(results: pd.DataFrame) -> None:
    """Series/folds left out of the backtest or of its MASE, counted per kind of reason."""
    from forecasting.evaluation.backtest import left_out, reason_counts

    counts = reason_counts(left_out(results))
    if not counts.empty:
        print("series/folds left out of the scores, per reason (--details PATH lists each):")
    for reason, count in counts.items():
        print(f"  {count:>7,} series/fold: {reason}")


def _print_reconciled(args: argparse.Namespace, results: pd.DataFrame) -> None:
    """Per-level leaderboard of the base and reconciled forecasts (``backtest --reconcile``)."""
    from forecasting import progress

    with progress.phase("reconcile"):
        _reconciled_leaderboard(args, results)


def _reconciled_leaderboard(args: argparse.Namespace, results: pd.DataFrame) -> None:
    import pandas as pd

    from forecasting.data.loaders import load
    from forecasting.evaluation.metrics import table_levels
    from forecasting.evaluation.reconciled import RECONCILE_CHOICES, leaderboard_by_level, reconciled_backtest
    from forecasting.panel import SeriesPanel
    from forecasting.reconciliation import structure_to_reconcile

    if args.reconcile not in RECONCILE_CHOICES:
        choices = ", ".join(RECONCILE_CHOICES)
        raise ConfigError(f"must be one of {choices}. Got {args.reconcile!r}", key="--reconcile")
    structure, mismatched = structure_to_reconcile(SeriesPanel.from_load(load(args.input, args.format)))
    if not structure.aggregates:
        raise ConfigError("needs a hierarchy next to the input (series build --output)", key="--reconcile")
    levels = table_levels(results)  # the backtest's, i.e. --levels
    both = reconciled_backtest(results, structure, args.reconcile, levels=levels)
    board = leaderboard_by_level(both, structure, levels)
    with pd.option_context("display.width", 160, "display.max_columns", None):
        print(board.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    left_out = f"; not sums, left out: {', '.join(mismatched['parent'])}" if len(mismatched) else ""
    print(f"reconciled with {args.reconcile} (folds after the first, errors of earlier folds){left_out}")


# --- scheduled job, tracking and registry -------------------------------------
def _add_job_commands(commands: argparse._SubParsersAction) -> None:
    retrain = commands.add_parser("retrain", help="backtest candidates, fit, log to MLflow, promote, export")
    retrain.add_argument("--config", default=None, help="job config TOML (default: the bundled-sample job)")
    retrain.set_defaults(handler=_job_handler("retrain"))
    forecast = commands.add_parser("forecast", help="one-off forecast of a long CSV (tracked, no registry)")
    forecast.add_argument("--input", required=True, help="long CSV/Parquet/Excel: series_id, month, value")
    forecast.add_argument("--horizon", required=True, type=int)
    forecast.add_argument("--levels", default=None, help=LEVELS_HELP)
    forecast.add_argument(
        "--output", required=True, help="CSV file to write (forecast CSV schema); - for stdout"
    )
    forecast.add_argument("--model", default="auto", help="registered model name (default: auto)")
    forecast.add_argument(
        "--round",
        type=int,
        default=None,
        metavar="N",
        help="round the forecast and its bounds to N significant digits (default: full precision)",
    )
    forecast.add_argument(
        "--csv-dialect",
        choices=CSV_DIALECTS,
        default=CSV_DIALECTS[0],
        help="default: ',' between fields, decimal point; excel-eu: ';' between fields, decimal comma",
    )
    forecast.add_argument("--format", default="auto", help="input format for the loader")
    forecast.add_argument("--experiment", default="forecast", help="MLflow experiment (default: forecast)")
    forecast.add_argument(
        "--reconcile",
        default=None,
        metavar="METHOD",
        help="make forecasts add up along the hierarchy written next to the input by 'series build': "
        "bottom_up, top_down, ols, wls_struct, wls_var, mint_shrink or mint_guarded (MinT keeping the "
        "base forecasts of any level it made worse on the backtest)",
    )
    signs = forecast.add_mutually_exclusive_group()
    signs.add_argument(
        "--nonnegative",
        dest="nonnegative",
        action="store_true",
        default=None,
        help="with --reconcile: negative reconciled bottom-level forecasts become 0 and are summed up "
        "again (the default when no series of the hierarchy has a negative value)",
    )
    signs.add_argument(
        "--allow-negative",
        dest="nonnegative",
        action="store_false",
        help="with --reconcile: reconciled forecasts may go below zero even when no history does",
    )
    forecast.add_argument(
        "--residuals",
        default=None,
        metavar="SOURCE",
        help="with --reconcile: whose errors estimate the error covariance: in_sample (default; the "
        "model's one-step errors, backtest errors for models without them) or backtest",
    )
    forecast.add_argument(
        "--residual-months",
        type=int,
        default=None,
        metavar="N",
        help=f"with --reconcile: in-sample errors of the last N months (default {RESIDUAL_MONTHS})",
    )
    _add_selection_options(forecast)
    _add_align_option(forecast, "the forecast months")
    _add_stale_option(forecast, default=None)
    forecast.add_argument(
        "--include-stale",
        action="store_true",
        help="forecast stale series too, through the same window as the others",
    )
    forecast.set_defaults(handler=_job_handler("forecast"))
    compare = commands.add_parser("compare", help="leaderboard of the latest retrain, or of given retrains")
    _add_job_options(compare)
    compare.add_argument("--experiment", default=None, help="default: the job's experiment")
    compare.add_argument("--runs", nargs="+", default=None, metavar="RUN_ID", help="retrain run ids")
    compare.set_defaults(handler=_job_handler("compare"))
    promote = commands.add_parser("promote", help="force a retrain's model to champion")
    promote.add_argument("--run", required=True, help="retrain (parent) run id")
    _add_job_options(promote)
    promote.set_defaults(handler=_job_handler("promote"))
    rollback = commands.add_parser("rollback", help="restore the champion the current one replaced")
    _add_job_options(rollback)
    rollback.set_defaults(handler=_job_handler("rollback"))
    accuracy = commands.add_parser(
        "accuracy", help="live accuracy of the forecasts in service, from the table"
    )
    _add_job_options(accuracy)
    accuracy.add_argument("--by", default="flow", help="series dimension to group by (default: flow)")
    accuracy.set_defaults(handler=_job_handler("accuracy"))


def _add_job_options(command: argparse.ArgumentParser) -> None:
    """``--config`` / ``--job`` on the commands that act on an existing job (never the sample by default)."""
    command.add_argument(
        "--config",
        default=None,
        help="job config TOML; without it and --job: the only job in the tracking store (exit 2 when "
        "there are none or several, naming them)",
    )
    command.add_argument(
        "--job",
        default=None,
        metavar="NAME",
        help="job name (default: the config's job.name); without --config the other settings are the "
        "defaults (store: MLFLOW_TRACKING_URI or the project's mlruns/, models/, exports/)",
    )


def _job_handler(name: str):  # noqa: ANN202 - argparse handler factory
    def handler(args: argparse.Namespace) -> int:
        from forecasting.jobs import commands

        return getattr(commands, name)(args)

    return handler


def _add_selection_options(command: argparse.ArgumentParser) -> None:
    """Try a command on part of a panel first (SeriesPanel.select)."""
    part = command.add_argument_group("part of the panel")
    part.add_argument("--ids", default=None, metavar="ID,ID", help="only these series (comma-separated)")
    part.add_argument("--match", default=None, metavar="REGEX", help="only series whose id matches REGEX")
    part.add_argument("--since", default=None, metavar="YYYY-MM", help="only the months from YYYY-MM on")
    part.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N series (id order)"
    )


# --- executors ----------------------------------------------------------------
def _add_executor_options(commands: argparse._SubParsersAction) -> None:
    """``--executor`` and ``--dask-address`` on the commands that fit many series (docs/dask.md)."""
    for name in ("retrain", "forecast", "backtest"):
        command = commands.choices[name]
        command.add_argument(
            "--executor",
            choices=("serial", "local", "dask"),
            default=None,
            help="where per-series fits run (default: the job config's, else local: all cores)",
        )
        command.add_argument(
            "--dask-address",
            default=None,
            metavar="tcp://HOST:PORT",
            help="Dask scheduler for --executor dask (default: a 2-worker LocalCluster)",
        )
        command.set_defaults(handler=_with_executor(command.get_default("handler")))


def _with_executor(handler):  # noqa: ANN001, ANN202 - argparse handler wrapper
    def run(args: argparse.Namespace) -> int:
        if args.dask_address is not None and args.executor not in (None, "dask"):
            raise ConfigError("only applies with --executor dask", key="--dask-address")
        from forecasting.executors import executor_scope, warm_up_workers

        kind = "dask" if args.dask_address is not None else args.executor
        if kind is None and args.command != "retrain":  # retrain: the job config's executor
            kind = DEFAULT_EXECUTOR
        n_jobs = getattr(args, "n_jobs", -1)  # the local executor's processes, as job.n_jobs sets them
        if n_jobs == 0:
            raise ConfigError(
                "must not be 0 (1: one process, -1: all cores, -2: all but one)", key="--n-jobs"
            )
        if kind == "local":  # the workers import the models while this process imports the rest
            warm_up_workers(n_jobs)
        from forecasting.jobs import commands
        from forecasting.progress import progress_scope

        commands.setup_logging()  # before the bar, so log lines print above it
        with progress_scope(args.command), executor_scope(kind, address=args.dask_address, n_jobs=n_jobs):
            return handler(args)

    return run


if __name__ == "__main__":
    sys.exit(main())
