"""Handlers of ``forecasting retrain | forecast | compare | promote | rollback | accuracy``.

Exit codes follow :mod:`forecasting.cli`: 0 success (promoted or kept), 1 the
job failed (including "already running"), 2 bad input or config (raised as
``DataError``/``ConfigError`` and reported by ``cli.main``), 3 the job
succeeded but the forecasts in service drifted (``[monitoring]``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting import deployment, model_folder, progress, tracking
from forecasting.core.checks import check_experiment_name
from forecasting.core.constants import ALIGNMENTS, CSV_DIALECTS, DEFAULT_LEVELS, DEFAULT_MAX_STALE_MONTHS
from forecasting.core.request import ForecastRequest
from forecasting.data.loaders import load
from forecasting.data.staleness import check_max_stale_months
from forecasting.data.summing import structure_path
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.export import check_significant_digits, forecast_table, round_forecasts
from forecasting.files import check_csv_dialect, output_target, write_csv_atomic
from forecasting.jobs.config import JobConfig, check_job_name, load_config
from forecasting.jobs.lock import JobLockedError
from forecasting.jobs.monitoring import accuracy_path, accuracy_summary, live_compare_rows
from forecasting.jobs.publish import Flip, job_lock, publish, recover
from forecasting.jobs.reconcile import (
    check_hierarchy,
    check_reconcile_method,
    check_residual_source,
    reconcile_job_forecasts,
    reconcile_work,
)
from forecasting.jobs.retrain import (
    build_regressors,
    configure_tracking,
    exog_settings,
    fit_and_forecast,
    forecastable,
    run_retrain,
)
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel, log_unusable_input
from forecasting.reconciliation import RESIDUAL_MONTHS, RESIDUAL_SOURCES

logger = logging.getLogger("forecasting.jobs")
EXIT_OK, EXIT_FAILED, EXIT_DRIFT = 0, 1, 3
_NOISY_LOGGERS = ("mlflow", "alembic", "urllib3", "matplotlib", "numexpr", "git")


def setup_logging(level: int = logging.INFO) -> None:
    """``key=value`` lines on stderr; library chatter only from WARNING up."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
    )
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def retrain(args: argparse.Namespace) -> int:
    setup_logging()
    config = load_config(args.config)
    try:
        result = run_retrain(config)
    except (DataError, ConfigError):
        raise
    except JobLockedError as error:
        logger.error("event=failed job=%s error=%r", config.name, str(error))
        return EXIT_FAILED
    except Exception:  # noqa: BLE001 - a scheduler needs an exit code, the log keeps the traceback
        logger.exception("event=failed job=%s", config.name)
        return EXIT_FAILED
    except KeyboardInterrupt:  # SIGTERM too (the command line's ``sigterm_as_interrupt``)
        logger.error("event=failed job=%s error='interrupted (SIGINT/SIGTERM)'", config.name)
        return EXIT_FAILED
    print(
        f"{config.name}: {result.decision.outcome} ({result.decision.reason}); "
        f"champion version {result.champion_version}; run {result.run_id}\n"
        f"exports: {result.exports[0]} {result.exports[1]}"
    )
    if result.live is not None and result.live.drifted:
        print("drift: " + "\n       ".join(result.live.drift.reasons()))
        return EXIT_DRIFT
    return EXIT_OK


