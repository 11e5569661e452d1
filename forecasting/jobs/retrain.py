"""The scheduled retrain: load -> validate -> build series -> backtest -> fit -> log -> promote -> export.

Run by ``forecasting retrain [--config job.toml]`` (``make run`` on the bundled
sample). Everything happens inside one MLflow parent run, so a failure at any
step marks that run FAILED. The champion alias, ``models/<job>`` and both
export CSVs change together in one journaled publish step at the very end
(:mod:`forecasting.jobs.publish`), so a failed or killed job leaves the
previous champion and the previous CSVs in place, and a job killed during the
publish is finished by the next start. Log lines are ``event=... key=value``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from forecasting import deployment, model_folder, progress, tracking
from forecasting.core.checks import check_align
from forecasting.data.loaders import load
from forecasting.data.report import DataQualityReport
from forecasting.data.staleness import report_stale, stale_summary
from forecasting.data.summing import SummingStructure
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.evaluation.backtest import backtest, check_folds, dominance_warnings
from forecasting.evaluation.metrics import MASE_AGGREGATE, leaderboard, metrics_by_horizon, metrics_by_series
from forecasting.evaluation.reconciled import leaderboard_by_level
from forecasting.executors import executor_scope
from forecasting.export import forecast_table, round_forecasts, utc_timestamp
from forecasting.features.breaks import report_shared_level_shifts
from forecasting.features.regressors import exog_from_settings
from forecasting.jobs import monitoring
from forecasting.jobs.config import DEFAULT_JOB_MODELS, JobConfig
from forecasting.jobs.monitoring import LiveCheck
from forecasting.jobs.promotion import Decision, decide
from forecasting.jobs.publish import (
    Flip,
    check_own_names,
    discard_staged,
    job_lock,
    publish,
    recover,
    stage_exports,
)
from forecasting.jobs.reconcile import (
    RESIDUAL_FOLDS,
    ReconciledScoring,
    check_hierarchy,
    log_reconciled_backtest,
    reconcile_job_forecasts,
    reconcile_work,
)
from forecasting.models.base import PanelForecaster, in_window, replace_non_finite
from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel, log_unusable_input
from forecasting.progress import progress_scope
from forecasting.sample import SAMPLE_EVENTS, load_sample
from forecasting.serving import model_from_spec, model_spec, spec_key

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainResult:
    """What one retrain did, for the CLI summary and for tests."""

    run_id: str
    decision: Decision
    champion_version: str
    model_uri: str
    exports: tuple[Path, Path]
    leaderboard: pd.DataFrame
    live: LiveCheck | None = None
    """The forecasts in service scored at the start of the run (None: monitoring disabled)."""


@dataclass(frozen=True)
class Registration:
    """What the registry records for the serving model of one run."""

    job: str
    decision: Decision
    model_uri: str
    serving: PanelForecaster
    score: float | None
    digest: str
    previous: str | None


@dataclass
class _Backtests:
    """Backtest tables per model spec, so the champion is not re-run when it is a candidate, and the
    champion's scores as the gate read them (its leaderboard row, base or reconciled)."""

    results: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    scores: dict[str, pd.Series] = dataclasses.field(default_factory=dict)


def configure_tracking(config: JobConfig) -> str:
    """Point MLflow at the job's store: ``tracking.uri``, ``MLFLOW_TRACKING_URI``, else the store of
    the project the config belongs to (:func:`forecasting.tracking.default_tracking_uri`)."""
    return tracking.configure(config.tracking_uri, config_file=config.source_file)


def run_retrain(config: JobConfig) -> RetrainResult:
    """Run the whole job under the job lock; raises on failure (the CLI maps it to an exit code)."""
    tracking_uri = configure_tracking(config)
    with job_lock(config), progress_scope("retrain"):
        model_folder.job_folder(config.models_dir, config.name)  # refuse a user's folder before any work
        check_own_names(config)  # and a link at the job's own export names
        experiment_id = tracking.ensure_experiment(config.experiment_name, tracking_uri)
        recover(config)  # a publish a killed run journaled, before its run is ended as stale
        tracking.end_stale_runs(experiment_id, config.name)
        _log("start", job=config.name, tracking_uri=tracking_uri, experiment=config.experiment_name)
        run_name = f"retrain-{utc_timestamp().replace(':', '')}"
        tags = {tracking.JOB_TAG: config.name, "forecasting.config_digest": config.digest()}
        # Per-series fits go to the configured executor; MLflow calls stay here, on the driver.
        executor = executor_scope(config.executor, address=config.dask_address, n_jobs=config.n_jobs)
        with tracking.retrain_run(experiment_id, run_name, tags) as run, executor:
            return _pipeline(config, run.info.run_id)


