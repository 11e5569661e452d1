"""One contract every registered model must honour (like statsforecast's ``assert_class``).

Parametrised over ``forecasting.models.registry.MODELS``, so a newly registered
model is checked without writing a test: shape and months of the forecast,
nested intervals around the forecast, a reproducible seeded run, ``clone``,
predict-before-fit, reported fallbacks on bad series, exogenous input, a pure
and repeatable ``predict``, parameters validated before any work (ConfigError
naming the parameter), any interval levels, integer-like and unicode series
ids, and two hypothesis properties: scale equivariance and no leakage from
after a backtest cut-off.
"""

from __future__ import annotations

import functools
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from forecasting.errors import ConfigError, ModelError
from forecasting.evaluation.backtest import fallbacks
from forecasting.features.calendar import calendar_features
from forecasting.models.base import LOCAL_PARAMS, LocalForecaster, forecast_columns, predict_fallbacks
from forecasting.models.cv import backtest
from forecasting.models.registry import available_models, make_model
from forecasting.panel import SeriesPanel

HORIZON = 6
NAMES = available_models()
COMBINATIONS = {"ensemble", "auto"}


def exog_for(panel: SeriesPanel, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(X, X_future) from the features engineer's ``make_exog`` when it exists, else calendar features."""
    try:
        from forecasting.features.regressors import make_exog
    except ImportError:
        months = pd.period_range(panel.records["month"].min(), panel.records["month"].max(), freq="M")
        future = pd.period_range(months[-1] + 1, periods=horizon, freq="M")
        return calendar_features(months), calendar_features(future)
    return make_exog(panel, horizon)


def fit_predict(name: str, panel: SeriesPanel, horizon: int = HORIZON):
    model = make_model(name)
    if model.uses_exog:
        X, X_future = exog_for(panel, horizon)
        return model.fit(panel, X), model.predict(horizon, X_future)
    return model.fit(panel), model.predict(horizon)


@functools.cache
def contract_panel() -> SeriesPanel:
    return seasonal_panel(n_series=2, n_months=48, seed=11)


@functools.cache
def fitted(name: str):
    return fit_predict(name, contract_panel())


def bad_panel() -> SeriesPanel:
    """A good series next to a constant, an all-zero and a 5-observation series."""
    good = seasonal_panel(n_series=1, n_months=48, seed=12).records[["series_id", "month", "value"]]
    months = pd.period_range("2015-01", periods=48, freq="M")
    frames = [
        good,
        pd.DataFrame({"series_id": "constant", "month": months, "value": 7.0}),
        pd.DataFrame({"series_id": "zeros", "month": months, "value": 0.0}),
        pd.DataFrame({"series_id": "short", "month": months[-5:], "value": [3.0, 5.0, 4.0, 6.0, 5.0]}),
    ]
    return SeriesPanel(pd.concat(frames, ignore_index=True))


def check_forecast_frame(forecasts: pd.DataFrame, panel: SeriesPanel, horizon: int) -> None:
    assert list(forecasts.columns) == forecast_columns((80, 95))
    assert len(forecasts) == len(panel) * horizon
    last = panel.spans()["last"]
    for series_id, rows in forecasts.groupby("series_id"):
        expected = pd.period_range(last[series_id] + 1, periods=horizon, freq="M")
        assert list(rows["month"]) == list(expected), series_id
    numeric = forecasts[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]].to_numpy()
    assert np.isfinite(numeric).all()
    tolerance = 1e-9 * (1 + np.abs(numeric).max())
    lower_95, lower_80, point, upper_80, upper_95 = (
        forecasts[c].to_numpy() for c in ("lower_95", "lower_80", "forecast", "upper_80", "upper_95")
    )
    assert (lower_95 <= lower_80 + tolerance).all() and (upper_80 <= upper_95 + tolerance).all()
    assert (lower_80 <= point + tolerance).all() and (point <= upper_80 + tolerance).all()


