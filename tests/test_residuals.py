"""In-sample one-step residuals of the base models, and MinT reconciled with them.

Each model's residuals are checked against the textbook one-step forecast of
a hand-built series (Hyndman & Athanasopoulos, FPP3 sections 5.2-5.5 and 8.1);
MinT with them against the dense formula on the 3-level hierarchy of
``test_reconciliation``.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from forecasting.models.arima import ArimaModel
from forecasting.models.baselines import DriftModel, MeanModel, SeasonalProfileModel
from forecasting.models.naive import NaiveModel, SeasonalNaiveModel
from forecasting.models.registry import make_model
from forecasting.models.smoothing import EtsSeriesModel, ThetaSeriesModel
from forecasting.panel import SeriesPanel
from forecasting.reconciliation import recent_residuals, reconcile_forecasts, shrunk_covariance

Y = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 16.0])


def test_baseline_residuals_are_the_textbook_one_step_errors() -> None:
    nan = np.nan
    np.testing.assert_allclose(NaiveModel().fit(Y).residuals_, [nan, 1, 2, 3, 4, 5])
    np.testing.assert_allclose(SeasonalNaiveModel(season_length=2).fit(Y).residuals_, [nan, nan, 3, 5, 7, 9])
    # slope (16 - 1) / 5 = 3: y_t - (y_{t-1} + 3)
    np.testing.assert_allclose(DriftModel().fit(Y).residuals_, [nan, -2, -1, 0, 1, 2])
    np.testing.assert_allclose(MeanModel().fit(Y).residuals_, Y - 41 / 6)
    # profile one step ahead (m = 2, up to 2 seasons): from [1, 2] 1.5 - 0.5 = 1; from [1, 2, 4]
    # (one season [2, 4]) 3 - 1 = 2; from [1, 2, 4, 7] 5.5 - 1 = 4.5; from [.., 11] 9 - 1.5 = 7.5
    profile = SeasonalProfileModel(season_length=2, seasons=2).fit(Y)
    np.testing.assert_allclose(profile.residuals_, [nan, nan, 3, 5, 6.5, 8.5])


SMOOTH = np.array([10.0, 12, 11, 14, 13, 15, 16, 14, 17, 18, 17, 19, 21, 20])


@pytest.mark.parametrize("form", ["ANN", "MNN"])
def test_ets_residuals_follow_the_level_recursion(form: str) -> None:
    """Simple exponential smoothing: yhat_t = l_{t-1}; l_t = l_{t-1} + alpha e_t (additive errors)
    or l_{t-1} (1 + alpha e_t / l_{t-1}) (multiplicative errors): the same level update."""
    model = EtsSeriesModel(model=form).fit(SMOOTH)
    par = model.model_.model_["par"]
    alpha, level = par[0], par[-1]
    expected = []
    for value in SMOOTH:
        error = value - level
        expected.append(error)
        level += alpha * error
    np.testing.assert_allclose(model.residuals_, expected, rtol=1e-8)


def test_theta_residuals_leave_out_the_fits_made_before_its_trend_means_anything() -> None:
    """Theta's running trend regression rests on one or two points at first: on this series (a
    trend, a season, a slump) statsforecast's first in-sample errors are about 1e6 times the others."""
    rng = np.random.default_rng(8)
    t = np.arange(60)
    y = 1000 + rng.normal() * 5 * t + 300 * np.sin(2 * np.pi * t / 12) * rng.uniform() + rng.normal(0, 60, 60)
    y[rng.integers(20, 50) :][: rng.integers(0, 15)] *= rng.uniform(0.05, 0.5)
    y = np.abs(y) + 1
    model = ThetaSeriesModel().fit(y)
    raw = y - model.model_.predict_in_sample()["fitted"]
    typical = np.median(np.abs(raw[12:]))
    assert np.abs(raw[0]) > 1e5 * typical  # what statsforecast gives
    errors = model.residuals_
    assert np.isnan(errors[:3]).all()
    np.testing.assert_allclose(errors[3:], raw[3:])
    assert np.abs(errors[3:]).max() < 20 * typical