def _pipeline(config: JobConfig, run_id: str) -> RetrainResult:
    with progress.phase("load"):
        loaded = load_panel(config)
        log_unusable_input(loaded)
        panel = forecastable(select_series(loaded, config), config)
    check_own_names(config, panel.records["month"].max())  # the dated export's name is known now
    check_folds(panel, horizon=config.horizon, folds=config.folds, step=config.step, key="backtest.folds")
    if config.reconcile is not None:  # before the backtests: a panel without a hierarchy is refused now
        check_hierarchy(panel, key="reconcile.method")
    live = monitoring.check_in_service(config, panel, run_id=run_id)
    digest = tracking.data_digest(panel)
    tracking.log_decision(tracking.run_tags(config.name, data=digest, config=config.digest()))
    tracking.log_params({"horizon": config.horizon, "folds": config.folds, "n_series": len(panel)})
    tracking.log_report(panel.report.format(), tracking.REPORT_ARTIFACT)
    source = config.sources[0].path if config.sources else "forecasting.sample"
    dataset = tracking.log_dataset(panel, name=config.name, digest=digest, source=source)
    _log("loaded", series=len(panel), rows=len(panel.records), data_digest=digest[:12])

    candidates = make_candidates(config)
    progress.plan(*planned_work(config, candidates, panel))
    exog = exog_settings(config, candidates)
    X, _ = build_regressors(panel, config.horizon, exog)
    cache = _Backtests()
    with progress.phase("backtest"):
        results = _backtest_all(candidates, panel, config, X, cache)
    board = leaderboard(results, levels=config.levels)
    for warning in dominance_warnings(results):  # the gate reads the trimmed mean; name who carries the mean
        logger.warning("event=mase_dominated detail=%s", _value(warning))
    for model in candidates:
        own = results[results["model"] == model.model_name]
        tracking.log_candidate(
            model,
            results=own,
            scores=board.set_index("model").loc[model.model_name],
            by_horizon=metrics_by_horizon(own, config.levels).droplevel("model"),
            by_series=metrics_by_series(own, config.levels),
            panel=panel,
            dataset=dataset,
            tags={tracking.JOB_TAG: config.name},
        )
    tracking.log_frame(board, "leaderboard.csv")
    tracking.log_error_by_horizon(results)
    log_levels(results, panel, config.levels)
    scoring = _scoring(config, panel)
    if scoring is not None:  # the champion is chosen on reconciled backtests
        board = scoring.leaderboard(results)
        tracking.log_frame(board, "leaderboard_reconciled.csv")
    if config.reconcile is not None:
        best_results = results[results["model"] == board["model"].iloc[0]]
        log_reconciled_backtest(
            best_results,
            panel,
            method=config.reconcile,
            nonnegative=config.reconcile_nonnegative,
            levels=config.levels,
        )
    best = next(m for m in candidates if m.model_name == board["model"].iloc[0])
    score = _scores if scoring is None else scoring.scores
    gate = monitoring.gate_config(config, live)
    with progress.phase("champion"):
        decision, champion = _decide(gate, best, float(board["mase"].iloc[0]), panel, X, cache, score)
    tracking.log_decision(
        {
            **decision.tags(),
            "promotion.scored_on": config.reconcile_choose_on,
            "promotion.mase_aggregate": MASE_AGGREGATE,
        }
    )
    champion_row = cache.scores.get(spec_key(champion[1])) if champion is not None else None
    headline = headline_metrics(decision, board.iloc[0], champion_row, config.levels)
    tracking.log_headline(headline)
    summary = describe_decision(config, decision, headline, panel, live)
    tracking.set_description(summary)
    _log("decision", outcome=decision.outcome, reason=decision.reason)

    serving = best if decision.promote or champion is None else model_from_spec(champion[1])
    forecasts = fit_and_forecast(serving, panel, config, exog)
    model_uri = tracking.log_serving_model(
        serving, panel=panel, forecasts=forecasts, horizon=config.horizon, levels=config.levels, exog=exog
    )
    if config.reconcile is not None:
        forecasts = reconcile_job_forecasts(
            serving,
            panel,
            forecasts,
            method=config.reconcile,
            horizon=config.horizon,
            levels=config.levels,
            nonnegative=config.reconcile_nonnegative,
            X=X,
            residuals=config.reconcile_residuals,
            residual_months=config.reconcile_residual_months,
            key="reconcile.method",
            backtested=cache.results.get(spec_key(model_spec(serving))),
        )
    tracking.log_forecast_plot(panel, forecasts, config.levels)
    score = decision.candidate_mase if decision.promote else decision.champion_mase
    previous = str(champion[0]) if champion else None
    registration = Registration(config.name, decision, model_uri, serving, score, digest, previous)
    with progress.phase("export"):
        version, exports = _export(config, registration, forecasts, panel, run_id, cache)
    tracking.set_description(f"{summary}\n\n{describe_service(config, serving, version, exports[0])}")
    _log("done", run_id=run_id, champion_version=version, export=exports[1])
    return RetrainResult(run_id, decision, version, model_uri, exports, board, live)


