# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Explore the border flows
#
# The bundled sample holds eleven monthly series of China-Russia border trade: goods trade value
# of Heihe customs and of Heilongjiang province (CNY), road cargo across the Heihe-Blagoveshchensk
# bridge, rail cargo at Zabaykalsk-Manzhouli and air cargo from Harbin (tonnes), and passengers
# crossing at Heihe (persons). **The numbers are simulated**, calibrated to the figures published in
# the news (see `data/sample/README.md`), so this notebook runs anywhere.
#
# We load the sample, read its data quality report, then look at the series, their seasonality,
# the Chinese New Year (Spring Festival) effect and each crossing's share of the province total.

# %%
# %matplotlib inline
import tempfile
from pathlib import Path

import pandas as pd

from forecasting import plots
from forecasting.sample import SAMPLE_EVENTS, load_sample

# Everything the notebook writes goes to a temporary folder, removed when the kernel stops.
WORKDIR = tempfile.TemporaryDirectory(prefix="forecasting-notebook-")
work = Path(WORKDIR.name)
PROJECT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SHARED_DATA = PROJECT.parent / "shared" / "data"
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

# %% [markdown]
# ## Load the sample and read the quality report
#
# `load_sample()` goes through the same loader as any customs file. Two defects were written into
# the file on purpose, as they occur in real customs tables: January and February 2019 of Heihe
# trade published as one combined figure, and a month of Heihe road cargo that was never reported.
# The loader splits the first by Chinese working days and leaves the second missing (never zero);
# both are in the report.

# %%
panel = load_sample()
print(panel)
print(panel.report)

# %%
panel.report.to_frame()[["action", "reason", "count", "series_id", "month"]]

# %% [markdown]
# Every series with its dimensions, span and missing months:

# %%
dimensions = ["crossing", "region", "flow", "direction", "unit", "currency"]
panel.metadata[dimensions].join(panel.spans())

# %% [markdown]
# ## All series at a glance
#
# One small plot per crossing and flow; each has its own unit on the axis. Province totals have no
# crossing (`n/a`). Note the passenger collapse during the COVID-19 border closure
# (February 2020 to January 2023) and the jump of Heihe road cargo when the bridge opened.

# %%
plots.plot_series_overview(panel, by=("crossing", "flow"))

# %% [markdown]
# The sample's known events, usable later as intervention regressors:

# %%
pd.DataFrame([vars(event) for event in SAMPLE_EVENTS])

# %% [markdown]
# ## Seasonality
#
# A seasonal plot draws one line per year over January to December. Road cargo at Heihe is low in
# winter and in April (ice break-up on the Amur), high in summer, and the whole curve moved up
# after the bridge opened in June 2022: a level shift, not a new season.

# %%
rail = "zabaykalsk-manzhouli/cargo/rail/import"
road = "heihe-blagoveshchensk/cargo/road/export"
plots.plot_seasonal(panel.series(road), unit=plots.value_label(panel, road))

# %% [markdown]
# STL splits a series into trend, a seasonal pattern that may change slowly, and the rest. The
# robust fit keeps one-off shocks (the Manzhouli outbreak of winter 2021/22) in the residual
# instead of bending the trend.

# %%
plots.plot_stl(panel.series(rail), unit=plots.value_label(panel, rail))

# %% [markdown]
# ## The Spring Festival effect
#
# Chinese New Year falls between 21 January and 20 February. Factories and customs slow down for
# about a week, so whichever month holds the festival loses volume: when it comes early, January
# is weak; when it comes late, February is. That is why customs often publish January and February
# as one figure. Per year: the festival date from the `holidays` package, January's share of
# January + February, and the two months together against the neighbouring December and March.

# %%
plots.spring_festival_table(panel.series(road)).round(3)

# %%
plots.plot_spring_festival_effect(panel.series(road))

# %% [markdown]
# The later the festival, the larger January's share: a model that only knows "January" and
# "February" misses this. The calendar regressors in `forecasting.features.calendar`
# (`spring_festival_days`, `days_before_spring_festival`) give the models the date.
#
# ## Hierarchy: each crossing's share of the province
#
# Heihe customs is one of Heilongjiang's gates to Russia. The top plot shows both levels, the
# bottom one Heihe's share of the province total month by month (its growth after 2022 stands out).

# %%
plots.plot_hierarchy_shares(
    panel, "heilongjiang/trade_value/import", ["heihe-blagoveshchensk/trade_value/import"]
)

# %% [markdown]
# **Next:** `02_fit_and_compare.ipynb` fits ARIMA, gradient boosting and baselines to these series
# and compares them in a backtest.
