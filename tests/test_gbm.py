"""The global gradient-boosting model and its lag feature builder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel
from joblib import Memory
from sklearn.base import clone

from forecasting.errors import DataError
from forecasting.features.lags import LagFeatures, right_aligned
from forecasting.models.base import forecast_columns, predict_fallbacks
from forecasting.models.baselines import SeasonalNaive
from forecasting.models.gbm import GradientBoosting, cell_keys
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

FAST = {"max_iter": 100}


def simulated_panel(
    n_series: int, n_months: int, *, trend: float = 0.004, noise: float = 0.05, seed: int = 0
) -> SeriesPanel:
    """Seeded multiplicative panel: level x (1 + trend t) x seasonal shape x (1 + noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_months)
    level = rng.lognormal(5, 1, (n_series, 1))
    slope = trend * rng.uniform(0.5, 1.5, (n_series, 1))
    phase = rng.integers(0, 12, (n_series, 1))
    amplitude = rng.uniform(0.1, 0.4, (n_series, 1))
    values = (
        level
        * (1 + slope * t)
        * (1 + amplitude * np.sin(2 * np.pi * (t + phase) / 12))
        * (1 + rng.normal(0, noise, (n_series, n_months)))
    )
    months = pd.period_range("2015-01", periods=n_months, freq="M")
    frame = pd.DataFrame(
        {
            "series_id": np.repeat([f"s{i:03d}" for i in range(n_series)], n_months),
            "month": np.tile(months, n_series),
            "value": values.ravel(),
            "flow": "cargo",
        }
    )
    return SeriesPanel(frame)


def holdout(panel: SeriesPanel, horizon: int) -> tuple[SeriesPanel, pd.DataFrame]:
    last = panel.records["month"].max()
    cutoff = last - horizon
    future = panel.records[panel.records["month"] > cutoff][["series_id", "month", "value"]]
    return panel.until(cutoff), future.astype({"series_id": str})


def mase(forecasts: pd.DataFrame, actual: pd.DataFrame, train: SeriesPanel) -> float:
    """Seasonal (m=12) MASE per series, averaged over series."""
    joined = forecasts.merge(actual, on=["series_id", "month"])
    scores = []
    for series_id, rows in joined.groupby("series_id"):
        y = train.series(series_id).to_numpy()
        scale = np.mean(np.abs(y[12:] - y[:-12]))
        scores.append(np.mean(np.abs(rows["value"] - rows["forecast"])) / scale)
    return float(np.mean(scores))


# --- lag features -----------------------------------------------------------------------------


def test_right_aligned_puts_each_series_last_month_in_the_last_column() -> None:
    frame = pd.DataFrame(
        {
            "series_id": ["a", "a", "a", "b", "b"],
            "month": pd.PeriodIndex(["2020-01", "2020-03", "2020-04", "2020-02", "2020-03"], freq="M"),
            "value": [1.0, 3.0, 4.0, 20.0, 30.0],
        }
    )
    layout = right_aligned(SeriesPanel(frame))
    assert layout.series_ids == ["a", "b"]
    np.testing.assert_array_equal(layout.values[0], [1.0, np.nan, 3.0, 4.0])
    np.testing.assert_array_equal(layout.values[1], [np.nan, np.nan, 20.0, 30.0])
    months = pd.PeriodIndex.from_ordinals(layout.ordinals(0, 5)[1], freq="M")
    assert [str(m) for m in months] == ["2019-12", "2020-01", "2020-02", "2020-03", "2020-04"]


