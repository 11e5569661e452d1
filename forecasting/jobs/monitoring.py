"""The retrain watches its own forecasts: live accuracy table, drift flag, revisions.

At the start of every retrain, :func:`check_in_service` reads the earlier dated
exports (``forecasts_<job>_<YYYY-MM>.csv``, one per forecast origin), scores
every forecast whose actual has arrived since and was not scored before, and
appends those rows to ``<output_dir>/accuracy_<job>.csv`` (schema in the
README). The table is rewritten whole through the package's atomic writer, so a
run killed mid-append leaves it as it was, and it holds each origin x series x
step exactly once. An actual that changed after it was scored (a statistics
office revised it) is listed in the data quality report; the row keeps the
value it was scored against and later rows of that month say
``actual_revised``.

Each retrain run logs ``monitoring/serving.csv`` (:func:`record_serving`):
the champion version its export serves and that version's per-series
backtest MASE. Export rows carry their ``run_id``, so a later run reads the
promise back from MLflow and the drift rule
(:func:`forecasting.evaluation.live.drift_report`) compares live MASE with it.
Nothing besides the accuracy table is added to the export folder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import tracking
from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.intervals import interval_columns
from forecasting.errors import ConfigError, DataError
from forecasting.evaluation.live import (
    LIVE_KEY,
    DriftReport,
    drift_report,
    error_columns,
    live_history,
    live_leaderboard,
    revised_actuals,
    score_forecasts,
)
from forecasting.evaluation.metrics import metrics_by_series
from forecasting.export import (
    EXPORT_DIMENSIONS,
    export_paths,
    neutralise_formulas,
    read_export,
    utc_timestamp,
    write_csv_atomic,
)
from forecasting.files import refuse_link
from forecasting.jobs.config import JobConfig, check_job_name
from forecasting.panel import SeriesPanel
from forecasting.plots import plot_live_accuracy

logger = logging.getLogger(__name__)

SERVING_COLUMNS = ["series_id", "run_id", "champion_version", "serving_model", "backtest_mase"]
SERVING_ARTIFACT = "monitoring/serving.csv"
"""Logged on every retrain run: which champion version its export serves and what it promised per series."""
_TEXT = ("origin", "month", "series_id", "model", "champion_version", "run_id", "scored_run_id", "scored_at")


def accuracy_columns(levels: Sequence[int] = DEFAULT_LEVELS) -> list[str]:
    """Column order of ``accuracy_<job>.csv`` (documented in the README)."""
    return [
        "origin",
        "month",
        "series_id",
        "step",
        "model",
        "champion_version",
        "run_id",
        "actual",
        "forecast",
        *interval_columns(levels),
        "scale_mase",
        "scale_rmsse",
        *error_columns(levels),
        "backtest_mase",
        "actual_revised",
        "scored_run_id",
        "scored_at",
    ]


@dataclass(frozen=True)
class LiveCheck:
    """What one retrain found about the forecasts in service."""

    table: pd.DataFrame
    new_rows: pd.DataFrame
    revisions: pd.DataFrame
    drift: DriftReport | None
    path: Path | None

    @property
    def drifted(self) -> bool:
        return self.drift is not None and self.drift.drifted


# --- files ------------------------------------------------------------------------------------------
def accuracy_path(output_dir: str | Path, job: str) -> Path:
    return Path(output_dir) / f"accuracy_{check_job_name(job)}.csv"


def dated_exports(output_dir: str | Path, job: str, before: pd.Period) -> list[tuple[pd.Period, Path]]:
    """``forecasts_<job>_<YYYY-MM>.csv`` files with an origin before ``before``, oldest first."""
    pattern = re.compile(rf"forecasts_{re.escape(check_job_name(job))}_(\d{{4}}-\d{{2}})\.csv")
    found = []
    for path in Path(output_dir).glob(f"forecasts_{job}_*.csv"):
        match = pattern.fullmatch(path.name)
        if match and pd.Period(match.group(1), freq="M") < before:
            found.append((pd.Period(match.group(1), freq="M"), refuse_link(path)))
    return sorted(found)


def read_accuracy(path: str | Path, levels: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
    """The accuracy table with Period ``origin``/``month`` (empty with its columns when absent)."""
    columns = accuracy_columns(levels)
    path = refuse_link(path)  # the job's own name: a link there is someone else's
    if not path.exists():
        return _typed(pd.DataFrame({c: pd.Series(dtype="object") for c in columns}))
    header = pd.read_csv(path, nrows=0).columns.tolist()
    if header != columns:
        missing = sorted(set(columns) - set(header)) or sorted(set(header) - set(columns))
        raise DataError(
            f"not an accuracy table of this job (levels {list(levels)})", file=str(path), column=missing[0]
        )
    numeric = [c for c in columns if c not in _TEXT and c not in ("step", "actual_revised")]
    # Python's float() reads back exactly what to_csv wrote, so rewriting leaves old rows byte-identical.
    frame = pd.read_csv(
        path,
        dtype={**{c: str for c in _TEXT}, "step": "int64", "actual_revised": bool},
        converters={c: _number_reader(path, c) for c in numeric},
        keep_default_na=False,
    )
    return _typed(frame)


def _number_reader(path: Path, column: str) -> Callable[[str], float]:
    """A ``read_csv`` converter: empty is NaN, anything else not a number is a DataError naming the column."""

    def read(text: str) -> float:
        try:
            return float(text) if text else np.nan
        except ValueError:
            raise DataError(f"not a number: {text!r}", file=str(path), column=column) from None

    return read


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("origin", "month"):
        out[column] = (
            pd.PeriodIndex(out[column].astype(str), freq="M") if len(out) else out[column].astype("period[M]")
        )
    for column in ("series_id", "model", "champion_version", "run_id", "scored_run_id", "scored_at"):
        out[column] = out[column].astype(str) if len(out) else out[column].astype("object")
    out["step"] = out["step"].astype("int64")
    out["actual_revised"] = out["actual_revised"].astype(bool)
    return out


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(origin=table["origin"].astype(str), month=table["month"].astype(str))


def append_accuracy(path: Path, scored: pd.DataFrame, new_rows: pd.DataFrame, levels: Sequence[int]) -> Path:
    """Rewrite the table as ``scored`` + ``new_rows`` atomically (a crash leaves the old file)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a writer killed before its rename
        stale.unlink(missing_ok=True)
    columns = accuracy_columns(levels)
    frames = [frame[columns] for frame in (scored, new_rows) if not frame.empty]
    table = pd.concat([_as_text(frame) for frame in frames], ignore_index=True)
    return write_csv_atomic(neutralise_formulas(table), path, follow_links=False)


