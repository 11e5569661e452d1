"""The data layer: loaders for real trade tables, validation and the quality report.

The loaders live in :mod:`forecasting.data.loaders` (imported lazily here so
that :mod:`forecasting.panel` can import the schema without a cycle).
"""

from __future__ import annotations

from typing import Any

_LOADER_NAMES = (
    "LoadResult",
    "SourceSpec",
    "load",
    "load_bts",
    "load_long",
    "load_source",
    "load_wide",
    "parse_months",
)

__all__ = list(_LOADER_NAMES)


def __getattr__(name: str) -> Any:
    if name in _LOADER_NAMES:
        from forecasting.data import loaders

        return getattr(loaders, name)
    raise AttributeError(f"module 'forecasting.data' has no attribute {name!r}")
