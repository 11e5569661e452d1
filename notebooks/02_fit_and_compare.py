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
# # 2. Fit and compare models
#
# We fit seasonal ARIMA, a global gradient-boosting model and two baselines to a few series of the
# sample, compare them in a rolling-origin backtest, log each model as an MLflow run and read the
# runs back with `mlflow.search_runs`. At the end, forecasts of the cargo hierarchy are reconciled
# so that they add up, and scored base against reconciled at each level.
#
# Runs go to the project's MLflow store (`mlruns/` of this checkout, the store `make ui` shows),
# found from the notebook's folder; `MLFLOW_TRACKING_URI`, when set, wins.

# %%
# %matplotlib inline
import tempfile
import warnings
from pathlib import Path

import pandas as pd

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import mlflow
from sklearn.base import clone

from forecasting import plots, tracking
from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import leaderboard, metrics_by_series
from forecasting.evaluation.reconciled import leaderboard_by_level, reconciled_backtest
from forecasting.features.flows import build_series
from forecasting.models.registry import available_models, make_model
from forecasting.reconciliation import structure_to_reconcile
from forecasting.sample import load_sample

# Everything the notebook writes goes to a temporary folder, removed when the kernel stops.
WORKDIR = tempfile.TemporaryDirectory(prefix="forecasting-notebook-")
work = Path(WORKDIR.name)
PROJECT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SHARED_DATA = PROJECT.parent / "shared" / "data"
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

# %%
panel = load_sample().subset(
    [
        "heihe-blagoveshchensk/trade_value/export",
        "heihe-blagoveshchensk/cargo/road/export",
        "zabaykalsk-manzhouli/cargo/rail/import",
    ]
)
print(panel)
print("registered models:", available_models())

# %% [markdown]
# ## The candidates
#
# Every model is a scikit-learn style estimator: the constructor only stores parameters,
# `fit(panel)` returns the fitted model, `predict(horizon)` returns a long table with 80% and 95%
# intervals. Gradient boosting gets fewer trees and calibration windows than its defaults to keep
# this notebook quick.

# %%
models = [
    make_model("seasonal_naive"),
    make_model("drift"),
    make_model("arima"),
    make_model("gbm", max_iter=100, calibration_windows=2),
]
models[3].get_params()

# %% [markdown]
# ## Backtest
#
# Each fold cuts the data at a month (the *cutoff*), fits a fresh copy of every model on what was
# known then, and forecasts the next 12 months. The result is one long table: one row per series,
# model, cutoff and step ahead, with the actual value next to the forecast. The MASE scale is the
# in-sample seasonal naive error of each fold's training window, so MASE below 1 beats the
# seasonal naive of the training data.

# %%
results = backtest(models, panel, horizon=12, folds=2)
results.head()

# %%
board = leaderboard(results)
board

# %%
plots.plot_leaderboard(board, metrics=("mase", "coverage_80", "coverage_95"))

# %% [markdown]
# How the error grows with the lead time:

# %%
plots.plot_error_by_horizon(results, metric="mase")

# %% [markdown]
# Which model wins on which series (MASE):

# %%
metrics_by_series(results)["mase"].unstack("model").round(3)

# %% [markdown]
# ## Log the candidates to MLflow
#
# One run per model with its parameters, its backtest metrics and its error-by-horizon plot.
# `tracking.configure()` points MLflow at the project's store (or at `MLFLOW_TRACKING_URI`);
# `tracking.ensure_experiment` keeps the run artifacts next to the SQLite database and tags the
# experiment so the UI opens it on its runs.

# %%
uri = tracking.configure()
experiment_id = tracking.ensure_experiment("notebook-fit-and-compare", uri)
scores = board.set_index("model")
for model in models:
    with mlflow.start_run(experiment_id=experiment_id, run_name=model.name):
        tracking.log_params(model.get_params(deep=False))
        metrics = scores.loc[model.name, ["mase", "rmsse", "smape", "coverage_95"]]
        mlflow.log_metrics(metrics.astype(float).to_dict())
        own = results[results["model"] == model.name]
        mlflow.log_figure(plots.plot_error_by_horizon(own), "error_by_horizon.png")