def read_serving(run_ids: Sequence[str]) -> pd.DataFrame:
    """The serving records of the retrain runs that made some exports (see :func:`record_serving`).

    A run whose record is gone (exports older than monitoring, a lost store)
    contributes no rows: its forecasts are scored without a promise.
    """
    frames = [tracking.load_frame(run_id, SERVING_ARTIFACT) for run_id in sorted(set(run_ids))]
    frames = [frame[SERVING_COLUMNS] for frame in frames if frame is not None]
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=str) for column in SERVING_COLUMNS})
    serving = pd.concat(frames, ignore_index=True)
    return serving.assign(backtest_mase=pd.to_numeric(serving["backtest_mase"].replace("", np.nan)))


def record_serving(
    *,
    run_id: str,
    champion_version: str,
    serving_model: str,
    backtest: pd.DataFrame | None,
) -> None:
    """Log on this run what its export serves: the champion version and its per-series backtest MASE."""
    if backtest is not None and not backtest.empty:
        by_series = metrics_by_series(backtest)["mase"].droplevel("model").rename("backtest_mase")
        frame = by_series.reset_index()
    else:
        frame = pd.DataFrame({"series_id": pd.Series(dtype=str), "backtest_mase": pd.Series(dtype=float)})
    frame = frame.assign(run_id=run_id, champion_version=str(champion_version), serving_model=serving_model)
    tracking.log_frame(frame[SERVING_COLUMNS], SERVING_ARTIFACT)


