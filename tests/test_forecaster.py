"""The DataFrame front end gives the panel API's numbers in statsforecast's layout or ours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel

from forecasting import Forecaster
from forecasting.data.sources import SourceSpec, load_source
from forecasting.errors import ConfigError, DataError, ModelError
from forecasting.evaluation.backtest import backtest, fallbacks
from forecasting.evaluation.metrics import leaderboard
from forecasting.executors import executor_scope
from forecasting.features.flows import build_series
from forecasting.features.hierarchy import write_long_csv
from forecasting.models.base import PanelForecaster, predict_fallbacks
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


def test_cross_validation_cuts_each_series_at_its_own_end_like_its_forecast(df):
    """Series that end in different years (M1: 1964-1997) are each scored at their own cutoffs, as
    ``forecast`` forecasts each from its own end and statsforecast's cross_validation cuts them;
    ``align="calendar"`` cuts all at the same months, where the early-ended series have no actuals."""
    ends = {"s0": "2019-12", "s1": "2017-06", "s2": "2015-12"}
    ragged = df[df["month"] <= df["series_id"].map(lambda sid: pd.Period(ends[sid], "M"))]
    forecaster = Forecaster(["naive"])
    own = forecaster.cross_validation(ragged, h=3, n_windows=2)
    cutoffs = own.groupby("series_id")["cutoff"].apply(lambda c: sorted(set(c.astype(str)))).to_dict()
    assert cutoffs == {
        "s0": ["2019-08", "2019-09"],
        "s1": ["2017-02", "2017-03"],
        "s2": ["2015-08", "2015-09"],
    }
    assert len(own) == 3 * 2 * 3
    calendar = forecaster.cross_validation(ragged, h=3, n_windows=2, align="calendar")
    assert set(calendar["series_id"]) == {"s0"}
    with pytest.raises(ConfigError, match="'align' parameter of cross_validation"):
        forecaster.cross_validation(ragged, h=3, n_windows=2, align="own")


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


# --- issue 29: regressors only when named, monthly input only, in-sample fitted values ---------------------
def bts_like_panel_csv(path) -> pd.DataFrame:
    """The package's own panel CSV, read back as a user would: ``port_code`` and ``state`` per series,
    an all-empty ``currency`` (pandas reads it as float NaN) and the per-month ``estimated_share``."""
    panel = seasonal_panel(n_series=3, n_months=60, seed=5)
    records = panel.to_long()
    codes = {"s0": "0101", "s1": "2309", "s2": "3004"}
    records["port_code"] = records["series_id"].map(codes)
    records["state"] = "Maine"
    records["estimated_share"] = np.where(records["month"].dt.month == 1, 0.02, 0.0)
    write_long_csv(SeriesPanel(records), path)
    return pd.read_csv(path)


def test_metadata_columns_of_the_panel_csv_are_carried_never_regressors(tmp_path):
    frame = bts_like_panel_csv(tmp_path / "panel.csv")
    assert frame["currency"].isna().all() and frame["currency"].dtype == "float64"
    assert frame["port_code"].dtype == "int64"  # leading zeros lost, still not a regressor
    gbm = make_model("gbm", max_iter=20, calibration_windows=1)
    forecaster = Forecaster({"gbm": gbm})
    wide = forecaster.forecast(frame, H)
    assert forecaster.exog_columns_ == [] and forecaster.models_["gbm"].exog_columns_ == []
    assert np.isfinite(wide["gbm"]).all() and len(wide) == 3 * H
    metadata = forecaster.panel_.metadata
    assert metadata.loc["s1", "port_code"] == 2309 and metadata.loc["s1", "state"] == "Maine"
    assert forecaster.panel_.records["estimated_share"].max() == pytest.approx(0.02)


def test_a_numeric_column_is_a_regressor_only_when_named():
    frame, future, _ = exog_frame()
    with pytest.raises(DataError, match=r"column 'promo', series 's0': changes within the series.*exog="):
        Forecaster(["arima"]).fit(frame)
    assert Forecaster(["arima"], exog=[]).fit(frame[["series_id", "month", "value"]]).exog_columns_ == []
    with pytest.raises(DataError, match="column 'price'.*exog names a column df lacks"):
        Forecaster(["arima"], exog=["price"]).fit(frame)
    with pytest.raises(DataError, match="column 'flag'.*must be numeric"):
        Forecaster(["arima"], exog=["flag"]).fit(frame.assign(flag="yes"))
    with pytest.raises(ConfigError, match="'exog'.*'value'") as raised:
        Forecaster(["arima"], exog=["value"]).fit(frame)
    assert raised.value.key == "exog"
    with pytest.raises(ConfigError, match="'exog'.*list of distinct column names"):
        Forecaster(["arima"], exog="promo").fit(frame)


def test_regressors_declared_by_the_source_spec_are_used(tmp_path):
    """A spec's ``regressors`` travel with the loaded records to Forecaster; ``exog=[]`` turns them off."""
    rng = np.random.default_rng(2)
    months = pd.period_range("2016-01", periods=60, freq="M")
    days = rng.integers(18, 24, len(months)).astype(float)
    season = 10 * np.sin(2 * np.pi * np.arange(len(months)) / 12)
    table = pd.DataFrame(
        {
            "Period": months.strftime("%Y-%m"),
            "Exports": 100 + 8 * days + season + rng.normal(0, 1, len(months)),
            "Working days": days,
        }
    )
    table.to_csv(tmp_path / "customs.csv", index=False)
    config = {
        "name": "customs",
        "series_prefix": "heihe",
        "date_column": "Period",
        "date_format": "%Y-%m",
        "unit": "CNY",
        "regressors": ["Working days"],
        "values": {"Exports": {"flow": "trade_value", "measure": "goods", "direction": "export"}},
    }
    spec = SourceSpec.from_dict(config)
    panel = SeriesPanel.from_load(load_source(spec, tmp_path / "customs.csv"))
    assert panel.regressors == ("Working days",) and "Working days" not in panel.metadata.columns
    df = panel.to_long()
    future = pd.DataFrame(
        {
            "series_id": "heihe/goods/export",
            "month": pd.period_range("2021-01", periods=H, freq="M"),
            "Working days": 23.0,
        }
    )
    declared = Forecaster({"arima_x": make_model("arima", exog=True)}).fit(df)
    assert declared.exog_columns_ == ["Working days"]
    busy = declared.predict(H, X_df=future)["arima_x"]
    quiet = declared.predict(H, X_df=future.assign(**{"Working days": 18.0}))["arima_x"]
    np.testing.assert_allclose(busy - quiet, 8 * 5, rtol=0.1)  # learnt: 8 per working day
    assert Forecaster(["arima"], exog=[]).fit(df).exog_columns_ == []
    # `series build` drops them, reported: a panel CSV cannot declare a regressor.
    built = build_series(panel)
    assert "Working days" not in built.records.columns and built.regressors == ()
    dropped = built.report.to_frame().query("action == 'dropped'")
    assert dropped["reason"].str.startswith("regressor column 'Working days' not carried").sum() == 1
    for clash in (["Period"], ["Exports"], ["Working days", "Working days"]):
        with pytest.raises(ConfigError, match="'regressors'.*named twice"):
            SourceSpec.from_dict({**config, "regressors": clash})


