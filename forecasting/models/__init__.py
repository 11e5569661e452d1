"""Forecasting models: baselines, statistical models, gradient boosting, combinations."""

from forecasting.models.base import LocalForecaster, PanelForecaster
from forecasting.models.baselines import Drift, Mean, Naive, SeasonalNaive, SeasonalProfile

__all__ = ["Drift", "LocalForecaster", "Mean", "Naive", "PanelForecaster", "SeasonalNaive", "SeasonalProfile"]