def test_arima_residuals_are_one_step_forecast_errors_from_the_truncated_history() -> None:
    """Each residual equals y_t less the model's 1-step forecast from y_1 .. y_{t-1} (same parameters)."""
    rng = np.random.default_rng(5)
    months = np.arange(72)
    y = 200 + 0.5 * months + 20 * np.sin(2 * np.pi * months / 12) + np.cumsum(rng.normal(0, 3, 72))
    model = ArimaModel().fit(y)
    residuals = model.residuals_
    lags = model.d_ + model.D_ * model.season_length
    assert np.isnan(residuals[:lags]).all() and np.isfinite(residuals[lags:]).all()
    for back in (1, 2, 7):
        shorter = copy.copy(model)
        shorter.w_ = model.w_[:-back]
        shorter.R_ = None if model.R_ is None else model.R_[:-back]
        shorter.z_tail_ = y[len(y) - back - lags : len(y) - back]
        one_step = shorter.predict(1, levels=[80])["mean"][0]
        assert residuals[-back] == pytest.approx(y[-back] - one_step, rel=1e-8)


def test_panel_residuals_are_aligned_by_month_with_gaps_left_out() -> None:
    first, second = (
        pd.period_range("2020-01", "2020-08", freq="M"),
        pd.period_range("2020-03", "2020-06", freq="M"),
    )
    rows = [("a", str(m), float(i**2)) for i, m in enumerate(first)]
    rows += [("b", str(m), float(3 * i)) for i, m in enumerate(second)]
    rows.pop(3)  # a's 2020-04 (9) is missing: the model sees 10, interpolated
    panel = SeriesPanel.from_long(pd.DataFrame(rows, columns=["series_id", "month", "value"]))
    residuals = make_model("naive").fit(panel).in_sample_residuals()
    assert list(residuals.index.astype(str)) == [f"2020-0{k}" for k in range(1, 9)]
    np.testing.assert_allclose(residuals["a"], [np.nan, 1, 3, np.nan, 6, 9, 11, 13])
    np.testing.assert_allclose(residuals["b"], [np.nan, np.nan, np.nan, 3, 3, 3, np.nan, np.nan])
    last = make_model("naive").fit(panel).in_sample_residuals(months=3)
    pd.testing.assert_frame_equal(last, residuals.iloc[-3:])
    assert make_model("gbm").in_sample_residuals() is None  # global model: backtest errors instead


def test_mint_with_in_sample_residuals_equals_the_dense_formula() -> None:
    """Naive base forecasts of a coherent 3-level history, MinT weighted by their last 24 one-step errors."""
    from test_reconciliation import S_BY_HAND, STRUCTURE, _hts_shrink

    rng = np.random.default_rng(11)
    bottom = 100 + np.cumsum(rng.normal(0, 5, (40, 5)), axis=0) + rng.normal(0, 3, (40, 5))
    history = bottom @ S_BY_HAND.T + rng.normal(0, 2, (40, 8))  # parents not quite sums: base incoherent
    history[:, 2] = history[:, 0] + history[:, 1] + rng.normal(0, 4, 40)
    months = pd.period_range("2020-01", periods=40, freq="M")
    long = pd.DataFrame(
        [
            (sid, str(m), history[t, i])
            for i, sid in enumerate(STRUCTURE.series)
            for t, m in enumerate(months)
        ],
        columns=["series_id", "month", "value"],
    )
    model = make_model("naive").fit(SeriesPanel.from_long(long))
    forecasts = model.predict(1, levels=[80, 95])
    residuals = recent_residuals(model.in_sample_residuals(), months=24)
    out = reconcile_forecasts(forecasts, STRUCTURE, "mint_shrink", residuals=residuals, samples=50)

    errors = np.diff(history, axis=0)[-24:]  # naive: y_t - y_{t-1}, by hand
    centered = (errors - errors.mean(axis=0)) * np.sqrt(24 / 23)
    w = _hts_shrink(centered)
    w_inv = np.linalg.inv(w)
    base = history[-1]
    expected = S_BY_HAND @ np.linalg.solve(S_BY_HAND.T @ w_inv @ S_BY_HAND, S_BY_HAND.T @ w_inv @ base)
    got = out.set_index("series_id").loc[STRUCTURE.series, "forecast"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert not np.allclose(got, base)
    ordered = residuals[STRUCTURE.series].to_numpy()
    np.testing.assert_allclose(shrunk_covariance(ordered).dense(), w, rtol=1e-9)