def forecast(args: argparse.Namespace) -> int:
    """One-off forecast of a long CSV without the registry; still tracked as a run."""
    setup_logging()
    given = getattr(args, "levels", None)
    request = ForecastRequest.parse(  # --horizon and --levels, validated once; every step below takes them
        args.horizon,
        DEFAULT_LEVELS if given is None else given,
        horizon_key="--horizon",
        levels_key="--levels",
    )
    method = getattr(args, "reconcile", None)
    residuals = getattr(args, "residuals", None) or RESIDUAL_SOURCES[0]
    months_given = getattr(args, "residual_months", None)
    residual_months = RESIDUAL_MONTHS if months_given is None else months_given
    align, max_stale_months, include_stale = aligned_staleness(args)
    if method is not None:
        check_reconcile_method(method)
        check_residual_source(residuals)
        if residual_months < 1:
            raise ConfigError(f"must be a positive integer. Got {residual_months}", key="--residual-months")
    else:
        for flag, given in (
            ("--nonnegative/--allow-negative", getattr(args, "nonnegative", None) is not None),
            ("--residuals", getattr(args, "residuals", None) is not None),
            ("--residual-months", months_given is not None),
        ):
            if given:
                raise ConfigError("only applies with --reconcile", key=flag)
    try:
        model = make_model(args.model, horizon=request.horizon, levels=request.levels)
    except ValueError as error:
        raise ConfigError(str(error), key="--model") from None
    check_experiment_name(args.experiment, key="--experiment")
    digits = check_significant_digits(getattr(args, "round", None), key="--round")
    dialect = check_csv_dialect(getattr(args, "csv_dialect", CSV_DIALECTS[0]))
    inputs = input_files(args)
    output_target(args.output, inputs=inputs)  # refuse a device, a folder or the input before any work
    config = JobConfig(
        name="forecast",
        horizon=request.horizon,
        levels=request.levels,
        max_stale_months=max_stale_months,
        include_stale=include_stale,
    )
    with progress.phase("load"):
        read = SeriesPanel.from_load(load(args.input, args.format))
        valueless, spikes = log_unusable_input(read)
        loaded = select_panel(read, args)
        panel = forecastable(loaded, config) if align == "calendar" else loaded
    if method is not None:  # before the fit
        check_hierarchy(panel, key="--reconcile")
    units = len(panel) + (reconcile_work(panel) if method is not None else 0)
    progress.plan(units, units * model.fit_cost)
    exog = exog_settings(JobConfig(name="forecast", sample_events=False), [model])
    uri = tracking.configure(None)
    digest = tracking.data_digest(panel)
    opening = tracking.RunOpening(  # the store and the run open while the model fits
        args.experiment,
        uri,
        f"{model.model_name} on {Path(args.input).name}",
        tracking.run_tags("forecast", data=digest, config=config.digest()),
        run_type="forecast",
        params={
            "model": model.model_name,
            "horizon": args.horizon,
            "levels": config.levels,
            "align": align,
            "input": args.input,
        },
        dataset=partial(
            tracking.training_dataset,
            panel,
            name=Path(args.input).stem,
            digest=digest,
            source=str(args.input),
        ),
    )
    with opening.working():
        forecasts = fit_and_forecast(model, panel, config, exog, align)
    with opening.resumed() as run:
        tracking.log_report(
            loaded.report.format(), tracking.REPORT_ARTIFACT
        )  # every stale or valueless series by name
        if method is not None:
            X, _ = build_regressors(panel, args.horizon, exog)  # the covariance backtest's
            forecasts = reconcile_job_forecasts(
                model,
                panel,
                forecasts,
                method=method,
                horizon=args.horizon,
                levels=config.levels,
                nonnegative=args.nonnegative,
                X=X,
                residuals=residuals,
                residual_months=residual_months,
            )
            tracking.log_params(
                {
                    "reconcile": method,
                    "nonnegative": "auto" if args.nonnegative is None else args.nonnegative,
                    "reconcile_residuals": residuals,
                    "reconcile_residual_months": residual_months,
                }
            )
        with progress.phase("export"):
            tracking.log_serving_model(
                model, panel=panel, forecasts=forecasts, horizon=args.horizon, levels=config.levels, exog=exog
            )
            table = forecast_table(forecasts, panel.metadata, run_id=run.info.run_id, levels=config.levels)
            table = round_forecasts(table, digits)
            path = write_csv_atomic(table, args.output, inputs=inputs, dialect=dialect)
            if path is not None:
                tracking.log_exports([(path, path)])
        window = f"{table['month'].min()}..{table['month'].max()}" if len(table) else "no months"
        if align == "series":
            window = f"each series' next {args.horizon} months, {window}"
        tracking.set_description(
            f"One-off forecast of {len(panel)} series of `{args.input}` with {model.model_name}: "
            f"{window}, written to `{path or 'stdout'}`."
        )
    left_out = len(loaded) - len(panel)
    hint = (
        f"listed in the run's {tracking.REPORT_ARTIFACT}; --include-stale: through the same months; "
        "--align series: each from its own last month"
    )
    stale = f"; {left_out} stale series not forecast ({hint})" if left_out else ""
    unusable = f"; {valueless} series with no value not forecast (data check lists them)" if valueless else ""
    unusable += f"; {spikes}" if spikes else ""
    print(
        f"wrote {len(table)} forecasts ({window}) for {len(panel)} series to {path or 'stdout'}"
        f"{stale}{unusable} (run {run.info.run_id} in {uri})",
        file=sys.stdout if path is not None else sys.stderr,
    )
    return EXIT_OK


