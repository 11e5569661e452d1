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
Nothing besides the accuracy table is added to the export folder, except a table
that could not be read: it is kept beside it (``accuracy_<job>.csv.unreadable-<run>``)
and the table is rebuilt from the exports, since the job never blocks on history it can rebuild.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import tracking
from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.intervals import interval_columns
from forecasting.errors import ConfigError, DataError, shorten
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
    read_export,
    utc_timestamp,
    write_csv_atomic,
)
from forecasting.files import job_file, read_csv_exact, refuse_link, require_regular_file
from forecasting.jobs.config import JobConfig, check_job_name
from forecasting.panel import SeriesPanel

logger = logging.getLogger(__name__)

SERVING_COLUMNS = ["series_id", "run_id", "champion_version", "serving_model", "backtest_mase"]
SERVING_ARTIFACT = "monitoring/serving.csv"
"""Logged on every retrain run: which champion version its export serves and what it promised per series."""
MONTH_TEXT = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
"""A month as the job writes it in names and cells: ``YYYY-MM``, January to December."""
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
    """``forecasts_<job>_<YYYY-MM>.csv`` files with an origin before ``before``, oldest first.

    A name with a month that does not exist (``forecasts_<job>_2021-13.csv``) was
    not written by the job: it is left alone, with a warning.
    """
    pattern = re.compile(rf"forecasts_{re.escape(check_job_name(job))}_(\d{{4}}-\d{{2}})\.csv")
    found = []
    for path in Path(output_dir).glob(f"forecasts_{job}_*.csv"):
        match = pattern.fullmatch(path.name)
        if match is None:
            continue
        if not MONTH_TEXT.fullmatch(match.group(1)):
            logger.warning("event=export_skipped file=%s reason=%r", path, "not a month in the name")
            continue
        origin = pd.Period(match.group(1), freq="M")
        if origin < before:
            found.append((origin, refuse_link(path)))
    return sorted(found)


