"""Every registered model on pathological series: falls back and reports, never crashes the job.

One panel holds all the bad cases (constant, all zero, one spike, only 13
months, a crossing closed for two years then reopened, a crossing closed now),
so each model is fitted once. Forecasts must be finite, non-negative counts
with nested intervals, and every fallback must be listed in ``fallbacks_``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel

pytestmark = pytest.mark.timeout(180)

HORIZON = 6
STATISTICAL = ("ets", "theta", "arima")
"""Models whose parameters are not identified on a constant series: they must fall back."""


def pathological_panel() -> SeriesPanel:
    months = pd.period_range("2017-01", periods=48, freq="M")
    t = np.arange(48)
    seasonal = 100 + 10 * np.sin(2 * np.pi * t / 12)
    series = {
        "constant": np.full(48, 50.0),
        "all-zero": np.zeros(48),
        "one-spike": np.where(t == 30, 5000.0, 10.0),
        "reopened": np.r_[seasonal[:18], np.zeros(18), np.linspace(5, 90, 12)],
        "closed-now": np.r_[seasonal[:36], np.zeros(12)],
    }
    frames = [
        pd.DataFrame({"series_id": name, "month": months, "value": values, "flow": "passengers"})
        for name, values in series.items()
    ]
    frames.append(
        pd.DataFrame(
            {
                "series_id": "thirteen",
                "month": months[-13:],
                "value": 100 + np.arange(13.0),
                "flow": "passengers",
            }
        )
    )
    return SeriesPanel(pd.concat(frames, ignore_index=True))


@pytest.fixture(scope="module")
def panel() -> SeriesPanel:
    return pathological_panel()


@pytest.mark.parametrize("name", available_models())
def test_model_survives_pathological_series(name: str, panel: SeriesPanel) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter is expected here; failures are not
        model = make_model(name).fit(panel)
        forecasts = model.predict(HORIZON, levels=(80, 95))

    ids = sorted(panel.records["series_id"].unique())
    assert sorted(forecasts["series_id"].unique()) == ids
    assert (forecasts.groupby("series_id").size() == HORIZON).all()
    columns = ["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]
    values = forecasts[columns].to_numpy(dtype=float)
    assert np.isfinite(values).all(), forecasts[~np.isfinite(values).all(axis=1)]
    assert (values >= 0).all(), "counts cannot be forecast negative"
    assert (np.diff(values, axis=1) >= -1e-9).all(), "intervals must nest around the forecast"

    by_series = forecasts.set_index("series_id")["forecast"]
    np.testing.assert_allclose(by_series.loc["constant"], 50.0, rtol=0.02)
    np.testing.assert_allclose(by_series.loc["all-zero"], 0.0, atol=1e-6)

    fallbacks = model.fallbacks_
    assert list(fallbacks.columns) == ["series_id", "model", "fallback", "reason"]
    assert set(fallbacks["series_id"]) <= set(ids)
    assert fallbacks["reason"].str.len().gt(0).all()
    if name in STATISTICAL:
        assert {"constant", "all-zero"} <= set(fallbacks["series_id"])
    if name == "gbm":
        assert {"thirteen", "all-zero"} <= set(fallbacks["series_id"])


def test_one_row_series_is_reported_not_crashing() -> None:
    """A single observation: the naive baselines forecast it flat; others fall back to them."""
    one = SeriesPanel(
        pd.DataFrame(
            {"series_id": "one", "month": pd.period_range("2023-01", periods=1, freq="M"), "value": [7.0]}
        )
    )
    for name in ("naive", "seasonal_naive", "ets", "theta", "arima"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_model(name).fit(one)
            forecasts = model.predict(3)
        np.testing.assert_allclose(forecasts["forecast"], 7.0)
        if name in STATISTICAL:
            assert model.fallbacks_["series_id"].tolist() == ["one"]
