"""Write the analyst notebooks in this folder from the cells below, without outputs.

The ``.ipynb`` files are generated: edit the cells here and run
``.venv/bin/python notebooks/build_notebooks.py`` from the project root, so the
notebooks stay reviewable as plain Python and are committed without outputs.
``tests/test_notebooks.py`` executes every notebook and checks that the
committed files match what this script writes.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

Cell = nbformat.NotebookNode

SETUP_IMPORTS = """
%matplotlib inline
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
"""

SETUP_FOLDERS = """
# Everything the notebook writes goes to a temporary folder, removed when the kernel stops.
WORKDIR = tempfile.TemporaryDirectory(prefix="forecasting-notebook-")
work = Path(WORKDIR.name)
PROJECT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SHARED_DATA = PROJECT.parent / "shared" / "data"
# MLflow: a throwaway SQLite store unless MLFLOW_TRACKING_URI is already set (the tests set one).
os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)
"""


def md(text: str) -> Cell:
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(*parts: str) -> Cell:
    """A code cell from one or more dedented parts (e.g. the shared SETUP plus the notebook's imports)."""
    return new_code_cell("\n\n".join(textwrap.dedent(part).strip() for part in parts))


# --- 01 -----------------------------------------------------------------------------------------------
def explore() -> list[Cell]:
    return [
        md(
            """
            # 1. Explore the border flows

            The bundled sample holds eleven monthly series of China-Russia border trade: goods trade value
            of Heihe customs and of Heilongjiang province (CNY), road cargo across the Heihe-Blagoveshchensk
            bridge, rail cargo at Zabaykalsk-Manzhouli and air cargo from Harbin (tonnes), and passengers
            crossing at Heihe (persons). **The numbers are simulated**, calibrated to the figures published in
            the news (see `data/sample/README.md`), so this notebook runs anywhere.

            We load the sample, read its data quality report, then look at the series, their seasonality,
            the Chinese New Year (Spring Festival) effect and each crossing's share of the province total.
            """
        ),
        code(
            SETUP_IMPORTS,
            """
            from forecasting import plots
            from forecasting.sample import SAMPLE_EVENTS, load_sample
            """,
            SETUP_FOLDERS,
        ),
        md(
            """
            ## Load the sample and read the quality report

            `load_sample()` goes through the same loader as any customs file. Two defects were written into
            the file on purpose, as they occur in real customs tables: January and February 2019 of Heihe
            trade published as one combined figure, and a month of Heihe road cargo that was never reported.
            The loader splits the first by Chinese working days and leaves the second missing (never zero);
            both are in the report.
            """
        ),
        code(
            """
            panel = load_sample()
            print(panel)
            print(panel.report)
            """
        ),
        code(
            """
            panel.report.to_frame()[["action", "reason", "count", "series_id", "month"]]
            """
        ),
        md("Every series with its dimensions, span and missing months:"),
        code(
            """
            dimensions = ["crossing", "region", "flow", "direction", "unit", "currency"]
            panel.metadata[dimensions].join(panel.spans())
            """
        ),
        md(
            """
            ## All series at a glance

            One small plot per crossing and flow; each has its own unit on the axis. Province totals have no
            crossing (`n/a`). Note the passenger collapse during the COVID-19 border closure
            (February 2020 to January 2023) and the jump of Heihe road cargo when the bridge opened.
            """
        ),
        code(
            """
            plots.plot_series_overview(panel, by=("crossing", "flow"))
            """
        ),
        md("The sample's known events, usable later as intervention regressors:"),
        code(
            """
            pd.DataFrame([vars(event) for event in SAMPLE_EVENTS])
            """
        ),
        md(
            """
            ## Seasonality

            A seasonal plot draws one line per year over January to December. Road cargo at Heihe is low in
            winter and in April (ice break-up on the Amur), high in summer, and the whole curve moved up
            after the bridge opened in June 2022: a level shift, not a new season.
            """
        ),
        code(
            """
            rail = "zabaykalsk-manzhouli/cargo/rail/import"
            road = "heihe-blagoveshchensk/cargo/road/export"
            plots.plot_seasonal(panel.series(road), unit=plots.value_label(panel, road))
            """
        ),
        md(
            """
            STL splits a series into trend, a seasonal pattern that may change slowly, and the rest. The
            robust fit keeps one-off shocks (the Manzhouli outbreak of winter 2021/22) in the residual
            instead of bending the trend.
            """
        ),
        code(
            """
            plots.plot_stl(panel.series(rail), unit=plots.value_label(panel, rail))
            """
        ),
        md(
            """
            ## The Spring Festival effect

            Chinese New Year falls between 21 January and 20 February. Factories and customs slow down for
            about a week, so whichever month holds the festival loses volume: when it comes early, January
            is weak; when it comes late, February is. That is why customs often publish January and February
            as one figure. Per year: the festival date from the `holidays` package, January's share of
            January + February, and the two months together against the neighbouring December and March.
            """
        ),
        code(
            """
            plots.spring_festival_table(panel.series(road)).round(3)
            """
        ),
        code(
            """
            plots.plot_spring_festival_effect(panel.series(road))
            """
        ),
        md(
            """
            The later the festival, the larger January's share: a model that only knows "January" and
            "February" misses this. The calendar regressors in `forecasting.features.calendar`
            (`spring_festival_days`, `days_before_spring_festival`) give the models the date.

            ## Hierarchy: each crossing's share of the province

            Heihe customs is one of Heilongjiang's gates to Russia. The top plot shows both levels, the
            bottom one Heihe's share of the province total month by month (its growth after 2022 stands out).
            """
        ),
        code(
            """
            plots.plot_hierarchy_shares(
                panel, "heilongjiang/trade_value/import", ["heihe-blagoveshchensk/trade_value/import"]
            )
            """
        ),
        md(
            """
            **Next:** `02_fit_and_compare.ipynb` fits ARIMA, gradient boosting and baselines to these series
            and compares them in a backtest.
            """
        ),
    ]


# --- 02 -----------------------------------------------------------------------------------------------
def fit_and_compare() -> list[Cell]:
    return [
        md(
            """
            # 2. Fit and compare models

            We fit seasonal ARIMA, a global gradient-boosting model and two baselines to a few series of the
            sample, compare them in a rolling-origin backtest, log each model as an MLflow run and read the
            runs back with `mlflow.search_runs`.

            Runs go to a temporary MLflow store here (the tests set `MLFLOW_TRACKING_URI`). To keep them,
            start Jupyter with `MLFLOW_TRACKING_URI=sqlite:///<project>/mlruns/mlflow.db`, the store that
            `make ui` shows.
            """
        ),
        code(
            SETUP_IMPORTS,
            """
            import warnings

            warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

            import mlflow
            from sklearn.base import clone

            from forecasting import plots, tracking
            from forecasting.evaluation.backtest import backtest
            from forecasting.evaluation.metrics import leaderboard, metrics_by_series
            from forecasting.models.registry import available_models, make_model
            from forecasting.sample import load_sample
            """,
            SETUP_FOLDERS,
        ),
        code(
            """
            panel = load_sample().subset(
                [
                    "heihe-blagoveshchensk/trade_value/export",
                    "heihe-blagoveshchensk/cargo/road/export",
                    "zabaykalsk-manzhouli/cargo/rail/import",
                ]
            )
            print(panel)
            print("registered models:", available_models())
            """
        ),
        md(
            """
            ## The candidates

            Every model is a scikit-learn style estimator: the constructor only stores parameters,
            `fit(panel)` returns the fitted model, `predict(horizon)` returns a long table with 80% and 95%
            intervals. Gradient boosting gets fewer trees and calibration windows than its defaults to keep
            this notebook quick.
            """
        ),
        code(
            """
            models = [
                make_model("seasonal_naive"),
                make_model("drift"),
                make_model("arima"),
                make_model("gbm", max_iter=100, calibration_windows=2),
            ]
            models[3].get_params()
            """
        ),
        md(
            """
            ## Backtest

            Each fold cuts the data at a month (the *cutoff*), fits a fresh copy of every model on what was
            known then, and forecasts the next 12 months. The result is one long table: one row per series,
            model, cutoff and step ahead, with the actual value next to the forecast. The MASE scale is the
            in-sample seasonal naive error of each fold's training window, so MASE below 1 beats the
            seasonal naive of the training data.
            """
        ),
        code(
            """
            results = backtest(models, panel, horizon=12, folds=2)
            results.head()
            """
        ),
        code(
            """
            board = leaderboard(results)
            board
            """
        ),
        code(
            """
            plots.plot_leaderboard(board, metrics=("mase", "coverage_80", "coverage_95"))
            """
        ),
        md("How the error grows with the lead time:"),
        code(
            """
            plots.plot_error_by_horizon(results, metric="mase")
            """
        ),
        md("Which model wins on which series (MASE):"),
        code(
            """
            metrics_by_series(results)["mase"].unstack("model").round(3)
            """
        ),
        md(
            """
            ## Log the candidates to MLflow

            One run per model with its parameters, its backtest metrics and its error-by-horizon plot.
            `tracking.configure()` points MLflow at the store in `MLFLOW_TRACKING_URI`;
            `tracking.ensure_experiment` keeps the run artifacts next to the SQLite database.
            """
        ),
        code(
            """
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
            """
        ),
        code(
            """
            runs = mlflow.search_runs(experiment_ids=[experiment_id], order_by=["metrics.mase ASC"])
            columns = ["tags.mlflow.runName", "metrics.mase", "metrics.coverage_95", "params.max_iter"]
            runs[columns]
            """
        ),
        md(
            """
            ## Open the MLflow UI

            From a terminal in the project (not from this notebook, the UI is a server that keeps running):

            ```
            make ui        # the project store: mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db
            ```

            or, for the temporary store of this notebook, the command printed below. Then open
            http://127.0.0.1:5000 and pick the experiment `notebook-fit-and-compare`.
            """
        ),
        code(
            """
            print(f"mlflow ui --backend-store-uri {uri}")
            """
        ),
        md(
            """
            ## Forecast with the winner

            The best model by backtest MASE is refitted on all the data and forecasts the next 12 months.
            """
        ),
        code(
            """
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
            """
        ),
        md(
            """
            **Next:** `03_retrain_and_export.ipynb` runs the same comparison as the scheduled retraining job,
            which promotes a champion model and exports its forecasts.
            """
        ),
    ]


# --- 03 -----------------------------------------------------------------------------------------------
def retrain_and_export() -> list[Cell]:
    return [
        md(
            """
            # 3. Retrain, inspect the champion, export

            The scheduled job (`forecasting retrain --config job.toml`, or `make run` on the sample) does in
            one MLflow run what notebook 2 did by hand: load and validate the data, backtest every candidate,
            log them, **promote** the best one to *champion* only if it beats the serving champion by a
            margin, refit it on all data, register it, and export the forecasts as CSV. Here we run the
            same job from Python, then look at what it left behind.

            All outputs (MLflow store, registered model, exports) go to a temporary folder.
            """
        ),
        code(
            SETUP_IMPORTS,
            """
            import logging
            import warnings

            # Without ipywidgets, tqdm (used by MLflow and the job) warns once; MLflow's advisory
            # warnings about dataset sources and input examples are not about our data.
            warnings.filterwarnings("ignore", message="IProgress not found")
            warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")

            import mlflow

            from forecasting import plots, tracking
            from forecasting.jobs.commands import setup_logging
            from forecasting.jobs.config import load_config
            from forecasting.jobs.retrain import run_retrain
            from forecasting.sample import load_sample
            """,
            SETUP_FOLDERS,
            "setup_logging(logging.INFO)  # the job's event=... key=value lines, as in a scheduler's log",
        ),
        md(
            """
            ## The job config

            A job is one TOML file. With no `[[sources]]` it runs on the bundled sample; `[series]` picks
            series, `[candidates]` the models (with parameters), `[backtest]` the folds and
            `[promotion] margin` how much better a new model must be. Without a `[tracking]` section the
            job uses `MLFLOW_TRACKING_URI`, here our temporary store.
            """
        ),
        code(
            '''
            config_file = work / "job.toml"
            config_file.write_text(
                f"""
            [job]
            name = "border-notebook"
            horizon = 12
            output_dir = "{(work / 'exports').as_posix()}"
            models_dir = "{(work / 'models').as_posix()}"

            [series]
            ids = [
                "heihe-blagoveshchensk/trade_value/export",
                "heihe-blagoveshchensk/cargo/road/export",
                "heihe-blagoveshchensk/passengers/inbound",
                "zabaykalsk-manzhouli/cargo/rail/import",
            ]

            [candidates]
            models = ["seasonal_naive", "theta", "gbm"]

            [candidates.params.gbm]
            max_iter = 100
            calibration_windows = 2

            [backtest]
            folds = 2

            [promotion]
            margin = 0.02
            """
            )
            config = load_config(config_file)
            config
            '''
        ),
        md("## Run the retraining job"),
        code(
            """
            result = run_retrain(config)
            print(f"{result.decision.outcome}: {result.decision.reason}")
            print(f"champion version {result.champion_version}, model {result.model_uri}")
            result.leaderboard[["model", "mase", "rmsse", "coverage_80", "coverage_95"]]
            """
        ),
        md(
            """
            ## Inspect the champion

            The registry holds one model per job, named after it, with the alias `champion`. Each version
            carries the model spec and its backtest MASE as tags.
            """
        ),
        code(
            """
            champion = tracking.champion_version(config.name)
            print(f"{config.name} version {champion.version} (alias {tracking.CHAMPION})")
            pd.Series(champion.tags)
            """
        ),
        md(
            """
            The retrain run and its candidate runs, as MLflow recorded them, and the candidates' leaderboard
            read back from MLflow (what `forecasting compare` prints):
            """
        ),
        code(
            """
            runs = mlflow.search_runs(experiment_names=[config.experiment_name])
            columns = ["tags.mlflow.runName", "tags.forecasting.run_type", "metrics.mase"]
            runs[[*columns, "tags.promotion.decision"]]
            """
        ),
        code(
            """
            tracking.compare(config.experiment_name)
            """
        ),
        md(
            """
            ## Load it with `mlflow.pyfunc`

            The champion is a pickle-free pyfunc model: its input is a table of `series_id`s, the `horizon`
            is a parameter. Any MLflow client (or `mlflow models serve`) can use it without this notebook.
            """
        ),
        code(
            """
            served = mlflow.pyfunc.load_model(f"models:/{config.name}@{tracking.CHAMPION}")
            wanted = pd.DataFrame({"series_id": ["zabaykalsk-manzhouli/cargo/rail/import"]})
            served.predict(wanted, params={"horizon": 6})
            """
        ),
        md(
            """
            ## The exported forecast CSV

            Two files: one dated by the last observed month, and `..._latest.csv`, both written atomically.
            Each row has the series' dimensions, the forecast with 80% and 95% intervals, the unit, and the
            MLflow run that produced it.
            """
        ),
        code(
            """
            dated, latest = result.exports
            print(dated.name, latest.name)
            exported = pd.read_csv(latest)
            exported.head()
            """
        ),
        md(
            """
            Passengers are the hard series: the COVID-19 closure leaves little normal history, so the
            intervals are wide. A model with the closure as an intervention regressor (gradient boosting
            here) is the remedy to try; the job adds the sample's events automatically.
            """
        ),
        code(
            """
            panel = load_sample()
            series_id = "heihe-blagoveshchensk/passengers/inbound"
            plots.plot_forecast(
                panel.series(series_id),
                exported[exported["series_id"] == series_id],
                unit=plots.value_label(panel, series_id),
                history_months=48,
            )
            """
        ),
        md(
            """
            ## Run it again: the promotion gate

            On unchanged data the best candidate cannot beat the champion by the 2% margin (it *is* the
            champion), so the job keeps it: re-running a job never flips the champion by chance.
            """
        ),
        code(
            """
            again = run_retrain(config)
            print(f"{again.decision.outcome}: {again.decision.reason}")
            print("champion version:", again.champion_version)
            """
        ),
        md(
            """
            From a shell the same steps are `forecasting retrain --config job.toml`, `forecasting compare`,
            `forecasting promote` and `forecasting rollback`; `make ui` opens the MLflow UI on the project
            store.
            """
        ),
        md(
            """
            ## Months later: how are the forecasts in service doing?

            Every retrain first scores the earlier dated exports against the actuals that arrived since
            and appends them to `accuracy_<job>.csv`: one row per forecast origin x series x months ahead,
            with the MASE scaled as in the backtest. Here a small job runs on the sample as it stood at the
            end of 2025-03, then each month up to 2025-06 (the data file is rewritten each month, as a
            customs table would be).
            """
        ),
        code(
            '''
            import json

            from forecasting.evaluation.live import live_history
            from forecasting.features.hierarchy import write_long_csv
            from forecasting.jobs.monitoring import accuracy_summary, read_accuracy

            monthly_file = work / "monthly.csv"
            live_config_file = work / "live.toml"
            live_config_file.write_text(
                f"""
            [job]
            name = "border-live"
            horizon = 6
            output_dir = "{(work / 'exports').as_posix()}"
            models_dir = "{(work / 'models').as_posix()}"

            [[sources]]
            path = "{monthly_file.as_posix()}"
            format = "long"

            [series]
            ids = {json.dumps(list(config.series_ids))}

            [candidates]
            models = ["seasonal_naive", "theta"]

            [backtest]
            folds = 2
            """
            )
            live_config = load_config(live_config_file)
            for month in ["2025-03", "2025-04", "2025-05", "2025-06"]:
                write_long_csv(panel.until(month), monthly_file)
                monthly = run_retrain(live_config)
                print(month, monthly.decision.outcome, "rows scored:", len(monthly.live.new_rows))
            '''
        ),
        code(
            """
            table = read_accuracy(work / "exports" / "accuracy_border-live.csv")
            columns = ["origin", "month", "series_id", "step", "actual", "forecast", "mase", "coverage_95"]
            table[columns].head()
            """
        ),
        md(
            """
            The live table by model, by months ahead and by flow (what `forecasting accuracy --config
            live.toml` prints), and live MASE against the backtest MASE the forecasts were promoted on
            (the same figure is logged to each retrain run as `plots/live_accuracy.png`):
            """
        ),
        code(
            """
            summary = accuracy_summary(live_config)
            summary["step"][["step", "mase", "smape", "bias", "coverage_80", "coverage_95", "n_series"]]
            """
        ),
        code(
            """
            plots.plot_live_accuracy(live_history(table))
            """
        ),
        md(
            """
            A series whose live MASE stays above `mase_factor` x its backtest MASE (`[monitoring]`,
            default 3x in 2 of the last 3 months), or live coverage outside the band, is **drift**: a
            WARNING line, the `monitoring.drift` tag, a row in `forecasting compare`, and exit code 3 from
            `forecasting retrain` (docs/scheduling.md).
            """
        ),
    ]


# --- 04 -----------------------------------------------------------------------------------------------
def bring_your_own_data() -> list[Cell]:
    return [
        md(
            """
            # 4. Bring your own data

            Three steps take any published table to forecasts:

            1. **describe** a new customs table with a *source spec* (a few lines of TOML) and load it;
            2. **load** a big raw file as published (the US BTS border-crossing counts) and read what the
               loader had to fix;
            3. **build** cargo and passenger series from it and **forecast** them.

            Loaders never guess silently: everything dropped, merged, converted or flagged is listed in a
            `DataQualityReport`. Files are read in place; this notebook writes only to a temporary folder.
            """
        ),
        code(
            SETUP_IMPORTS,
            """
            from forecasting import plots
            from forecasting.data.loaders import SourceSpec, load_bts, load_source
            from forecasting.evaluation.backtest import backtest
            from forecasting.evaluation.metrics import leaderboard
            from forecasting.models.registry import make_model
            from forecasting.panel import SeriesPanel
            """,
            SETUP_FOLDERS,
            "rng = np.random.default_rng(2024)",
        ),
        md(
            """
            ## 1. A new customs table, described by a source spec

            Suppose Heihe customs sends monthly goods trade with Blagoveshchensk like the table below:
            `;`-separated, thousands separators, **thousands of CNY**, dates like `2023-01`, a free-text
            `Remarks` column, and one month left blank because it was not published. We generate such a
            file here so the notebook runs anywhere; with a real file only the path changes.
            """
        ),
        code(
            """
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
            print("\\n".join(customs_file.read_text().splitlines()[:4]))
            """
        ),
        md(
            """
            The source spec says how the table is written and what each value column means. `scale`
            converts thousands of CNY to CNY, and `ignore` documents the column we deliberately skip
            (the loader reports it; an *undescribed* column would be reported as a warning).
            """
        ),
        code(
            '''
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
            '''
        ),
        code(
            """
            customs_panel = customs.panel()
            print(customs_panel)
            customs_panel.spans()
            """
        ),
        code(
            """
            plots.plot_series_overview(customs_panel, by=("crossing", "flow"))
            """
        ),
        md(
            """
            ## 2. The BTS border-crossing file, as published

            The US Bureau of Transportation Statistics publishes monthly entries at every US land port
            (388,822 rows, 1996-2023), with duplicate rows, ports that open and close, and months that
            were simply not reported. We read it from `../shared/data` when it is there; otherwise we write
            a small file in the same layout (same columns, dates like `Jan 2023`).
            """
        ),
        code(
            """
            def write_bts_like_file(path: Path) -> Path:
                \"\"\"A small file in the BTS layout, for machines without shared/data.\"\"\"
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
                        "Personal Vehicle Passengers": 8 * trucks * season ** 2
                        * np.where(restricted, 0.45, 1.0) * rng.lognormal(0, 0.05, len(months)),
                    }
                    for measure, values in measures.items():
                        for month, value in zip(months, values):
                            rows.append(
                                {
                                    "Port Name": name, "State": state, "Port Code": code,
                                    "Border": border, "Date": month.strftime("%b %Y"),
                                    "Measure": measure, "Value": round(value),
                                    "Latitude": lat, "Longitude": lon, "Point": f"POINT ({lon} {lat})",
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
            """
        ),
        md(
            """
            The real file has one port-month with two different bus-passenger counts. By default that is an
            error naming both rows; `conflicts="drop"` drops both, leaves the month missing and reports it.
            """
        ),
        code(
            """
            bts = load_bts(bts_file, conflicts="drop")
            issues = bts.report.to_frame()
            print(f"{bts.report.rows_read:,} rows read, {len(bts.records):,} records kept")
            issues.groupby(["action", "reason"])["count"].agg(entries="size", rows="sum")
            """
        ),
        md(
            """
            ## 3. Cargo and passenger series

            Each port and measure is one series, `bts/<port code>/<measure>`. We keep the three ports with
            the most trucks in 2023, their trucks (cargo) and personal-vehicle passengers, from 2012 on.
            """
        ),
        code(
            """
            records = bts.records[bts.records["month"] >= pd.Period("2012-01", "M")]
            trucks_2023 = records[(records["measure"] == "trucks") & (records["month"].dt.year == 2023)]
            top_ports = trucks_2023.groupby("port_code")["value"].sum().nlargest(3).index.tolist()
            measures = ("trucks", "personal-vehicle-passengers")
            wanted = [f"bts/{port}/{measure}" for port in top_ports for measure in measures]
            border = SeriesPanel(records[records["series_id"].isin(wanted)], bts.report)
            print(border)
            border.metadata[["crossing", "flow", "measure", "unit"]]
            """
        ),
        code(
            """
            plots.plot_series_overview(border, by=("flow",), ncols=2)
            """
        ),
        md(
            """
            Passenger traffic shows the land-border restrictions of March 2020 to November 2021: a
            structural break, not seasonality. The STL decomposition puts it in the trend.
            """
        ),
        code(
            """
            passengers_id = f"bts/{top_ports[0]}/personal-vehicle-passengers"
            plots.plot_stl(border.series(passengers_id), unit=plots.value_label(border, passengers_id))
            """
        ),
        md(
            """
            ## 4. Forecast them

            A quick backtest (two folds of 12 months) compares the Theta method, fast and hard to beat on
            monthly series, with the seasonal naive baseline; then Theta is refitted on all the data for
            the next 12 months. (`02_fit_and_compare.ipynb` adds ARIMA and gradient boosting.)
            """
        ),
        code(
            """
            models = [make_model("seasonal_naive"), make_model("theta")]
            results = backtest(models, border, horizon=12, folds=2)
            leaderboard(results)[["model", "mase", "rmsse", "coverage_80", "coverage_95", "n_series"]]
            """
        ),
        code(
            """
            theta = make_model("theta").fit(border)
            forecast = theta.predict(12)
            print(theta.fallbacks_ if len(theta.fallbacks_) else "no fallbacks: one model per series")
            forecast.head()
            """
        ),
        code(
            """
            trucks_id = f"bts/{top_ports[0]}/trucks"
            plots.plot_forecast(
                border.series(trucks_id),
                forecast[forecast["series_id"] == trucks_id],
                unit=plots.value_label(border, trucks_id),
                history_months=48,
            )
            """
        ),
        md(
            """
            **Next:** save the spec next to your data and point a job config at it (see
            `03_retrain_and_export.ipynb`), or check a file from the shell with
            `forecasting data check <file> --format <spec.toml>`.
            """
        ),
    ]


NOTEBOOKS: dict[str, Callable[[], list[Cell]]] = {
    "01_explore.ipynb": explore,
    "02_fit_and_compare.ipynb": fit_and_compare,
    "03_retrain_and_export.ipynb": retrain_and_export,
    "04_bring_your_own_data.ipynb": bring_your_own_data,
}


def build(cells: list[Cell]) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"  # stable ids keep regenerated files identical
    nbformat.validate(notebook)
    return notebook


def write_all(folder: Path = HERE) -> list[Path]:
    """Write every notebook into ``folder`` and return the paths."""
    paths = []
    for name, cells in NOTEBOOKS.items():
        path = folder / name
        nbformat.write(build(cells()), path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: notebooks/)")
    args = parser.parse_args()
    for path in write_all(args.out):
        print(path)


if __name__ == "__main__":
    main()