def _export(
    config: JobConfig,
    registration: Registration,
    forecasts: pd.DataFrame,
    panel: SeriesPanel,
    run_id: str,
    cache: _Backtests,
) -> tuple[str, tuple[Path, Path]]:
    """Register, stage and publish the serving model with both export CSVs: ``(version, exports)``.

    What is staged is discarded on failure, so the previous champion and CSVs stay in service.
    """
    serving = registration.serving
    table = forecast_table(forecasts, panel.metadata, run_id=run_id, levels=config.levels)
    table = round_forecasts(table, config.round_digits)
    version, folder, staged = _register(registration), None, ()
    try:
        version, folder = _stage_champion(config, registration, version)
        staged = stage_exports(table, config, panel.records["month"].max(), run_id)
        tracking.log_exports(staged)
        monitoring.record_serving(
            run_id=run_id,
            champion_version=version,
            serving_model=serving.model_name,
            backtest=cache.results.get(spec_key(model_spec(serving))),
        )
    except BaseException:
        discard_staged(config, folder, staged)
        raise
    flip = Flip(config.name, version, str(folder), registration.previous, exports=staged, run_id=run_id)
    publish(flip, config)
    return version, (Path(staged[0][1]), Path(staged[1][1]))


# --- what the run says -------------------------------------------------------------
def headline_metrics(
    decision: Decision, candidate: pd.Series, champion: pd.Series | None, levels: Sequence[int]
) -> dict[str, float | None]:
    """The parent run's headline numbers: backtest MASE and coverage of the best candidate
    (``candidate_*``), of the champion it was gated against (``champion_*``, when there was one),
    and of the model that serves after the decision (``mase``, ``coverage_<l>``, the names the
    candidate runs use, so one runs-table column compares them). Live MASE is logged by monitoring."""
    names = ["mase", *(f"coverage_{level}" for level in levels)]
    serving = candidate if decision.promote or champion is None else champion
    headline: dict[str, float | None] = {}
    for prefix, row in (("candidate_", candidate), ("champion_", champion), ("", serving)):
        if row is not None:
            headline.update({prefix + name: row.get(name) for name in names})
    return headline


def describe_decision(
    config: JobConfig,
    decision: Decision,
    headline: dict[str, float | None],
    panel: SeriesPanel,
    live: LiveCheck | None,
) -> str:
    """The run's description (markdown): what was decided, on which numbers, on which data."""
    verb = "Promoted" if decision.promote else "Kept"
    model = decision.candidate_model if decision.promote else decision.champion_model
    champion = (
        f"champion {decision.champion_model} (version {decision.champion_version}) "
        f"{_number(headline.get('champion_mase'))}"
        if decision.champion_version
        else "no champion yet"
    )
    window = f"{config.folds} folds of {config.horizon} months, {config.reconcile_choose_on} scores"
    lines = [
        f"**{verb} {model}** for job `{config.name}`: {decision.reason}.",
        "",
        f"- Backtest MASE ({MASE_AGGREGATE}; {window}): candidate {decision.candidate_model} "
        f"{_number(headline.get('candidate_mase'))}, {champion}; margin {decision.margin * 100:g}%.",
        f"- {_coverage_line(headline, config.levels)}",
        f"- Live: {_live_line(live)}",
        f"- Data: {len(panel)} series to {panel.records['month'].max()}.",
    ]
    return "\n".join(lines)


def _coverage_line(headline: dict[str, float | None], levels: Sequence[int]) -> str:
    """Backtest interval coverage of the candidate and the champion, against the nominal levels."""
    scored = []
    for who in ("candidate", "champion"):
        if headline.get(f"{who}_mase") is not None:
            shares = ", ".join(_percent(headline.get(f"{who}_coverage_{level}")) for level in levels)
            scored.append(f"{who} {shares}")
    return f"Interval coverage (nominal {', '.join(f'{level}%' for level in levels)}): {'; '.join(scored)}."


