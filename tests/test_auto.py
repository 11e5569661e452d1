"""``auto``: backtest-driven choice of a combination, calibrated intervals, reported fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel
from sklearn.base import clone
from test_ensemble import Broken

from forecasting.models.auto import MIN_FACTOR, Auto
from forecasting.models.baselines import SeasonalNaive
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

BASELINES = ("seasonal_naive", "drift", "naive")


class Overconfident(SeasonalNaive):
    """Seasonal naive with intervals a third as wide as they should be."""

    name = "overconfident"

    def predict(self, horizon, X_future=None, levels=(80, 95)):  # noqa: ANN001, ANN201 - test double
        out = super().predict(horizon, X_future, levels)
        for column in [c for c in out.columns if c.startswith(("lower", "upper"))]:
            out[column] = out["forecast"] + (out[column] - out["forecast"]) / 3
        return out


def _mixed_panel(seed: int = 1) -> SeriesPanel:
    """Two seasonal series and one trending series without seasonality."""
    records = seasonal_panel(n_series=2, n_months=72, seed=seed).to_long()
    months = pd.period_range("2015-01", periods=72, freq="M")
    rng = np.random.default_rng(seed)
    trend = pd.DataFrame({"series_id": "trend", "month": months, "value": 50 + 3.0 * np.arange(72)})
    trend["value"] += rng.normal(0, 0.5, 72)
    return SeriesPanel(pd.concat([records, trend], ignore_index=True))


def test_global_choice_and_calibrated_intervals(small_panel: SeriesPanel) -> None:
    auto = Auto(candidates=BASELINES, selection="global", backtest_horizon=6, backtest_folds=2)
    auto.fit(small_panel)
    assert set(auto.selection_["choice"]) == {"seasonal_naive"}
    assert len(auto.backtest_scores_.columns) == 7  # every non-empty subset of three candidates
    forecast = auto.predict(6)
    reference = SeasonalNaive().fit(small_panel).predict(6)
    np.testing.assert_allclose(forecast["forecast"], reference["forecast"])
    factors = dict(zip(auto.calibration_["level"], auto.calibration_["factor"], strict=True))
    assert auto.calibration_["n_backtest"].tolist() == [36, 36]
    assert min(factors.values()) >= MIN_FACTOR  # calibration narrows intervals by at most a fifth
    for level in (80, 95):
        expected = reference["forecast"] + factors[level] * (
            reference[f"upper_{level}"] - reference["forecast"]
        )
        if level == 95:
            expected = np.maximum(expected, forecast["upper_80"])
        np.testing.assert_allclose(forecast[f"upper_{level}"], expected)
    assert (forecast["model"] == "auto").all()
    assert (forecast["lower_95"] <= forecast["lower_80"]).all()
    assert (forecast["upper_80"] <= forecast["upper_95"]).all()


class Wild(SeasonalNaive):
    """Seasonal naive a hundred times too high: a member that breaks down."""

    name = "wild"

    def predict(self, horizon, X_future=None, levels=(80, 95)):  # noqa: ANN001, ANN201 - test double
        out = super().predict(horizon, X_future, levels)
        values = ["forecast", *[c for c in out.columns if c.startswith(("lower", "upper"))]]
        out[values] = out[values] * 100
        return out


def test_default_median_outvotes_a_member_that_breaks_down() -> None:
    panel = _mixed_panel()
    candidates = ("seasonal_naive", "drift", Wild())
    auto = Auto(candidates=candidates, backtest_horizon=6, backtest_folds=2, anchor=None).fit(panel)
    assert auto.selection == "median"
    assert auto.selection_["choice"].eq("seasonal_naive+drift+wild").all()
    assert auto.selection_["source"].eq("median of the candidates").all()
    members = [make_model("seasonal_naive"), make_model("drift"), Wild()]
    forecasts = [m.fit(panel).predict(3).set_index(["series_id", "month"])["forecast"] for m in members]
    expected = pd.concat(forecasts, axis=1).median(axis=1)
    forecast = auto.predict(3).set_index(["series_id", "month"])["forecast"]
    np.testing.assert_allclose(forecast.loc[expected.index], expected)
    assert (forecast < forecasts[2].loc[forecast.index] / 10).all()  # the wild member is outvoted
    assert auto.selection_.set_index("series_id")["backtest_mase"].lt(auto.backtest_scores_["wild"]).all()


def _median_and_anchor_mase(panel: SeriesPanel, members: list, horizon: int) -> tuple[float, float]:
    """Backtest MASE of the members' median and of the first member, computed here from the backtest."""
    from forecasting.evaluation.backtest import backtest

    results = backtest(members, panel, horizon=horizon, folds=2)
    keys = ["series_id", "cutoff", "month"]
    forecasts = results.pivot_table(index=keys, columns="model", values="forecast", observed=True)
    rows = results.drop_duplicates(keys).set_index(keys).loc[forecasts.index]
    median = (forecasts.median(axis=1) - rows["actual"]).abs() / rows["scale_mase"]
    first = (forecasts[members[0].model_name] - rows["actual"]).abs() / rows["scale_mase"]
    return float(median.mean()), float(first.mean())