@pytest.mark.parametrize(("freq", "kind"), [("W-MON", "weekly"), ("D", "daily")], ids=["weekly", "daily"])
def test_sub_monthly_input_is_refused_with_aggregate_first(freq, kind):
    dates = pd.date_range("2020-01-01", periods=120, freq=freq)
    frame = pd.DataFrame({"unique_id": "a", "ds": dates, "y": np.arange(120.0)})
    with pytest.raises(DataError, match=rf"monthly data only: aggregate first.*\({kind} data") as raised:
        Forecaster(["naive"]).fit(frame)
    assert raised.value.column == "ds" and raised.value.series == "a"


def test_quarterly_input_is_refused_and_a_true_duplicate_still_named():
    quarters = pd.date_range("2015-01-01", periods=20, freq="QS")
    frame = pd.DataFrame({"unique_id": "a", "ds": quarters, "y": np.arange(20.0)})
    with pytest.raises(DataError, match=r"monthly data only: .* 3 apart \(quarterly data\)"):
        Forecaster(["naive"]).fit(frame)
    monthly = frame.assign(ds=pd.date_range("2015-01-01", periods=20, freq="MS"))
    with pytest.raises(DataError, match=r"duplicate \(series_id, month\) rows"):
        Forecaster(["naive"]).fit(pd.concat([monthly, monthly.iloc[:1]]))


