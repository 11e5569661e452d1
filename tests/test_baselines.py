"""Baselines: point forecasts and interval widths against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from forecasting.errors import ModelError
from forecasting.models import Drift, Mean, Naive, SeasonalNaive, SeasonalProfile
from forecasting.models.baselines import (
    DriftModel,
    MeanModel,
    NaiveModel,
    SeasonalNaiveModel,
    SeasonalProfileModel,
)
from forecasting.panel import SeriesPanel

Z80 = norm.ppf(0.9)


def test_naive_repeats_last_value_with_sqrt_h_widths():
    y = np.array([1.0, 3.0, 2.0, 4.0])
    out = NaiveModel().fit(y).predict(3)
    sigma = np.sqrt(np.mean(np.diff(y) ** 2))
    np.testing.assert_allclose(out["mean"], [4.0, 4.0, 4.0])
    np.testing.assert_allclose(out["upper_80"] - out["mean"], Z80 * sigma * np.sqrt([1, 2, 3]))


def test_seasonal_naive_repeats_last_year():
    y = np.arange(24, dtype=float)
    out = SeasonalNaiveModel().fit(y).predict(14)
    np.testing.assert_allclose(out["mean"][:12], y[12:])
    np.testing.assert_allclose(out["mean"][12:], y[12:14])
    # Year-on-year differences are all 12, so sigma = 12 and the width doubles in year 2 by sqrt(2).
    width = out["upper_80"] - out["mean"]
    np.testing.assert_allclose(width[12] / width[0], np.sqrt(2))


def test_seasonal_profile_is_last_years_level_plus_the_average_pattern():
    # Three years: the same pattern [0, 6] alternating months, one-off spike of +12 in the last March.
    pattern = np.tile([0.0, 6.0], 6)
    y = np.concatenate([100 + pattern, 110 + pattern, 120 + pattern])
    y[-10] += 12.0
    out = SeasonalProfileModel(seasons=3).fit(y).predict(14)
    level = y[-12:].mean()  # 124: last year's mean, spike included
    # The spike lifts last year's mean by 1, so every other month of that year sits 1 lower: -1/3 on average.
    profile = np.tile([-3.0, 3.0], 6) - 1.0 / 3.0
    profile[2] += 12.0 / 3.0  # a third of the spike
    np.testing.assert_allclose(out["mean"][:12], level + profile)
    np.testing.assert_allclose(out["mean"][12:], out["mean"][:2])
    # Seasonal naive would repeat the whole spike (March 12 above January); the profile keeps a third.
    assert out["mean"][2] - out["mean"][0] == pytest.approx(4.0)


def test_seasonal_profile_of_one_season_is_seasonal_naive():
    rng = np.random.default_rng(0)
    y = 50 + rng.normal(0, 5, 40)
    one = SeasonalProfileModel(seasons=1).fit(y).predict(24)
    naive = SeasonalNaiveModel().fit(y).predict(24)
    np.testing.assert_allclose(one["mean"], naive["mean"])
    short = SeasonalProfileModel(seasons=4).fit(y[:12]).predict(3)  # one season of history
    np.testing.assert_allclose(short["mean"], y[:3])


def test_seasonal_profile_sigma_is_its_own_error_one_season_ahead():
    rng = np.random.default_rng(1)
    y = 100 + 10 * np.sin(np.arange(60) * np.pi / 6) + rng.normal(0, 2, 60)
    model = SeasonalProfileModel(seasons=2).fit(y)
    errors = [
        SeasonalProfileModel(seasons=2).fit(y[:origin]).predict(12)["mean"][: 60 - origin] - y[origin:][:12]
        for origin in range(12, 60)
    ]
    assert model.sigma_ == np.sqrt(np.mean(np.concatenate(errors) ** 2))  # every origin in one pass, exactly
    one_step = [error[0] for error in errors]
    np.testing.assert_array_equal(model.residuals_, np.r_[np.full(12, np.nan), -np.asarray(one_step)])
    width = model.predict(13)["upper_80"] - model.predict(13)["mean"]
    np.testing.assert_allclose(width[[0, 12]], Z80 * model.sigma_ * np.sqrt([1, 2]))


def test_seasonal_profile_beats_seasonal_naive_on_noisy_seasonal_panel():
    rng = np.random.default_rng(2)
    months, season = 84, 20 * np.sin(np.arange(84) * np.pi / 6)
    panel = _panel({f"s{i}": 200 + season + rng.normal(0, 8, months) for i in range(20)})
    train = SeriesPanel(panel.records[panel.records["month"] < pd.Period("2026-01", "M")])
    actual = panel.records[panel.records["month"] >= pd.Period("2026-01", "M")]["value"].to_numpy()

    def error(model) -> float:  # noqa: ANN001 - either baseline
        return float(np.mean(np.abs(model.fit(train).predict(12)["forecast"].to_numpy() - actual)))

    assert error(SeasonalProfile()) < 0.8 * error(SeasonalNaive())


def test_drift_extends_the_first_to_last_line():
    y = np.array([10.0, 12.0, 14.0, 16.0])
    out = DriftModel().fit(y).predict(2)
    np.testing.assert_allclose(out["mean"], [18.0, 20.0])
    np.testing.assert_allclose(out["upper_80"], out["mean"])  # a perfect line has no residuals


def test_mean_forecasts_the_historical_mean():
    y = np.array([1.0, 2.0, 3.0])
    out = MeanModel().fit(y).predict(2)
    np.testing.assert_allclose(out["mean"], [2.0, 2.0])
    np.testing.assert_allclose(out["upper_80"][0] - 2.0, Z80 * 1.0 * np.sqrt(1 + 1 / 3))


def _panel(values: dict[str, np.ndarray], start: str = "2020-01") -> SeriesPanel:
    frames = [
        pd.DataFrame({"series_id": k, "month": pd.period_range(start, periods=len(v), freq="M"), "value": v})
        for k, v in values.items()
    ]
    return SeriesPanel(pd.concat(frames, ignore_index=True))


def test_panel_forecast_frame_months_and_columns():
    panel = _panel({"a": np.arange(1.0, 25.0), "b": np.arange(1.0, 31.0)})
    forecast = SeasonalNaive().fit(panel).predict(3)
    assert list(forecast.columns) == [
        "series_id", "month", "model", "forecast", "lower_80", "upper_80", "lower_95", "upper_95",
    ]  # fmt: skip
    months = forecast.groupby("series_id")["month"].apply(lambda m: [str(x) for x in m]).to_dict()
    assert months == {"a": ["2022-01", "2022-02", "2022-03"], "b": ["2022-07", "2022-08", "2022-09"]}
    assert (forecast["lower_95"] <= forecast["lower_80"]).all()
    assert (forecast["upper_80"] <= forecast["upper_95"]).all()


def test_short_series_falls_back_and_is_reported():
    panel = _panel({"short": np.array([5.0, 6.0, 7.0]), "long": np.arange(1.0, 25.0)})
    model = SeasonalNaive().fit(panel)
    forecast = model.predict(2)
    assert model.fallbacks_["series_id"].tolist() == ["short"]
    assert model.fallbacks_["fallback"].tolist() == ["naive"]
    assert "3 observations" in model.fallbacks_["reason"].iloc[0]
    assert forecast.loc[forecast["series_id"] == "short", "forecast"].tolist() == [7.0, 7.0]


def test_gaps_are_interpolated_and_reported():
    frame = pd.DataFrame(
        {
            "series_id": "a",
            "month": pd.period_range("2020-01", periods=4, freq="M"),
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    ).drop(index=2)
    model = Naive().fit(SeriesPanel(frame))
    assert model.adjustments_["adjustment"].tolist() == ["interpolated 1 missing month(s)"]
    assert model.models_["a"].y_.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_nonnegative_history_gives_nonnegative_bounds():
    panel = _panel({"a": np.array([0.0, 5.0, 0.0, 6.0, 0.0])})
    forecast = Mean().fit(panel).predict(2)
    assert (forecast[["forecast", "lower_80", "lower_95"]] >= 0).all().all()


@pytest.mark.slow
def test_parallel_fit_equals_serial():
    rng = np.random.default_rng(1)
    panel = _panel({f"s{i}": rng.normal(100, 5, 30) for i in range(6)})
    serial = Drift().fit(panel).predict(4)
    parallel = Drift(n_jobs=2).fit(panel).predict(4)
    pd.testing.assert_frame_equal(serial, parallel)


def test_predict_before_fit_and_bad_horizon():
    with pytest.raises(ModelError, match="not fitted"):
        Naive().predict(3)
    model = Naive().fit(_panel({"a": np.arange(5.0)}))
    with pytest.raises(ValueError, match="'horizon' parameter of predict must be a positive int. Got 0"):
        model.predict(0)
    with pytest.raises(ValueError, match="'levels'"):
        model.predict(2, levels=(80, 120))
