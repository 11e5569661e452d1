"""The DataFrame front end gives the panel API's numbers in statsforecast's layout or ours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel

from forecasting import Forecaster
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.evaluation.backtest import backtest, fallbacks
from forecasting.evaluation.metrics import leaderboard
from forecasting.executors import executor_scope
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

H = 6


@pytest.fixture(scope="module")
def panel() -> SeriesPanel:
    return seasonal_panel(n_series=3, n_months=60, seed=3)


@pytest.fixture(scope="module")
def df(panel) -> pd.DataFrame:
    """The panel as a user's plain long frame: ids, months, values and a text dimension."""
    return panel.to_long()[["series_id", "month", "value", "flow"]]


def as_statsforecast(frame: pd.DataFrame) -> pd.DataFrame:
    """``unique_id`` (ints), ``ds`` (month-start timestamps), ``y``."""
    return pd.DataFrame(
        {
            "unique_id": frame["series_id"].str.slice(1).astype(int).to_numpy(),
            "ds": frame["month"].dt.to_timestamp().to_numpy(),
            "y": frame["value"].to_numpy(),
        }
    )


def exog_frame(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Two series whose value rises by ``effect`` in months flagged by the regressor ``promo``."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2016-01", periods=60, freq="M")
    future = pd.period_range(months[-1] + 1, periods=H, freq="M")
    effect = 40.0
    frames, futures = [], []
    for i, level in enumerate((200.0, 500.0)):
        promo = rng.integers(0, 2, len(months)).astype(float)
        t = np.arange(len(months))
        value = level + 0.1 * level * np.sin(2 * np.pi * t / 12) + effect * promo + rng.normal(0, 2, len(t))
        frames.append(pd.DataFrame({"series_id": f"s{i}", "month": months, "value": value, "promo": promo}))
        futures.append(pd.DataFrame({"series_id": f"s{i}", "month": future, "promo": np.ones(H)}))
    return pd.concat(frames, ignore_index=True), pd.concat(futures, ignore_index=True), effect


def test_wide_and_long_outputs_are_the_panel_apis_forecasts(df, panel):
    expected = make_model("theta").fit(panel).predict(H)
    long = Forecaster(["theta", "seasonal_naive"], output="long").forecast(df, H)
    theta = long[long["model"] == "theta"].reset_index(drop=True)
    pd.testing.assert_frame_equal(theta, expected.assign(series_id=expected["series_id"].astype(str)))
    assert set(long["model"]) == {"theta", "seasonal_naive"}

    wide = Forecaster(["theta", "seasonal_naive"]).forecast(df, H)
    assert list(wide.columns[:7]) == [
        "series_id",
        "month",
        "theta",
        "theta-lo-95",
        "theta-lo-80",
        "theta-hi-80",
        "theta-hi-95",
    ]
    assert len(wide) == 3 * H
    np.testing.assert_allclose(wide["theta"], expected["forecast"])
    np.testing.assert_allclose(wide["theta-lo-95"], expected["lower_95"])
    np.testing.assert_allclose(wide["theta-hi-80"], expected["upper_80"])
    assert wide["month"].tolist() == expected["month"].tolist()  # Period months stay Period
    naive = make_model("seasonal_naive").fit(panel).predict(H)
    np.testing.assert_allclose(wide["seasonal_naive"], naive["forecast"])


def test_fit_then_predict_equals_forecast(df):
    forecaster = Forecaster(["ets"]).fit(df)
    first = forecaster.predict(H, level=(90,))
    pd.testing.assert_frame_equal(first, Forecaster(["ets"]).forecast(df, H, level=[90]))
    assert [c for c in first.columns if c.startswith("ets")] == ["ets", "ets-lo-90", "ets-hi-90"]
    no_intervals = forecaster.predict(H, level=None)
    assert list(no_intervals.columns) == ["series_id", "month", "ets"]
    np.testing.assert_allclose(no_intervals["ets"], first["ets"])


def test_statsforecast_columns_are_recognised_and_given_back(df):
    ours = Forecaster(["seasonal_naive"]).forecast(df, H)
    theirs = Forecaster(["seasonal_naive"]).forecast(as_statsforecast(df), H)
    assert list(theirs.columns[:3]) == ["unique_id", "ds", "seasonal_naive"]
    assert theirs["unique_id"].tolist() == [i for i in range(3) for _ in range(H)]  # ints stay ints
    assert theirs["ds"].iloc[0] == pd.Timestamp("2020-01-01")  # month starts, as given
    np.testing.assert_allclose(theirs["seasonal_naive-hi-95"], ours["seasonal_naive-hi-95"])
    np.testing.assert_allclose(theirs["seasonal_naive"], ours["seasonal_naive"])


