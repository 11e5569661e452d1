"""Constants shared by every layer: the season of monthly data, the output schemas, and the defaults
the command line shows in its help (kept here so ``forecasting --help`` imports no model code)."""

from __future__ import annotations

VERSION = "0.1.0"
"""The package version (``forecasting.__version__``), recorded with every run and model."""

SEASON_LENGTH = 12
"""Months in a season: monthly data, yearly seasonality."""

MAX_HORIZON = 1200
"""Longest horizon forecast, in months (100 years): beyond it a horizon is a typo (10**9 months would
allocate gigabytes per series before failing)."""

DEFAULT_LEVELS: tuple[int, ...] = (80, 95)
"""Interval levels (percent) forecast when none are asked for: the only place they are spelled out
(every default elsewhere names this constant or takes a :class:`forecasting.core.request.ForecastRequest`)."""

FALLBACK_COLUMNS = ["series_id", "model", "fallback", "reason"]
"""Schema of a fitted model's ``fallbacks_``: which series another model forecast, and why."""

ADJUSTMENT_COLUMNS = ["series_id", "model", "adjustment"]
"""Schema of a fitted model's ``adjustments_``: repairs made to a series before fitting."""

DEFAULT_MAX_STALE_MONTHS = 12
"""Months a series may end before the panel's last month and still be forecast."""

ALIGNMENTS: tuple[str, ...] = ("calendar", "series")
"""Which months a forecast or a backtest fold covers (``--align``): ``calendar``, the same months for
every series (after the panel's last month, or a fold's cutoff); ``series``, the months after each
series' own last month (a collection of series that end in different years: company, industry or
macro series, a competition set)."""

RESIDUAL_MONTHS = 120
"""Reconciliation: in-sample errors of the last so many months are used (see docs/benchmarks.md,
Reconciliation)."""

DEFAULT_EXECUTOR = "local"
"""Where per-series fits run when neither the command nor the job config says (all cores)."""

CSV_DIALECTS: tuple[str, ...] = ("default", "excel-eu")
"""How exports are written (``forecast --csv-dialect``, job setting ``csv_dialect``): ``default`` is
comma-separated with a decimal point; ``excel-eu`` is ``;``-separated with a decimal comma, what a
spreadsheet set to a European locale opens as numbers (forecasting.files.CSV_DIALECT_FORMATS)."""