@pytest.mark.parametrize("name", NAMES)
def test_forecast_has_shape_months_and_nested_intervals(name: str) -> None:
    model, forecasts = fitted(name)
    check_forecast_frame(forecasts, contract_panel(), HORIZON)
    assert set(forecasts["model"]) == {model.model_name}
    assert list(model.fallbacks_.columns) == ["series_id", "model", "fallback", "reason"]
    # A clean seasonal panel needs no stand-in model.
    assert model.fallbacks_.empty, model.fallbacks_.to_dict("records")


@pytest.mark.parametrize("name", NAMES)
def test_seeded_run_is_reproducible(name: str) -> None:
    _, first = fitted(name)
    _, again = fit_predict(name, contract_panel())
    pd.testing.assert_frame_equal(first, again)


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_predict_before_fit(name: str) -> None:
    model, _ = fitted(name)
    copy = clone(model)
    assert type(copy) is type(model)
    assert copy.get_params() == make_model(name).get_params()
    assert not hasattr(copy, "last_month_")
    with pytest.raises(ModelError):
        copy.predict(HORIZON)


@pytest.mark.parametrize("name", NAMES)
def test_bad_series_are_forecast_and_fallbacks_reported(name: str) -> None:
    panel = bad_panel()
    model, forecasts = fit_predict(name, panel)
    check_forecast_frame(forecasts, panel, HORIZON)
    fallbacks = model.fallbacks_
    assert set(fallbacks["series_id"]) <= set(panel.series_ids)
    assert fallbacks["reason"].astype(str).str.len().gt(0).all()
    constant = forecasts.loc[forecasts["series_id"] == "constant", "forecast"]
    np.testing.assert_allclose(constant, 7.0, rtol=0.02)
    zeros = forecasts.loc[forecasts["series_id"] == "zeros", ["forecast", "upper_95"]]
    np.testing.assert_allclose(zeros, 0.0, atol=1e-6)
    minimum = getattr(model, "_min_obs", lambda: getattr(model, "min_obs", 1))()
    if isinstance(minimum, int) and minimum > 5:
        assert "short" in set(fallbacks["series_id"]), "a 5-observation series must be reported"


@pytest.mark.parametrize("name", [n for n in NAMES if make_model(n).uses_exog] + ["arima-exog"])
def test_exogenous_models_accept_regressors(name: str) -> None:
    panel = contract_panel()
    model = make_model("arima", exog=True) if name == "arima-exog" else make_model(name)
    X, X_future = exog_for(panel, HORIZON)
    forecasts = model.fit(panel, X).predict(HORIZON, X_future)
    check_forecast_frame(forecasts, panel, HORIZON)
    if name not in COMBINATIONS:  # a combination needs X only for the members it chose
        # A month missing from X_future: each series falls back (reported), the panel does not fail.
        short = model.predict(HORIZON, X_future[X_future["month"] != X_future["month"].max()])
        check_forecast_frame(short, panel, HORIZON)
        reported = predict_fallbacks(short)
        assert set(reported["series_id"]) == set(panel.series_ids)
        assert reported["reason"].str.contains("X_future lacks 1 month").all()


# --- the estimator contract: pure predict, parameters checked on the driver ----------------------
@pytest.mark.parametrize("name", NAMES)
def test_predict_is_repeatable_and_changes_no_state(name: str) -> None:
    model, first = fitted(name)
    fallbacks, params = model.fallbacks_.copy(), model.get_params()
    X_future = exog_for(contract_panel(), HORIZON)[1] if model.uses_exog else None
    again = model.predict(HORIZON, X_future)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(model.fallbacks_, fallbacks)
    assert model.get_params() == params


class NotAParameterValue:
    """A value no parameter constraint accepts."""


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameters_raise_a_config_error_naming_the_parameter(name: str) -> None:
    model = make_model(name)
    params = model.get_params(deep=False)
    assert set(params) <= set(model._parameter_constraints), "every parameter needs a constraint"
    for param in params:
        with pytest.raises(ConfigError, match=f"The '{param}' parameter of {type(model).__name__} must be"):
            make_model(name, **{param: NotAParameterValue()})
    with pytest.raises(ConfigError, match="'bogus' parameter is not a parameter"):
        make_model(name, bogus=1)
    # Set after construction, a bad value is still caught by fit before any work is sent out.
    first = next(iter(params))
    with pytest.raises(ConfigError, match=f"'{first}'"):
        clone(model).set_params(**{first: NotAParameterValue()}).fit(contract_panel())


