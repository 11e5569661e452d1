"""Forecasts of every registered model on three panels, saved and compared (issue 28).

A refactor that must not change any forecast is checked by running this before
(``--save before.pkl``) and after (``--compare before.pkl``): every model is fit
on each panel and forecasts 12 months at the default levels and at 50 and 90 %;
the comparison is exact up to ``--tol`` (1e-12). The panels (``--panels``):
``sample`` (:func:`forecasting.sample.load_sample`), ``m1`` (the first 40 M1
monthly series by id, each from the end of its own history) and ``trade`` (the
six China trade series of the US, Japanese and Korean agencies); the last two
read ``../shared/data``. Usage::

    nice .venv/bin/python benchmarks/refactor_check.py --save /tmp/before.pkl
    nice .venv/bin/python benchmarks/refactor_check.py --compare /tmp/before.pkl
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.data.loaders import load, load_long  # noqa: E402
from forecasting.models.registry import available_models, make_model  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402
from forecasting.sample import load_sample  # noqa: E402

HORIZON = 12
OTHER_LEVELS = (50, 90)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
M1_SERIES = 40
TRADE_FILES = ("usa-china-trade-data.csv", "japan-china-trade-data.csv", "korea-china-trade-data.csv")


def m1_panel() -> SeriesPanel:
    """The first ``M1_SERIES`` M1 monthly series by id, their history files only."""
    panel = SeriesPanel.from_load(load_long(SHARED_DATA / "m1" / "m1_monthly_history.csv"))
    return panel.subset(sorted(panel.series_ids)[:M1_SERIES])


def trade_panel() -> SeriesPanel:
    records = [load(SHARED_DATA / "trade" / name).records for name in TRADE_FILES]
    return SeriesPanel(pd.concat(records, ignore_index=True))


PANELS: dict[str, Callable[[], SeriesPanel]] = {"sample": load_sample, "m1": m1_panel, "trade": trade_panel}


def forecasts(models: list[str], panels: list[str]) -> dict[str, pd.DataFrame]:
    """``<panel>/<model>`` and ``<panel>/<model>@50,90`` -> the forecast frame (or the error)."""
    out = {}
    for panel_name in panels:
        panel = PANELS[panel_name]()
        for name in models:
            key = f"{panel_name}/{name}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model = make_model(name, horizon=HORIZON).fit(panel)
                    out[key] = model.predict(HORIZON).reset_index(drop=True)
                    out[f"{key}@50,90"] = model.predict(HORIZON, levels=OTHER_LEVELS).reset_index(drop=True)
                except Exception as error:  # noqa: BLE001 - a model that cannot run on a panel is recorded
                    out[key] = pd.DataFrame({"error": [f"{type(error).__name__}: {error}"]})
            print(f"{key}: {out[key].shape}", flush=True)
    return out


def compare(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame], tol: float) -> list[str]:
    problems = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            problems.append(f"{name}: only {'before' if name in before else 'after'}")
            continue
        a, b = before[name], after[name]
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            problems.append(f"{name}: columns/rows differ {list(a.columns)} vs {list(b.columns)}")
            continue
        for column in a.columns:
            x, y = a[column], b[column]
            if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
                if not np.allclose(x.to_numpy(), y.to_numpy(), rtol=0, atol=tol, equal_nan=True):
                    diff = np.nanmax(np.abs(x.to_numpy() - y.to_numpy()))
                    problems.append(f"{name}.{column}: max abs diff {diff:.3g}")
            elif not x.equals(y):
                problems.append(f"{name}.{column}: values differ")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--models", default=None, help="comma-separated (default: every registered model)")
    parser.add_argument("--panels", default=",".join(PANELS), help="comma-separated panel names")
    parser.add_argument("--tol", type=float, default=1e-12)
    args = parser.parse_args()
    models = args.models.split(",") if args.models else available_models()
    result = forecasts(models, args.panels.split(","))
    if args.save:
        args.save.write_bytes(pickle.dumps(result))
    if args.compare:
        problems = compare(pickle.loads(args.compare.read_bytes()), result, args.tol)
        print("\n".join(problems) if problems else f"identical: {len(result)} models (tol {args.tol})")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
