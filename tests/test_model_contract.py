"""One contract every registered model must honour (like statsforecast's ``assert_class``).

Parametrised over ``forecasting.models.registry.MODELS``, so a newly registered
model is checked without writing a test: shape and months of the forecast,
nested intervals around the forecast, a reproducible seeded run, ``clone``,
predict-before-fit, reported fallbacks on bad series, and exogenous input.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel
from sklearn.base import clone

from forecasting.errors import ModelError
from forecasting.features.calendar import calendar_features
from forecasting.models.base import forecast_columns
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
        with pytest.raises(ValueError, match="X_future"):
            model.predict(HORIZON, X_future[X_future["month"] != X_future["month"].max()])