def _live_line(live: LiveCheck | None) -> str:
    """Live accuracy of the forecasts in service, as the description says it."""
    if live is None:
        return "monitoring disabled."
    drift = live.drift
    if drift is None:
        return "no forecast in service has an actual yet."
    verdict = "DRIFT: " + "; ".join(drift.reasons()) if drift.drifted else "no drift"
    return (
        f"MASE {_number(drift.live_mase)} over {drift.window[0]}..{drift.window[1]} "
        f"(backtest promised {_number(drift.backtest_mase)}); {verdict}."
    )


def describe_service(config: JobConfig, serving: PanelForecaster, version: str, export: Path) -> str:
    """What serves after the run: the registered version and the export it wrote."""
    return (
        f"In service: `{config.name}` version {version} ({serving.model_name}); "
        f"forecasts of the next {config.horizon} months in `{export.name}`."
    )


def _number(value: float | None) -> str:
    return "?" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "?" if value is None or not np.isfinite(value) else f"{value:.0%}"


def log_levels(results: pd.DataFrame, panel: SeriesPanel, levels: Sequence[int]) -> None:
    """The candidates' backtest MASE at each level of the panel's hierarchy, charted on the run;
    nothing on a panel without one (one level: the leaderboard says it all)."""
    if panel.structure.aggregates:
        tracking.log_level_chart(leaderboard_by_level(results, panel.structure, levels))


# --- steps ----------------------------------------------------------------------
def load_panel(config: JobConfig) -> SeriesPanel:
    """The configured sources (concatenated, reports merged) or the bundled sample.

    The report also flags level shifts shared by most crossings of a measure
    (:mod:`forecasting.features.breaks`): models trained before one may not hold after it.
    """
    panel = load_sample() if config.uses_sample else _load_sources(config)
    report_shared_level_shifts(panel, panel.report)
    return panel


def _load_sources(config: JobConfig) -> SeriesPanel:
    frames, report = [], DataQualityReport(source=", ".join(s.path for s in config.sources))
    structures = []  # the hierarchy each source brought (series build writes it next to its panel)
    for source in config.sources:
        loaded = load(source.path, source.format)
        frames.append(loaded.records)
        report.extend(loaded.report)
        structures.append(loaded.structure)
    structure = SummingStructure.merged(structures)
    return SeriesPanel(pd.concat(frames, ignore_index=True), report, structure=structure)


def select_series(panel: SeriesPanel, config: JobConfig) -> SeriesPanel:
    """Apply ``series.targets`` (flows), ``series.filters`` and ``series.ids``."""
    selected = panel
    if config.targets:
        selected = selected.filter(flow=list(config.targets))
    if config.filters:
        selected = selected.filter(**{k: list(v) for k, v in config.filters.items()})
    if config.series_ids:
        selected = selected.subset(config.series_ids)
    if len(selected) == 0:
        raise DataError("the series filters in the job config select no series")
    return selected


def make_candidates(config: JobConfig) -> list[PanelForecaster]:
    """The configured candidates, or the registered ones of :data:`DEFAULT_JOB_MODELS`."""
    names = config.candidates
    if not names:
        names = tuple(n for n in DEFAULT_JOB_MODELS if n in available_models())
        skipped = [n for n in DEFAULT_JOB_MODELS if n not in names]
        if skipped:
            _log("default_candidates_skipped", models=",".join(skipped), reason="not registered")
    models = []
    for name in names:
        try:
            params = config.model_params.get(name, {})
            models.append(make_model(name, horizon=config.horizon, levels=config.levels, **params))
        except (TypeError, ConfigError) as error:
            raise ConfigError(str(error), key=f"candidates.params.{name}") from None
    return models


def exog_settings(config: JobConfig, candidates: Sequence[PanelForecaster]) -> dict[str, Any] | None:
    """Calendar flag and event tables, when a candidate uses regressors; JSON-able for the model spec."""
    if not any(m.uses_exog for m in candidates):
        return None
    events: list[dict[str, Any]] = [dict(e) for e in config.events]
    if config.uses_sample and config.sample_events and not events:
        events = [_event_dict(e) for e in SAMPLE_EVENTS]
    if not config.calendar and not events:
        return None
    return {"calendar": config.calendar, "events": events}


