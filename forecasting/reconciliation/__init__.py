"""Coherent forecasts across a hierarchy: bottom-up, top-down, OLS, WLS and MinT reconciliation.

Layer: above models, below evaluation. :mod:`~forecasting.reconciliation.methods`
works on arrays ordered like :attr:`SummingStructure.series`;
:mod:`~forecasting.reconciliation.frames` reconciles a long forecast table
(point forecasts and sample-path intervals); :mod:`~forecasting.reconciliation.covariance`
holds the shrunk residual covariance as diagonal plus low rank;
:mod:`~forecasting.reconciliation.calibration` widens reconciled intervals to
their backtest coverage, level by level.
"""

from forecasting.reconciliation.calibration import calibrate_intervals, interval_factors
from forecasting.reconciliation.covariance import LowRankCovariance, shrunk_covariance
from forecasting.reconciliation.frames import (
    RESIDUAL_MONTHS,
    RESIDUAL_SOURCES,
    UNRECONCILED,
    recent_residuals,
    reconcile_forecasts,
    residual_matrix,
    structure_to_reconcile,
)
from forecasting.reconciliation.methods import METHODS, NEEDS_RESIDUALS, Reconciler, reconcile

__all__ = [
    "METHODS",
    "NEEDS_RESIDUALS",
    "RESIDUAL_MONTHS",
    "RESIDUAL_SOURCES",
    "UNRECONCILED",
    "LowRankCovariance",
    "Reconciler",
    "calibrate_intervals",
    "interval_factors",
    "recent_residuals",
    "reconcile",
    "reconcile_forecasts",
    "residual_matrix",
    "shrunk_covariance",
    "structure_to_reconcile",
]
