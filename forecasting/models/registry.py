"""Model names as used in job configs and on the command line."""

from __future__ import annotations

import inspect
from typing import Any

from forecasting.models.arima import Arima
from forecasting.models.auto import Auto
from forecasting.models.base import PanelForecaster
from forecasting.models.baselines import Drift, Mean, Naive, SeasonalNaive, SeasonalProfile
from forecasting.models.ensemble import Ensemble
from forecasting.models.ets import Ets
from forecasting.models.gbm import GradientBoosting
from forecasting.models.theta import Theta

MODELS: dict[str, type[PanelForecaster]] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "seasonal_profile": SeasonalProfile,
    "drift": Drift,
    "mean": Mean,
    "ets": Ets,
    "theta": Theta,
    "arima": Arima,
    "ensemble": Ensemble,
    "auto": Auto,
    "gbm": GradientBoosting,
}


PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "gbm_median": ("gbm", {"loss": "absolute_error"}),
}
"""Registered variants: a name for a model with other default parameters (its ``model_name``)."""


def available_models() -> list[str]:
    return sorted([*MODELS, *PRESETS])


def make_model(name: str, *, horizon: int | None = None, **params: Any) -> PanelForecaster:
    """Instantiate a model by its registered name, e.g. ``make_model("arima")``.

    ``horizon`` is how far the model will forecast: models that choose or weigh
    their members on an internal backtest (``auto``, ``ensemble``) then
    backtest over that horizon, unless ``backtest_horizon`` is given. Which
    model wins depends on the horizon (trend models tend to win a year
    ahead and lose two years ahead), so they must be judged where they are used.
    """
    if name in PRESETS:
        name, preset = PRESETS[name]
        params = {**preset, **params}
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(
            f"The 'model' parameter must be one of {available_models()}. Got {name!r} instead."
        ) from None
    if horizon is not None and "backtest_horizon" in inspect.signature(cls).parameters:
        params = {"backtest_horizon": horizon, **params}
    return cls(**params)
