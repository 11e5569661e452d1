"""One template for every model (issue 28): the base class owns the preamble, a model its own work.

:class:`PanelForecaster`'s public ``fit`` and ``predict`` check the panel and the
parameters, check that the model is fitted, take the forecast request, nest and
clip the intervals and stand in for forecasts that are not finite. A model writes
an explicit ``__init__``, declares a constraint per parameter and implements
``_fit`` and ``_predict``. The first tests hold every registered model class to
that; the last ones check what the base class does with a model's raw output.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel

from forecasting.core.constants import FALLBACK_COLUMNS
from forecasting.core.intervals import forecast_columns
from forecasting.core.params import Constraint, InstanceOf
from forecasting.core.request import ForecastRequest
from forecasting.errors import DataError
from forecasting.models.base import LocalForecaster, PanelForecaster, forecast_frame, predict_fallbacks
from forecasting.models.baselines import SeasonalNaive
from forecasting.models.registry import MODELS
from forecasting.panel import SeriesPanel

MODEL_CLASSES = sorted(set(MODELS.values()), key=lambda cls: cls.__name__)
PREAMBLE = (
    "def fit(",
    "def predict(",
    "_validate_params(",
    "def _check_fitted(",
    "check_horizon(",
    "nest_intervals(",
    "clip_nonnegative(",
    "with_predict_fallbacks(",
    "isinstance(panel, SeriesPanel)",
)
"""What only the base class writes: a model class that spells one of these re-implements the preamble
(a model may call the fitted check, as ``in_sample_residuals`` does, but not write its own)."""


def init_params(cls: type) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}


def model_classes_between(cls: type) -> list[type]:
    """``cls`` and its bases below :class:`PanelForecaster` (e.g. :class:`LocalForecaster`)."""
    return [base for base in cls.__mro__ if issubclass(base, PanelForecaster) and base is not PanelForecaster]


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_public_fit_and_predict_are_the_base_class_own(cls: type[PanelForecaster]) -> None:
    assert cls.fit is PanelForecaster.fit and cls.predict is PanelForecaster.predict
    assert cls._fit is not PanelForecaster._fit and cls._predict is not PanelForecaster._predict


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_no_model_class_spells_the_preamble(cls: type[PanelForecaster]) -> None:
    for part in model_classes_between(cls):
        source = inspect.getsource(part)
        written = [name for name in PREAMBLE if name in source]
        assert not written, f"{part.__name__} re-implements the base class's {written}"


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_explicit_init_stores_exactly_its_constrained_parameters(cls: type[PanelForecaster]) -> None:
    assert "__init__" in vars(cls), f"{cls.__name__} must write its own __init__"
    assert "__signature__" not in vars(cls.__init__), "a synthesised signature is not an explicit __init__"
    params = init_params(cls)
    model = cls()
    assert set(params) == set(model.get_params(deep=False)) == set(cls._parameter_constraints)
    assert set(vars(model)) == set(params), "the constructor stores its parameters and nothing else"
    for name, parameter in params.items():
        assert getattr(model, name) is parameter.default or getattr(model, name) == parameter.default, name


@pytest.mark.parametrize(
    "cls", [cls for cls in MODEL_CLASSES if issubclass(cls, LocalForecaster)], ids=lambda cls: cls.__name__
)
def test_a_local_model_takes_its_series_model_parameters_with_their_defaults(
    cls: type[LocalForecaster],
) -> None:
    params = init_params(cls)
    for name, parameter in inspect.signature(cls.series_model).parameters.items():
        assert name in params, f"{cls.__name__} lacks {cls.series_model.__name__}'s {name!r}"
        assert params[name].default == parameter.default, name
        assert cls._parameter_constraints[name] == cls.series_model._parameter_constraints[name]
    assert list(params)[-2:] == ["min_obs", "n_jobs"]


class RawOutput(PanelForecaster):
    """Last value carried forward with crossing, negative and (for ``broken``) infinite bounds."""

    name = "raw"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "broken": [InstanceOf(str, "a series id")]
    }

    def __init__(self, broken: str = "s1") -> None:
        self.broken = broken

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        self.histories_ = {sid: values.to_numpy() for sid, values in panel}

    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        outputs = []
        for series_id, y in self.histories_.items():
            mean = np.full(request.horizon, y[-1])
            out = {"mean": mean, "lower_80": mean - 10, "upper_80": mean + 10}
            out |= {"lower_95": mean - 5, "upper_95": mean + 5 if series_id != self.broken else np.inf + mean}
            months = pd.period_range(self.last_month_[series_id] + 1, periods=request.horizon, freq="M")
            outputs.append((series_id, months, out))
        return forecast_frame(outputs, request.levels), pd.DataFrame(columns=FALLBACK_COLUMNS)


class RawWithHistory(RawOutput):
    def _series_history(self, series_id: str) -> np.ndarray | None:
        return self.histories_[series_id]


def test_the_base_class_nests_clips_names_and_stands_in_for_non_finite_forecasts() -> None:
    records = seasonal_panel(n_series=2, n_months=36).records[["series_id", "month", "value"]]
    low = records.assign(value=records["value"] - records["value"].max() + 5)  # below zero: no clipping
    model = RawWithHistory().fit(SeriesPanel(low))
    forecasts = model.predict(3)
    assert list(forecasts.columns) == forecast_columns((80, 95))
    assert (forecasts["model"] == "raw").all()
    s0 = forecasts[forecasts["series_id"] == "s0"]
    last = SeriesPanel(low).series("s0").iloc[-1]
    # crossing bounds nested: the 95 % bounds widened to the 80 % ones
    np.testing.assert_allclose(s0["lower_95"], s0["lower_80"])
    np.testing.assert_allclose(s0["upper_95"], last + 10)
    stand_in = SeasonalNaive().fit(SeriesPanel(low).subset(["s1"])).predict(3)
    s1 = forecasts[forecasts["series_id"] == "s1"]
    np.testing.assert_allclose(s1[["forecast", "upper_95"]], stand_in[["forecast", "upper_95"]])
    reported = predict_fallbacks(forecasts)
    assert reported.values.tolist() == [["s1", "raw", "seasonal_naive", "non-finite forecast or interval"]]


def test_series_never_below_zero_are_clipped_at_zero_and_others_are_not() -> None:
    months = pd.period_range("2020-01", periods=24, freq="M")
    values = 2.0 + np.arange(24) % 3
    records = [
        pd.DataFrame({"series_id": "never_negative", "month": months, "value": values}),
        pd.DataFrame({"series_id": "once_negative", "month": months, "value": values - 3}),
    ]
    forecasts = RawWithHistory().fit(SeriesPanel(pd.concat(records))).predict(2)
    bounds = forecasts.set_index("series_id")[["lower_80", "lower_95", "upper_95"]]
    np.testing.assert_allclose(bounds.loc["never_negative"], [[0.0, 0.0, 14.0]] * 2)
    np.testing.assert_allclose(bounds.loc["once_negative"], [[-9.0, -9.0, 11.0]] * 2)


def test_a_non_finite_forecast_without_a_kept_history_is_an_error_naming_the_series() -> None:
    model = RawOutput().fit(seasonal_panel(n_series=2, n_months=36))
    with pytest.raises(DataError, match="series 's1': forecast or interval is not finite and no history"):
        model.predict(3)