print(uri)

# %%
runs = mlflow.search_runs(experiment_ids=[experiment_id], order_by=["metrics.mase ASC"])
columns = ["tags.mlflow.runName", "metrics.mase", "metrics.coverage_95", "params.max_iter"]
runs[columns]

# %% [markdown]
# ## Open the MLflow UI
#
# From a terminal in the project (not from this notebook, the UI is a server that keeps running):
#
# ```
# make ui        # the project store: mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db
# ```
#
# (`make ui PORT=5001` for another port; for another store, the command printed below). Then open
# the page printed below and pick the experiment `notebook-fit-and-compare`.

# %%
print(f"mlflow ui --backend-store-uri {uri}")
print(f"http://127.0.0.1:5000/{tracking.ui_path(experiment_id)}")

# %% [markdown]
# ## Forecast with the winner
#
# The best model by backtest MASE is refitted on all the data and forecasts the next 12 months.

# %%
winner = board.loc[0, "model"]
best = clone(next(model for model in models if model.name == winner))  # same parameters, unfitted
best.fit(panel)
forecast = best.predict(12)
series_id = "heihe-blagoveshchensk/trade_value/export"
plots.plot_forecast(
    panel.series(series_id),
    forecast[forecast["series_id"] == series_id],
    unit=plots.value_label(panel, series_id),
    history_months=60,
)

# %% [markdown]
# ## Forecasts that add up: base against reconciled, level by level
#
# Forecast each series on its own and a region's forecast is not the sum of its crossings'.
# `build_series` rolls the sample's crossings up to crossing totals, regions and border totals and
# records which series sum to which (`hierarchy.structure`; `forecasting series build --output
# panel.csv` writes it as `panel.hierarchy.csv`). Here: the cargo series and their roll-ups.

# %%
hierarchy = build_series(load_sample())
structure, mismatched = structure_to_reconcile(hierarchy.filter(flow="cargo"))
print(structure, "| parents that are not the sum of their children:", len(mismatched))
structure.level_of().value_counts()

# %% [markdown]
# Each backtest fold of theta is reconciled with MinT (`mint_shrink`): the weights come from the
# errors of the *earlier* folds only, so the first fold only lends its errors and base and
# reconciled are scored on the same later folds. The reconciled forecasts add up at every parent
# and month; whether they are also more accurate is what the table and the plot show, per level.

# %%
cargo_results = backtest([make_model("theta")], hierarchy.subset(structure.series), horizon=12, folds=3)
both = reconciled_backtest(cargo_results, structure, "mint_shrink")
by_level = leaderboard_by_level(both, structure)
by_level[["level", "model", "mase", "coverage_80", "coverage_95", "n_series"]].round(3)

# %%
plots.plot_reconciled_by_level(by_level)

# %% [markdown]
# The scores are per level; one parent with its children shows what reconciliation did to the
# forecasts themselves. Below, the last fold for the parent with the most children: its base
# forecast (dashed) is not the sum of the children's base forecasts (dotted), the reconciled
# forecasts (solid) add up, and every axes shares the time axis.

# %%
parent = max(structure.aggregates, key=lambda name: len(structure.children[name]))
plots.plot_reconciled_hierarchy(
    hierarchy.subset(structure.series),
    both[both["model"] == "theta"],
    both[both["model"] == "theta+mint_shrink"],
    parent,
)

# %% [markdown]
# The scheduled job does the same with a `[reconcile]` section in its config (`method`, and
# `choose_on = "reconciled"` to pick the champion on these scores): it logs this plot as
# `plots/reconciled_by_level.png` and the per-level MASE as metrics (`mase_total_reconciled`, ...).

# %% [markdown]
# **Next:** `03_retrain_and_export.ipynb` runs the same comparison as the scheduled retraining job,
# which promotes a champion model and exports its forecasts.
