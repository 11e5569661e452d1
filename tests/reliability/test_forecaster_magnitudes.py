"""``Forecaster`` checks magnitudes and swaps in fallbacks as the command line does.

The CLI's loaders refuse values beyond 1e100 (squares and variances overflow
near 1e154) and the job replaces a non-finite forecast by its fallback model's.
``Forecaster`` built its panel without the first check and answered without
the second: on values near 1e300 it returned infinite upper bounds, and
``theta`` raised statsforecast's bare ``Exception``. Both checks are now the
panel's and the predictions' own, whoever calls them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import DataError
from forecasting.forecaster import FallbackWarning, Forecaster
from forecasting.models.baselines import Naive
from forecasting.models.smoothing import ThetaSeriesModel
from forecasting.panel import SeriesPanel

pytestmark = pytest.mark.timeout(120)

MONTHS = pd.period_range("2016-01", periods=48, freq="M").astype(str)


def _frame(scale: float, *, negative: bool = False, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = scale * rng.uniform(0.8, 1.0, len(MONTHS))  # never above ``scale`` (float max stays finite)
    return pd.DataFrame({"series_id": "big", "month": MONTHS, "value": -values if negative else values})


@pytest.mark.parametrize("scale", [1e300, 1e150, 1.5e100, np.finfo(float).max])
@pytest.mark.parametrize("negative", [False, True], ids=["positive", "negative"])
def test_values_beyond_the_magnitude_limit_are_a_data_error(scale: float, negative: bool) -> None:
    with pytest.raises(DataError, match=r"column 'value', series 'big': value -?[0-9.e+]+ is too large"):
        Forecaster(["naive", "theta"]).forecast(_frame(scale, negative=negative), h=3)


def test_a_panel_built_by_hand_checks_them_too() -> None:
    records = _frame(1e300).assign(month=pd.PeriodIndex(MONTHS, freq="M"))
    with pytest.raises(DataError, match="too large to forecast"):
        SeriesPanel(records)


@pytest.mark.parametrize("model", ["naive", "ets", "theta", "arima"])
def test_values_just_under_the_limit_forecast_finite_bounds(model: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = Forecaster([model], output="long").forecast(_frame(1e100), h=12)  # at the limit
    numbers = out[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]].to_numpy()
    assert np.isfinite(numbers).all() and (numbers[:, 4] > numbers[:, 0]).all()
    assert 5e99 < out["forecast"].median() < 2e100


def test_theta_turns_statsforecasts_bare_exception_into_a_fallback() -> None:
    """Every theta form overflowing is the data's failure: a ValueError the per-series fallback catches."""
    with pytest.raises(ValueError, match="statsforecast: no model able to be fitted"):
        ThetaSeriesModel().fit(_frame(1e300)["value"].to_numpy())


class _Overflowing(Naive):
    """A naive forecaster whose bounds overflow for one series (as a global model can on extreme data)."""

    def predict(self, horizon, X_future=None, levels=(80, 95)):  # noqa: ANN001, ANN201
        out = super().predict(horizon, X_future, levels)
        out.loc[out["series_id"] == "b", "upper_95"] = np.inf
        return out


def test_a_non_finite_forecast_is_replaced_by_the_fallback_and_reported() -> None:
    frame = pd.concat([_frame(100.0, seed=s).assign(series_id=sid) for s, sid in ((1, "a"), (2, "b"))])
    with pytest.warns(FallbackWarning, match="series 'b' forecast by"):
        out = Forecaster({"over": _Overflowing()}, output="long").forecast(frame, h=3)
    assert np.isfinite(out[["forecast", "upper_95"]].to_numpy()).all()
    plain = Forecaster(["naive"], output="long").forecast(frame, h=3)
    a = out["series_id"] == "a"
    np.testing.assert_array_equal(out.loc[a, "upper_95"].to_numpy(), plain.loc[a, "upper_95"].to_numpy())
