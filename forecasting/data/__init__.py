"""The data layer: loaders for real trade tables, validation and the quality report."""

from forecasting.data.loaders import (
    LoadResult,
    SourceSpec,
    load,
    load_bts,
    load_long,
    load_source,
    load_wide,
    parse_months,
)

__all__ = [
    "LoadResult",
    "SourceSpec",
    "load",
    "load_bts",
    "load_long",
    "load_source",
    "load_wide",
    "parse_months",
]
