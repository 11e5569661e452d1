"""Model names as used in job configs and on the command line."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from forecasting.core.constants import DEFAULT_LEVELS
from forecasting.core.params import LEVEL_LIST
from forecasting.models.auto import Auto
from forecasting.models.base import PanelForecaster
from forecasting.models.ensemble import Ensemble
from forecasting.models.members import MEMBER_MODELS, PRESETS, instantiate

MODELS: dict[str, type[PanelForecaster]] = {**MEMBER_MODELS, "ensemble": Ensemble, "auto": Auto}


def available_models() -> list[str]:
    return sorted([*MODELS, *PRESETS])


def make_model(
    name: str, *, horizon: int | None = None, levels: Sequence[int] | None = None, **params: Any
) -> PanelForecaster:
    """Instantiate a model by its registered name, e.g. ``make_model("arima")``.

    ``horizon`` is how far the model will forecast: models that choose or weigh
    their members on an internal backtest (``auto``, ``ensemble``) then
    backtest over that horizon, unless ``backtest_horizon`` is given. Which
    model wins depends on the horizon (trend models tend to win a year
    ahead and lose two years ahead), so they must be judged where they are used.

    ``levels`` are the forecast request's interval levels: models that calibrate
    their intervals at fit (``auto``) take them as their ``levels`` parameter when
    they differ from :data:`DEFAULT_LEVELS` (the parameter's None), so a model built
    for the default request is the same model, spec and all, as before.
    """
    cls = MODELS.get(PRESETS[name][0] if name in PRESETS else name)
    accepted = inspect.signature(cls).parameters if cls is not None else {}
    if horizon is not None and "backtest_horizon" in accepted:
        params = {"backtest_horizon": horizon, **params}
    if levels is not None and "levels" in accepted:
        if not LEVEL_LIST.accepts(levels):  # the model's own check names the parameter
            params = {"levels": levels, **params}
        elif tuple(sorted(levels)) != DEFAULT_LEVELS:
            params = {"levels": tuple(sorted(levels)), **params}
    return instantiate(MODELS, name, params)
