"""Metrics against values computed by hand on a tiny backtest table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation.metrics import (
    dominant_series,
    leaderboard,
    metrics_by_horizon,
    metrics_by_series,
    trimmed_mean,
)


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


def _one_step(model: str, errors: dict[str, float]) -> pd.DataFrame:
    """One scored month per series: actual 0, forecast ``error``, scale 1: each series' MASE is its error."""
    n = len(errors)
    return pd.DataFrame(
        {
            "series_id": list(errors),
            "model": model,
            "cutoff": pd.Period("2019-12", "M"),
            "month": pd.Period("2020-01", "M"),
            "step": 1,
            "actual": 0.0,
            "forecast": list(errors.values()),
            "lower_80": -1.0,
            "upper_80": 1.0,
            "lower_95": -2.0,
            "upper_95": 2.0,
            "scale_mase": np.ones(n),
            "scale_rmsse": np.ones(n),
        }
    )


def test_leaderboard_ranks_by_the_trimmed_mean_with_median_and_mean_beside_it() -> None:
    # Twenty series: "steady" is off by 1.0 everywhere; "hijacked" by 0.5 except one series of 400,000.
    ids = [f"s{i:02d}" for i in range(20)]
    steady = _one_step("steady", dict.fromkeys(ids, 1.0))
    hijacked = _one_step("hijacked", {**dict.fromkeys(ids, 0.5), "s07": 400_000.0})
    board = leaderboard(pd.concat([steady, hijacked], ignore_index=True)).set_index("model")
    assert list(board.index) == ["hijacked", "steady"]
    assert list(board.columns[:3]) == ["mase", "mase_median", "mase_mean"]
    row = board.loc["hijacked"]
    assert row["mase"] == pytest.approx(0.5)  # two series cut each side: 400,000 is gone
    assert row["mase_median"] == pytest.approx(0.5)
    assert row["mase_mean"] == pytest.approx((19 * 0.5 + 400_000) / 20)
    assert row["rmsse"] == pytest.approx(0.5) and row["msis_95"] == pytest.approx(4.0)
    assert row["smape"] == pytest.approx(200.0)  # bounded: a plain mean
    assert board.loc["steady", ["mase", "mase_median", "mase_mean"]].tolist() == [1.0, 1.0, 1.0]
    # Ten series cut one each side; nine or fewer cut nothing (the trimmed mean is the mean).
    ten = leaderboard(_one_step("m", {f"s{i}": float(i) for i in range(10)}))
    assert ten["mase"].iloc[0] == pytest.approx(np.mean(range(1, 9)))
    nine = leaderboard(_one_step("m", {f"s{i}": float(i) for i in range(9)}))
    assert nine["mase"].iloc[0] == pytest.approx(4.0) == nine["mase_mean"].iloc[0]


def test_trimmed_mean_leaves_out_undefined_values() -> None:
    values = pd.Series([np.nan, *range(10), np.inf])
    assert trimmed_mean(values) == pytest.approx(np.mean(range(1, 9)))
    assert np.isnan(trimmed_mean(pd.Series([np.nan])))


def test_dominant_series_are_named_when_one_percent_carry_half_the_mean() -> None:
    ids = [f"crossing-{i:03d}/cargo" for i in range(200)]
    errors = {**dict.fromkeys(ids, 1.0), ids[17]: 403_026.0, ids[42]: 403_000.0, ids[99]: 90.0}
    table = pd.concat([_one_step("ets", errors), _one_step("theta", dict.fromkeys(ids, 2.0))])
    dominant = dominant_series(table)
    assert dominant["model"].tolist() == ["ets", "ets"]
    assert dominant["series_id"].tolist() == [ids[17], ids[42]]
    total = 403_026.0 + 403_000.0 + 90.0 + 197
    assert dominant["share"].tolist() == pytest.approx([403_026.0 / total, 403_000.0 / total])
    assert dominant["n_series"].tolist() == [200, 200]
    # The first alone carries half of the sum: it is named alone.
    alone = dominant_series(_one_step("ets", {**dict.fromkeys(ids, 1.0), ids[3]: 1_000.0}))
    assert alone["series_id"].tolist() == [ids[3]]
    # Panels under 100 series are never flagged: one series is more than 1 % of them.
    assert dominant_series(_one_step("ets", {**dict.fromkeys(ids[:99], 1.0), ids[0]: 1e6})).empty
    # The top 1 % (two of 200) carrying under half of the sum: nothing to name.
    spread = {**{i: 1.0 for i in ids}, ids[0]: 50.0, ids[1]: 50.0}
    assert dominant_series(_one_step("ets", spread)).empty
