"""The retraining job's TOML config, validated up front so a scheduler fails fast with exit 2.

Every error names the offending key (``candidates.models[1]``). Relative paths
are relative to the working directory the job runs in (cron/systemd examples
``cd`` into the project first). With no config file the job runs on the
bundled sample.

Example (see ``examples/job.toml``)::

    [job]
    name = "border"
    horizon = 12

    [[sources]]
    path = "data/border.csv"
    format = "long"
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from forecasting.core.checks import check_experiment_name, check_job_name
from forecasting.core.constants import CSV_DIALECTS, DEFAULT_LEVELS
from forecasting.core.request import ForecastRequest
from forecasting.data.loaders import BUILTIN_SPECS
from forecasting.data.staleness import DEFAULT_MAX_STALE_MONTHS
from forecasting.data.summing import structure_path
from forecasting.errors import ConfigError
from forecasting.evaluation.live import DriftRule
from forecasting.evaluation.reconciled import GUARDED, RECONCILE_CHOICES
from forecasting.executors import DEFAULT_EXECUTOR, EXECUTORS
from forecasting.features.interventions import Event
from forecasting.files import read_config_text
from forecasting.models.cv import MIN_TRAIN
from forecasting.models.registry import available_models, make_model
from forecasting.reconciliation.frames import RESIDUAL_MONTHS, RESIDUAL_SOURCES

DEFAULT_JOB_MODELS: tuple[str, ...] = ("seasonal_naive", "drift", "theta", "arima", "auto")
"""The models a job backtests for its champion when the config names none (not ``auto``'s
candidates); names not registered are skipped (logged). No standalone ``gbm``: ``auto`` holds
both GBMs on panels of at least its ``global_min_series`` series, and on smaller panels a global
tree model is the costliest candidate and rarely the best (docs/experiments/live-replay.md)."""
WINDOWS: tuple[str, ...] = ("expanding", "sliding")

_SCHEMA: dict[str, set[str]] = {
    "job": {
        "name",
        "horizon",
        "levels",
        "output_dir",
        "models_dir",
        "n_jobs",
        "stale_lock_hours",
        "executor",
        "dask_address",
        "round",
        "csv_dialect",
    },
    "tracking": {"uri", "experiment"},
    "sources": {"path", "format"},
    "series": {"targets", "ids", "filters", "max_stale_months", "include_stale"},
    "regressors": {"calendar", "events", "sample_events"},
    "candidates": {"models", "params"},
    "backtest": {"folds", "step", "window", "window_length"},
    "promotion": {"margin"},
    "monitoring": {
        "enabled",
        "months",
        "mase_factor",
        "min_months",
        "coverage_level",
        "coverage_band",
        "coverage_alpha",
        "min_forecasts",
        "force_challenger_on_drift",
    },
    "reconcile": {"method", "nonnegative", "choose_on", "residuals", "residual_months"},
}
CHOOSE_ON: tuple[str, ...] = ("base", "reconciled")
"""``reconcile.choose_on``: which backtest scores rank the candidates and decide the promotion."""


@dataclass(frozen=True)
class SourceConfig:
    """One input file and how ``forecasting.data.loaders.load`` reads it (a format or a spec .toml)."""

    path: str
    format: str = "auto"


@dataclass(frozen=True)
class MonitoringConfig:
    """How each retrain judges the forecasts in service (``[monitoring]``, docs/scheduling.md).

    The section's drift keys (``months``, ``mase_factor``, ``min_months``,
    ``coverage_level``, ``coverage_band``, ``coverage_alpha``, ``min_forecasts``) fill ``rule``.
    """

    enabled: bool = True
    rule: DriftRule = DriftRule()
    force_challenger_on_drift: bool = False
    """On drift, the promotion gate of that run uses margin 0: any better candidate replaces the champion."""


@dataclass(frozen=True)
class JobConfig:
    """Everything one scheduled retrain needs; defaults run the bundled sample."""

    name: str = "sample"
    horizon: int = 12
    levels: tuple[int, ...] = DEFAULT_LEVELS
    output_dir: str = "exports"
    round_digits: int | None = None
    """``[job] round``: significant digits of the exported forecasts and bounds; None: full precision."""
    csv_dialect: str = CSV_DIALECTS[0]
    """``[job] csv_dialect``: ``default`` (``,``, decimal point) or ``excel-eu`` (``;``, decimal comma)."""
    models_dir: str = "models"
    n_jobs: int = -1
    """``[job] n_jobs``: worker processes of the local executor, joblib's count (-1: all cores, -2: all
    but one, 1: this process only); the same meaning as a model's and ``backtest --n-jobs``."""
    stale_lock_hours: float = 6.0
    executor: str = DEFAULT_EXECUTOR
    """serial | local | dask (forecasting.executors); local (all cores) unless set."""
    dask_address: str | None = None
    tracking_uri: str | None = None
    experiment: str | None = None
    sources: tuple[SourceConfig, ...] = ()
    targets: tuple[str, ...] = ()
    series_ids: tuple[str, ...] = ()
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_stale_months: int = DEFAULT_MAX_STALE_MONTHS
    """A series that ended more than this many months before the panel's last month is stale."""
    include_stale: bool = False
    """Forecast stale series too (through the same window as the others); else they are left out, reported."""
    calendar: bool = True
    events: tuple[dict[str, Any], ...] = ()
    """Event tables (name, kind, start, end, series) for ``Event.from_dict``."""
    sample_events: bool = True
    candidates: tuple[str, ...] = ()
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    folds: int = 3
    step: int | None = None
    window: str = "expanding"
    window_length: int | None = None
    margin: float = 0.02
    monitoring: MonitoringConfig = MonitoringConfig()
    source_file: str | None = None
    reconcile: str | None = None
    """Reconciliation method for the exported forecasts (RECONCILE_CHOICES); None (no ``[reconcile]``
    section): none. A section without ``method`` uses ``mint_guarded``."""
    reconcile_nonnegative: bool | None = None
    """Reconciled forecasts kept at or above zero; None ("auto"): when no reconciled series is negative."""
    reconcile_choose_on: str = "base"
    """``reconciled``: candidates and champion are scored on their reconciled backtests (CHOOSE_ON)."""
    reconcile_residuals: str = RESIDUAL_SOURCES[0]
    """Errors behind the covariance of the exported reconciliation: ``in_sample`` or ``backtest``."""
    reconcile_residual_months: int = RESIDUAL_MONTHS
    """How many recent months of in-sample errors are used."""

    @property
    def request(self) -> ForecastRequest:
        """The job's forecast request (``job.horizon``, ``job.levels``)."""
        return ForecastRequest(self.horizon, self.levels)

    @property
    def experiment_name(self) -> str:
        return self.experiment or self.name

    @property
    def uses_sample(self) -> bool:
        return not self.sources

    @property
    def input_files(self) -> tuple[str, ...]:
        """What the job reads: the config, each source, its hierarchy and spec; no export may replace one."""
        files = [self.source_file] if self.source_file else []
        for source in self.sources:
            files += [source.path, str(structure_path(source.path))]
            files += [source.format] if source.format.endswith(".toml") else []
        return tuple(files)

    def digest(self) -> str:
        """sha256 of the settings (not of where the file lives), for the run's ``config_digest`` tag."""
        # Where the work runs does not change the results, so it is not part of the digest.
        ignored = ("source_file", "executor", "dask_address", "n_jobs")
        settings = {k: v for k, v in asdict(self).items() if k not in ignored}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def load_config(path: str | Path | None = None, **overrides: Any) -> JobConfig:
    """Read and validate a job TOML; ``None`` gives the bundled-sample job."""
    if path is None:
        raw: dict[str, Any] = {}
        source_file = None
    else:
        source_file = str(path)
        try:
            raw = tomllib.loads(read_config_text(path))  # a regular file of at most 1 MiB
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"not valid TOML: {error}", file=source_file) from None
        except IsADirectoryError:
            raise ConfigError("is a directory, not a config file", file=source_file) from None
    config = parse_config(raw, source_file=source_file)
    return _with_overrides(config, overrides)


