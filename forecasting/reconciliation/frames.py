"""Reconcile a long forecast table (``series_id, month, model, forecast, lower_<l>, upper_<l>``).

Month by month, the series that have a forecast that month are reconciled
together: a bottom series without one (a crossing closed for good, whose own
forecast months lie elsewhere) is absent from its parents that month, and a
parent without one drops out. Series outside the structure keep their base
forecasts; the ``reconciliation`` column says which method each row got
(``none`` for those).

Intervals come from sample paths: each series' base forecast plus normal
errors with the spread of its widest base interval and the correlation of
the (shrunk) residual covariance, all reconciled with the same map; the
reconciled interval is the sample quantile
(:mod:`~forecasting.reconciliation.paths`). The point forecast is the
reconciled base forecast. A shrunk covariance understates how alike the
errors of a parent and its children are, so these intervals come out too
narrow; :mod:`~forecasting.reconciliation.calibration` widens them on
backtest errors (the jobs do).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.core.constants import DEFAULT_LEVELS, RESIDUAL_MONTHS
from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.models.base import check_levels, interval_columns
from forecasting.panel import SeriesPanel
from forecasting.reconciliation.covariance import LowRankCovariance, shrunk_covariance
from forecasting.reconciliation.methods import NEEDS_RESIDUALS, Reconciler, check_method, keepable
from forecasting.reconciliation.paths import path_bounds

UNRECONCILED = "none"
DEFAULT_SAMPLES = 500
RESIDUAL_SOURCES: tuple[str, ...] = ("in_sample", "backtest")
"""Whose errors estimate the covariance: the base model's in-sample one-step errors (the textbook
MinT input; a model without them falls back to its backtest errors) or its backtest errors."""


def structure_to_reconcile(panel: SeriesPanel) -> tuple[SummingStructure, pd.DataFrame]:
    """The panel's structure less every parent whose history is not the sum of its children.

    Returns the structure and the mismatched parents (see
    :meth:`SeriesPanel.mismatched_parents`) so the caller reports them: such a
    parent keeps its base forecast, it is never forced to equal its children.
    """
    mismatched = panel.mismatched_parents()
    return panel.structure.without(mismatched["parent"]), mismatched


def residual_matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Errors ``actual - forecast`` of a backtest table as rows (cutoff, month) x series.

    ``results`` needs ``series_id, cutoff, month, actual, forecast`` (one model).
    """
    missing = [c for c in ("series_id", "cutoff", "month", "actual", "forecast") if c not in results]
    if missing:
        raise DataError(f"backtest results lack column(s) {missing}")
    if "model" in results and results["model"].nunique() > 1:
        raise DataError(f"residuals of one model only; got {sorted(results['model'].unique())}")
    errors = results.assign(error=results["actual"] - results["forecast"])
    return errors.pivot_table(index=["cutoff", "month"], columns="series_id", values="error", aggfunc="first")


def recent_residuals(
    residuals: pd.DataFrame, until: pd.Period | None = None, months: int | None = RESIDUAL_MONTHS
) -> pd.DataFrame:
    """The rows of in-sample errors (indexed by month) up to ``until``, the last ``months`` of them.

    Old errors describe old data: on BTS, errors of the 1990s weigh as much as
    those of the last decade in the covariance, and a window of recent years
    reconciles better (measured in docs/experiments/reconciliation.md). Months without any
    error (before every series' first one-step forecast) are no rows: the
    covariance divides by the number of rows.
    """
    if until is not None:
        residuals = residuals[residuals.index <= until]
    residuals = residuals.dropna(how="all")
    return residuals if months is None else residuals.iloc[-months:]