def aligned_staleness(args: argparse.Namespace) -> tuple[str, int, bool]:
    """``--align`` and the staleness and reconciliation options it allows:
    ``(align, max_stale_months, include_stale)``.

    Staleness is measured from the panel's last month, which only ``--align calendar`` forecasts
    from: with ``--align series`` every series is forecast from its own last month, and the stale
    options are refused rather than ignored.
    """
    align = getattr(args, "align", ALIGNMENTS[0])
    given_months = getattr(args, "max_stale_months", None)
    include_stale = getattr(args, "include_stale", False)
    stale_flags = {"--include-stale": include_stale, "--max-stale-months": given_months is not None}
    given = [flag for flag, is_given in stale_flags.items() if is_given]
    if align == "series" and given:
        raise ConfigError(
            "only applies with --align calendar (--align series forecasts every series from its own "
            "last month: none is stale)",
            key=given[0],
        )
    if align == "series" and getattr(args, "reconcile", None) is not None:
        raise ConfigError(
            "needs --align calendar: a hierarchy adds up month by month, so every series must cover the "
            "same months",
            key="--reconcile",
        )
    months = DEFAULT_MAX_STALE_MONTHS if given_months is None else check_max_stale_months(given_months)
    return align, months, include_stale


def selection(args: argparse.Namespace) -> dict[str, Any]:
    """``--ids``, ``--match``, ``--since``, ``--limit`` as :meth:`SeriesPanel.select` takes them."""
    ids = getattr(args, "ids", None)
    return {
        "ids": None if ids is None else [i.strip() for i in ids.split(",") if i.strip()],
        "match": getattr(args, "match", None),
        "since": getattr(args, "since", None),
        "limit": getattr(args, "limit", None),
    }


def select_panel(panel: SeriesPanel, args: argparse.Namespace) -> SeriesPanel:
    """The part of ``panel`` the selection options keep: try a command on part of a panel first."""
    chosen = panel.select(**selection(args))
    if len(chosen) < len(panel) or len(chosen.records) < len(panel.records):
        logger.info("event=selected series=%d of=%d rows=%d", len(chosen), len(panel), len(chosen.records))
    return chosen


def input_files(args: argparse.Namespace) -> list[str]:
    """What a command reads: ``--input``, the hierarchy beside it, a source spec ``--format``.

    No output may replace any of them (a forecast written over ``panel.hierarchy.csv``
    destroyed the hierarchy of the very panel it was read with).
    """
    spec = [args.format] if args.format.endswith(".toml") else []
    return [args.input, str(structure_path(args.input)), *spec]


def job_config(args: argparse.Namespace) -> JobConfig:
    """The job a command acts on: ``--config``, ``--job NAME``, else the only job in the tracking store.

    Never silently the bundled sample's: with no job given and none or several in the store, a
    ConfigError (exit 2) lists the jobs found. An inferred job is said on stderr.
    """
    job = getattr(args, "job", None)
    overrides = {} if job is None else {"name": check_job_name(job, key="--job")}
    if args.config is not None or job is not None:
        return load_config(args.config, **overrides)
    config = load_config(None)  # no job: only where the store is (MLFLOW_TRACKING_URI, else the project's)
    uri = configure_tracking(config)
    found = deployment.stored_jobs()
    if len(found) != 1:
        jobs = f"jobs {', '.join(found)}" if found else "no job yet (run `forecasting retrain --config ...`)"
        raise ConfigError(
            f"{args.command} needs --config JOB.toml or --job NAME: the tracking store {uri} has {jobs}",
            key="--config",
        )
    ((name, experiment),) = found.items()
    print(
        f"forecasting: {args.command}: job {name!r} (the only job in the tracking store {uri}; "
        "--config or --job to choose)",
        file=sys.stderr,
    )
    return replace(config, name=name, experiment=None if experiment == name else experiment)