def parse_config(raw: dict[str, Any], *, source_file: str | None = None) -> JobConfig:
    """Validate a parsed TOML mapping into a :class:`JobConfig`."""
    check = _Checker(source_file)
    check.known_sections(raw)
    job = check.table(raw, "job")
    tracking = check.table(raw, "tracking")
    series = check.table(raw, "series")
    regressors = check.table(raw, "regressors")
    candidates = check.table(raw, "candidates")
    backtest = check.table(raw, "backtest")
    promotion = check.table(raw, "promotion")
    monitoring = check.table(raw, "monitoring")
    reconcile = check.table(raw, "reconcile")
    # a [reconcile] section reconciles, with the method that makes no level worse unless it names another
    reconcile_method = check.string(reconcile, "reconcile.method", GUARDED) if "reconcile" in raw else None
    if reconcile_method is not None and reconcile_method not in RECONCILE_CHOICES:
        check.fail("reconcile.method", f"must be one of {list(RECONCILE_CHOICES)}. Got {reconcile_method!r}")
    folds = check.positive_int(backtest, "backtest.folds", 3)
    name = check_job_name(check.string(job, "job.name", "sample"), file=source_file)
    horizon = check.positive_int(job, "job.horizon", 12)
    try:  # the forecast request, validated once: sorted, distinct levels in (0, 100), horizon bounded
        request = ForecastRequest.parse(
            horizon,
            check.int_list(job, "job.levels", list(DEFAULT_LEVELS)),
            horizon_key="job.horizon",
            levels_key="job.levels",
        )
    except ConfigError as error:
        check.fail(error.key or "job.levels", error.message)
    levels = request.levels
    models = tuple(check.str_list(candidates, "candidates.models", []))
    _check_models(check, models)
    params = check.table(candidates, "candidates.params")
    for model_name, model_params in params.items():
        if model_name not in models:
            check.fail(f"candidates.params.{model_name}", "parameters for a model not in candidates.models")
        if not isinstance(model_params, dict):
            check.fail(f"candidates.params.{model_name}", "must be a table of parameters")
        try:  # the model's own parameter constraints, checked before any data is loaded
            make_model(model_name, **model_params)
        except ConfigError as error:
            check.fail(f"candidates.params.{model_name}", str(error))
    window = check.choice(backtest, "backtest.window", WINDOWS)
    window_length = check.optional_positive_int(backtest, "backtest.window_length")
    _check_window(check, window, window_length)
    filters = check.table(series, "series.filters")
    return JobConfig(
        name=name,
        horizon=request.horizon,
        levels=request.levels,
        output_dir=check.string(job, "job.output_dir", "exports"),
        round_digits=check.optional_positive_int(job, "job.round"),
        csv_dialect=check.choice(job, "job.csv_dialect", CSV_DIALECTS),
        models_dir=check.string(job, "job.models_dir", "models"),
        n_jobs=check.nonzero_int(job, "job.n_jobs", -1),
        stale_lock_hours=check.positive_number(job, "job.stale_lock_hours", 6.0),
        executor=_executor(check, job),
        dask_address=check.optional_string(job, "job.dask_address"),
        tracking_uri=check.optional_string(tracking, "tracking.uri"),
        experiment=_experiment(check, tracking),
        sources=tuple(_sources(check, raw.get("sources", []))),
        targets=tuple(check.str_list(series, "series.targets", [])),
        series_ids=tuple(check.str_list(series, "series.ids", [])),
        filters={k: tuple(check.str_or_list(filters, f"series.filters.{k}")) for k in filters},
        max_stale_months=_max_stale_months(check, series),
        include_stale=check.boolean(series, "series.include_stale", False),
        calendar=check.boolean(regressors, "regressors.calendar", True),
        events=tuple(_events(check, regressors.get("events", []))),
        sample_events=check.boolean(regressors, "regressors.sample_events", True),
        candidates=models,
        model_params={k: dict(v) for k, v in params.items()},
        folds=folds,
        step=check.optional_positive_int(backtest, "backtest.step"),
        window=window,
        window_length=window_length,
        margin=check.fraction(promotion, "promotion.margin", 0.02),
        monitoring=_monitoring(check, monitoring, levels),
        source_file=source_file,
        reconcile=reconcile_method,
        reconcile_nonnegative=check.boolean_or_auto(reconcile, "reconcile.nonnegative"),
        reconcile_choose_on=_choose_on(check, reconcile, folds),
        reconcile_residuals=check.choice(reconcile, "reconcile.residuals", RESIDUAL_SOURCES),
        reconcile_residual_months=check.positive_int(reconcile, "reconcile.residual_months", RESIDUAL_MONTHS),
    )