def test_anchor_takes_over_where_the_combination_lost_its_backtest() -> None:
    """Median of seasonal naive, drift and a broken member = the worse of the first two: seasonal naive
    beats it in the backtest, so it forecasts every year (later years follow the last backtested one)."""
    panel = seasonal_panel(n_series=3, n_months=72, seed=2)
    candidates = ("seasonal_naive", "drift", Wild())
    auto = Auto(candidates=candidates, backtest_horizon=12, anchor="seasonal_naive").fit(panel)
    combination, anchor = _median_and_anchor_mase(panel, [SeasonalNaive(), make_model("drift"), Wild()], 12)
    table = auto.anchor_.set_index("year")
    assert table.index.tolist() == [0] and table.loc[0, ["first_step", "last_step"]].tolist() == [1, 12]
    assert table.loc[0, "combination_mase"] == pytest.approx(combination)
    assert table.loc[0, "anchor_mase"] == pytest.approx(anchor)
    assert anchor < combination and bool(table.loc[0, "anchored"])
    forecast = auto.predict(18)
    naive = SeasonalNaive().fit(panel).predict(18)
    np.testing.assert_allclose(forecast["forecast"], naive["forecast"])
    assert (forecast["lower_95"] <= forecast["lower_80"]).all()
    unanchored = Auto(candidates=candidates, backtest_horizon=12, anchor=None).fit(panel).predict(18)
    assert not np.allclose(unanchored["forecast"], naive["forecast"])
    # The default anchor, the seasonal profile, is not a candidate here: nothing is anchored.
    assert Auto(candidates=candidates, backtest_horizon=12).fit(panel).anchor_.empty


def test_anchor_is_decided_year_by_year() -> None:
    """With the second forecast year anchored only, steps 1-12 stay the median and 13-24 are the anchor's."""
    panel = _mixed_panel()
    auto = Auto(candidates=BASELINES, backtest_horizon=24, anchor="seasonal_naive").fit(panel)
    assert auto.anchor_["year"].tolist() == [0, 1]  # the backtest covered two forecast years
    auto.anchor_["anchored"] = [False, True]
    forecast = auto.predict(30).set_index(["series_id", "month"])["forecast"]
    members = [make_model(name).fit(panel).predict(30) for name in BASELINES]
    stacked = pd.concat([m.set_index(["series_id", "month"])["forecast"] for m in members], axis=1)
    step = np.tile(np.arange(1, 31), 3)
    expected = np.where(step <= 12, stacked.median(axis=1), stacked.iloc[:, 0])
    np.testing.assert_allclose(forecast.loc[stacked.index], expected)


def test_make_model_backtests_over_the_horizon_it_forecasts() -> None:
    assert make_model("auto", horizon=24).backtest_horizon == 24
    assert make_model("ensemble", horizon=18).backtest_horizon == 18
    assert make_model("auto", horizon=24, backtest_horizon=6).backtest_horizon == 6
    assert make_model("arima", horizon=24).get_params() == make_model("arima").get_params()


def test_weighted_selection_weighs_candidates_by_inverse_backtest_mase() -> None:
    panel = _mixed_panel()
    auto = Auto(candidates=BASELINES, selection="weighted", backtest_horizon=6, backtest_folds=2).fit(panel)
    weights = auto.weights_.pivot(index="series_id", columns="model", values="weight")
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    single = auto.backtest_scores_[list(BASELINES)]
    expected = (1 / single).div((1 / single).sum(axis=1), axis=0)
    np.testing.assert_allclose(weights.loc[expected.index, expected.columns], expected)
    assert weights.loc["trend"].idxmax() == "drift"
    assert weights.loc["s0"].idxmax() == "seasonal_naive"
    assert auto.selection_["source"].eq("inverse backtest MASE weights").all()
    assert (auto.selection_["backtest_mase"] > 0).all()
    # The point forecast is the weighted sum of the members' forecasts.
    forecast = auto.predict(3).set_index(["series_id", "month"])["forecast"]
    members = pd.concat(
        [make_model(name).fit(panel).predict(3).assign(model=name) for name in BASELINES], ignore_index=True
    ).merge(auto.weights_, on=["series_id", "model"])
    expected_forecast = (
        (members["forecast"] * members["weight"])
        .groupby([members["series_id"].astype(str), members["month"]])
        .sum()
    )
    np.testing.assert_allclose(forecast.loc[expected_forecast.index], expected_forecast)


