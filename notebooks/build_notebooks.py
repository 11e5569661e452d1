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

            A quick backtest (two folds of 12 months) compares ARIMA with the seasonal naive baseline; then
            the models are refitted on all the data for the next 12 months.
            """
        ),
        code(
            """
            models = [make_model("seasonal_naive"), make_model("arima")]
            results = backtest(models, border, horizon=12, folds=2)
            leaderboard(results)[["model", "mase", "rmsse", "coverage_80", "coverage_95", "n_series"]]
            """
        ),
        code(
            """
            arima = make_model("arima").fit(border)
            forecast = arima.predict(12)
            print(arima.fallbacks_ if len(arima.fallbacks_) else "no fallbacks: each series got an ARIMA")
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