# --- scoring ----------------------------------------------------------------------------------------
def score_in_service(
    config: JobConfig, panel: SeriesPanel, scored: pd.DataFrame, *, run_id: str
) -> pd.DataFrame:
    """Rows of earlier exports that have an actual now and are not in ``scored`` yet."""
    origin = panel.records["month"].max()
    keys = scored[list(LIVE_KEY)].astype({"origin": str, "step": int})
    done = set(keys.itertuples(index=False, name=None))
    frames = []
    for export_origin, path in dated_exports(config.output_dir, config.name, origin):
        # Either dialect (the job's csv_dialect may have changed since), every number as written.
        forecasts = read_export(path, dtype={"series_id": str, "month": str, "model": str, "run_id": str})
        forecasts = forecasts[_pending(forecasts, export_origin, origin, done, panel.series_ids)]
        if forecasts.empty:  # all scored already, or no actual can have arrived yet
            continue
        rows = score_forecasts(forecasts, panel, origin=export_origin, levels=config.levels)
        if rows.empty:
            continue
        serving = read_serving(rows["run_id"].astype(str).unique())
        rows = rows.merge(serving, on=["series_id", "run_id"], how="left", validate="many_to_one")
        frames.append(rows)
    if not frames:
        return scored.iloc[0:0]
    new = pd.concat(frames, ignore_index=True)
    new["champion_version"] = new["champion_version"].fillna("").astype(str)
    new["actual_revised"] = _revised_since_scored(new, scored)
    new["scored_run_id"] = run_id
    new["scored_at"] = utc_timestamp()
    return _typed(new[accuracy_columns(config.levels)].reset_index(drop=True))


def _pending(
    forecasts: pd.DataFrame, export_origin: pd.Period, last: pd.Period, done: set, series_ids: Sequence[str]
) -> np.ndarray:
    """Export rows not scored yet whose month is observed by now (``last``) for a series still served."""
    months = pd.PeriodIndex(forecasts["month"], freq="M")
    steps = [(month - export_origin).n for month in months]
    keys = zip([str(export_origin)] * len(forecasts), forecasts["series_id"], steps, strict=True)
    unscored = np.array([key not in done for key in keys], dtype=bool)
    return unscored & (months <= last) & forecasts["series_id"].isin(series_ids).to_numpy(dtype=bool)


def _revised_since_scored(new: pd.DataFrame, scored: pd.DataFrame) -> np.ndarray:
    """True where an earlier row of the same series and month was scored against another value."""
    earlier = scored.groupby(["series_id", "month"], observed=True)["actual"].agg(["min", "max"])
    joined = new[["series_id", "month", "actual"]].join(earlier, on=["series_id", "month"])
    differs = ~np.isclose(joined["min"], joined["actual"]) | ~np.isclose(joined["max"], joined["actual"])
    return (joined["min"].notna() & differs).to_numpy(dtype=bool)


def report_revisions(panel: SeriesPanel, revisions: pd.DataFrame) -> None:
    """List each revised actual in the panel's data quality report (logged with the run)."""
    for row in revisions.itertuples():
        panel.report.add(
            "flagged",
            f"actual revised after it was scored: scored {row.scored:g} (forecast origins {row.origins}), "
            f"now {row.current:g}",
            series_id=row.series_id,
            month=str(row.month),
        )


def check_in_service(config: JobConfig, panel: SeriesPanel, *, run_id: str) -> LiveCheck | None:
    """Score the forecasts in service, append the accuracy table, judge drift and log it all.

    ``None`` when ``[monitoring] enabled = false``.
    """
    if not config.monitoring.enabled:
        return None
    path = accuracy_path(config.output_dir, config.name)
    scored = read_accuracy(path, config.levels)
    revisions = revised_actuals(scored, panel)
    report_revisions(panel, revisions)
    new_rows = score_in_service(config, panel, scored, run_id=run_id)
    if not new_rows.empty:
        append_accuracy(path, scored, new_rows, config.levels)
    table = pd.concat(
        [frame for frame in (scored, new_rows) if not frame.empty] or [scored], ignore_index=True
    )
    drift = drift_report(table, config.monitoring.rule)
    check = LiveCheck(table, new_rows, revisions, drift, path)
    _log_check(config, check)
    return check


