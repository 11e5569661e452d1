"""MASE/RMSSE scales: ordinary series keep the seasonal-naive scale, a vanished one is replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.scales import MIN_SCALE_SHARE, floored_scales, scaled_errors, series_scales
from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import metrics_by_series
from forecasting.models.baselines import Naive
from forecasting.panel import SeriesPanel

JUMP = [3771.0, 5806.0, 315.0, 249.0, 4100.0, 3900.0, 4400.0, 4000.0, 4200.0, 3800.0, 4300.0, 4150.0]
"""Monthly loaded truck containers after the jump (the first four are Tornillo's 2023-09..12)."""


def gap_then_jump() -> pd.Series:
    """Seven years of zeros with one blip, three unreported years, then thousands (Tornillo's shape)."""
    months = pd.period_range("2010-01", "2020-12", freq="M")
    values = pd.Series(np.nan, index=months)
    values["2010-01":"2016-12"] = 0.0
    values["2016-01"] = 1.0
    values["2020-01":"2020-12"] = JUMP
    return values


def _scales(values: np.ndarray) -> tuple[float, float]:
    mae, mse = floored_scales(np.asarray(values, dtype="float64")[:, None])
    return float(mae[0]), float(mse[0])


def test_ordinary_series_keep_the_seasonal_naive_scale() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(40)
    y = 100 + 2 * t + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, 40)
    seasonal = y[12:] - y[:-12]
    assert _scales(y) == (pytest.approx(np.mean(np.abs(seasonal))), pytest.approx(np.mean(seasonal**2)))
    # Seasonal differences of 1.2 % of the level: above the 1 % share, so kept as they are.
    smooth = np.r_[np.full(12, 100.0), np.full(12, 101.2)]
    assert _scales(smooth) == (pytest.approx(1.2), pytest.approx(1.44))
    # Shorter than a season and a month: the naive scale, however small.
    short = np.array([100.0, 100.1, 100.3, 100.2])
    assert _scales(short)[0] == pytest.approx(np.mean(np.abs(np.diff(short))))


def test_gap_then_jump_takes_the_naive_scale_not_the_vanished_seasonal_one() -> None:
    train = gap_then_jump()[:"2020-09"].to_numpy()
    observed = train[np.isfinite(train)]
    seasonal = np.abs(train[12:] - train[:-12])
    assert np.nanmean(seasonal) == pytest.approx(1 / 72)  # the blip alone, over 72 zero pairs
    naive = train[1:] - train[:-1]
    naive = naive[np.isfinite(naive)]
    mae, mse = _scales(train)
    assert mae == pytest.approx(np.mean(np.abs(naive)))
    assert mse == pytest.approx(np.mean(naive**2))
    # 83 pairs in the zeros (two of them 1: the blip), 8 in the jump; none across the gap.
    assert mae == pytest.approx((2 * 1 + 2035 + 5491 + 66 + 3851 + 200 + 500 + 400 + 200) / 91)
    assert mae > MIN_SCALE_SHARE * np.mean(np.abs(observed))


def test_constant_windows_are_floored_and_all_zero_ones_stay_undefined() -> None:
    constant = np.full(30, 4.0)
    assert _scales(constant) == (pytest.approx(0.04), pytest.approx(0.04**2))
    assert _scales(np.full(6, 4.0)) == (pytest.approx(0.04), pytest.approx(0.04**2))  # no seasonal pair
    assert _scales(np.zeros(30)) == (0.0, 0.0)
    assert np.isnan(scaled_errors([5.0], [0.0], [0.0])).all()
    assert all(np.isnan(_scales(np.array([4.0, np.nan, 5.0]))))  # no pair at all


def test_series_scales_index_and_backtest_of_the_planted_series() -> None:
    wide = pd.DataFrame({"jump": gap_then_jump(), "flat": 7.0})
    scales = series_scales(wide[:"2020-09"])
    assert list(scales.index) == ["jump", "flat"]
    assert scales.loc["flat", "scale_mase"] == pytest.approx(0.07)
    records = wide.stack().rename("value").reset_index()
    records.columns = ["month", "series_id", "value"]
    results = backtest([Naive()], SeriesPanel(records), horizon=3, folds=1)
    assert results.attrs["backtest"].cutoffs == [pd.Period("2020-09", "M")]
    jump = results[results["series_id"] == "jump"]
    assert jump["scale_mase"].iloc[0] == pytest.approx(scales.loc["jump", "scale_mase"])
    # Naive forecasts 4200 for 3800, 4300, 4150: errors 400, 100, 50 over a scale of ~142.
    expected = np.mean([400, 100, 50]) / scales.loc["jump", "scale_mase"]
    mase = metrics_by_series(results)["mase"]
    assert mase[("naive", "jump")] == pytest.approx(expected)
    assert 1 < expected < 2  # over the blip's 1/72 it would have been about 13,000
