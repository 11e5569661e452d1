"""Known behaviour of ETS, Theta and auto-ARIMA on simulated and real series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsforecast.models import AutoETS

from forecasting.core.seasonality import ndiffs, nsdiffs
from forecasting.errors import ConfigError
from forecasting.features.calendar import calendar_features
from forecasting.models.arima import Arima, ArimaModel, evaluate, stepwise_search
from forecasting.models.base import predict_fallbacks
from forecasting.models.smoothing import Ces, CesSeriesModel, Ets, EtsSeriesModel, Theta, ThetaSeriesModel
from forecasting.models.transforms import BoxCox, choose_transform, guerrero_lambda
from forecasting.panel import SeriesPanel

MONTHS = 12


def ar1(n: int = 240, phi: float = 0.7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + rng.normal()
    return y + 50.0


def seasonal_walk(n_years: int = 8, seed: int = 2) -> np.ndarray:
    """y_t = y_{t-12} + e_t around a strong yearly pattern: needs a seasonal difference."""
    rng = np.random.default_rng(seed)
    pattern = 100.0 + 40.0 * np.sin(2 * np.pi * np.arange(MONTHS) / MONTHS)
    years = [pattern]
    for _ in range(n_years - 1):
        years.append(years[-1] + rng.normal(0, 3.0, MONTHS))
    return np.concatenate(years)


def seasonal_series(n: int = 96, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 500.0 + 2.0 * t + 120.0 * np.sin(2 * np.pi * t / MONTHS) + rng.normal(0, 10.0, n)


def panel_of(series: dict[str, np.ndarray], start: str = "2012-01") -> SeriesPanel:
    frames = [
        pd.DataFrame(
            {"series_id": sid, "month": pd.period_range(start, periods=len(y), freq="M"), "value": y}
        )
        for sid, y in series.items()
    ]
    return SeriesPanel(pd.concat(frames, ignore_index=True))


# --- unit-root tests and the search ------------------------------------------------------
def test_differencing_orders_follow_unit_root_tests() -> None:
    rng = np.random.default_rng(4)
    assert ndiffs(rng.normal(size=120)) == 0
    assert ndiffs(np.cumsum(rng.normal(size=120))) == 1
    assert nsdiffs(seasonal_walk()) == 1
    assert nsdiffs(rng.normal(size=120)) == 0


def test_css_estimate_recovers_ar1_coefficient() -> None:
    y = ar1()
    candidate = evaluate(y - y.mean(), None, (1, 0, 0, 0, True), MONTHS)
    mean, phi = candidate.params
    assert phi == pytest.approx(0.7, abs=0.06)
    assert abs(mean) < 0.5


def test_auto_arima_finds_ar1_without_differencing() -> None:
    model = ArimaModel().fit(ar1())
    assert (model.d_, model.D_) == (0, 0)
    assert model.order_[:2] == (1, 0)  # p, q; a small seasonal AR may win by chance on a finite sample
    assert model.params_[model.param_names_.index("ar.L1")] == pytest.approx(0.7, abs=0.06)


def test_auto_arima_takes_a_seasonal_difference_for_a_seasonal_walk() -> None:
    y = seasonal_walk()
    model = ArimaModel().fit(y)
    assert model.D_ == 1
    forecast = model.predict(MONTHS)["mean"]
    # A seasonal walk forecasts roughly last year's pattern.
    assert np.corrcoef(forecast, y[-MONTHS:])[0, 1] > 0.95


@pytest.mark.slow
def test_fast_search_ranks_like_full_mle_on_a_seasonal_series() -> None:
    y = seasonal_walk(n_years=10)
    w = y[MONTHS:] - y[:-MONTHS]
    fast, n_fast = stepwise_search(w, None, m=MONTHS, allow_constant=True, seasonal=True, search="fast")
    mle, _ = stepwise_search(w, None, m=MONTHS, allow_constant=True, seasonal=True, search="mle")
    assert fast.order == mle.order
    assert n_fast < 40  # stepwise, not the full grid


def test_arima_forecast_interval_widens_with_horizon() -> None:
    out = ArimaModel().fit(np.cumsum(np.random.default_rng(5).normal(size=80)) + 100).predict(6)
    width = out["upper_95"] - out["lower_95"]
    assert np.all(np.diff(width) > 0)
    assert np.all(out["upper_80"] - out["lower_80"] < width)


def test_log_transform_keeps_forecasts_positive_and_back_transforms() -> None:
    rng = np.random.default_rng(6)
    y = np.exp(np.log(200.0) + np.cumsum(rng.normal(0.01, 0.05, 84)))
    model = ArimaModel(transform="log").fit(y)
    assert model.transform_ == BoxCox(0.0)
    out = model.predict(12)
    assert np.all(out["lower_95"] > 0)
    assert out["mean"][0] == pytest.approx(y[-1], rel=0.15)


def test_guerrero_lambda_tells_multiplicative_from_additive() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(120)
    level = np.exp(0.03 * t) * 100
    multiplicative = level * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, 120))
    additive = 1000 + 2 * t + 30 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, 120)
    assert guerrero_lambda(multiplicative) < 0.3
    assert guerrero_lambda(additive) > 0.7
    assert choose_transform(-additive, "log") is None  # never transform non-positive data
    with pytest.raises(ValueError, match="'transform' parameter"):
        choose_transform(additive, "sqrt")


def test_spring_festival_regressor_moves_the_forecast_dip_to_the_right_month() -> None:
    months = pd.period_range("2008-01", "2019-12", freq="M")
    future = pd.period_range("2020-01", "2021-12", freq="M")
    calendar = calendar_features(months.append(future))[["month", "spring_festival_days"]]
    festival = calendar["spring_festival_days"].to_numpy()[: len(months)]
    rng = np.random.default_rng(8)
    noise = np.zeros(len(months))
    for t in range(1, len(months)):
        noise[t] = 0.5 * noise[t - 1] + rng.normal(0, 15.0)
    y = 1000.0 + noise - 40.0 * festival
    panel = panel_of({"heihe/passengers/inbound": y}, start="2008-01")
    with_exog = Arima(exog=True).fit(panel, calendar).predict(24, calendar)
    without = Arima().fit(panel).predict(24)
    forecast = with_exog.set_index("month")["forecast"]
    # 2020: break mostly in January (Jan 25); 2021: in February (Feb 12).
    assert forecast[pd.Period("2020-01", "M")] < forecast[pd.Period("2020-02", "M")] - 150
    assert forecast[pd.Period("2021-02", "M")] < forecast[pd.Period("2021-01", "M")] - 150
    plain = without.set_index("month")["forecast"]
    assert plain[pd.Period("2021-02", "M")] - forecast[pd.Period("2021-02", "M")] > 150


def test_arima_with_exog_needs_future_regressors() -> None:
    months = pd.period_range("2015-01", periods=60, freq="M")
    X = calendar_features(months)[["month", "spring_festival_days"]]
    panel = panel_of({"s": seasonal_series(60)}, start="2015-01")
    model = Arima(exog=True).fit(panel, X)
    assert model.uses_exog and not Arima().uses_exog
    # Future rows it lacks: the series falls back (reported), the panel does not fail.
    forecasts = model.predict(12, X)
    reported = predict_fallbacks(forecasts)
    assert reported[["series_id", "fallback"]].values.tolist() == [["s", "seasonal_naive"]]
    assert (
        reported["reason"].iloc[0]
        == "predict failed: X_future lacks 12 month(s) the model needs, first 2020-01"
    )


# --- ETS and Theta -----------------------------------------------------------------------
def test_ets_offers_a_season_only_with_two_full_seasons() -> None:
    assert EtsSeriesModel().fit(seasonal_series(23)).season_length_ == 1
    assert EtsSeriesModel().fit(seasonal_series(24)).season_length_ == MONTHS
    with pytest.raises(ValueError, match="constant series"):
        EtsSeriesModel().fit(np.full(30, 4.0))


def test_ets_picks_a_seasonal_model_for_a_seasonal_series() -> None:
    model = EtsSeriesModel().fit(seasonal_series())
    assert model.form_.endswith(",A)") or model.form_.endswith(",M)")
    flat = EtsSeriesModel().fit(np.random.default_rng(9).normal(100, 5, 96))
    assert flat.form_.endswith(",N,N)")
    assert EtsSeriesModel(model="ANN").fit(seasonal_series()).form_ == "ETS(A,N,N)"


def test_ets_intervals_are_deterministic_and_cover_the_mean() -> None:
    y = seasonal_series()
    first = EtsSeriesModel().fit(y).predict(12)
    again = EtsSeriesModel().fit(y).predict(12)
    np.testing.assert_array_equal(first["lower_95"], again["lower_95"])
    assert np.all(first["lower_95"] < first["lower_80"]) and np.all(first["lower_80"] < first["mean"])
    assert np.all(first["mean"] < first["upper_80"]) and np.all(first["upper_80"] < first["upper_95"])


def test_ces_forecasts_a_seasonal_series_in_phase() -> None:
    model = CesSeriesModel().fit(seasonal_series())
    truth = 120.0 * np.sin(2 * np.pi * np.arange(96, 108) / MONTHS)
    assert np.corrcoef(model.predict(12)["mean"], truth)[0, 1] > 0.95


def test_theta_deseasonalises_only_significant_seasonality() -> None:
    seasonal = ThetaSeriesModel().fit(seasonal_series())
    assert seasonal.deseasonalized_
    flat = ThetaSeriesModel().fit(np.random.default_rng(10).normal(100, 5, 96))
    assert not flat.deseasonalized_
    truth = 120.0 * np.sin(2 * np.pi * np.arange(96, 108) / MONTHS)
    assert np.corrcoef(seasonal.predict(12)["mean"], truth)[0, 1] > 0.95


@pytest.mark.parametrize("model_class", [EtsSeriesModel, ThetaSeriesModel, CesSeriesModel])
def test_the_selected_form_refits_without_searching_to_the_same_forecast(model_class) -> None:
    """Also where ETS's search narrowed the chosen form's bounds (a trend fitted after others: on
    fresh bounds this series' ETS(M,A,N) forecasts 0.13 higher)."""
    rng = np.random.default_rng(36)
    trend = 400 + np.cumsum(rng.normal(2, 4, 96)) + 15 * np.sin(np.arange(96) * np.pi / 6)
    for y in (seasonal_series(), trend):
        searched = model_class().fit(y)
        params = searched.selected_params()
        assert params and set(params) <= set(model_class().__dict__)
        refitted = model_class(**params).fit(y)
        np.testing.assert_array_equal(refitted.predict(12)["upper_95"], searched.predict(12)["upper_95"])
    assert model_class().fit(seasonal_series(23)).selected_params() == {}  # too short for a season yet


def test_ets_names_its_form_and_drops_a_season_the_series_is_too_short_for() -> None:
    assert EtsSeriesModel().fit(seasonal_series()).selected_params()["forms"][0][-1] in "AM"
    damped = EtsSeriesModel(model="AAN", damped=True).fit(seasonal_series())
    assert damped.selected_params() == {"forms": ("AAdN",)}
    assert EtsSeriesModel(model="MAM").fit(seasonal_series(20) + 500).form_ == "ETS(M,A,N)"


def test_ets_search_is_autoets_s_and_a_shortlist_fits_each_form_as_the_full_search_does() -> None:
    """The form-by-form search gives AutoETS's fit (statsforecast's search narrows the parameter
    bounds from one form to the next: a trend fitted after a seasonal trend gets beta <= 0.017) and
    ranks the forms; a search restricted to some forms fits each one exactly as the full search."""
    rng = np.random.default_rng(5)
    trend = 400 + np.cumsum(rng.normal(2, 4, 96)) + 15 * np.sin(np.arange(96) * np.pi / 6)
    for y in (seasonal_series() + 400, trend, seasonal_series(60), seasonal_series(23) + 400):
        searched, reference = EtsSeriesModel().fit(y), AutoETS(12 if len(y) >= 24 else 1).fit(y)
        assert searched.form_ == reference.model_["method"]
        np.testing.assert_array_equal(
            searched.predict(12)["upper_95"], reference.predict(12, level=[95])["hi-95"]
        )
        ranking = searched.form_ranking_
        for shortlist in (ranking[:1], ranking[2:5], ranking[::-1]):
            restricted = EtsSeriesModel(forms=shortlist).fit(y)
            assert restricted.form_ranking_ == [form for form in ranking if form in shortlist]
            assert (
                restricted.model_.model_["aicc"] == searched.model_.model_["aicc"]
                or ranking[0] not in shortlist
            )
    assert len(EtsSeriesModel().fit(trend).form_ranking_) == 15
    assert EtsSeriesModel().fit(trend).shortlist(2) == {
        "forms": tuple(EtsSeriesModel().fit(trend).form_ranking_[:2])
    }
    short = EtsSeriesModel(forms=["ANA", "MNM"]).fit(seasonal_series(23) + 400)
    assert sorted(short.form_ranking_) == ["ANN", "MNN"]  # no season: each form without it
    assert EtsSeriesModel().fit(seasonal_series(23)).shortlist(3) == {}  # too short for a season yet
    with pytest.raises(ValueError, match="no ETS form"):
        EtsSeriesModel(forms=["MNM"]).fit(seasonal_series() - 1000)  # multiplicative errors need y > 0
    with pytest.raises(ValueError, match="'forms'"):
        Ets(forms=["ANdN"]).fit(panel_of({"a": seasonal_series(60)}))


def test_series_params_replace_the_shared_ones_for_their_series_only() -> None:
    panel = panel_of({"a": seasonal_series(60), "b": seasonal_series(60, seed=4)})
    model = Ets(series_params={"a": {"model": "ANN", "damped": False}}).fit(panel)
    assert model.models_["a"].form_ == "ETS(A,N,N)" and model.models_["b"].form_ != "ETS(A,N,N)"
    assert model.selected_params_["a"] == {"forms": ("ANN",)}
    assert set(model.selected_params_) == {"a", "b"}
    with pytest.raises(ConfigError, match=r"series_params\['a'\] names 'alpha'"):
        Ets(series_params={"a": {"alpha": 0.5}}).fit(panel)
    with pytest.raises(ConfigError, match="series_params"):
        Ets(series_params=[("a", {})]).fit(panel)


@pytest.mark.parametrize("model_class", [Ets, Theta, Ces, Arima])
def test_bad_series_fall_back_and_are_reported(model_class) -> None:
    panel = panel_of(
        {
            "good": seasonal_series(60),
            "constant": np.full(60, 7.0),
            "zeros": np.zeros(60),
            "short": np.array([3.0, 5.0, 4.0]),
        }
    )
    model = model_class().fit(panel)
    forecasts = model.predict(6)
    reported = set(model.fallbacks_["series_id"])
    assert {"constant", "zeros", "short"} <= reported and "good" not in reported
    constant = forecasts[forecasts["series_id"] == "constant"]
    np.testing.assert_allclose(constant["forecast"], 7.0)


# --- real data ---------------------------------------------------------------------------
def test_models_beat_or_match_seasonal_naive_on_real_bts_series(shared_data) -> None:
    raw = pd.read_csv(
        shared_data / "border_crossings" / "Border_Crossing_Entry_Data.csv.gz",
        dtype={"Port Code": str},
        usecols=["Port Code", "Date", "Measure", "Value"],
    ).drop_duplicates()
    wanted = {("2304", "Trucks"), ("0901", "Trucks"), ("2506", "Pedestrians")}
    rows = raw[[(p, m) in wanted for p, m in zip(raw["Port Code"], raw["Measure"], strict=True)]]
    rows = rows.assign(
        series_id=("bts/" + rows["Port Code"] + "/" + rows["Measure"].str.lower()),
        month=pd.PeriodIndex(pd.to_datetime(rows["Date"], format="%b %Y"), freq="M"),
    )
    rows = rows[(rows["month"] >= pd.Period("2014-01", "M")) & (rows["month"] <= pd.Period("2019-12", "M"))]
    panel = SeriesPanel(rows[["series_id", "month", "Value"]].rename(columns={"Value": "value"}))
    assert len(panel) == 3
    train, test = panel.until("2018-12"), rows[rows["month"] > pd.Period("2018-12", "M")]
    wide = train.wide()
    scale = (wide - wide.shift(MONTHS)).abs().mean()
    for model_class in (Ets, Theta, Arima):
        forecasts = model_class().fit(train).predict(12)
        merged = test.merge(forecasts, on=["series_id", "month"])
        mae = (merged["Value"] - merged["forecast"]).abs().groupby(merged["series_id"]).mean()
        mase = (mae / scale.reindex(mae.index)).mean()
        assert len(merged) == 36 and mase < 1.5, (model_class.name, mase)