def gate_config(config: JobConfig, check: LiveCheck | None) -> JobConfig:
    """The config the promotion gate uses: margin 0 on drift when ``force_challenger_on_drift``."""
    if check is None or not check.drifted or not config.monitoring.force_challenger_on_drift:
        return config
    logger.warning("event=drift_forces_challenger job=%s margin=0", config.name)
    tracking.log_decision({"monitoring.forced_challenger": "true"})
    return replace(config, margin=0.0)


def _log_check(config: JobConfig, check: LiveCheck) -> None:
    logger.info(
        "event=live_scored job=%s new_rows=%d total_rows=%d revisions=%d path=%s",
        config.name,
        len(check.new_rows),
        len(check.table),
        len(check.revisions),
        check.path,
    )
    for row in check.revisions.itertuples():
        logger.warning(
            "event=actual_revised series=%s month=%s scored=%g now=%g",
            row.series_id,
            row.month,
            row.scored,
            row.current,
        )
    drift = check.drift
    if drift is None:
        return
    for reason in drift.reasons():
        logger.warning('event=drift job=%s reason="%s"', config.name, reason)
    metrics = {
        "live_mase": drift.live_mase,
        "live_backtest_mase": drift.backtest_mase,
        f"live_coverage_{drift.rule.coverage_level}": drift.coverage,
        "live_coverage_p_value": drift.coverage_p_value,
        "live_coverage_months_out": float(drift.coverage_months_out),
        "live_new_rows": float(len(check.new_rows)),
        "live_revisions": float(len(check.revisions)),
        "live_drift_series": float(len(drift.series)),
    }
    tags = {
        "monitoring.drift": str(drift.drifted).lower(),
        "monitoring.drift_series": ",".join(drift.series)[:5000],
        "monitoring.drift_reason": "; ".join(drift.reasons())[:5000],
        "monitoring.window": f"{drift.window[0]}..{drift.window[1]}",
    }
    history = live_history(check.table, config.levels)
    tracking.log_live_accuracy(metrics, history, tags, plot_live_accuracy(history))


# --- reading it back --------------------------------------------------------------------------------
def accuracy_summary(config: JobConfig, by: str = "flow") -> dict[str, pd.DataFrame]:
    """The live table by model, by step and by series group (a dimension of the latest export)."""
    table = read_accuracy(accuracy_path(config.output_dir, config.name), config.levels)
    if table.empty:
        return {}
    if by not in EXPORT_DIMENSIONS:
        raise ConfigError(f"must be one of {list(EXPORT_DIMENSIONS)}. Got {by!r}", key="--by")
    latest = refuse_link(export_paths(config.output_dir, config.name, table["origin"].max())[1])
    groups = read_export(latest, dtype=str, usecols=["series_id", by]).drop_duplicates("series_id")
    table = table.merge(groups, on="series_id", how="left").fillna({by: "(unknown)"})
    return {
        "model": live_leaderboard(table, by=("model",), levels=config.levels),
        "step": live_leaderboard(table, by=("step",), levels=config.levels)
        .sort_values("step")
        .reset_index(drop=True),
        by: live_leaderboard(table, by=(by,), levels=config.levels),
    }


def live_compare_rows(runs: pd.DataFrame, run_ids: Sequence[str]) -> pd.DataFrame:
    """One ``live (champion)`` row per retrain run for ``forecasting compare``, with its drift flag."""
    chosen = runs[runs["run_id"].isin(list(run_ids))]
    if "metrics.live_mase" not in chosen.columns:
        return pd.DataFrame()
    rows = pd.DataFrame(
        {
            "run_id": chosen["run_id"],
            "model": "live (champion)",
            "mase": chosen["metrics.live_mase"],
            **{
                column.removeprefix("metrics.live_"): chosen[column]
                for column in chosen.columns
                if re.fullmatch(r"metrics\.live_coverage_\d+", column)
            },
            "drift": chosen.get("tags.monitoring.drift", pd.Series("", index=chosen.index)).fillna(""),
        }
    )
    return rows.dropna(subset=["mase"]).reset_index(drop=True)
