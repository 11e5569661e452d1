"""MASE/RMSSE scales: ordinary series keep the seasonal-naive scale, a vanished one is replaced."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.core.scales import MIN_SCALE_SHARE, floored_scales, scaled_errors, series_scales
from forecasting.data.loaders import load
from forecasting.evaluation.backtest import backtest, left_out
from forecasting.evaluation.metrics import metrics_by_series
from forecasting.models.baselines import Naive, SeasonalNaive
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


TORNILLO_LOADED = ("bts/2404/truck-containers-loaded", "tornillo-texas/cargo/truck-containers-loaded/inbound")
"""Tornillo's loaded truck containers, the port's series and its crossing roll-up (the only child)."""


def _tornillo_panel(shared_data: Path, folder: Path) -> SeriesPanel:
    """``series build`` of the real BTS file's Tornillo rows, filtered into ``folder``."""
    from forecasting.cli import main

    source = shared_data / "border_crossings" / "Border_Crossing_Entry_Data.csv.gz"
    rows = folder / "tornillo.csv"
    with gzip.open(source, "rt", encoding="utf-8", newline="") as raw, rows.open("w", newline="") as out:
        reader, writer = csv.reader(raw), csv.writer(out)
        writer.writerow(next(reader))
        writer.writerows(row for row in reader if row[0] == "Tornillo")
    panel = folder / "panel.csv"
    argv = ["series", "build", "--input", str(rows), "--format", "bts", "--conflicts", "drop"]
    assert main([*argv, "--output", str(panel)]) == 0
    return SeriesPanel.from_load(load(panel))


def test_tornillo_loaded_truck_containers_from_the_real_bts_file(shared_data: Path, tmp_path: Path) -> None:
    """Zeros to 2017-03 (one container in 2017-01), unreported until 2023-07, then thousands."""
    built = _tornillo_panel(shared_data, tmp_path)
    panel = built.subset(list(TORNILLO_LOADED))
    wide = panel.wide()
    for series_id in TORNILLO_LOADED:
        y = wide[series_id].to_numpy()
        assert list(y[-5:]) == [11.0, 3771.0, 5806.0, 315.0, 249.0]  # 2023-08..12
        # At the 2022 cutoffs the history holds no sign of the jump: both the seasonal scale and the
        # level are one container over about 240 months, so the scale would stay 1/238 (a MASE of
        # 403,027); the backtest leaves the series out there instead (below).
        until = wide.loc[:"2022-12", series_id].to_numpy()
        assert series_scales(wide.loc[:"2022-12", [series_id]]).loc[series_id, "scale_mase"] == pytest.approx(
            1 / 238
        )
        assert np.nanmean(np.abs(until[12:] - until[:-12])) == pytest.approx(1 / 238)
        # At the data's end the seasonal scale is still 1/238 against a level of 40: below 1 %, so the
        # naive scale takes over, the month-to-month moves of the new level (and the blip's one).
        level = np.nanmean(np.abs(y))
        assert np.nanmean(np.abs(y[12:] - y[:-12])) < MIN_SCALE_SHARE * level
        naive = np.abs(np.diff(y))
        assert np.nansum(naive) == 1 + 3760 + 2035 + 5491 + 66
        scale = series_scales(wide[[series_id]]).loc[series_id, "scale_mase"]
        assert scale == pytest.approx(np.nanmean(naive)) == pytest.approx(45.0516, rel=1e-5)
    # Their last observation (2017-03) is years before each cutoff: stale at the cutoff, left out and
    # listed, so they cannot carry a model's scores; the port's personal vehicles are scored beside them.
    scored = "bts/2404/personal-vehicles"
    results = backtest([SeasonalNaive()], built.subset([*TORNILLO_LOADED, scored]), horizon=12, folds=3)
    assert results.attrs["backtest"].cutoffs == [pd.Period(m, "M") for m in ("2022-04", "2022-08", "2022-12")]
    assert set(results["series_id"]) == {scored}
    reasons = left_out(results).groupby("series_id")["reason"].agg(list)
    expected = [
        "no actual in 2022-05..2023-04",
        "stale at the cutoff: last observation 2017-03",
        "stale at the cutoff: last observation 2017-03",
    ]
    assert {sid: reasons[sid] for sid in TORNILLO_LOADED} == dict.fromkeys(TORNILLO_LOADED, expected)
