"""Forecast monthly cross-border trade flows.

``from forecasting import Forecaster`` is the DataFrame front end
(:mod:`forecasting.forecaster`). It is loaded on first use (PEP 562), so
``import forecasting.<module>`` and the command line do not pay for importing
every model.
"""

from __future__ import annotations

from typing import Any

from forecasting.core.constants import VERSION as __version__

__all__ = ["Forecaster", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Forecaster":
        from forecasting.forecaster import Forecaster

        return Forecaster
    raise AttributeError(f"module 'forecasting' has no attribute {name!r}")