def test_lag_table_uses_only_earlier_months_and_matches_pandas_rolling() -> None:
    rng = np.random.default_rng(3)
    history = rng.normal(size=(4, 30))
    history[rng.random(history.shape) < 0.15] = np.nan
    builder = LagFeatures(lags=(1, 12), rolling_windows=(6,), seasonal_difference_lags=(2,))
    table = builder.table(history)
    assert builder.names == [
        "lag_1",
        "lag_12",
        "rolling_mean_6",
        "rolling_std_6",
        "yoy_change_lag_2",
        "yoy_change_mean_6",
    ]
    assert table.shape == (4, 31, 6)
    np.testing.assert_array_equal(table[:, 20, 0], history[:, 19])
    np.testing.assert_array_equal(table[:, 20, 1], history[:, 8])
    rolling = pd.DataFrame(history.T).shift(1).rolling(6, min_periods=3)
    np.testing.assert_allclose(table[:, :30, 2], rolling.mean().to_numpy().T, equal_nan=True)
    np.testing.assert_allclose(table[:, :30, 3], rolling.std().to_numpy().T, equal_nan=True)
    np.testing.assert_array_equal(table[:, 27, 4], history[:, 25] - history[:, 13])
    change = pd.DataFrame(history.T).diff(12).shift(1).rolling(6, min_periods=3).mean()
    np.testing.assert_allclose(table[:, :30, 5], change.to_numpy().T, equal_nan=True)
    # The features of the next month are the last row of the full table.
    np.testing.assert_allclose(builder.next(history), table[:, -1], equal_nan=True)


def test_lag_features_reject_bad_lags() -> None:
    with pytest.raises(ValueError, match="lags"):
        LagFeatures(lags=(0, 1))


# --- the model --------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["recursive", pytest.param("direct", marks=pytest.mark.slow)])
def test_forecast_shape_months_and_nested_intervals(strategy: str) -> None:
    panel = seasonal_panel(n_series=3, n_months=72)
    model = GradientBoosting(strategy=strategy, max_horizon=14, **FAST).fit(panel)
    out = model.predict(14)
    assert list(out.columns) == forecast_columns((80, 95))
    assert len(out) == 3 * 14
    assert (out["model"] == "gbm").all()
    first = out.groupby("series_id")["month"].first()
    assert (first == pd.Period("2021-01", freq="M")).all()
    assert (out.groupby("series_id")["month"].last() == pd.Period("2022-02", freq="M")).all()
    values = out[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]].to_numpy()
    assert np.isfinite(values).all()
    assert (out["lower_95"] <= out["lower_80"]).all() and (out["lower_80"] <= out["forecast"]).all()
    assert (out["forecast"] <= out["upper_80"]).all() and (out["upper_80"] <= out["upper_95"]).all()
    assert (out["upper_80"] - out["lower_80"] > 0).all()
    # Three series: the automatic calibration takes 7 windows (history allows no more), enough
    # scores per step for the 95% bounds to differ from the 80% ones.
    assert len(model.calibration_scores_) == 3 * 7
    assert (out["upper_95"] > out["upper_80"]).all() and (out["lower_95"] < out["lower_80"]).all()
    assert model.fallbacks_.empty


@pytest.mark.slow
def test_direct_strategy_refuses_horizons_beyond_its_fit() -> None:
    model = GradientBoosting(strategy="direct", max_horizon=6, **FAST).fit(seasonal_panel(2, 60))
    with pytest.raises(ValueError, match="max_horizon=6"):
        model.predict(7)


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_beats_seasonal_naive_on_trend_and_seasonality(strategy: str) -> None:
    panel = simulated_panel(40, 72, trend=0.01, noise=0.03, seed=1)
    train, future = holdout(panel, 12)
    # Without calibration windows the intervals fall back to seasonal-naive widths, and say so.
    model = GradientBoosting(strategy=strategy, max_horizon=12, calibration_windows=0, **FAST).fit(train)
    assert (model.fallbacks_["fallback"] == "seasonal_naive_intervals").sum() == 40
    gbm = model.predict(12)
    naive = SeasonalNaive().fit(train).predict(12)
    gbm_mase, naive_mase = mase(gbm, future, train), mase(naive, future, train)
    # Seasonal naive lags a growing series by a year; the year-on-year features learn the growth.
    # Measured: naive 1.06, recursive 0.44, direct 0.51.
    assert gbm_mase < 0.7 * naive_mase, (gbm_mase, naive_mase)


