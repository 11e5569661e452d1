"""The single models by registered name: what a combination (``ensemble``, ``auto``) takes as a member.

The full registry (:mod:`forecasting.models.registry`) adds the combinations
themselves; keeping the members apart lets the combinations resolve names
without importing the registry that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forecasting.core.params import Satisfies, check_param_names
from forecasting.errors import ConfigError
from forecasting.models.arima import Arima
from forecasting.models.base import PanelForecaster
from forecasting.models.baselines import Drift, Mean, Naive, SeasonalNaive, SeasonalProfile
from forecasting.models.gbm import GradientBoosting
from forecasting.models.intermittent import INTERMITTENT_MODELS
from forecasting.models.smoothing import Ces, Ets, Theta

MEMBER_MODELS: dict[str, type[PanelForecaster]] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "seasonal_profile": SeasonalProfile,
    "drift": Drift,
    "mean": Mean,
    "ets": Ets,
    "theta": Theta,
    "ces": Ces,
    "arima": Arima,
    "gbm": GradientBoosting,
    **{model.name: model for model in INTERMITTENT_MODELS},
}

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "gbm_median": ("gbm", {"loss": "absolute_error"}),
}
"""Registered variants: a name for a model with other default parameters (its ``model_name``)."""


def _is_member_list(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(
            isinstance(member, PanelForecaster) or (isinstance(member, str) and member in MEMBER_NAMES)
            for member in value
        )
    )


MEMBER_NAMES = sorted([*MEMBER_MODELS, *PRESETS])
MEMBER_LIST = Satisfies(_is_member_list, f"a non-empty list of estimators or of names among {MEMBER_NAMES}")
"""The constraint on a combination's members: what :func:`make_member` resolves."""


def instantiate(
    models: Mapping[str, type[PanelForecaster]], name: str, params: Mapping[str, Any]
) -> PanelForecaster:
    """``models[name](**params)``, a preset's defaults under ``params``, its parameters validated.

    ConfigError for an unknown name, an unknown parameter or an invalid value.
    """
    if name in PRESETS:
        name, preset = PRESETS[name]
        params = {**preset, **params}
    try:
        cls = models[name]
    except KeyError:
        known = sorted([*models, *PRESETS])
        raise ConfigError(f"The 'model' parameter must be one of {known}. Got {name!r} instead.") from None
    check_param_names(cls.__name__, list(params), cls._get_param_names())
    model = cls(**params)
    model._validate_params()
    return model


def make_member(name: str, **params: Any) -> PanelForecaster:
    """A single model by its registered name, e.g. ``make_member("ets")``."""
    return instantiate(MEMBER_MODELS, name, params)
