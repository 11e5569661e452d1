"""Model names as used in job configs and on the command line."""

from __future__ import annotations

from typing import Any

from forecasting.models.base import PanelForecaster
from forecasting.models.baselines import Drift, Mean, Naive, SeasonalNaive

MODELS: dict[str, type[PanelForecaster]] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "drift": Drift,
    "mean": Mean,
}


def available_models() -> list[str]:
    return sorted(MODELS)


def make_model(name: str, **params: Any) -> PanelForecaster:
    """Instantiate a model by its registered name, e.g. ``make_model("arima")``."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(
            f"The 'model' parameter must be one of {available_models()}. Got {name!r} instead."
        ) from None
    return cls(**params)