@pytest.mark.slow
def test_conformal_intervals_cover_close_to_nominal() -> None:
    panel = simulated_panel(120, 60, trend=0.003, noise=0.06, seed=7)
    train, future = holdout(panel, 12)
    out = GradientBoosting(**FAST).fit(train).predict(12).merge(future, on=["series_id", "month"])
    assert len(out) == 120 * 12
    coverage_80 = ((out["value"] >= out["lower_80"]) & (out["value"] <= out["upper_80"])).mean()
    coverage_95 = ((out["value"] >= out["lower_95"]) & (out["value"] <= out["upper_95"])).mean()
    # Measured: 0.836 and 0.963.
    assert 0.75 <= coverage_80 <= 0.85, coverage_80
    assert 0.90 <= coverage_95 <= 0.98, coverage_95


def _pulse_panel_and_events(seed: int = 5) -> tuple[SeriesPanel, pd.DataFrame]:
    """A panel whose values halve in months flagged by a global ``closure`` regressor."""
    panel = simulated_panel(20, 72, trend=0.0, noise=0.03, seed=seed)
    rng = np.random.default_rng(seed)
    months = pd.period_range("2015-01", periods=90, freq="M")
    closure = np.zeros(len(months))
    closure[rng.choice(72, size=10, replace=False)] = 1.0
    X = pd.DataFrame({"month": months, "closure": closure})
    records = panel.records.merge(X, on="month")
    records["value"] = records["value"] * np.where(records["closure"] == 1, 0.5, 1.0)
    return SeriesPanel(records.drop(columns="closure")), X


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_exogenous_intervention_changes_the_forecast_where_it_applies(strategy: str) -> None:
    panel, X = _pulse_panel_and_events()
    model = GradientBoosting(strategy=strategy, max_horizon=12, calibration_windows=1, **FAST).fit(panel, X)
    future_months = pd.period_range("2021-01", periods=12, freq="M")
    open_ = pd.DataFrame({"month": future_months, "closure": 0.0})
    closed = open_.assign(closure=np.where(future_months == pd.Period("2021-04", freq="M"), 1.0, 0.0))
    base = model.predict(12, open_).set_index(["series_id", "month"])["forecast"]
    shocked = model.predict(12, closed).set_index(["series_id", "month"])["forecast"]
    ratio = (shocked / base).unstack("month")
    closure_ratio = ratio[pd.Period("2021-04", freq="M")]
    assert closure_ratio.between(0.25, 0.75).all() and 0.4 <= closure_ratio.median() <= 0.6, closure_ratio
    # Months before the closure are untouched; a direct model sees it only in its own month.
    assert np.allclose(ratio[pd.Period("2021-01", freq="M")], 1.0)
    if strategy == "direct":
        assert np.allclose(ratio.drop(columns=pd.Period("2021-04", freq="M")), 1.0)


def test_series_whose_future_rows_are_missing_fall_back_reported() -> None:
    panel, X = _pulse_panel_and_events()
    model = GradientBoosting(**FAST).fit(panel, X)
    short = pd.DataFrame({"month": pd.period_range("2021-01", periods=5, freq="M"), "closure": 0.0})
    forecasts = model.predict(12, short)
    reported = predict_fallbacks(forecasts)
    assert sorted(reported["series_id"]) == sorted(panel.series_ids)
    assert set(reported["fallback"]) == {"seasonal_naive"}
    assert (
        reported["reason"].str.fullmatch(r"X_future lacks 7 month\(s\) the model needs, first 2021-06").all()
    )
    one = panel.series_ids[0]
    last_year = panel.series(one).iloc[-12:].to_numpy()
    got = forecasts[forecasts["series_id"] == one]["forecast"].to_numpy()
    np.testing.assert_allclose(got, last_year)


def test_exogenous_rows_must_cover_the_training_months() -> None:
    panel, X = _pulse_panel_and_events()
    model = GradientBoosting(**FAST).fit(panel, X)
    with pytest.raises(DataError, match="X_future is required"):
        model.predict(3)
    with pytest.raises(DataError, match="lacks .* first 2015-01"):
        GradientBoosting(**FAST).fit(panel, X[X["month"] > pd.Period("2015-01", freq="M")])


