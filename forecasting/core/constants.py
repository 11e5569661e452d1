"""Constants shared by every layer: the season of monthly data and the output schemas."""

from __future__ import annotations

VERSION = "0.1.0"
"""The package version (``forecasting.__version__``), recorded with every run and model."""

SEASON_LENGTH = 12
"""Months in a season: monthly data, yearly seasonality."""

MAX_HORIZON = 1200
"""Longest horizon forecast, in months (100 years): beyond it a horizon is a typo (10**9 months would
allocate gigabytes per series before failing)."""

DEFAULT_LEVELS: tuple[int, ...] = (80, 95)
"""Interval levels (percent) forecast when none are asked for."""

FALLBACK_COLUMNS = ["series_id", "model", "fallback", "reason"]
"""Schema of a fitted model's ``fallbacks_``: which series another model forecast, and why."""

ADJUSTMENT_COLUMNS = ["series_id", "model", "adjustment"]
"""Schema of a fitted model's ``adjustments_``: repairs made to a series before fitting."""
