"""Model names as used in job configs and on the command line."""

from __future__ import annotations

import inspect
from typing import Any

from forecasting.models.auto import Auto
from forecasting.models.base import PanelForecaster
from forecasting.models.ensemble import Ensemble
from forecasting.models.members import MEMBER_MODELS, PRESETS, instantiate

MODELS: dict[str, type[PanelForecaster]] = {**MEMBER_MODELS, "ensemble": Ensemble, "auto": Auto}


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
    cls = MODELS.get(PRESETS[name][0] if name in PRESETS else name)
    if horizon is not None and cls is not None and "backtest_horizon" in inspect.signature(cls).parameters:
        params = {"backtest_horizon": horizon, **params}
    return instantiate(MODELS, name, params)
