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
# # 4. Bring your own data
#
# Three steps take any published table to forecasts:
#
# 1. **describe** a new customs table with a *source spec* (a few lines of TOML) and load it;
# 2. **load** a big raw file as published (the US BTS border-crossing counts) and read what the
#    loader had to fix;
# 3. **build** cargo and passenger series from it and **forecast** them.
#
# Loaders never guess silently: everything dropped, merged, converted or flagged is listed in a
# `DataQualityReport`. Files are read in place; this notebook writes only to a temporary folder.

# %%
# %matplotlib inline
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import Forecaster, plots
from forecasting.data.loaders import SourceSpec, load_bts, load_source
from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import leaderboard
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

# Everything the notebook writes goes to a temporary folder, removed when the kernel stops.
WORKDIR = tempfile.TemporaryDirectory(prefix="forecasting-notebook-")
work = Path(WORKDIR.name)
PROJECT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SHARED_DATA = PROJECT.parent / "shared" / "data"
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

rng = np.random.default_rng(2024)

# %% [markdown]
# ## 1. A new customs table, described by a source spec
#
# Suppose Heihe customs sends monthly goods trade with Blagoveshchensk like the table below:
# `;`-separated, thousands separators, **thousands of CNY**, dates like `2023-01`, a free-text
# `Remarks` column, and one month left blank because it was not published. We generate such a
# file here so the notebook runs anywhere; with a real file only the path changes.

# %%
months = pd.period_range("2016-01", "2023-12", freq="M")
t = np.arange(len(months))
season = 1 + 0.25 * np.cos(2 * np.pi * (t - 6) / 12)
exports = 180_000 * season * 1.06 ** (t / 12) * rng.lognormal(0, 0.05, len(t))
imports = 260_000 * season * 1.04 ** (t / 12) * rng.lognormal(0, 0.05, len(t))
customs_table = pd.DataFrame(
    {
        "Period": months.strftime("%Y-%m"),
        "Exports": [f"{v:,.1f}" for v in exports],
        "Imports": [f"{v:,.1f}" for v in imports],
        "Remarks": "",
    }
)
customs_table.loc[30, "Imports"] = ""  # not published that month
customs_file = work / "heihe_customs.csv"
customs_table.to_csv(customs_file, sep=";", index=False)
print("\n".join(customs_file.read_text().splitlines()[:4]))

# %% [markdown]
# The source spec says how the table is written and what each value column means. `scale`
# converts thousands of CNY to CNY, and `ignore` documents the column we deliberately skip
# (the loader reports it; an *undescribed* column would be reported as a warning).

# %%
spec_file = work / "heihe_customs.toml"
spec_file.write_text(
    """
name = "heihe_customs"
series_prefix = "heihe-blagoveshchensk"
crossing = "heihe-blagoveshchensk"
region = "heilongjiang"
source = "Heihe Customs"
date_column = "Period"
date_format = "%Y-%m"
separator = ";"
thousands = ","
unit = "CNY"
currency = "CNY"
scale = 1000
scale_label = "thousand CNY"

[values.Exports]
flow = "trade_value"
measure = "goods"
direction = "export"

[values.Imports]
flow = "trade_value"
measure = "goods"
direction = "import"

[ignore]
Remarks = "free-text notes from the customs office"
"""
)
spec = SourceSpec.from_toml(spec_file)
customs = load_source(spec, customs_file)
print(customs.report)

# %%
customs_panel = SeriesPanel.from_load(customs)
print(customs_panel)
customs_panel.spans()

# %%
plots.plot_series_overview(customs_panel, by=("crossing", "flow"))


# %% [markdown]
# ## 2. The BTS border-crossing file, as published
#
# The US Bureau of Transportation Statistics publishes monthly entries at every US land port
# (388,822 rows, 1996-2023), with duplicate rows, ports that open and close, and months that
# were simply not reported. We read it from `../shared/data` when it is there; otherwise we write
# a small file in the same layout (same columns, dates like `Jan 2023`).


# %%
def write_bts_like_file(path: Path) -> Path:
    """A small file in the BTS layout, for machines without shared/data."""
    ports = [
        ("Laredo", "Texas", "2304", "US-Mexico Border", 27.5, -99.5, 250_000),
        ("Detroit", "Michigan", "3801", "US-Canada Border", 42.3, -83.0, 130_000),
        ("Otay Mesa", "California", "2506", "US-Mexico Border", 32.6, -117.0, 85_000),
    ]
    months = pd.period_range("2012-01", "2023-12", freq="M")
    restricted = (months >= pd.Period("2020-04", "M")) & (months <= pd.Period("2021-11", "M"))
    season = 1 + 0.08 * np.sin(2 * np.pi * (months.month - 3) / 12)
    rows = []
    for name, state, code, border, lat, lon, trucks in ports:
        measures = {
            "Trucks": trucks * season * rng.lognormal(0, 0.04, len(months)),
            "Personal Vehicle Passengers": 8
            * trucks
            * season**2
            * np.where(restricted, 0.45, 1.0)
            * rng.lognormal(0, 0.05, len(months)),
        }
        for measure, values in measures.items():
            for month, value in zip(months, values, strict=True):
                rows.append(
                    {
                        "Port Name": name,
                        "State": state,
                        "Port Code": code,
                        "Border": border,
                        "Date": month.strftime("%b %Y"),
                        "Measure": measure,
                        "Value": round(value),
                        "Latitude": lat,
                        "Longitude": lon,
                        "Point": f"POINT ({lon} {lat})",
                    }
                )
    frame = pd.DataFrame(rows)
    frame = pd.concat([frame, frame.iloc[[5]]])  # an exact duplicate row, as in the real file
    frame.drop(index=40).to_csv(path, index=False)  # and a month that was not reported
    return path


