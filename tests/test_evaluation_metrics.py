"""Metrics against values computed by hand on a tiny backtest table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation.metrics import leaderboard, metrics_by_horizon, metrics_by_series


def _table() -> pd.DataFrame:
    months = pd.PeriodIndex(["2020-01", "2020-02"], freq="M")
    a = pd.DataFrame(
        {
            "series_id": "a",
            "model": "m",
            "cutoff": pd.Period("2019-12", "M"),
            "month": months,
            "step": [1, 2],
            "actual": [10.0, 20.0],
            "forecast": [12.0, 20.0],
            "lower_80": [11.0, 15.0],
            "upper_80": [13.0, 25.0],
            "lower_95": [5.0, 19.0],
            "upper_95": [15.0, 21.0],
            "scale_mase": 2.0,
            "scale_rmsse": 4.0,
        }
    )
    b = pd.DataFrame(
        {
            "series_id": "b",
            "model": "m",
            "cutoff": pd.Period("2019-12", "M"),
            "month": months,
            "step": [1, 2],
            "actual": [0.0, 0.0],
            "forecast": [0.0, 4.0],
            "lower_80": [-1.0, 3.0],
            "upper_80": [1.0, 5.0],
            "lower_95": [-2.0, 1.0],
            "upper_95": [2.0, 7.0],
            "scale_mase": 4.0,
            "scale_rmsse": 16.0,
        }
    )
    perfect = pd.concat([a, b], ignore_index=True).assign(model="perfect")
    perfect["forecast"] = perfect["actual"]
    return pd.concat([a, b, perfect], ignore_index=True)


def test_leaderboard_matches_hand_computed_values() -> None:
    board = leaderboard(_table())
    assert list(board["model"]) == ["perfect", "m"]
    row = board.set_index("model").loc["m"]
    expected = {
        "mase": 0.5,
        "rmsse": math.sqrt(0.5),
        "smape": (200 * 2 / 22 / 2 + 100.0) / 2,
        "mape": 10.0,  # series b has only zero actuals: MAPE undefined there, left out
        "bias": 0.5,
        "coverage_80": 0.5,
        "coverage_95": 0.75,
        "width_80": 1.75,
        "width_95": 2.125,
        "msis_95": (3.0 + 6.25) / 2,
        "n_series": 2,
        "n_forecasts": 4,
    }
    for column, value in expected.items():
        assert row[column] == pytest.approx(value), column
    assert board.set_index("model").loc["perfect", "mase"] == 0.0
    assert list(board.columns[:2]) == ["model", "mase"]


def test_metrics_by_series_and_horizon() -> None:
    per_series = metrics_by_series(_table())
    assert per_series.loc[("m", "a"), "mase"] == pytest.approx(0.5)
    assert per_series.loc[("m", "b"), "msis_95"] == pytest.approx(6.25)
    assert np.isnan(per_series.loc[("m", "b"), "mape"])
    by_step = metrics_by_horizon(_table())
    assert by_step.loc[("m", 1), "smape"] == pytest.approx(200 * 2 / 22 / 2)
    assert by_step.loc[("m", 2), "smape"] == pytest.approx(100.0)
    assert by_step.loc[("m", 2), "coverage_95"] == pytest.approx(0.5)


def test_zero_scale_series_is_left_out_of_scaled_averages() -> None:
    table = _table()
    table.loc[table["series_id"] == "b", ["scale_mase", "scale_rmsse"]] = 0.0
    row = leaderboard(table).set_index("model").loc["m"]
    assert row["mase"] == pytest.approx(0.5)  # series a only
    assert row["smape"] == pytest.approx((200 * 2 / 22 / 2 + 100.0) / 2)  # unscaled: both series
    assert row["n_series"] == 2


def test_leaderboard_by_cutoff_and_missing_columns() -> None:
    board = leaderboard(_table(), by=("model", "cutoff"))
    assert list(board.columns[:3]) == ["model", "cutoff", "mase"]
    with pytest.raises(ValueError, match="scale_mase"):
        leaderboard(_table().drop(columns="scale_mase"))