def test_seeded_fit_is_reproducible_and_clone_keeps_params() -> None:
    panel = seasonal_panel(n_series=4, n_months=60)
    model = GradientBoosting(
        strategy="direct", max_horizon=12, calibration_windows=1, max_train_rows=800, random_state=3, **FAST
    )
    first = model.fit(panel).predict(12)
    second = clone(model).fit(panel).predict(12)
    pd.testing.assert_frame_equal(first, second)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "regressor_")


def test_memory_loads_a_cached_regressor_fit_instead_of_refitting(tmp_path, tree_fits: list[int]) -> None:
    panel = seasonal_panel(n_series=4, n_months=60)
    model = GradientBoosting(calibration_windows=2, **FAST)
    plain = clone(model).fit(panel).predict(12)
    assert len(tree_fits) == 3  # the final regressor and two conformal refits
    written = clone(model).set_params(memory=str(tmp_path)).fit(panel).predict(12)
    assert len(tree_fits) == 6
    loaded = clone(model).set_params(memory=Memory(str(tmp_path), verbose=0)).fit(panel).predict(12)
    assert len(tree_fits) == 6  # every fit came from the folder
    pd.testing.assert_frame_equal(written, plain, check_exact=True)
    pd.testing.assert_frame_equal(loaded, plain, check_exact=True)
    # The same trees on the same rows, whichever model asks: no calibration, one fit, already cached.
    GradientBoosting(calibration_windows=0, memory=str(tmp_path), **FAST).fit(panel)
    assert len(tree_fits) == 6
    # Other trees or other rows are other fits.
    GradientBoosting(calibration_windows=0, memory=str(tmp_path), max_iter=50).fit(panel)
    GradientBoosting(calibration_windows=0, memory=str(tmp_path), **FAST).fit(seasonal_panel(4, 60, seed=1))
    assert len(tree_fits) == 8
    with pytest.raises(
        ValueError, match="'memory' parameter of GradientBoosting must be None, a folder path"
    ):
        GradientBoosting(memory=tmp_path).fit(panel)


def test_short_and_zero_series_fall_back_and_are_reported() -> None:
    panel = seasonal_panel(n_series=3, n_months=60)
    extra = pd.DataFrame(
        {
            "series_id": ["short"] * 10 + ["zeros"] * 36,
            "month": list(pd.period_range("2019-03", periods=10, freq="M"))
            + list(pd.period_range("2017-01", periods=36, freq="M")),
            "value": list(np.arange(1.0, 11.0)) + [0.0] * 36,
            "flow": "cargo",
        }
    )
    records = pd.concat([panel.records, extra], ignore_index=True)
    model = GradientBoosting(**FAST).fit(SeriesPanel(records))
    fallbacks = model.fallbacks_.set_index("series_id")
    assert sorted(fallbacks.index) == ["short", "zeros"]
    assert fallbacks.loc["short", "fallback"] == "naive"
    assert "10 observations, needs at least 24" in fallbacks.loc["short", "reason"]
    assert fallbacks.loc["zeros", "fallback"] == "seasonal_naive"
    out = model.predict(6).set_index("series_id")
    np.testing.assert_allclose(out.loc["short", "forecast"], 10.0)
    np.testing.assert_allclose(out.loc["zeros", "forecast"], 0.0)
    assert len(out.loc["s0"]) == 6
    # A panel with nothing long enough still forecasts, every series through its fallback.
    only_short = GradientBoosting(**FAST).fit(SeriesPanel(extra[extra["series_id"] == "short"]))
    assert only_short.regressor_ is None
    np.testing.assert_allclose(only_short.predict(3)["forecast"], 10.0)