bts_file = SHARED_DATA / "border_crossings" / "Border_Crossing_Entry_Data.csv.gz"
if not bts_file.exists():
    bts_file = write_bts_like_file(work / "bts_like.csv")
print(bts_file)

# %% [markdown]
# The real file has one port-month with two different bus-passenger counts. By default that is an
# error naming both rows; `conflicts="drop"` drops both, leaves the month missing and reports it.

# %%
bts = load_bts(bts_file, conflicts="drop")
issues = bts.report.to_frame()
print(f"{bts.report.rows_read:,} rows read, {len(bts.records):,} records kept")
issues.groupby(["action", "reason"])["count"].agg(entries="size", rows="sum")

# %% [markdown]
# ## 3. Cargo and passenger series
#
# Each port and measure is one series, `bts/<port code>/<measure>`. We keep the three ports with
# the most trucks in 2023, their trucks (cargo) and personal-vehicle passengers, from 2012 on.

# %%
records = bts.records[bts.records["month"] >= pd.Period("2012-01", "M")]
trucks_2023 = records[(records["measure"] == "trucks") & (records["month"].dt.year == 2023)]
top_ports = trucks_2023.groupby("port_code")["value"].sum().nlargest(3).index.tolist()
measures = ("trucks", "personal-vehicle-passengers")
wanted = [f"bts/{port}/{measure}" for port in top_ports for measure in measures]
border = SeriesPanel(records[records["series_id"].isin(wanted)], bts.report)
print(border)
border.metadata[["crossing", "flow", "measure", "unit"]]

# %%
plots.plot_series_overview(border, by=("flow",), ncols=2)

# %% [markdown]
# Passenger traffic shows the land-border restrictions of March 2020 to November 2021: a
# structural break, not seasonality. The STL decomposition puts it in the trend.

# %%
passengers_id = f"bts/{top_ports[0]}/personal-vehicle-passengers"
plots.plot_stl(border.series(passengers_id), unit=plots.value_label(border, passengers_id))

# %% [markdown]
# ## 4. Forecast them
#
# A quick backtest (two folds of 12 months) compares the Theta method, fast and hard to beat on
# monthly series, with the seasonal naive baseline; then both are refitted on all the data for
# the next 12 months. (`02_fit_and_compare.ipynb` adds ARIMA and gradient boosting.)

# %%
models = [make_model("seasonal_naive"), make_model("theta")]
results = backtest(models, border, horizon=12, folds=2)
leaderboard(results)[["model", "mase", "rmsse", "coverage_80", "coverage_95", "n_series"]]

# %% [markdown]
# The same from a plain DataFrame: `Forecaster` takes the long table (`series_id, month, value`,
# or statsforecast's `unique_id, ds, y`) and answers like statsforecast, one column per model
# and bound. The BTS records carry each port's code, name and state: `Forecaster` keeps them as
# the series' metadata and never as regressors (those it takes only when named, `exog=[...]`, or
# declared by a source spec's `regressors`). `fitted=True` keeps the in-sample fitted values.

# %%
forecaster = Forecaster(["theta", "seasonal_naive"])
forecast = forecaster.forecast(border.to_long(), h=12, fitted=True)
print("regressors:", forecaster.exog_columns_, "| carried:", list(forecaster.panel_.metadata.columns))
print(forecaster.fallbacks_ if len(forecaster.fallbacks_) else "no fallbacks: one model per series")
forecast.head()

# %% [markdown]
# `plot` draws any of its outputs (forecasts, wide or long, or `cross_validation`'s cutoffs), every
# model overlaid, and titles each series by the port's name rather than its code.

# %%
trucks_id = f"bts/{top_ports[0]}/trucks"
forecaster.plot(forecast, [trucks_id, passengers_id], history_months=48)

# %%
fitted = forecaster.forecast_fitted_values()
fitted[fitted["series_id"] == trucks_id].tail()

# %% [markdown]
# **Next:** save the spec next to your data and point a job config at it (see
# `03_retrain_and_export.ipynb`), or check a file from the shell with
# `forecasting data check <file> --format <spec.toml>`.