def _max_stale_months(check: _Checker, table: dict[str, Any]) -> int:
    value = check.integer(table, "series.max_stale_months", DEFAULT_MAX_STALE_MONTHS)
    if value < 0:
        check.fail("series.max_stale_months", f"must be a non-negative integer (months). Got {value}")
    return value


def _choose_on(check: _Checker, table: dict[str, Any], folds: int) -> str:
    """``reconcile.choose_on``; ``reconciled`` needs two folds (the first lends its errors)."""
    choose_on = check.choice(table, "reconcile.choose_on", CHOOSE_ON)
    if choose_on == "reconciled" and folds < 2:
        check.fail(
            "reconcile.choose_on",
            f"'reconciled' needs backtest.folds >= 2 (each fold is reconciled with the errors of "
            f"earlier ones). Got {folds}",
        )
    return choose_on


def _monitoring(check: _Checker, table: dict[str, Any], levels: tuple[int, ...]) -> MonitoringConfig:
    """The ``[monitoring]`` section; the coverage level must be one the job exports."""
    default = MonitoringConfig()
    return MonitoringConfig(
        enabled=check.boolean(table, "monitoring.enabled", default.enabled),
        rule=_drift_rule(check, table, levels),
        force_challenger_on_drift=check.boolean(
            table, "monitoring.force_challenger_on_drift", default.force_challenger_on_drift
        ),
    )