def _event_dict(event: Any) -> dict[str, Any]:
    as_dict = dataclasses.asdict(event)
    return json.loads(json.dumps({k: v for k, v in as_dict.items() if v is not None}, default=str))


def build_regressors(
    panel: SeriesPanel, horizon: int, exog: dict[str, Any] | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if exog is None:
        return None, None
    return exog_from_settings(panel, horizon, exog)


def _backtest_all(
    candidates: Sequence[PanelForecaster],
    panel: SeriesPanel,
    config: JobConfig,
    X: pd.DataFrame | None,
    cache: _Backtests,
) -> pd.DataFrame:
    frames = [_backtest_one(model, panel, config, X, cache) for model in candidates]
    return pd.concat(frames, ignore_index=True)


def planned_work(
    config: JobConfig, candidates: Sequence[PanelForecaster], panel: SeriesPanel
) -> tuple[int, float]:
    """Series fits the job will make and what they cost, for one progress total up front
    (:mod:`forecasting.progress`).

    Each distinct candidate's backtest, the champion's when it is not among
    them, the final fit, and the reconciliation's own backtest. The champion
    in service and the one the job will fit are not known as models yet: their
    fits are costed as the costliest candidate's, so the ETA errs long.
    """
    costs = {spec_key(model_spec(model)): model.fit_cost for model in candidates}
    costliest = max(costs.values())
    champion = deployment.champion_version(config.name)
    if champion is not None and champion.tags.get(tracking.SPEC_TAG) not in costs:
        costs[champion.tags.get(tracking.SPEC_TAG, "")] = costliest
    own_backtest = config.reconcile is not None and config.folds < RESIDUAL_FOLDS  # else the job's is reused
    final = len(panel) + (reconcile_work(panel) if own_backtest else 0)
    units = len(costs) * len(panel) * config.folds + final
    return units, sum(costs.values()) * len(panel) * config.folds + final * costliest


def _backtest_one(
    model: PanelForecaster, panel: SeriesPanel, config: JobConfig, X: pd.DataFrame | None, cache: _Backtests
) -> pd.DataFrame:
    key = spec_key(model_spec(model))
    if key not in cache.results:
        cache.results[key] = backtest(
            [model],
            panel,
            horizon=config.horizon,
            folds=config.folds,
            step=config.step,
            window=config.window,
            window_length=config.window_length,
            X=X if model.uses_exog else None,
            levels=config.levels,
            n_jobs=config.n_jobs,
        )
        mase = _mase(cache.results[key])
        _log("backtested", model=model.model_name, mase=f"{mase:.4f}")
    return cache.results[key]


def _mase(results: pd.DataFrame) -> float:
    """What the gate compares: the leaderboard's ``mase``, the trimmed mean over series (one series
    whose history gave no sign of its test months cannot decide a promotion)."""
    return float(_scores(results)["mase"])


def _scores(results: pd.DataFrame) -> pd.Series:
    """One model's backtest leaderboard row: ``mase`` (:func:`_mase`), coverage at the backtest's levels."""
    return leaderboard(results).iloc[0]


def _scoring(config: JobConfig, panel: SeriesPanel) -> ReconciledScoring | None:
    """How backtests are scored after reconciliation; None when the base scores decide."""
    if config.reconcile is None or config.reconcile_choose_on != "reconciled":
        return None
    return ReconciledScoring.for_panel(
        panel, config.reconcile, nonnegative=config.reconcile_nonnegative, levels=config.levels
    )


def _decide(
    config: JobConfig,
    best: PanelForecaster,
    best_mase: float,
    panel: SeriesPanel,
    X: pd.DataFrame | None,
    cache: _Backtests,
    score: Callable[[pd.DataFrame], pd.Series] = _scores,
) -> tuple[Decision, tuple[str, dict[str, Any]] | None]:
    """Re-backtest the serving champion on this window and apply the promotion gate.

    ``score`` turns one model's backtest into the leaderboard row whose MASE the gate compares
    (base, or reconciled with ``reconcile.choose_on = "reconciled"``); the champion's is kept in
    ``cache.scores`` under its spec.
    """
    current = deployment.champion_version(config.name)
    if current is None:
        return decide(best.model_name, best_mase, margin=config.margin), None
    spec = json.loads(current.tags[tracking.SPEC_TAG])
    try:
        row = score(_backtest_one(model_from_spec(spec), panel, config, X, cache))
        cache.scores[spec_key(spec)] = row
        champion_mase = float(row["mase"])
    except Exception as error:  # noqa: BLE001 - an unusable champion must not block a new one
        _log("champion_backtest_failed", version=current.version, error=repr(error))
        champion_mase = None
    decision = decide(
        best.model_name,
        best_mase,
        champion_model=spec["model"],
        champion_mase=champion_mase,
        champion_version=current.version,
        margin=config.margin,
    )
    return decision, (str(current.version), spec)


def forecastable(panel: SeriesPanel, config: JobConfig) -> SeriesPanel:
    """The series a run forecasts: those that ended more than ``max_stale_months`` before the
    panel's last month are reported (log and quality report) and left out unless ``include_stale``."""
    stale = panel.stale(config.max_stale_months)
    if stale.empty:
        return panel
    panel_last = panel.records["month"].max()
    report_stale(panel.report, stale, panel_last, config.max_stale_months)
    _log(
        "stale_series",
        series=len(stale),
        max_stale_months=config.max_stale_months,
        action="forecast" if config.include_stale else "left_out",
        summary=stale_summary(stale, panel_last, config.max_stale_months),
    )
    return panel if config.include_stale else panel.without(stale["series_id"])


def fit_and_forecast(
    model: PanelForecaster,
    panel: SeriesPanel,
    config: JobConfig,
    exog: dict[str, Any] | None,
    align: str = "calendar",
) -> pd.DataFrame:
    """Fit on all data and forecast the run's window: the ``config.horizon`` months after the
    panel's last month, for every series (a series that ends early is forecast from its end
    through the window; only the window is returned). ``align="series"`` (a one-off forecast of
    series that end in different years): the ``config.horizon`` months after each series' own
    last month. Regressors only for models that use them.

    A series whose forecast or interval is not finite gets the fallback model's, logged.
    """
    steps = config.horizon if check_align(align) == "series" else panel.steps_to_window(config.horizon)
    _log("fit", model=model.model_name, series=len(panel), steps=steps)
    X, X_future = build_regressors(panel, steps, exog if model.uses_exog else None)
    progress.expect(len(panel), model.fit_cost)
    with progress.phase("fit"), progress.step(len(panel), model.fit_cost):
        if X is not None:
            forecasts = model.fit(panel, X).predict(steps, X_future, levels=config.levels)
        else:
            forecasts = model.fit(panel).predict(steps, levels=config.levels)
    if align == "calendar":
        forecasts = in_window(forecasts, panel.records["month"].max(), config.horizon)
    forecasts, swapped = replace_non_finite(forecasts, panel, config.levels)  # never export inf or blanks
    for row in swapped.itertuples():
        _log("fallback", model=row.model, series=row.series_id, fallback=row.fallback, reason=row.reason)
    return forecasts


def _stage_champion(config: JobConfig, registration: Registration, version: str) -> tuple[str, Path]:
    """Download the serving version into a hidden folder of ``models_dir``: ``(version, folder)``.

    A kept champion whose stored model cannot be downloaded (artifacts lost)
    is replaced by this run's refit of the same spec, registered as a new version.
    """
    try:
        return version, deployment.stage_champion(config.name, version, config.models_dir)
    except (MlflowException, ModelError, OSError) as error:
        if version != registration.previous:
            raise
        _log("champion_copy_failed", version=version, error=repr(error), action="register_refit")
    version = _register(registration, refresh=True)
    return version, deployment.stage_champion(config.name, version, config.models_dir)


def _register(registration: Registration, *, refresh: bool = False) -> str:
    """Register the serving model; returns the version to serve (the alias moves in the publish step).

    A kept champion on unchanged data stays as it is.
    """
    job, decision, previous = registration.job, registration.decision, registration.previous
    if not decision.promote and previous is not None and not refresh:
        current = deployment.champion_version(job)
        if current is not None and current.tags.get(tracking.DATA_DIGEST_TAG) == registration.digest:
            return str(previous)
    score = registration.score
    tags = {
        tracking.SPEC_TAG: spec_key(model_spec(registration.serving)),
        tracking.SCORE_TAG: "" if score is None else f"{score:.6g}",
        tracking.DATA_DIGEST_TAG: registration.digest,
        "promotion": decision.outcome if decision.promote else "refreshed",
    }
    version = deployment.register(job, registration.model_uri, tags=tags)
    tracking.log_decision({"promotion.registered_version": str(version.version)})
    return str(version.version)


def _log(event: str, **fields: Any) -> None:
    logger.info(" ".join([f"event={event}", *(f"{k}={_value(v)}" for k, v in fields.items())]))


def _value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if any(c in text for c in ' ="') else text
