"""Handlers of ``forecasting retrain | forecast | compare | promote | rollback``.

Exit codes follow :mod:`forecasting.cli`: 0 success (promoted or kept), 1 the
job failed (including "already running"), 2 bad input or config (raised as
``DataError``/``ConfigError`` and reported by ``cli.main``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import pandas as pd

from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.jobs.config import JobConfig, load_config

logger = logging.getLogger("forecasting.jobs")
EXIT_OK, EXIT_FAILED = 0, 1
_NOISY_LOGGERS = ("mlflow", "alembic", "urllib3", "matplotlib", "numexpr", "git")


def setup_logging(level: int = logging.INFO) -> None:
    """``key=value`` lines on stderr; library chatter only from WARNING up."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
    )
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def retrain(args: argparse.Namespace) -> int:
    from forecasting.jobs.lock import JobLockedError
    from forecasting.jobs.retrain import run_retrain

    setup_logging()
    config = load_config(args.config)
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
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
    except KeyboardInterrupt:
        logger.error("event=failed job=%s error='interrupted (SIGINT/SIGTERM)'", config.name)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    print(
        f"{config.name}: {result.decision.outcome} ({result.decision.reason}); "
        f"champion version {result.champion_version}; run {result.run_id}\n"
        f"exports: {result.exports[0]} {result.exports[1]}"
    )
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (systemd stop, a scheduler's timeout) unwinds like Ctrl-C: run KILLED, lock released."""
    raise KeyboardInterrupt(f"signal {signum}")


def forecast(args: argparse.Namespace) -> int:
    """One-off forecast of a long CSV without the registry; still tracked as a run."""
    from forecasting import tracking
    from forecasting.data.loaders import load
    from forecasting.export import forecast_table, write_csv_atomic
    from forecasting.jobs.reconcile import check_reconcile_method, reconcile_job_forecasts
    from forecasting.jobs.retrain import build_regressors, exog_settings, fit_and_forecast
    from forecasting.models.registry import make_model

    setup_logging()
    if args.horizon < 1:
        raise ConfigError(f"must be a positive integer. Got {args.horizon}", key="--horizon")
    method = getattr(args, "reconcile", None)
    if method is not None:
        check_reconcile_method(method)
    elif getattr(args, "nonnegative", False):
        raise ConfigError("only applies with --reconcile", key="--nonnegative")
    try:
        model = make_model(args.model, horizon=args.horizon)
    except ValueError as error:
        raise ConfigError(str(error), key="--model") from None
    config = JobConfig(name="forecast", horizon=args.horizon)
    panel = load(args.input, args.format).panel()
    exog = exog_settings(JobConfig(name="forecast", sample_events=False), [model])
    uri = tracking.configure(None)
    experiment_id = tracking.ensure_experiment(args.experiment, uri)
    digest = tracking.data_digest(panel)
    tags = tracking.run_tags("forecast", data=digest, config=config.digest())
    with tracking.retrain_run(experiment_id, f"forecast-{Path(args.input).stem}", tags) as run:
        tracking.log_decision({tracking.RUN_TYPE_TAG: "forecast"})
        tracking.log_params({"model": model.model_name, "horizon": args.horizon, "input": str(args.input)})
        tracking.log_dataset(panel, name=Path(args.input).stem, digest=digest, source=str(args.input))
        X, X_future = build_regressors(panel, args.horizon, exog)
        forecasts = fit_and_forecast(model, panel, config, X, X_future)
        if method is not None:
            forecasts = reconcile_job_forecasts(
                model,
                panel,
                forecasts,
                method=method,
                horizon=args.horizon,
                levels=config.levels,
                nonnegative=args.nonnegative,
                X=X,
            )
            tracking.log_params({"reconcile": method, "nonnegative": args.nonnegative})
        tracking.log_serving_model(
            model, panel=panel, forecasts=forecasts, horizon=args.horizon, levels=config.levels, exog=exog
        )
        table = forecast_table(forecasts, panel.metadata, run_id=run.info.run_id)
        path = write_csv_atomic(table, args.output)
        tracking.log_exports([path])
    print(f"wrote {len(table)} forecasts for {len(panel)} series to {path} (run {run.info.run_id})")
    return EXIT_OK


def compare(args: argparse.Namespace) -> int:
    from forecasting import tracking

    config = load_config(args.config)
    tracking.configure(config.tracking_uri)
    table = tracking.compare(args.experiment or config.experiment_name, args.runs or ())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return EXIT_OK


def promote(args: argparse.Namespace) -> int:
    from forecasting import tracking

    config = load_config(args.config)
    tracking.configure(config.tracking_uri)
    version = tracking.promote_run(config.name, args.run)
    path = tracking.copy_champion(config.name, config.models_dir)
    print(f"{config.name}: version {version.version} (run {args.run}) is now champion; copied to {path}")
    return EXIT_OK


def rollback(args: argparse.Namespace) -> int:
    from forecasting import tracking

    config = load_config(args.config)
    tracking.configure(config.tracking_uri)
    try:
        version = tracking.rollback(config.name)
    except ModelError as error:
        print(f"forecasting: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    path = tracking.copy_champion(config.name, config.models_dir)
    print(f"{config.name}: champion rolled back to version {version.version}; copied to {path}")
    return EXIT_OK