def _default_coverage_level(levels: tuple[int, ...], default: DriftRule) -> int:
    """The drift rule's level when none is set: its default (80) when requested, else the requested
    level nearest to it (the wider on a tie), so any ``job.levels`` works without a monitoring table."""
    if default.coverage_level in levels:
        return default.coverage_level
    return min(levels, key=lambda level: (abs(level - default.coverage_level), -level))


def _default_coverage_band(level: int, default: DriftRule) -> tuple[float, float]:
    """The coverage band when none is set: the default's at its level, [0.75 l, l + 0.15] (capped
    at 1) of another nominal coverage l, which is the same rule ((0.6, 0.95) at 80 %)."""
    if level == default.coverage_level:
        return default.coverage_band
    return (0.75 * level / 100, min(1.0, level / 100 + 0.15))


def _drift_rule(check: _Checker, table: dict[str, Any], levels: tuple[int, ...]) -> DriftRule:
    default = DriftRule()
    factor = check.positive_number(table, "monitoring.mase_factor", default.mase_factor)
    if factor < 1:
        check.fail("monitoring.mase_factor", f"must be >= 1 (live MASE over backtest MASE). Got {factor}")
    months = check.positive_int(table, "monitoring.months", default.months)
    min_months = check.positive_int(table, "monitoring.min_months", min(default.min_months, months))
    if min_months > months:
        check.fail("monitoring.min_months", f"must be <= monitoring.months ({months}). Got {min_months}")
    level = check.integer(table, "monitoring.coverage_level", _default_coverage_level(levels, default))
    if level not in levels:
        check.fail("monitoring.coverage_level", f"must be one of job.levels {sorted(levels)}. Got {level}")
    band = table.get("coverage_band", list(_default_coverage_band(level, default)))
    numbers = isinstance(band, list) and all(
        isinstance(b, int | float) and not isinstance(b, bool) for b in band
    )
    if not numbers or len(band) != 2 or not 0 <= band[0] < band[1] <= 1:
        check.fail("monitoring.coverage_band", f"must be [low, high] with 0 <= low < high <= 1. Got {band!r}")
    alpha = check.positive_number(table, "monitoring.coverage_alpha", default.coverage_alpha)
    if alpha >= 1:
        check.fail("monitoring.coverage_alpha", f"must be a significance level in (0, 1). Got {alpha}")
    return DriftRule(
        months=months,
        mase_factor=factor,
        min_months=min_months,
        coverage_level=level,
        coverage_band=(float(band[0]), float(band[1])),
        coverage_alpha=alpha,
        min_forecasts=check.positive_int(table, "monitoring.min_forecasts", default.min_forecasts),
    )