def test_a_bad_option_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ConfigError, match="The 'search' parameter of Arima must be one of"):
        make_model("arima", search="bogus")
    with pytest.raises(ConfigError, match="'transform'"):
        make_model("arima", transform="sqrt")


class RaisingModel:
    """A per-series model that fails on series whose first value is negative, with ``error``."""

    min_obs = 1
    error: ClassVar[type[Exception]] = ValueError

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        if y[0] < 0:
            raise self.error("cannot fit")
        self.y_ = y
        return self

    def predict(self, h: int, X: np.ndarray | None = None, levels=(80, 95)) -> dict[str, np.ndarray]:
        mean = np.full(h, self.y_[-1])
        return {"mean": mean} | {f"{side}_{lv}": mean for lv in levels for side in ("lower", "upper")}


class Raising(LocalForecaster):
    name = "raising"
    series_model = RaisingModel
    _parameter_constraints: ClassVar[dict] = LOCAL_PARAMS

    def __init__(self, *, min_obs: int | None = None, n_jobs: int = 1) -> None:
        self.min_obs = min_obs
        self.n_jobs = n_jobs


def test_only_numerical_failures_of_one_series_become_fallbacks() -> None:
    months = pd.period_range("2015-01", periods=24, freq="M")
    records = pd.concat(
        [
            pd.DataFrame({"series_id": "ok", "month": months, "value": 5.0}),
            pd.DataFrame({"series_id": "bad", "month": months, "value": -1.0}),
        ]
    )
    panel = SeriesPanel(records)
    model = Raising().fit(panel)
    assert model.fallbacks_["series_id"].tolist() == ["bad"]
    assert "ValueError: cannot fit" in model.fallbacks_["reason"].iloc[0]
    RaisingModel.error = TypeError  # a bug, not a property of the series
    try:
        with pytest.raises(TypeError, match="cannot fit"):
            Raising().fit(panel)
    finally:
        RaisingModel.error = ValueError


class FailsAtPredictModel(RaisingModel):
    """Fits every series; cannot forecast those whose last value is negative."""

    def predict(self, h: int, X: np.ndarray | None = None, levels=(80, 95)) -> dict[str, np.ndarray]:
        if self.y_[-1] < 0:
            raise FloatingPointError("overflow")
        return super().predict(h, X, levels)


class FailsAtPredict(Raising):
    name = "fails_at_predict"
    series_model = FailsAtPredictModel


def test_predict_time_fallbacks_come_with_the_forecasts_not_in_fitted_state() -> None:
    months = pd.period_range("2015-01", periods=24, freq="M")
    values = np.r_[np.full(12, 5.0), np.full(12, -1.0)]
    records = pd.concat(
        [
            pd.DataFrame({"series_id": "ok", "month": months, "value": 5.0}),
            pd.DataFrame({"series_id": "turns", "month": months, "value": values}),
        ]
    )
    panel = SeriesPanel(records)
    model = FailsAtPredict().fit(panel)
    forecasts = model.predict(3)
    assert model.fallbacks_.empty
    reported = predict_fallbacks(forecasts)
    assert reported["series_id"].tolist() == ["turns"] and "overflow" in reported["reason"].iloc[0]
    assert len(forecasts) == 6 and np.isfinite(forecasts["forecast"]).all()
    logged = fallbacks(backtest([FailsAtPredict()], panel, horizon=3, folds=1))
    assert logged["series_id"].tolist() == ["turns"]


