"""Forecasts of every registered model on the bundled sample, saved and compared (issue 28).

A refactor that must not change any forecast is checked by running this before
(``--save before.pkl``) and after (``--compare before.pkl``): every model is fit
on :func:`forecasting.sample.load_sample` (or the first ``--series`` series of a
long ``--input`` file) and forecasts 12 months at the default levels; the
comparison is exact up to ``--tol`` (1e-12). Usage::

    .venv/bin/python benchmarks/refactor_check.py --save /tmp/before.pkl
    .venv/bin/python benchmarks/refactor_check.py --compare /tmp/before.pkl
    .venv/bin/python benchmarks/refactor_check.py --models auto --series 60 \
        --input ../shared/data/m1/m1_monthly_history.csv --save /tmp/m1.pkl
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.data.loaders import load_long  # noqa: E402
from forecasting.models.registry import available_models, make_model  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402
from forecasting.sample import load_sample  # noqa: E402

HORIZON = 12


def checked_panel(path: Path | None, series: int | None) -> SeriesPanel:
    """The bundled sample, or the first ``series`` series (id order) of a long file."""
    panel = load_sample() if path is None else SeriesPanel.from_load(load_long(path))
    return panel if series is None else panel.select(limit=series)


def forecasts(models: list[str], panel: SeriesPanel) -> dict[str, pd.DataFrame]:
    out = {}
    for name in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = make_model(name, horizon=HORIZON).fit(panel)
                out[name] = model.predict(HORIZON).reset_index(drop=True)
            except Exception as error:  # noqa: BLE001 - a model that cannot run on the sample is recorded
                out[name] = pd.DataFrame({"error": [f"{type(error).__name__}: {error}"]})
        print(f"{name}: {out[name].shape}", flush=True)
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
    parser.add_argument("--tol", type=float, default=1e-12)
    parser.add_argument("--input", type=Path, default=None, help="a long CSV (default: the bundled sample)")
    parser.add_argument("--series", type=int, default=None, help="only its first N series (id order)")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else available_models()
    result = forecasts(models, checked_panel(args.input, args.series))
    if args.save:
        args.save.write_bytes(pickle.dumps(result))
    if args.compare:
        problems = compare(pickle.loads(args.compare.read_bytes()), result, args.tol)
        print("\n".join(problems) if problems else f"identical: {len(result)} models (tol {args.tol})")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