def _executor(check: _Checker, job: dict[str, Any]) -> str:
    executor = check.optional_string(job, "job.executor") or DEFAULT_EXECUTOR
    if executor not in EXECUTORS:
        check.fail("job.executor", f"must be one of {list(EXECUTORS)}. Got {executor!r}")
    if job.get("dask_address") is not None and executor != "dask":
        check.fail("job.dask_address", "only applies with job.executor = 'dask'")
    return executor


def _experiment(check: _Checker, tracking: dict[str, Any]) -> str | None:
    experiment = check.optional_string(tracking, "tracking.experiment")
    return None if experiment is None else check_experiment_name(experiment, file=check.file)


def _check_window(check: _Checker, window: str, window_length: int | None) -> None:
    if window == "sliding" and window_length is None:
        check.fail("backtest.window_length", "is required with backtest.window = 'sliding' (months kept)")
    if window == "sliding" and window_length < MIN_TRAIN:
        check.fail("backtest.window_length", f"must be at least {MIN_TRAIN} months. Got {window_length}")


def _with_overrides(config: JobConfig, overrides: dict[str, Any]) -> JobConfig:
    """Programmatic overrides (tests, CLI flags) on top of the file's settings."""
    unknown = sorted(set(overrides) - set(JobConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError("unknown override", key=unknown[0])
    if "name" in overrides:
        check_job_name(overrides["name"], key="name")
    if overrides.get("experiment") is not None:
        check_experiment_name(overrides["experiment"], key="experiment")
    return replace(config, **overrides)


def _check_models(check: _Checker, models: tuple[str, ...]) -> None:
    known = available_models()
    for index, model in enumerate(models):
        if model not in known:
            check.fail(f"candidates.models[{index}]", f"unknown model {model!r}; known: {known}")
    if len(set(models)) != len(models):
        check.fail("candidates.models", "lists a model twice")


def _sources(check: _Checker, sources: Any) -> list[SourceConfig]:
    formats = ["auto", "long", "wide", "bts", *BUILTIN_SPECS]
    if not isinstance(sources, list):
        check.fail("sources", "must be an array of tables ([[sources]])")
    out = []
    for index, source in enumerate(sources):
        key = f"sources[{index}]"
        if not isinstance(source, dict):
            check.fail(key, "must be a table with a 'path'")
        check.known_keys(source, key, _SCHEMA["sources"])
        if "path" not in source:
            check.fail(f"{key}.path", "is required")
        fmt = check.string(source, f"{key}.format", "auto")
        if fmt not in formats and not fmt.endswith(".toml"):
            check.fail(f"{key}.format", f"must be one of {formats} or a source spec .toml. Got {fmt!r}")
        out.append(SourceConfig(check.string(source, f"{key}.path", ""), fmt))
    return out


def _events(check: _Checker, events: Any) -> list[dict[str, Any]]:
    """Event tables as :class:`forecasting.features.interventions.Event` accepts them."""
    if not isinstance(events, list):
        check.fail("regressors.events", "must be an array of tables ([[regressors.events]])")
    out = []
    for index, event in enumerate(events):
        key = f"regressors.events[{index}]"
        if not isinstance(event, dict):
            check.fail(key, "must be a table with name, kind, start")
        try:
            Event.from_dict(event).window()
        except (ConfigError, TypeError, ValueError) as error:
            inner = getattr(error, "key", None)
            check.fail(f"{key}.{inner}" if inner else key, str(error))
        out.append(dict(event))
    return out


class _Checker:
    """Type checks that raise :class:`ConfigError` naming the dotted key."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def fail(self, key: str, message: str) -> None:
        raise ConfigError(message, key=key, file=self.file)

    def known_sections(self, raw: dict[str, Any]) -> None:
        for section, value in raw.items():
            if section not in _SCHEMA:
                self.fail(section, f"unknown section; known: {sorted(_SCHEMA)}")
            if section != "sources":
                if not isinstance(value, dict):
                    self.fail(section, "must be a table")
                self.known_keys(value, section, _SCHEMA[section])

    def known_keys(self, table: dict[str, Any], prefix: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.fail(f"{prefix}.{key}", f"unknown key; known: {sorted(known)}")

    def _leaf(self, key: str) -> str:
        return key.rsplit(".", 1)[-1]

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(self._leaf(key), {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return value

    def _get(self, table: dict[str, Any], key: str, default: Any, types: tuple[type, ...], what: str) -> Any:
        value = table.get(self._leaf(key), default)
        if isinstance(value, bool) and bool not in types:
            self.fail(key, f"must be {what}. Got {value!r}")
        if not isinstance(value, types):
            self.fail(key, f"must be {what}. Got {value!r}")
        return value

    def string(self, table: dict[str, Any], key: str, default: str) -> str:
        value = self._get(table, key, default, (str,), "a string")
        if not value.strip():
            self.fail(key, "must not be empty")
        return value

    def choice(self, table: dict[str, Any], key: str, options: Sequence[str]) -> str:
        """A string among ``options``; the first one when the key is absent."""
        value = self.string(table, key, options[0])
        if value not in options:
            self.fail(key, f"must be one of {list(options)}. Got {value!r}")
        return value

    def optional_string(self, table: dict[str, Any], key: str) -> str | None:
        return None if self._leaf(key) not in table else self.string(table, key, "")

    def boolean(self, table: dict[str, Any], key: str, default: bool) -> bool:
        return self._get(table, key, default, (bool,), "true or false")

    def boolean_or_auto(self, table: dict[str, Any], key: str) -> bool | None:
        """true, false, or "auto" (the default): None, decided later from the data."""
        value = self._get(table, key, "auto", (bool, str), 'true, false or "auto"')
        if isinstance(value, str) and value != "auto":
            self.fail(key, f'must be true, false or "auto". Got {value!r}')
        return None if value == "auto" else value

    def integer(self, table: dict[str, Any], key: str, default: int) -> int:
        return self._get(table, key, default, (int,), "an integer")

    def nonzero_int(self, table: dict[str, Any], key: str, default: int) -> int:
        value = self.integer(table, key, default)
        if value == 0:
            self.fail(key, "must not be 0 (1: one process, -1: all cores, -2: all but one)")
        return value

    def positive_int(self, table: dict[str, Any], key: str, default: int) -> int:
        value = self.integer(table, key, default)
        if value < 1:
            self.fail(key, f"must be a positive integer. Got {value}")
        return value

    def optional_positive_int(self, table: dict[str, Any], key: str) -> int | None:
        return None if self._leaf(key) not in table else self.positive_int(table, key, 1)

    def positive_number(self, table: dict[str, Any], key: str, default: float) -> float:
        value = float(self._get(table, key, default, (int, float), "a number"))
        if not math.isfinite(value) or value <= 0:  # TOML has nan and inf: every comparison with nan is False
            self.fail(key, f"must be a positive finite number. Got {value}")
        return value

    def fraction(self, table: dict[str, Any], key: str, default: float) -> float:
        value = float(self._get(table, key, default, (int, float), "a number"))
        if not 0 <= value < 1:
            self.fail(key, f"must be in [0, 1), a relative MASE improvement. Got {value}")
        return value

    def str_list(self, table: dict[str, Any], key: str, default: list[str]) -> list[str]:
        value = self._get(table, key, default, (list,), "an array of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{key}[{index}]", f"must be a non-empty string. Got {item!r}")
        return value

    def int_list(self, table: dict[str, Any], key: str, default: list[int]) -> list[int]:
        value = self._get(table, key, default, (list,), "an array of integers")
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int):
                self.fail(f"{key}[{index}]", f"must be an integer. Got {item!r}")
        return value

    def str_or_list(self, table: dict[str, Any], key: str) -> list[str]:
        value = table[self._leaf(key)]
        return [self.string(table, key, "")] if isinstance(value, str) else self.str_list(table, key, [])

    def month(self, table: dict[str, Any], key: str) -> str:
        value = self.string(table, key, "")
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            self.fail(key, f"must be a month 'YYYY-MM'. Got {value!r}")
        return value