def compare(args: argparse.Namespace) -> int:
    if args.experiment is not None:
        check_experiment_name(args.experiment, key="--experiment")
    config = job_config(args)
    configure_tracking(config)
    experiment = args.experiment or config.experiment_name
    table = tracking.compare(experiment, args.runs or ())
    runs = tracking.retrain_runs(experiment)
    champion = deployment.champion_summary(config.name)
    table["champion"] = champion_marks(table, champion)  # last: the columns before keep their places
    live = live_compare_rows(runs, table["run_id"].unique())
    if not live.empty:  # the champion's live accuracy under its candidates, with the drift flag
        table = pd.concat([table.assign(drift=""), live.assign(champion="")], ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for line in champion_lines(config.name, champion, table, runs):
        print(line)
    return EXIT_OK


def champion_marks(table: pd.DataFrame, champion: dict[str, str] | None) -> list[str]:
    """``*`` on the candidate row of the retrain run and model the job's champion came from."""
    if champion is None:
        return [""] * len(table)
    hit = (table["run_id"] == champion["run_id"]) & (table["model"] == champion["model"])
    return ["*" if h else "" for h in hit]


def champion_lines(
    job: str, champion: dict[str, str] | None, table: pd.DataFrame, runs: pd.DataFrame
) -> list[str]:
    """What ``compare`` says under the table: the champion (the ``*`` row) and the last promotion decision."""
    if champion is None:
        lines = [f"champion: none yet for job {job!r}"]
    else:
        how = f", {champion['promotion']}" if champion["promotion"] else ""
        score = f", backtest mase {champion['score']}" if champion["score"] else ""
        shown = "" if (table["champion"] == "*").any() else "; not among the rows shown"
        lines = [
            f"champion (*): version {champion['version']} of job {job!r}, model {champion['model'] or '?'} "
            f"from retrain run {champion['run_id'] or '?'}{how}{score}{shown}"
        ]
    return [*lines, last_decision(runs)]


def last_decision(runs: pd.DataFrame) -> str:
    """The promotion decision the newest finished retrain run recorded (its ``promotion.*`` tags)."""
    latest = runs.iloc[0]

    def tag(name: str) -> str:
        value = latest.get(f"tags.promotion.{name}")
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)

    if not tag("decision"):
        return f"last decision: none recorded on retrain run {latest['run_id']}"
    versus = (
        f" against champion {tag('champion_model')} {tag('champion_mase')}" if tag("champion_model") else ""
    )
    version = f"; registered version {tag('registered_version')}" if tag("registered_version") else ""
    started = pd.Timestamp(latest["start_time"]).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"last decision: {tag('decision')} ({tag('reason')}); candidate {tag('candidate_model')} "
        f"{tag('candidate_mase')}{versus}, margin {tag('margin')}{version} "
        f"(retrain run {latest['run_id']}, {started})"
    )


def promote(args: argparse.Namespace) -> int:
    config = job_config(args)
    configure_tracking(config)
    model_folder.job_folder(config.models_dir, config.name)  # before the alias moves

    def flip() -> Flip:
        version = str(deployment.promotable_version(config.name, args.run).version)
        current = deployment.champion_version(config.name)
        folder = deployment.stage_champion(config.name, version, config.models_dir)
        return Flip(config.name, version, str(folder), previous=str(current.version) if current else None)

    done = _publish_locked(config, flip)
    if done is None:
        return EXIT_FAILED
    print(
        f"{config.name}: version {done.version} (run {args.run}) is now champion; copied to {_folder(config)}"
    )
    return EXIT_OK


def rollback(args: argparse.Namespace) -> int:
    config = job_config(args)
    configure_tracking(config)
    model_folder.job_folder(config.models_dir, config.name)  # before the alias moves

    def flip() -> Flip:
        current, target = deployment.rollback_target(config.name)
        folder = deployment.stage_champion(config.name, str(target.version), config.models_dir)
        return Flip(config.name, str(target.version), str(folder), rollback_of=str(current.version))

    done = _publish_locked(config, flip)
    if done is None:
        return EXIT_FAILED
    print(f"{config.name}: champion rolled back to version {done.version}; copied to {_folder(config)}")
    return EXIT_OK


def _publish_locked(config: JobConfig, prepare: Callable[[], Flip]) -> Flip | None:
    """Under the job lock: finish a journaled publish, stage the new one, publish it.

    ``None`` (exit 1) when the job is running or there is nothing to roll back to.
    """
    try:
        with job_lock(config):
            recover(config)
            flip = prepare()  # stage_champion removes its folder itself when it fails
            publish(flip, config)  # once journaled, a failure is finished by the next start
            return flip
    except (JobLockedError, ModelError) as error:
        print(f"forecasting: error: {error}", file=sys.stderr)
        return None


def _folder(config: JobConfig) -> Path:
    return Path(config.models_dir).resolve() / config.name


def accuracy(args: argparse.Namespace) -> int:
    """Print the live accuracy table of a job: by model, by step and by series group."""
    config = job_config(args)
    tables = accuracy_summary(config, by=args.by)
    if not tables:
        print(f"{config.name}: no forecast scored yet ({accuracy_path(config.output_dir, config.name)})")
        return EXIT_OK
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for name, table in tables.items():
            print(f"live accuracy by {name}:")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"), end="\n\n")
    return EXIT_OK