def read_accuracy(path: str | Path, levels: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
    """The accuracy table with Period ``origin``/``month`` (empty with its columns when absent).

    Every cell is read back as written (Python's ``float`` reads exactly what
    ``to_csv`` wrote, so rewriting leaves old rows byte-identical) and checked:
    a table that cannot be parsed, another header, or one cell that is not what
    its column holds is a :class:`DataError` naming the file (and the row and column).
    """
    columns = accuracy_columns(levels)
    if job_file(path) is None:  # the job's own name: a link or a FIFO there is someone else's
        return _typed(pd.DataFrame({c: pd.Series(dtype="object") for c in columns}))
    try:
        frame = read_csv_exact(path, dtype=str, na_values=[])  # every cell as text, as it was written
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = "the file is empty" if isinstance(error, pd.errors.EmptyDataError) else error
        raise DataError(f"not an accuracy table: {reason}", file=str(path)) from None
    header = frame.columns.tolist()
    if header != columns:
        missing = sorted(set(columns) - set(header)) or sorted(set(header) - set(columns))
        raise DataError(
            f"not an accuracy table of this job (levels {list(levels)})", file=str(path), column=missing[0]
        )
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # file lines: the header is line 1
    for column in columns:
        frame[column] = _cells(frame[column], _cell_reader(column), path=Path(path), column=column)
    return _typed(frame.reset_index(drop=True))


def _cell_reader(column: str) -> Callable[[str], object]:
    """How one cell of an accuracy-table column is read; raises ValueError for a cell it does not hold."""
    if column in ("origin", "month"):
        return _month_text
    if column == "step":
        return int
    if column == "actual_revised":
        return _boolean
    if column in _TEXT:
        return str
    return _number


def _month_text(text: str) -> str:
    if not MONTH_TEXT.fullmatch(text):
        raise ValueError("not a month (YYYY-MM)")
    return text


def _boolean(text: str) -> bool:
    if text not in ("True", "False"):
        raise ValueError("not True or False")
    return text == "True"


def _number(text: str) -> float:
    return float(text) if text else np.nan


def _cells(values: pd.Series, read: Callable[[str], object], *, path: Path, column: str) -> pd.Series:
    """``read`` applied to each distinct cell once; the first bad one is a DataError naming its line."""
    codes, uniques = pd.factorize(values)
    parsed = []
    for position, text in enumerate(uniques):
        try:
            parsed.append(read(text))
        except ValueError as error:
            line = int(values.index[np.argmax(codes == position)])
            raise DataError(
                f"{shorten(text)} is not a valid cell ({error})", file=str(path), row=line, column=column
            ) from None
    return pd.Series([parsed[code] for code in codes], index=values.index, dtype="object").infer_objects()


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
    return write_csv_atomic(table, path, follow_links=False)  # formulas neutralised there, once


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
        try:
            forecasts = read_earlier_export(path, config.levels)
        except DataError as error:  # history the job can do without: never block the run on it
            _report_unscored(panel, path, error)
            continue
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


EXPORT_TEXT = {"series_id": str, "month": str, "model": str, "run_id": str}


def read_earlier_export(path: Path, levels: Sequence[int]) -> pd.DataFrame:
    """A dated export of the job, to score: a :class:`DataError` naming it when it cannot be.

    Either dialect (the job's ``csv_dialect`` may have changed since), every number as
    written; the rows must be the export schema's at the job's ``levels``, one per series and month.
    """
    require_regular_file(path)
    try:
        forecasts = read_export(path, dtype=EXPORT_TEXT)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(
            f"not a forecast export: {shorten(str(error), quote=False)}", file=str(path)
        ) from None
    numbers = ["forecast", *interval_columns(levels)]
    missing = [c for c in [*EXPORT_TEXT, *numbers] if c not in forecasts.columns]
    if missing:
        raise DataError(
            f"not a forecast export at levels {list(levels)}: no column(s) {missing}", file=str(path)
        )
    for column in numbers:
        if not pd.api.types.is_numeric_dtype(forecasts[column]) or pd.api.types.is_bool_dtype(
            forecasts[column]
        ):
            raise DataError("a cell that is not a number", file=str(path), column=column)
    months = forecasts["month"].astype(str)
    if not months.map(lambda text: MONTH_TEXT.fullmatch(text) is not None).all():
        raise DataError("a month that is not YYYY-MM", file=str(path), column="month")
    if forecasts.duplicated(["series_id", "month"]).any():
        raise DataError("a series and month listed twice", file=str(path), column="series_id")
    return forecasts


def _report_unscored(panel: SeriesPanel, path: Path, error: DataError) -> None:
    """An earlier export that cannot be read is left out of live accuracy, in the log and the report."""
    logger.warning("event=export_skipped file=%s reason=%r", path, str(error))
    panel.report.add("warning", f"earlier export not scored (unreadable): {error}", file=str(path))


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
    try:
        scored = read_accuracy(path, config.levels)
    except DataError as error:  # history the job rebuilds from its exports: never block the run on it
        scored = _set_aside(path, error, panel, run_id=run_id, levels=config.levels)
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


def _set_aside(
    path: Path, error: DataError, panel: SeriesPanel, *, run_id: str, levels: Sequence[int]
) -> pd.DataFrame:
    """Rename an unreadable accuracy table out of the way (kept, never deleted); an empty table.

    Every forecast of the dated exports is then scored anew, which rebuilds the table
    (without the revisions noted since: those need the values first scored against).
    """
    kept = path.with_name(f"{path.name}.unreadable-{run_id}")
    os.replace(path, kept)  # the run id is new: nothing is at that name
    logger.warning(
        "event=accuracy_table_unreadable file=%s kept=%s reason=%r action=rebuild", path, kept, str(error)
    )
    panel.report.add(
        "warning", f"accuracy table unreadable ({error}); kept as {kept.name} and rebuilt from the exports"
    )
    return read_accuracy(path, levels)


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
    from forecasting.plots import plot_live_accuracy  # matplotlib loads on the first plot only

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
