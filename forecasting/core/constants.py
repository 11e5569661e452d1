"""Constants shared by every layer: the season of monthly data and the output schemas."""

from __future__ import annotations

VERSION = "0.1.0"
"""The package version (``forecasting.__version__``), recorded with every run and model."""

SEASON_LENGTH = 12
"""Months in a season: monthly data, yearly seasonality."""

DEFAULT_LEVELS: tuple[int, ...] = (80, 95)
"""Interval levels (percent) forecast when none are asked for: the only place they are spelled out
(every default elsewhere names this constant or takes a :class:`forecasting.core.request.ForecastRequest`)."""

MAX_HORIZON = 1200
"""The longest horizon a forecast request accepts, in months (100 years): a larger number is a typo."""

FALLBACK_COLUMNS = ["series_id", "model", "fallback", "reason"]
"""Schema of a fitted model's ``fallbacks_``: which series another model forecast, and why."""

ADJUSTMENT_COLUMNS = ["series_id", "model", "adjustment"]
"""Schema of a fitted model's ``adjustments_``: repairs made to a series before fitting."""