def test_series_selection_moves_only_clear_winners() -> None:
    panel = _mixed_panel()
    auto = Auto(candidates=BASELINES, selection="series", backtest_horizon=6, backtest_folds=2).fit(panel)
    chosen = auto.selection_.set_index("series_id")
    assert chosen.loc["trend", "choice"] == "drift"
    assert chosen.loc["trend", "source"] == "series backtest"
    assert chosen.loc["s0", "choice"] == "seasonal_naive"
    forecast = auto.predict(3).set_index("series_id")
    drift = make_model("drift").fit(panel).predict(3).set_index("series_id")
    np.testing.assert_allclose(forecast.loc["trend", "forecast"], drift.loc["trend", "forecast"])
    # A margin of 100% never leaves the global choice.
    strict = Auto(candidates=BASELINES, selection="series", series_margin=1.0, backtest_horizon=6).fit(panel)
    assert strict.selection_["source"].eq("global choice").all()


def test_calibration_brings_coverage_to_nominal_on_held_out_months() -> None:
    """Intervals a third too narrow cover far less than 80%; calibration widens them back."""
    panel = seasonal_panel(n_series=30, n_months=84, seed=7)
    cutoff = pd.Period("2020-12", "M")
    train, future = panel.until(cutoff), panel.records[panel.records["month"] > cutoff]
    actual = future.assign(series_id=future["series_id"].astype(str)).set_index(["series_id", "month"])[
        "value"
    ]

    def coverage(model: Auto) -> float:
        forecast = model.fit(train).predict(12).set_index(["series_id", "month"])
        inside = (actual >= forecast["lower_80"]) & (actual <= forecast["upper_80"])
        return float(inside.mean())

    raw = coverage(Auto(candidates=(Overconfident(),), calibrate=False))
    calibrated_model = Auto(candidates=(Overconfident(),))
    calibrated = coverage(calibrated_model)
    assert raw < 0.5
    assert 0.72 <= calibrated <= 0.88
    assert calibrated_model.calibration_.set_index("level").loc[80, "factor"] > 2


def test_short_panel_without_backtest_and_failed_candidate(small_panel: SeriesPanel) -> None:
    short = SeriesPanel(small_panel.records[small_panel.records["month"] >= pd.Period("2020-06", "M")])
    auto = Auto(candidates=("naive", "drift"), backtest_horizon=12).fit(short)
    assert auto.selection_["choice"].eq("naive+drift").all()
    assert auto.selection_["source"].eq("median of the candidates (series not backtested)").all()
    assert auto.weights_["weight"].eq(0.5).all()
    glob = Auto(candidates=("naive", "drift"), selection="global", backtest_horizon=12).fit(short)
    assert glob.selection_["source"].str.startswith("no backtest").all()
    assert auto.calibration_["factor"].eq(1.0).all()
    assert len(auto.predict(2)) == 3 * 2

    auto = clone(Auto(candidates=(SeasonalNaive(), Broken()), backtest_horizon=6)).fit(small_panel)
    broken = auto.fallbacks_[auto.fallbacks_["model"] == "broken"]
    assert len(broken) == 3 and "no convergence" in broken["reason"].iloc[0]
    assert set(auto.selection_["choice"]) == {"seasonal_naive"}
    with pytest.raises(ValueError, match="'selection'"):
        Auto(candidates=BASELINES, selection="vote").fit(small_panel)


def test_nonnegative_series_get_nonnegative_bounds() -> None:
    months = pd.period_range("2018-01", periods=48, freq="M")
    rng = np.random.default_rng(3)
    values = np.abs(rng.normal(1.0, 3.0, 48))
    panel = SeriesPanel(
        pd.DataFrame({"series_id": "small", "month": months, "value": values, "flow": "cargo"})
    )
    forecast = Auto(candidates=("mean", "naive"), backtest_horizon=6).fit(panel).predict(6)
    assert (forecast[["forecast", "lower_80", "lower_95"]] >= 0).all().all()
    assert isinstance(make_model("auto"), Auto)