def test_nonnegative_series_get_nonnegative_forecasts() -> None:
    months = pd.period_range("2016-01", periods=60, freq="M")
    t = np.arange(60)
    frames = [
        pd.DataFrame({"series_id": f"d{i}", "month": months, "value": np.maximum(200.0 - (3.5 + i) * t, 0.0)})
        for i in range(3)
    ]
    out = GradientBoosting(**FAST).fit(SeriesPanel(pd.concat(frames))).predict(24)
    numeric = out[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]]
    assert (numeric >= 0).all().all()


def test_registered_by_name_and_rejects_bad_params() -> None:
    assert isinstance(make_model("gbm"), GradientBoosting)
    with pytest.raises(ValueError, match="'strategy' parameter"):
        GradientBoosting(strategy="sideways").fit(seasonal_panel(2, 36))


def test_log_ratio_target_sends_negative_series_to_the_fallback_others_model_them() -> None:
    panel = seasonal_panel(n_series=3, n_months=60)
    records = panel.records.copy()
    negative = records["series_id"] == "s2"
    records.loc[negative, "value"] -= 400.0  # a trade balance can be negative
    records.loc[negative, "flow"] = "trade_value"
    panel = SeriesPanel(records)
    log_ratio = GradientBoosting(calibration_windows=0, **FAST).fit(panel)
    negative_row = log_ratio.fallbacks_[log_ratio.fallbacks_["reason"].str.contains("negative values")]
    assert negative_row["series_id"].tolist() == ["s2"]
    assert negative_row["fallback"].tolist() == ["seasonal_naive"]
    difference = GradientBoosting(target="seasonal_difference", **FAST).fit(panel)
    assert difference.fallbacks_.empty and difference.modelled_.all()
    out = difference.predict(12)
    assert (out.loc[out["series_id"] == "s2", "forecast"] < 0).any()


def test_series_and_dimensions_are_categorical_features() -> None:
    model = GradientBoosting(calibration_windows=0, **FAST).fit(seasonal_panel(3, 48))
    # "flow" is the same for every series, so it cannot split anything and is left out.
    assert model.categorical_names_ == ["series"]
    np.testing.assert_array_equal(model.categories_[:, 0], [0.0, 1.0, 2.0])


def test_sampled_training_rows_of_a_series_stay_when_other_series_join(monkeypatch) -> None:
    """Rows are drawn by a fixed random number per (series, month, step): a panel that gains series
    keeps the rows it had for the others (a fresh random draw would keep about a tenth of them)."""
    designs = []
    fit_regressors = GradientBoosting._fit_regressors

    def capture(self, training_sets, *window_data):  # noqa: ANN001, ANN002, ANN202 - the method's own signature
        designs.append(training_sets[0][0])
        return fit_regressors(self, training_sets, *window_data)

    monkeypatch.setattr(GradientBoosting, "_fit_regressors", capture)
    wider = simulated_panel(15, 60)
    model = GradientBoosting(
        max_train_rows=200, calibration_windows=0, series_feature=False, random_state=1, **FAST
    )
    clone(model).fit(wider.subset([f"s{i:03d}" for i in range(10)]))
    clone(model).fit(wider)
    assert [len(design) for design in designs] == [200, 200]
    narrow, wide = (np.nan_to_num(design, nan=-1e9) for design in designs)  # NaN != NaN
    narrow_rows = {tuple(row) for row in narrow}
    shared = sum(tuple(row) in narrow_rows for row in wide)
    assert shared > 100  # about 133, the ten series' share of the rows, all kept (a fresh draw: 55)


def test_cell_keys_depend_on_the_series_and_month_only() -> None:
    wide = cell_keys(["a", "b"], np.array([700, 705]), 24, salt=1)
    alone = cell_keys(["b"], np.array([705]), 12, salt=1)
    np.testing.assert_array_equal(wide[1, -12:], alone[0])
    assert wide[0, -1] == cell_keys(["a"], np.array([700]), 1, salt=1)[0, 0]
    assert not np.array_equal(wide, cell_keys(["a", "b"], np.array([700, 705]), 24, salt=2))
    assert len(np.unique(wide)) == wide.size
