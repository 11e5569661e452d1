"""The user's path on real BTS data: `series build` output through the default forecast (issue 25).

A slice of the real file (eight ports, several with months unreported) goes
through `series build`; its derived series are what broke the default model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.data.loaders import load
from forecasting.evaluation.backtest import backtest, fallbacks
from forecasting.features.regressors import make_exog
from forecasting.models.base import predict_fallbacks
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

BTS_FILE = Path("border_crossings") / "Border_Crossing_Entry_Data.csv.gz"
FAST_GBM = {"max_iter": 30}
PORTS = ["Alcan", "Hannah", "Port Angeles", "Opheim", "Ketchikan", "Whitlash", "Tornillo", "Limestone"]


@pytest.fixture(scope="module")
def built_panel(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`series build` of the eight ports' rows of the real file (written to a temp dir, never the repo)."""
    folder = tmp_path_factory.mktemp("bts_slice")
    raw = pd.read_csv(shared_data / BTS_FILE, dtype=str)
    source = folder / "bts_slice.csv"
    raw[raw["Port Name"].isin(PORTS)].to_csv(source, index=False)
    panel = folder / "panel.csv"
    args = ["series", "build", "--input", str(source), "--format", "bts", "--conflicts", "drop"]
    assert main([*args, "--output", str(panel)]) == 0
    return panel


def test_auto_forecasts_derived_series_with_gaps_and_calendar_regressors(built_panel: Path) -> None:
    """The X_future reproducer: crossing roll-ups with unreported months, the global members on.

    A series whose last month precedes its fold's cutoff made every series of
    the fold forecast further than its window, past the calendar rows the fold
    passed on; `auto` then failed the whole panel ("X_future lacks ... rows").
    """
    panel = SeriesPanel.from_load(load(built_panel)).select(
        match=r"/cargo/all/inbound/vehicles$", since="2015-01"
    )
    spans = panel.spans()
    assert len(panel) == 11 and (spans["missing"] > 0).sum() >= 4  # 8 crossings, 2 regions, the total
    live = panel.without(panel.stale(12)["series_id"])
    X, X_future = make_exog(live, 12)
    model = make_model("auto", horizon=12, global_min_series=2, global_min_obs=24).fit(live, X)
    assert {"gbm", "gbm_median"} & set(model.plan_.loc[model.plan_["used"], "model"])
    # The root cause, seen directly: no fold of the members' backtest lacks a month of X.
    folds = backtest([make_model("gbm", **FAST_GBM)], live, horizon=12, folds=2, X=X, align="series")
    assert not fallbacks(folds)["reason"].str.contains("X_future").any()
    forecasts = model.predict(12, X_future)
    assert forecasts["forecast"].notna().all() and len(forecasts) == 12 * len(live)
    assert predict_fallbacks(forecasts).empty


def test_default_forecast_covers_one_window_and_leaves_stale_series_out(
    built_panel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    monkey_store = tmp_path / "mlruns"
    output = tmp_path / "forecasts.csv"
    args = ["forecast", "--input", str(built_panel), "--horizon", "6", "--output", str(output)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{monkey_store}.db")
        patch.chdir(tmp_path)
        assert main([*args, "--match", "^(whitlash|opheim|ketchikan)", "--model", "seasonal_naive"]) == 0
    table = pd.read_csv(output, dtype={"month": str})
    panel = SeriesPanel.from_load(load(built_panel)).select(match="^(whitlash|opheim|ketchikan)")
    stale = panel.stale(12)
    assert len(stale) > 0  # Whitlash and Ketchikan measures stopped years before 2023-12
    assert set(table["series_id"]) == set(panel.series_ids) - set(stale["series_id"])
    assert sorted(table["month"].unique()) == [f"2024-{m:02d}" for m in range(1, 7)]
    assert f"event=stale_series series={len(stale)} max_stale_months=12 action=left_out" in caplog.text
    out = capsys.readouterr().out
    assert f"(2024-01..2024-06) for {table['series_id'].nunique()} series" in out
    assert f"; {len(stale)} stale series not forecast (listed in the run's data_quality_report.txt" in out


def test_the_readme_tour_runs_end_to_end_on_a_real_slice(
    built_panel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tour's commands in order, as a user types them, each on part of the built panel first."""
    panel, part = str(built_panel), ["--match", "^(total|region|alcan)", "--since", "2018-01"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        patch.chdir(tmp_path)
        assert main(["data", "check", panel]) == 0
        assert (
            "series ended more than 12 month(s) before the panel's last month 2023-12"
            in capsys.readouterr().out
        )
        backtest = ["backtest", "--input", panel, "--horizon", "6", "--folds", "2", *part]
        assert main([*backtest, "--models", "seasonal_naive,ets", "--details", "details.csv"]) == 0
        board = capsys.readouterr().out
        assert "seasonal_naive" in board and "ets" in board and "mase_median" in board
        details = pd.read_csv(tmp_path / "details.csv")
        assert {"seasonal_naive", "ets"} <= set(details["model"].dropna())
        forecast = ["forecast", "--input", panel, "--horizon", "6", *part]
        assert main([*forecast, "--output", "forecasts.csv"]) == 0  # the default model
        # Reconciliation needs whole families: the hierarchy keeps parents whose children are all kept.
        coherent = ["forecast", "--input", panel, "--horizon", "6", "--since", "2018-01", "--model", "ets"]
        assert main([*coherent, "--output", "coherent.csv", "--reconcile", "mint_shrink"]) == 0
    for name in ("forecasts.csv", "coherent.csv"):
        table = pd.read_csv(tmp_path / name, dtype={"month": str})
        assert sorted(table["month"].unique()) == [f"2024-{m:02d}" for m in range(1, 7)], name
        assert table["forecast"].notna().all() and (table["forecast"] >= 0).all(), name
    # Every parent that was reconciled is the sum of its children that were forecast (stale ones are zero).
    coherent = pd.read_csv(tmp_path / "coherent.csv", dtype={"month": str})
    wide = coherent.pivot(index="month", columns="series_id", values="forecast")
    edges = pd.read_csv(built_panel.with_name("panel.hierarchy.csv"))
    reconciled = set(coherent.loc[coherent["reconciliation"] == "mint_shrink", "series_id"])
    parents = [p for p in edges["parent"].unique() if p in reconciled]
    assert len(parents) > 20
    for parent in parents:
        children = [c for c in edges.loc[edges["parent"] == parent, "child"] if c in wide.columns]
        np.testing.assert_allclose(wide[children].sum(axis=1), wide[parent], rtol=1e-6, err_msg=parent)