def test_fitted_values_follow_statsforecast(df, panel):
    forecaster = Forecaster(["seasonal_naive", "ets"])
    with pytest.raises(ModelError, match=r"fitted=True"):
        forecaster.forecast_fitted_values()
    forecaster.forecast(df, H, level=(80,), fitted=True)
    wide = forecaster.forecast_fitted_values()
    assert list(wide.columns) == [
        "series_id", "month", "value",
        "seasonal_naive", "seasonal_naive-lo-80", "seasonal_naive-hi-80",
        "ets", "ets-lo-80", "ets-hi-80",
    ]  # fmt: skip
    assert len(wide) == len(df)
    s0 = wide[wide["series_id"] == "s0"].reset_index(drop=True)
    # Seasonal naive's fitted value is the month a year before; the first year has none.
    assert s0["seasonal_naive"].iloc[:12].isna().all()
    np.testing.assert_allclose(s0["seasonal_naive"].iloc[12:], s0["value"].iloc[:-12])
    errors = (s0["value"] - s0["seasonal_naive"]).dropna()
    z80 = 1.2815515655446004
    np.testing.assert_allclose(
        s0["seasonal_naive-hi-80"].iloc[12:],
        s0["seasonal_naive"].iloc[12:] + z80 * np.sqrt((errors**2).mean()),
    )
    ets_errors = make_model("ets").fit(panel).in_sample_residuals()["s0"].to_numpy()
    np.testing.assert_allclose(s0["ets"], s0["value"] - ets_errors)

    forecaster.set_params(output="long")
    long = forecaster.forecast_fitted_values()
    assert list(long.columns) == ["series_id", "month", "model", "actual", "fitted", "lower_80", "upper_80"]
    forecaster.forecast(df, H)  # without fitted=True the previous fitted values are gone
    with pytest.raises(ModelError, match="fitted=True"):
        forecaster.forecast_fitted_values()


def test_fitted_values_are_refused_up_front_for_models_without_in_sample_forecasts(df):
    with pytest.raises(ConfigError, match=r"\['gbm'\] do not make") as raised:
        Forecaster(["naive", "gbm"]).forecast(df, H, fitted=True)
    assert raised.value.key == "fitted"


def test_huge_values_get_the_clis_magnitude_error_not_a_bare_exception():
    """Issue 27 item 13: values near 1e300 gave infinite bounds (ets) and a bare Exception (theta)."""
    months = pd.period_range("2018-01", periods=48, freq="M")
    huge = pd.DataFrame({"series_id": "big", "month": months, "value": 1e300 * (1.5 + np.sin(np.arange(48)))})
    for model in ("theta", "ets"):
        with pytest.raises(DataError, match=r"column 'value', series 'big': value 1\.5e\+300 is too large"):
            Forecaster([model]).forecast(huge, 3)


class Overflowing(PanelForecaster):
    """Seasonal naive whose upper 95 % bound of series ``s1`` overflows, as a model can on extreme data."""

    name = "overflowing"

    def fit(self, panel, X=None):
        self.model_ = make_model("seasonal_naive").fit(panel)
        self.last_month_ = self.model_.last_month_
        return self

    def predict(self, horizon, X_future=None, levels=(80, 95)):
        out = self.model_.predict(horizon, None, levels)
        out.loc[out["series_id"] == "s1", "upper_95"] = np.inf
        return out


def test_a_non_finite_forecast_gets_the_fallback_and_is_reported(df):
    wide = Forecaster([Overflowing()]).forecast(df, H)
    assert np.isfinite(wide.drop(columns=["series_id", "month"]).to_numpy()).all()
    swapped = predict_fallbacks(wide)
    assert swapped[["series_id", "model", "reason"]].values.tolist() == [
        ["s1", "overflowing", "non-finite forecast or interval"]
    ]