def test_month_end_dates_and_custom_column_names(df):
    frame = as_statsforecast(df).rename(columns={"unique_id": "crossing", "ds": "date", "y": "tonnes"})
    frame["date"] = frame["date"] + pd.offsets.MonthEnd(0)
    forecaster = Forecaster(["naive"], id_col="crossing", time_col="date", target_col="tonnes")
    wide = forecaster.forecast(frame, 2)
    assert list(wide.columns[:2]) == ["crossing", "date"]
    assert wide["date"].iloc[:2].tolist() == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-29")]
    starts = Forecaster(["naive"], id_col="crossing", time_col="date", target_col="tonnes", freq="MS")
    assert starts.forecast(frame, 1)["date"].iloc[0] == pd.Timestamp("2020-01-01")
    last = df[df["series_id"] == "s0"]["value"].iloc[-1]
    assert wide["naive"].iloc[0] == pytest.approx(last)


def test_aliases_compare_two_configurations_and_exogenous_columns_are_used():
    frame, future, effect = exog_frame()
    models = {"arima_x": make_model("arima", exog=True), "arima": "arima"}
    forecaster = Forecaster(models, exog=["promo"]).fit(frame)
    assert forecaster.exog_columns_ == ["promo"]
    promo = forecaster.predict(H, X_df=future)
    quiet = forecaster.predict(H, X_df=future.assign(promo=0.0))
    # Only the model with regressors sees the promotion, and it has learnt its size.
    np.testing.assert_allclose(promo["arima_x"] - quiet["arima_x"], effect, atol=3.0)
    np.testing.assert_allclose(promo["arima"], quiet["arima"])

    panel = SeriesPanel(frame[["series_id", "month", "value"]])
    X = frame[["series_id", "month", "promo"]]
    expected = make_model("arima", exog=True).fit(panel, X).predict(H, future)
    np.testing.assert_allclose(promo["arima_x"], expected["forecast"])
    np.testing.assert_allclose(promo["arima_x-lo-80"], expected["lower_80"])
    assert models["arima_x"].__dict__.keys() == make_model("arima", exog=True).__dict__.keys()  # not fitted


def test_exogenous_future_values_are_checked():
    frame, future, _ = exog_frame()
    forecaster = Forecaster({"arima_x": make_model("arima", exog=True)}, exog=["promo"]).fit(frame)
    with pytest.raises(DataError, match=r"X_df is required.*\['promo'\]"):
        forecaster.predict(H)
    with pytest.raises(DataError, match="column 'promo'"):
        forecaster.predict(H, X_df=future.drop(columns="promo"))
    with pytest.raises(DataError, match="column 'price'"):
        forecaster.predict(H, X_df=future.assign(price=1.0))
    with pytest.raises(DataError, match=r"lacks 1 \(series, month\) row"):
        forecaster.predict(H, X_df=future.iloc[1:])
    # Future values given to fit (or forecast) serve a later predict.
    expected = forecaster.predict(H, X_df=future)
    pd.testing.assert_frame_equal(forecaster.fit(frame, X_df=future).predict(H), expected)
    pd.testing.assert_frame_equal(forecaster.forecast(frame, H, X_df=future), expected)
    # A model without regressors needs no future values.
    assert len(Forecaster(["naive"], exog=["promo"]).fit(frame).predict(H)) == 2 * H


def test_cross_validation_is_the_backtest(df, panel):
    expected = backtest([make_model("theta", horizon=H)], panel, horizon=H, folds=2, step=3)
    forecaster = Forecaster({"th": "theta", "sn": "seasonal_naive"}, output="long")
    long = forecaster.cross_validation(df, h=H, n_windows=2, step_size=3)
    theta = long[long["model"] == "th"].reset_index(drop=True)
    pd.testing.assert_frame_equal(theta, expected.assign(model="th"))
    assert set(leaderboard(long)["model"]) == {"th", "sn"}
    assert fallbacks(long).empty

    forecaster.set_params(output="wide")
    wide = forecaster.cross_validation(df, h=H, n_windows=2, step_size=3)
    assert list(wide.columns[:5]) == ["series_id", "month", "cutoff", "value", "th"]
    assert len(wide) == 3 * 2 * H
    assert sorted(set(wide["cutoff"])) == [pd.Period("2019-03", "M"), pd.Period("2019-06", "M")]
    actual = wide.merge(df, on=["series_id", "month"], suffixes=("", "_df"))
    np.testing.assert_allclose(actual["value"], actual["value_df"])
    ordered = expected.sort_values(["series_id", "cutoff", "month"])
    np.testing.assert_allclose(wide["th"], ordered["forecast"])


