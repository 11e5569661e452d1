"""``auto``'s forecasts and intervals stay within reach of the series' own history.

One spike broke the combination: with the last value at 1e15 among values near
1e3, a member's variance exploded and its bound (1e56, at a weight of 1e-5)
put the combined 95 % bound near 1e51 (1e76 in the issue's case); a spike in
mid-history was absorbed into the level of three members out of four and
moved every forecast month to 1e5..1e13; and series whose one-step errors are
mostly equal (a series that changed level once) got 80 % intervals of zero width. Member forecasts far outside
the recent history are left out of the combination (when another member is
plausible), bounds are capped at a few recent scales from the forecast, and a
degenerate error shape falls back to the combined bounds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.core.intervals import MAX_WIDTH_SCALES, RECENT_MONTHS
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

pytestmark = pytest.mark.timeout(300)

N = 72
HORIZON = 12
MONTHS = pd.period_range("2015-01", periods=N, freq="M")


def _seasonal(seed: int, level: float = 1000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    return level + 0.2 * level * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.03 * level, N)


def _histories() -> dict[str, tuple[np.ndarray, str]]:
    """Series id -> (values, flow); trade values may be negative, counts may not."""
    rng = np.random.default_rng(42)
    last_spike, last_small, mid_spike, mid_dip = (_seasonal(s) for s in (1, 2, 3, 4))
    last_spike[-1] = 1e15
    last_small[-1] = 1e7
    mid_spike[40] = 1e15
    mid_dip[30] = -1e12
    step = np.repeat([500.0, 500.0, 520.0, 520.0, 520.0, 480.0], 12)
    step[[17, 55]] += 1.0
    intermittent = np.where(rng.random(N) < 0.15, 3.0, 0.0)
    one_step = np.r_[np.zeros(N // 2), np.ones(N - N // 2)]  # one-step errors all zero but one
    rare_change = np.r_[np.full(40, 7.0), np.full(N - 40, 9.0)]
    return {
        "last_spike": (last_spike, "cargo"),
        "last_spike_small": (last_small, "cargo"),
        "mid_spike": (mid_spike, "cargo"),
        "mid_dip": (mid_dip, "trade_value"),
        "step": (step, "cargo"),
        "intermittent": (intermittent, "cargo"),
        "one_step": (one_step, "cargo"),
        "rare_change": (rare_change, "cargo"),
        "plain": (_seasonal(5), "cargo"),
        "constant": (np.full(N, 42.0), "cargo"),
    }


@pytest.fixture(scope="module")
def forecasts() -> pd.DataFrame:
    records = pd.concat(
        pd.DataFrame({"series_id": sid, "month": MONTHS, "value": values, "flow": flow})
        for sid, (values, flow) in _histories().items()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_model("auto", horizon=HORIZON).fit(SeriesPanel(records)).predict(HORIZON)


def _rows(forecasts: pd.DataFrame, series_id: str) -> pd.DataFrame:
    return forecasts[forecasts["series_id"] == series_id]


@pytest.mark.parametrize("series_id", ["last_spike", "last_spike_small", "mid_spike", "mid_dip", "plain"])
def test_bounds_stay_within_a_few_ranges_of_the_history(forecasts: pd.DataFrame, series_id: str) -> None:
    values, _ = _histories()[series_id]
    rows = _rows(forecasts, series_id)
    span = values.max() - values.min()
    assert (rows["upper_95"] <= values.max() + (MAX_WIDTH_SCALES + 1) * span).all(), rows["upper_95"].max()
    assert (rows["lower_95"] >= values.min() - (MAX_WIDTH_SCALES + 1) * span).all(), rows["lower_95"].min()


@pytest.mark.parametrize("series_id", ["mid_spike", "mid_dip"])
def test_a_spike_in_mid_history_does_not_move_the_forecasts(forecasts: pd.DataFrame, series_id: str) -> None:
    values, _ = _histories()[series_id]
    recent = values[-RECENT_MONTHS:]
    rows = _rows(forecasts, series_id)
    assert (rows["forecast"] > 0.5 * recent.min()).all() and (rows["forecast"] < 2 * recent.max()).all()
    width = recent.max() - recent.min()
    assert (rows["upper_95"] < recent.max() + 10 * max(width, np.median(recent))).all()


@pytest.mark.parametrize("series_id", [s for s in _histories() if s != "constant"])
def test_no_interval_has_zero_width_unless_the_history_is_constant(
    forecasts: pd.DataFrame, series_id: str
) -> None:
    rows = _rows(forecasts, series_id)
    for level in (80, 95):
        assert (rows[f"upper_{level}"] > rows[f"lower_{level}"]).all(), rows


def test_a_constant_history_keeps_its_constant_forecast(forecasts: pd.DataFrame) -> None:
    rows = _rows(forecasts, "constant")
    assert np.allclose(rows["forecast"], 42.0) and len(rows) == HORIZON
