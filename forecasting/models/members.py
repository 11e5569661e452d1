"""The single models by registered name: what a combination (``ensemble``, ``auto``) takes as a member.

The full registry (:mod:`forecasting.models.registry`) adds the combinations
themselves; keeping the members apart lets the combinations resolve names
without importing the registry that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forecasting.models.arima import Arima
from forecasting.models.base import PanelForecaster
from forecasting.models.baselines import Drift, Mean, Naive, SeasonalNaive, SeasonalProfile
from forecasting.models.ets import Ets
from forecasting.models.gbm import GradientBoosting
from forecasting.models.theta import Theta

MEMBER_MODELS: dict[str, type[PanelForecaster]] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "seasonal_profile": SeasonalProfile,
    "drift": Drift,
    "mean": Mean,
    "ets": Ets,
    "theta": Theta,
    "arima": Arima,
    "gbm": GradientBoosting,
}

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "gbm_median": ("gbm", {"loss": "absolute_error"}),
}
"""Registered variants: a name for a model with other default parameters (its ``model_name``)."""


def instantiate(
    models: Mapping[str, type[PanelForecaster]], name: str, params: Mapping[str, Any]
) -> PanelForecaster:
    """``models[name](**params)``, a preset's defaults under ``params``; ValueError for an unknown name."""
    if name in PRESETS:
        name, preset = PRESETS[name]
        params = {**preset, **params}
    try:
        cls = models[name]
    except KeyError:
        known = sorted([*models, *PRESETS])
        raise ValueError(f"The 'model' parameter must be one of {known}. Got {name!r} instead.") from None
    return cls(**params)


def make_member(name: str, **params: Any) -> PanelForecaster:
    """A single model by its registered name, e.g. ``make_member("ets")``."""
    return instantiate(MEMBER_MODELS, name, params)