def test_text_columns_are_dimensions_and_n_jobs_reaches_the_models(df):
    with executor_scope("serial"):  # n_jobs is only checked here: no worker processes for it
        forecaster = Forecaster(["theta", make_model("naive")], n_jobs=2).fit(df)
    assert forecaster.panel_.metadata["flow"].tolist() == ["cargo"] * 3
    assert forecaster.exog_columns_ == []
    assert [m.n_jobs for m in forecaster.models_.values()] == [2, 2]
    assert list(forecaster.models_) == ["theta", "naive"]


def test_fallbacks_name_the_alias(df):
    short = pd.concat([df, pd.DataFrame({"series_id": "tiny", "month": df["month"].iloc[-3:], "value": 1.0})])
    forecaster = Forecaster({"my_ets": "ets"}).fit(short.assign(flow=short["flow"].fillna("cargo")))
    table = forecaster.fallbacks_
    assert table[["series_id", "model", "fallback"]].values.tolist() == [["tiny", "my_ets", "naive"]]
    wide = forecaster.predict(2)
    assert wide.loc[wide["series_id"] == "tiny", "my_ets"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"models": ["nope"]}, "models"),
        ({"models": []}, "models"),
        ({"models": "ets"}, "models"),
        ({"models": [object()]}, "models"),
        ({"models": ["ets", make_model("ets")]}, "models"),
        ({"models": {"": "ets"}}, "models"),
        ({"models": {"mine": "nope"}}, "models"),
        ({"models": {"value": "ets"}}, "models"),
        ({"models": ["ets"], "freq": "D"}, "freq"),
        ({"models": ["ets"], "n_jobs": 0}, "n_jobs"),
        ({"models": ["ets"], "n_jobs": 1.5}, "n_jobs"),
        ({"models": ["ets"], "output": "tall"}, "output"),
        ({"models": ["ets"], "time_col": ""}, "time_col"),
    ],
)
def test_bad_parameters_raise_a_config_error_naming_them(df, params, key):
    forecaster = Forecaster(**params)
    with pytest.raises(ConfigError, match=f"'{key}'") as raised:
        forecaster.fit(df)
    assert raised.value.key == key


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda f, df: f.forecast(df, 0), "h"),
        (lambda f, df: f.forecast(df, True), "h"),
        (lambda f, df: f.forecast(df, 2, level=(80, 120)), "level"),
        (lambda f, df: f.forecast(df, 2, level=(80.5,)), "level"),
        (lambda f, df: f.cross_validation(df, 2, n_windows=0), "n_windows"),
        (lambda f, df: f.cross_validation(df, 2, n_windows=2, step_size=-1), "step_size"),
    ],
)
def test_bad_call_arguments_raise_a_config_error_naming_them(df, call, key):
    with pytest.raises(ConfigError, match=f"'{key}'|{key}") as raised:
        call(Forecaster(["naive"]), df)
    assert raised.value.key == key


def test_bad_data_raises_a_data_error_naming_the_column(df):
    forecaster = Forecaster(["naive"])
    with pytest.raises(ModelError, match="not fitted"):
        forecaster.predict(2)
    with pytest.raises(DataError, match="column 'value'"):
        forecaster.fit(df.drop(columns="value"))
    with pytest.raises(DataError, match="column 'month'"):
        forecaster.fit(df.assign(month=np.arange(len(df))))
    with pytest.raises(DataError, match="column 'month'.*cannot be read as dates"):
        forecaster.fit(df.assign(month="soon"))
    with pytest.raises(DataError, match="NaN"):
        forecaster.fit(df.assign(value=np.where(np.arange(len(df)) == 5, np.nan, df["value"])))
    with pytest.raises(DataError, match="duplicate"):
        forecaster.fit(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(DataError, match="DataFrame"):
        forecaster.fit(df.to_dict())