def reconcile_forecasts(
    forecasts: pd.DataFrame,
    structure: SummingStructure,
    method: str,
    *,
    residuals: pd.DataFrame | None = None,
    nonnegative: bool = False,
    levels: Sequence[int] = DEFAULT_LEVELS,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    centered: bool = True,
    keep_levels: Collection[str] = (),
    intervals: bool = True,
) -> pd.DataFrame:
    """The forecast table with coherent forecasts and intervals, plus a ``reconciliation`` column.

    ``residuals`` (rows x ``series_id``: in-sample or backtest errors) give the
    covariance for ``mint_shrink`` and ``wls_var`` and the correlation of the
    interval sample paths (independent without them); ``centered=False`` uses
    them uncentred, as hts does (see :func:`shrunk_covariance`). The series of
    the hierarchy levels in ``keep_levels`` (``SummingStructure.level_of``) keep
    their base forecasts, the others absorb the difference (projection methods);
    a kept series that is the sum of other kept ones becomes their sum (:func:`keepable`).
    A series with fewer than two residuals takes its variance from its widest base
    interval; ``intervals=False`` reconciles the point forecasts only (the bounds, left
    as they are, still give those variances).
    """
    check_method(method)
    levels = check_levels(levels)
    if method in NEEDS_RESIDUALS and residuals is None:
        raise DataError(f"reconciliation method {method!r} needs residuals of the base forecasts")
    table = forecasts.reset_index(drop=True).copy()
    table["reconciliation"] = UNRECONCILED
    if not structure.aggregates:
        return table
    ids = structure.series
    if residuals is not None:
        residuals = residuals.set_axis(residuals.columns.astype(str), axis=1)
    months = pd.PeriodIndex(pd.to_datetime(table["month"].astype(str)), freq="M")
    rng = np.random.default_rng(seed)
    reconcilers: dict[tuple[str, ...], Reconciler] = {}
    month_structures: dict[frozenset[str], SummingStructure] = {}
    in_structure = table["series_id"].isin(ids).to_numpy()
    bounds = interval_columns(levels)
    has_intervals = all(column in table for column in bounds)
    with_bounds = has_intervals and intervals
    columns = _Columns.of(table, bounds if with_bounds else [])
    sigmas = _sigma(table, max(levels)) if has_intervals else None
    for month in months.unique().sort_values():
        rows = np.flatnonzero((months == month) & in_structure)
        present = pd.Index(table["series_id"].to_numpy()[rows].astype(str))
        if present.duplicated().any():
            raise DataError(
                f"two forecasts for one series and month: {list(present[present.duplicated()][:3])}"
            )
        month_structure = _month_structure(structure, present, month_structures)
        if not month_structure.aggregates:
            continue
        order = tuple(month_structure.series)
        positions = rows[present.get_indexer(order)]
        sigma = None if sigmas is None else sigmas[positions]
        if order not in reconcilers:
            covariance = _covariance(residuals, order, sigma, centered) if residuals is not None else None
            kept = month_structure.level_of().isin(list(keep_levels))
            keep = keepable(month_structure, kept.index[kept.to_numpy()])
            reconcilers[order] = Reconciler(month_structure, method, covariance, nonnegative, keep)
        path_sigma = sigma if with_bounds else None
        _reconcile_rows(columns, positions, reconcilers[order], path_sigma, levels, samples, rng)
    return columns.into(table, method)


def _month_structure(
    structure: SummingStructure, present: pd.Index, cache: dict[frozenset[str], SummingStructure]
) -> SummingStructure:
    """The structure of the series present in a month, built once per set of series."""
    key = frozenset(present)
    if key not in cache:
        cache[key] = structure.drop_series(set(structure.bottom) - key).restrict(key)
    return cache[key]


def _covariance(
    residuals: pd.DataFrame, order: Sequence[str], sigma: np.ndarray | None, centered: bool
) -> LowRankCovariance:
    """Shrunk covariance of the residuals of ``order``; series without residuals use their base spread."""
    fallback = None if sigma is None else np.maximum(sigma, 0.0) ** 2
    values = residuals.reindex(columns=list(order)).to_numpy(dtype="float64")
    return shrunk_covariance(values, fallback, centered=centered, names=order)


@dataclass(frozen=True)
class _Columns:
    """The table's forecasts and bounds as arrays, written month by month and put back once."""

    base: np.ndarray
    forecast: np.ndarray
    names: tuple[str, ...]
    bounds: np.ndarray
    reconciled: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame, names: Sequence[str]) -> _Columns:
        base = table["forecast"].to_numpy(dtype="float64")
        bounds = np.empty((len(names), len(table)))
        for row, name in enumerate(names):
            bounds[row] = table[name].to_numpy(dtype="float64")
        return cls(base, base.copy(), tuple(names), bounds, np.zeros(len(table), dtype=bool))

    def into(self, table: pd.DataFrame, method: str) -> pd.DataFrame:
        """``table`` with the reconciled rows' values and method (untouched when none was reconciled)."""
        if self.reconciled.any():
            table["forecast"] = self.forecast
            for name, values in zip(self.names, self.bounds, strict=True):
                table[name] = values
            table.loc[self.reconciled, "reconciliation"] = method
        return table


def _reconcile_rows(
    columns: _Columns,
    positions: np.ndarray,
    reconciler: Reconciler,
    sigma: np.ndarray | None,
    levels: tuple[int, ...],
    samples: int,
    rng: np.random.Generator,
) -> None:
    """Reconcile the rows of one month (in the reconciler's series order)."""
    base = columns.base[positions]
    columns.forecast[positions] = reconciler(base)
    if sigma is not None:
        columns.bounds[:, positions] = path_bounds(reconciler, base, sigma, levels, samples, rng)
    columns.reconciled[positions] = True


def _sigma(table: pd.DataFrame, level: int) -> np.ndarray:
    """Standard deviation implied by the widest base interval (normal errors), for every row."""
    width = table[f"upper_{level}"].to_numpy(dtype="float64") - table[f"lower_{level}"].to_numpy(
        dtype="float64"
    )
    sigma = np.nan_to_num(width / (2 * norm.ppf(0.5 + level / 200)), nan=0.0)
    return np.maximum(sigma, 0.0)