# --- levels and series ids -------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("levels", [(50,), (10, 60, 99)])
def test_any_levels(name: str, levels: tuple[int, ...]) -> None:
    model, _ = fitted(name)
    X_future = exog_for(contract_panel(), HORIZON)[1] if model.uses_exog else None
    forecasts = model.predict(HORIZON, X_future, levels=levels)
    assert list(forecasts.columns) == forecast_columns(levels)
    bounds = forecasts[["forecast", *forecast_columns(levels)[4:]]].to_numpy()
    assert np.isfinite(bounds).all()
    tolerance = 1e-9 * (1 + np.abs(bounds).max())
    previous_lower = previous_upper = forecasts["forecast"].to_numpy()
    for level in levels:
        lower, upper = forecasts[f"lower_{level}"].to_numpy(), forecasts[f"upper_{level}"].to_numpy()
        assert (lower <= previous_lower + tolerance).all() and (upper >= previous_upper - tolerance).all()
        previous_lower, previous_upper = lower, upper


@pytest.mark.parametrize("name", NAMES)
def test_integer_like_and_unicode_series_ids(name: str) -> None:
    ids = ["1", "01", "10", "Забайкальск–满洲里/rail"]
    base = seasonal_panel(n_series=len(ids), n_months=48, seed=5).records
    renamed = dict(zip(sorted(base["series_id"].unique()), ids, strict=True))
    records = base.assign(series_id=base["series_id"].map(renamed))
    panel = SeriesPanel(records)
    model, forecasts = fit_predict(name, panel)
    check_forecast_frame(forecasts, panel, HORIZON)
    assert sorted(forecasts["series_id"].unique()) == sorted(ids)


# --- properties: scale equivariance and no leakage (hypothesis) -----------------------------------
CHEAP = {
    "auto": {"candidates": ("seasonal_naive", "drift", "theta"), "shape_member": "theta"},
    "ensemble": {"members": ("seasonal_naive", "drift", "theta")},
    "gbm": {"max_iter": 20},
    "gbm_median": {"max_iter": 20},
}
"""Settings that keep the property tests fast; the code paths are the registered models'."""

SCALE_RTOL = {"ets": 1e-6, "arima": 1e-2, "theta": 5e-2, "auto": 5e-2, "ensemble": 5e-2}
"""Models fitted by numerical optimisers stop at scale-dependent tolerances: ETS's smoothing
parameters, ARIMA's final likelihood fit (3e-3) and Theta's optimised theta (statsforecast's
optimisers; the combinations here include Theta). Every other model is exact."""


def cheap_model(name: str):
    return make_model(name, **CHEAP.get(name, {}))


@functools.cache
def property_panel() -> SeriesPanel:
    return seasonal_panel(n_series=2, n_months=48, seed=3)


@functools.cache
def unscaled_forecasts(name: str) -> pd.DataFrame:
    return cheap_model(name).fit(property_panel()).predict(HORIZON)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=3, deadline=None, derandomize=True)
@given(factor=st.floats(min_value=1e-3, max_value=1e3))
def test_forecasts_of_scaled_series_are_scaled_forecasts(name: str, factor: float) -> None:
    panel = property_panel()
    scaled = SeriesPanel(panel.records.assign(value=panel.records["value"] * factor))
    forecasts = cheap_model(name).fit(scaled).predict(HORIZON)
    columns = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    expected = unscaled_forecasts(name)[columns].to_numpy() * factor
    np.testing.assert_allclose(forecasts[columns].to_numpy(), expected, rtol=SCALE_RTOL.get(name, 1e-9))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=2, deadline=None, derandomize=True)
@given(
    shift=st.floats(min_value=-50.0, max_value=500.0),
    stretch=st.floats(min_value=0.1, max_value=10.0),
)
def test_changing_data_after_a_cutoff_changes_no_forecast_made_at_it(
    name: str, shift: float, stretch: float
) -> None:
    panel = property_panel()
    first = backtest([cheap_model(name)], panel, horizon=HORIZON, folds=2)
    cutoff = first["cutoff"].min()
    records = panel.records
    after = records["month"] > cutoff
    changed = records.assign(value=records["value"].where(~after, records["value"] * stretch + shift))
    again = backtest([cheap_model(name)], SeriesPanel(changed), horizon=HORIZON, folds=2)
    columns = ["series_id", "month", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    before = first.loc[first["cutoff"] == cutoff, columns].reset_index(drop=True)
    after_change = again.loc[again["cutoff"] == cutoff, columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(after_change, before)
