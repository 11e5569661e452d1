"""``auto``: per-series members and weights, no panel-wide switch, calibrated intervals, fallbacks."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel
from scipy.stats import norm
from sklearn.base import clone
from test_ensemble import Broken
from test_models_statistical import panel_of

from forecasting.core.demand import ZeroInflated
from forecasting.core.seasonality import seasonal_acf
from forecasting.errors import ConfigError
from forecasting.models.auto import Auto
from forecasting.models.auto_intervals import MIN_FACTOR, SHAPE_LEVEL, zero_inflated_intervals
from forecasting.models.auto_members import backtest_member
from forecasting.models.auto_weights import PANEL_CLIP, combine_by_horizon, horizon_weights, member_weights
from forecasting.models.baselines import SeasonalNaive
from forecasting.models.cv import backtest
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

BASELINES = ("seasonal_naive", "seasonal_profile", "naive", "drift")


class Overconfident(SeasonalNaive):
    """Seasonal naive with intervals a third as wide as they should be."""

    name = "overconfident"

    def predict(self, horizon, X_future=None, levels=(80, 95)):  # noqa: ANN001, ANN201 - test double
        out = super().predict(horizon, X_future, levels)
        for column in [c for c in out.columns if c.startswith(("lower", "upper"))]:
            out[column] = out["forecast"] + (out[column] - out["forecast"]) / 3
        return out


class WithoutErrors(SeasonalNaive):
    """Seasonal naive that, like a global model, offers no in-sample errors."""

    name = "without_errors"

    def in_sample_residuals(self, months=None):  # noqa: ANN001, ANN201 - test double
        return None


def _seasonal(n: int, seed: int, level: float = 1000.0, slope: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + slope * t + 0.3 * level * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.02 * level, n)


def test_seasonality_decision_on_planted_series() -> None:
    rng = np.random.default_rng(4)
    seasonal = _seasonal(72, seed=1)
    trending_seasonal = _seasonal(72, seed=2, slope=40.0)
    noise = 100 + rng.normal(0, 5, 72)
    walk = 100 + np.cumsum(rng.normal(0, 5, 72))
    assert seasonal_acf(seasonal) > 1 and seasonal_acf(trending_seasonal) > 1
    assert seasonal_acf(noise) < 1 and seasonal_acf(walk) < 1
    assert seasonal_acf(seasonal[:35]) == 0.0  # under three years: never seasonal
    panel = panel_of({"seasonal": seasonal, "noise": noise})
    auto = Auto(candidates=("ets", *BASELINES), backtest_horizon=6).fit(panel)
    decisions = auto.decisions_.set_index("series_id")
    assert decisions.loc["seasonal", "seasonal"] and not decisions.loc["noise", "seasonal"]
    assert decisions.loc["seasonal", "members"] == "ets+seasonal_naive+seasonal_profile"
    assert decisions.loc["noise", "members"] == "ets+seasonal_naive+seasonal_profile+naive+drift"
    assert decisions.loc["seasonal", "skipped"] == "naive: seasonal; drift: seasonal"


def test_a_member_a_series_cannot_use_is_not_fitted_for_it_and_is_reported() -> None:
    panel = panel_of({"long": _seasonal(72, seed=1), "short": _seasonal(20, seed=2)}, start="2015-01")
    candidates = ("gbm", "naive", "drift", "seasonal_naive")
    auto = Auto(candidates=candidates, global_min_series=1, backtest_horizon=6, shape_member=None).fit(panel)
    plan = auto.plan_.set_index(["series_id", "model"])
    assert not plan.loc[("short", "gbm"), "used"]
    assert plan.loc[("short", "gbm"), "reason"] == "20 months < 24"
    assert plan.loc[("long", "naive"), "reason"] == "seasonal"
    assert auto.decisions_.set_index("series_id").loc["short", "skipped"] == "gbm: 20 months < 24"
    gbm = [m for m in auto.members_ if m.model_name == "gbm"]
    assert len(gbm) == 1 and set(gbm[0].last_month_) == {"long"}
    assert gbm[0].calibration_windows == 3  # automatic count capped; an explicit one is kept:
    explicit = Auto(
        candidates=(make_model("gbm", calibration_windows=5),), global_min_series=1, shape_member=None
    )
    assert explicit.set_params(backtest_horizon=6).fit(panel).members_[0].calibration_windows == 5
    # The default needs 30 series for a global member: on two, the GBM is not fitted at all.
    few = Auto(candidates=candidates, backtest_horizon=6, shape_member=None).fit(panel)
    assert few.plan_.set_index(["series_id", "model"]).loc[("long", "gbm"), "reason"] == (
        "2 series in the panel < 30"
    )
    assert "gbm" not in {m.model_name for m in few.members_}
    used = set(auto.weights_.loc[auto.weights_["series_id"] == "short", "model"])
    assert used == {"naive", "drift", "seasonal_naive"}


def test_a_trending_series_keeps_its_trend_in_every_forecast_year() -> None:
    """Twelve seasonal series whose trend stopped two and a half years ago, where the no-change members
    backtest best, and one seasonal series with a strong trend: its own backtest outweighs the
    panel's ranking, in the second forecast year too."""
    stopped = 20.0 * np.minimum(np.arange(96), 66)
    series = {f"flat{i}": _seasonal(96, seed=i) + stopped for i in range(12)}
    series["trend"] = _seasonal(96, seed=99, slope=25.0)
    panel = panel_of(series)
    auto = Auto(candidates=("ets", "seasonal_naive", "seasonal_profile"), backtest_horizon=24).fit(panel)
    assert sorted(auto.weights_["first_step"].unique()) == [1, 7]  # steps 1-6 and 7-24 weighted apart
    parts = {
        first: part.pivot(index="series_id", columns="model", values="weight")
        for first, part in auto.weights_.groupby("first_step")
    }
    # Beyond six months the no-change members backtest best on the flat series (the earliest fold's
    # first six months still had the trend, so ETS leads those): the trending series keeps ETS.
    flat = parts[7].drop(index="trend")
    assert (flat["ets"] < 0.2).all() and (flat["seasonal_naive"] + flat["seasonal_profile"] > 0.8).all()
    assert parts[7].loc["trend", "ets"] > 0.9 and parts[1].loc["trend", "ets"] > 0.9
    forecast = auto.predict(24)
    trend = forecast[forecast["series_id"] == "trend"]["forecast"].to_numpy()
    last_year = series["trend"][-12:]
    # Each forecast year is about 12 x 25 above the one before, as the series has been.
    assert trend[:12].mean() - last_year.mean() == pytest.approx(300, rel=0.25)
    assert trend[12:].mean() - trend[:12].mean() == pytest.approx(300, rel=0.25)


def test_weights_follow_the_series_backtest_shrunk_towards_thepanel_of() -> None:
    """A hand-made backtest table: the weights equal the formula of the module docstring."""
    rows = []
    for sid, errors in {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 4.0, "y": 1.0}}.items():
        for model, error in errors.items():
            for step in range(1, 7):
                rows.append((sid, model, step, 10.0, 10.0 + error, 1.0))
    results = pd.DataFrame(rows, columns=["series_id", "model", "step", "actual", "forecast", "scale_mase"])
    plan = pd.DataFrame(
        [(sid, model, True, "") for sid in ("a", "b", "c") for model in ("x", "y")],
        columns=["series_id", "model", "used", "reason"],
    )
    table = member_weights(results, plan, shrinkage=6.0, temperature=0.5).set_index(["series_id", "model"])
    relative = {("a", "x"): -np.log(2) / 2, ("a", "y"): np.log(2) / 2}
    relative |= {("b", "x"): np.log(4) / 2, ("b", "y"): -np.log(4) / 2}
    panel = {"x": (relative[("a", "x")] + relative[("b", "x")]) / 2}
    panel["y"] = -panel["x"]
    for (sid, model), rel in relative.items():
        assert table.loc[(sid, model), "score"] == pytest.approx((6 * rel + 6 * panel[model]) / 12)
    assert table.loc[("c", "x"), "n_backtest"] == 0
    assert table.loc[("c", "x"), "score"] == pytest.approx(panel["x"])  # no backtest: the panel's ranking
    for sid in ("a", "b", "c"):
        x, y = table.loc[(sid, "x"), "score"], table.loc[(sid, "y"), "score"]
        expected = np.exp(-(x - min(x, y)) / 0.5) / (
            np.exp(-(x - min(x, y)) / 0.5) + np.exp(-(y - min(x, y)) / 0.5)
        )
        assert table.loc[(sid, "x"), "weight"] == pytest.approx(expected)
    assert table.groupby("series_id")["weight"].sum().tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_one_series_with_a_near_perfect_member_moves_the_panels_ranking_a_bounded_step() -> None:
    """A level shift of x1000 made seasonal naive's backtest MASE 6e-5 and ETS's 53 on one series of
    four: unbounded, its log ratios (-5.4, +5.4) outweighed a growing series' own backtest."""
    errors = {"grow": {"ets": 7.8, "snaive": 16.8}, "step": {"ets": 53.0, "snaive": 6e-5}}
    errors |= {"a": {"ets": 1.0, "snaive": 1.1}, "b": {"ets": 1.1, "snaive": 1.0}}
    rows = [
        (sid, model, step, 10.0, 10.0 + error, 1.0)
        for sid, by_model in errors.items()
        for model, error in by_model.items()
        for step in range(1, 13)
    ]
    results = pd.DataFrame(rows, columns=["series_id", "model", "step", "actual", "forecast", "scale_mase"])
    plan = pd.DataFrame(
        [(sid, model, True, "") for sid in [*errors, "new"] for model in ("ets", "snaive")],
        columns=["series_id", "model", "used", "reason"],
    )
    table = member_weights(results, plan, shrinkage=48.0, temperature=0.15).set_index(["series_id", "model"])
    own = {sid: np.log(max(e["snaive"], 1e-3) / e["ets"]) / 2 for sid, e in errors.items()}
    assert own["step"] < -PANEL_CLIP  # the step series' own ranking is beyond the clip, and kept
    assert table.loc[("step", "snaive"), "weight"] > 0.99
    panel = np.mean([np.clip(r, -PANEL_CLIP, PANEL_CLIP) for r in own.values()])
    assert table.loc[("new", "snaive"), "score"] == pytest.approx(panel)  # no backtest: the panel's ranking
    assert table.loc[("grow", "snaive"), "score"] == pytest.approx((12 * own["grow"] + 48 * panel) / 60)


def test_weights_do_not_depend_on_a_series_scale() -> None:
    """A vanishing scale (Tornillo's 0.004 at the BTS cutoffs) multiplies every member's MASE of that
    series alike: the log scores relative to the series' members, and the panel's mean of them, stay."""
    rows = [
        (sid, model, step, 10.0, 10.0 + error, 1.0)
        for sid, errors in {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 4.0, "y": 1.0}}.items()
        for model, error in errors.items()
        for step in range(1, 7)
    ]
    results = pd.DataFrame(rows, columns=["series_id", "model", "step", "actual", "forecast", "scale_mase"])
    plan = pd.DataFrame(
        [(sid, model, True, "") for sid in ("a", "b") for model in ("x", "y")],
        columns=["series_id", "model", "used", "reason"],
    )
    tiny = results.assign(scale_mase=np.where(results["series_id"] == "b", 1e-6, 1.0))
    before = member_weights(results, plan, shrinkage=6.0, temperature=0.5)
    after = member_weights(tiny, plan, shrinkage=6.0, temperature=0.5)
    np.testing.assert_allclose(after["backtest_mase"], before["backtest_mase"] * [1, 1, 1e6, 1e6])
    np.testing.assert_allclose(after[["score", "weight"]], before[["score", "weight"]])


def test_forecast_is_the_weighted_mean_of_the_members() -> None:
    panel = seasonal_panel(n_series=3, n_months=72, seed=5)
    auto = Auto(candidates=("seasonal_naive", "seasonal_profile"), backtest_horizon=6, shape_member=None)
    auto.fit(panel)
    forecast = auto.predict(3).set_index(["series_id", "month"])["forecast"]
    members = pd.concat(
        [make_model(name).fit(panel).predict(3).assign(model=name) for name in auto.candidates],
        ignore_index=True,
    ).merge(auto.weights_, on=["series_id", "model"])
    expected = (
        (members["forecast"] * members["weight"]).groupby([members["series_id"], members["month"]]).sum()
    )
    np.testing.assert_allclose(forecast.loc[expected.index], expected)
    assert (auto.predict(3)["model"] == "auto").all()


def test_calibration_brings_coverage_to_nominal_on_held_out_months() -> None:
    """Intervals a third too narrow cover far less than 80%; per-step calibration widens them back."""
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

    raw = coverage(Auto(candidates=(Overconfident(),), shape_member=None))
    calibrated_model = Auto(candidates=(Overconfident(),), shape_member=None, calibrate=True)
    calibrated = coverage(calibrated_model)
    assert raw < 0.5
    assert 0.72 <= calibrated <= 0.88
    factors = calibrated_model.calibration_.set_index(["level", "step"])["factor"]
    assert factors.loc[80].min() > 2 and factors.min() >= MIN_FACTOR
    assert factors.index.get_level_values("step").max() == 12
    # Steps beyond the backtest take its last step's factor.
    long = calibrated_model.predict(18).set_index(["series_id", "month"])
    naive = Overconfident().fit(train).predict(18).set_index(["series_id", "month"])
    width = (long["upper_80"] - long["forecast"]) / (naive["upper_80"] - naive["forecast"])
    np.testing.assert_allclose(width.groupby(level="series_id").tail(6), factors.loc[(80, 12)])


def test_make_model_backtests_over_the_horizon_it_forecasts() -> None:
    assert make_model("auto", horizon=24).backtest_horizon == 24
    assert make_model("ensemble", horizon=18).backtest_horizon == 18
    assert make_model("auto", horizon=24, backtest_horizon=6).backtest_horizon == 6
    assert make_model("arima", horizon=24).get_params() == make_model("arima").get_params()


def test_short_panel_without_backtest_and_failed_candidate(small_panel: SeriesPanel) -> None:
    short = SeriesPanel(small_panel.records[small_panel.records["month"] >= pd.Period("2020-06", "M")])
    auto = Auto(candidates=("naive", "drift"), backtest_horizon=12, shape_member="naive").fit(short)
    assert auto.weights_["n_backtest"].eq(0).all()
    assert auto.weights_["weight"].eq(0.5).all()  # no backtest anywhere: equal weights
    assert auto.calibration_.empty
    assert len(auto.predict(2)) == 3 * 2

    auto = clone(Auto(candidates=(SeasonalNaive(), Broken()), backtest_horizon=6, shape_member=None))
    auto.fit(small_panel)
    broken = auto.fallbacks_[auto.fallbacks_["model"] == "broken"]
    assert set(broken["series_id"]) == {"s0", "s1", "s2"}
    assert "no convergence" in broken["reason"].iloc[0]
    forecast = auto.predict(6)
    reference = SeasonalNaive().fit(small_panel).predict(6)
    np.testing.assert_allclose(forecast["forecast"], reference["forecast"])
    with pytest.raises(ValueError, match="'temperature'"):
        Auto(candidates=BASELINES, temperature=0).fit(small_panel)


def test_nonnegative_series_get_nonnegative_bounds() -> None:
    months = pd.period_range("2018-01", periods=48, freq="M")
    rng = np.random.default_rng(3)
    values = np.abs(rng.normal(1.0, 3.0, 48))
    panel = SeriesPanel(
        pd.DataFrame({"series_id": "small", "month": months, "value": values, "flow": "cargo"})
    )
    forecast = (
        Auto(candidates=("mean", "naive"), backtest_horizon=6, shape_member="mean").fit(panel).predict(6)
    )
    assert (forecast[["forecast", "lower_80", "lower_95"]] >= 0).all().all()
    assert isinstance(make_model("auto"), Auto)


def test_members_see_only_the_most_recent_history() -> None:
    panel = seasonal_panel(n_series=2, n_months=72, seed=8)
    auto = Auto(candidates=("seasonal_naive", "ets"), max_history=36, backtest_horizon=6).fit(panel)
    for member in auto.members_:
        assert {len(model.y_) for model in member.models_.values()} == {36}
    assert auto.last_month_ == {"s0": pd.Period("2020-12", "M"), "s1": pd.Period("2020-12", "M")}
    with pytest.raises(ValueError, match="'max_history'"):
        Auto(max_history=6).fit(panel)


def test_the_backtest_searches_forms_once_at_the_earliest_fold_and_skips_unused_intervals() -> None:
    """ETS's search runs on the earliest fold's history and the later folds refit its forms, so that
    fold scores exactly as a searching backtest, and the search's fit is that fold's (the backtest
    scores the same without refitting it); the final fit searches only the forms that ranked best
    there; the GBM skips its conformal refits without calibration."""
    series = {f"s{i}": _seasonal(84, seed=i, slope=3.0 * i) for i in range(4)}
    series["young"] = _seasonal(30, seed=9)  # too short for a season at the earliest fold
    panel = panel_of(series)
    ets, final, earliest_fit = backtest_member(
        make_model("ets"), panel, None, 12, 2, False, shortlist_forms=3
    )
    earliest = make_model("ets").fit(panel_of({k: v[:-18] for k, v in series.items()}))
    assert earliest_fit.selected_params_ == earliest.selected_params_
    assert ets.series_params == earliest.selected_params_ and "young" not in ets.series_params
    assert final.series_params == {
        sid: {"forms": tuple(earliest.models_[sid].form_ranking_[:3])} for sid in series if sid != "young"
    }
    assert backtest_member(make_model("ets"), panel, None, 12, 2, False)[1].series_params is None
    gbm, _, gbm_earliest = backtest_member(
        make_model("gbm"), panel, None, horizon=12, folds=2, intervals=False
    )
    assert gbm.calibration_windows == 0 and gbm_earliest is None
    calibrated = backtest_member(make_model("gbm"), panel, None, horizon=12, folds=2, intervals=True).scored
    assert calibrated.calibration_windows is None
    reused = backtest([ets], panel, horizon=12, folds=2, align="series")
    searched = backtest([make_model("ets")], panel, horizon=12, folds=2, align="series")
    not_refitted = backtest([ets], panel, horizon=12, folds=2, align="series", earliest_fit=earliest_fit)
    pd.testing.assert_frame_equal(not_refitted, reused)
    first = reused["cutoff"] == reused.groupby("series_id")["cutoff"].transform("min")
    columns = ["series_id", "month", "forecast", "upper_95"]
    pd.testing.assert_frame_equal(
        reused.loc[first, columns].reset_index(drop=True),
        searched.loc[first, columns].reset_index(drop=True),
    )


def test_auto_fits_ets_on_the_shortlisted_forms_or_on_all_of_them() -> None:
    """The final ETS member chooses each series' form among the three that ranked best at the
    earliest fold (``shortlist_forms``), or among every form when it is None."""
    panel = panel_of({f"s{i}": _seasonal(84, seed=i, slope=2.0 * i) for i in range(3)})
    kwargs = {"candidates": ("ets", "seasonal_naive"), "backtest_horizon": 12}
    shortlisted = Auto(**kwargs).fit(panel).members_[0]
    assert {len(params["forms"]) for params in shortlisted.series_params.values()} == {3}
    for sid, params in shortlisted.series_params.items():
        assert sorted(shortlisted.models_[sid].form_ranking_) == sorted(params["forms"])
    assert Auto(**kwargs, shortlist_forms=None).fit(panel).members_[0].series_params is None
    with pytest.raises(ValueError, match="'shortlist_forms'"):
        Auto(shortlist_forms=0).fit(panel)


def _gbm_auto() -> Auto:
    fast = {"max_iter": 30}
    candidates = (make_model("gbm", **fast), make_model("gbm_median", **fast), "seasonal_naive")
    return Auto(candidates=candidates, global_min_series=2, shape_member=None)


def test_a_fold_and_the_conformal_refit_at_its_cutoff_fit_their_trees_once(
    tmp_path, monkeypatch: pytest.MonkeyPatch, tree_fits: list[int]
) -> None:
    """Two GBMs x (2 folds at 18 and 12 months before the end + the final fit + refits at 12, 18
    and 24): 12 regressors, of which the folds' 4 are the refits' own. Cached, 8 are fitted, the
    forecasts are the same to the last bit, and the temporary folder is gone after fit."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    panel = seasonal_panel(n_series=4, n_months=72, seed=3)
    cached = _gbm_auto().fit(panel)
    assert len(tree_fits) == 8
    assert os.listdir(tmp_path) == []
    assert [member.get_params().get("memory") for member in cached.members_] == [None, None, None]
    clone(cached).fit(panel)  # neither a clone nor a refit reaches the removed folder
    tree_fits.clear()
    monkeypatch.setattr("forecasting.models.auto.workers_share_files", lambda: False)  # a remote cluster
    uncached = _gbm_auto().fit(panel)
    assert len(tree_fits) == 12
    pd.testing.assert_frame_equal(cached.predict(12), uncached.predict(12), check_exact=True)
    pd.testing.assert_frame_equal(cached.weights_, uncached.weights_, check_exact=True)


def test_the_cache_folder_is_removed_when_fit_fails(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made: list[str] = []

    def failing(groups, panel, X, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - test double
        made.extend(os.listdir(tmp_path))
        raise RuntimeError("the final fit failed")

    monkeypatch.setattr("forecasting.models.auto.backtest_and_fit", failing)
    with pytest.raises(RuntimeError, match="the final fit failed"):
        _gbm_auto().fit(seasonal_panel(n_series=4, n_months=72, seed=3))
    assert len(made) == 1 and made[0].startswith("forecasting-auto-")
    assert os.listdir(tmp_path) == []


def test_the_first_months_and_the_later_ones_are_weighted_apart() -> None:
    """x backtests best over steps 1-2 and y over steps 3-4: each part of the horizon gets its own
    weights (each equal to the single-part formula on its steps), and each forecast step uses its part's."""
    rows = []
    for sid in ("a", "b"):
        for step in range(1, 5):
            for model, error in {"x": 1.0 if step <= 2 else 4.0, "y": 4.0 if step <= 2 else 1.0}.items():
                rows.append((sid, model, step, 10.0, 10.0 + error, 1.0))
    results = pd.DataFrame(rows, columns=["series_id", "model", "step", "actual", "forecast", "scale_mase"])
    plan = pd.DataFrame(
        [(sid, model, True, "") for sid in ("a", "b") for model in ("x", "y")],
        columns=["series_id", "model", "used", "reason"],
    )
    table = horizon_weights(results, plan, 6.0, 0.5, [1, 3])
    for first, steps in ((1, [1, 2]), (3, [3, 4])):
        expected = member_weights(results[results["step"].isin(steps)], plan, 6.0, 0.5)
        got = table[table["first_step"] == first].drop(columns="first_step").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))
    weight = table.set_index(["first_step", "series_id", "model"])["weight"]
    assert weight[(1, "a", "x")] > 0.9 and weight[(3, "a", "y")] > 0.9
    months = pd.period_range("2020-01", periods=4, freq="M")
    stacked = pd.DataFrame(
        [("a", m, model, value) for m in months for model, value in (("x", 100.0), ("y", 200.0))],
        columns=["series_id", "month", "model", "forecast"],
    )
    combined = combine_by_horizon(stacked, np.repeat([1, 2, 3, 4], 2), table, levels=[])
    expected = [100 * weight[(f, "a", "x")] + 200 * weight[(f, "a", "y")] for f in (1, 1, 3, 3)]
    np.testing.assert_allclose(combined["forecast"], expected)
    short = Auto(candidates=("seasonal_naive", "seasonal_profile"), backtest_horizon=6)
    assert short._first_steps() == [1] and Auto(backtest_horizon=18)._first_steps() == [1, 7]
    assert Auto(backtest_horizon=18, short_horizon=None)._first_steps() == [1]


def test_levels_below_95_take_each_series_error_shape() -> None:
    """A series with a few large shocks among small errors gets a narrower 80 % band relative to its
    95 % one than a series with Gaussian errors: the share is q80 / q95 of its absolute one-step
    errors about their median, read from the ETS member; the 95 % bounds and the forecasts stay."""
    rng = np.random.default_rng(11)
    spiky = _seasonal(96, seed=3)
    spiky[rng.choice(np.arange(12, 96), size=8, replace=False)] += rng.choice([-1, 1], 8) * 400.0
    panel = panel_of({"gaussian": _seasonal(96, seed=4), "spiky": spiky})
    candidates = ("ets", "seasonal_naive")
    auto = Auto(candidates=candidates, backtest_horizon=6).fit(panel)
    plain = Auto(candidates=candidates, backtest_horizon=6, shape_member=None).fit(panel)
    residuals = next(m for m in auto.members_ if m.model_name == "ets").in_sample_residuals()
    for series_id in ("gaussian", "spiky"):
        errors = residuals[series_id].dropna().to_numpy()
        spread = np.abs(errors - np.median(errors))
        expected = np.quantile(spread, 0.8) / np.quantile(spread, SHAPE_LEVEL / 100)
        assert auto.interval_shape_.loc[series_id, 80] == pytest.approx(expected)
    shares = auto.interval_shape_[80]
    assert shares["spiky"] < 0.5 < 0.6 < shares["gaussian"] < 0.75  # Gaussian errors: 1.28 / 1.96 = 0.65

    forecast, reference = auto.predict(12), plain.predict(12)
    pd.testing.assert_frame_equal(
        forecast[["series_id", "month", "forecast", "lower_95", "upper_95"]],
        reference[["series_id", "month", "forecast", "lower_95", "upper_95"]],
    )
    share = (forecast["upper_80"] - forecast["forecast"]) / (forecast["upper_95"] - forecast["forecast"])
    np.testing.assert_allclose(share, forecast["series_id"].map(shares))
    # Levels without 95 %: the members still give their 95 % bounds, the table shows only those asked for.
    narrow = auto.predict(12, levels=(50, 80))
    assert [c for c in narrow.columns if c.startswith(("lower", "upper"))] == [
        "lower_50",
        "upper_50",
        "lower_80",
        "upper_80",
    ]
    np.testing.assert_allclose(narrow["upper_80"], forecast["upper_80"])
    assert (narrow["upper_50"] < narrow["upper_80"]).all()


def test_a_shape_member_must_be_a_candidate_with_in_sample_errors(small_panel: SeriesPanel) -> None:
    with pytest.raises(ConfigError, match="'shape_member'.*candidates"):
        Auto(candidates=("seasonal_naive", "naive"), backtest_horizon=6).fit(small_panel)
    with pytest.raises(ConfigError, match="'without_errors' has none"):
        Auto(candidates=(WithoutErrors(),), backtest_horizon=6, shape_member="without_errors").fit(
            small_panel
        )


def test_in_sample_errors_are_the_weighted_members_errors() -> None:
    """``y - sum w f = sum w (y - f)`` with the first steps' weights; a member without in-sample
    errors (a global one) gives its weight to the others, month by month where only some have one."""
    panel = seasonal_panel(n_series=3, n_months=60, seed=12)
    candidates = ("ets", "seasonal_naive", WithoutErrors())
    auto = Auto(candidates=candidates, backtest_horizon=6, short_horizon=3).fit(panel)
    errors = auto.in_sample_residuals()
    members = {m.model_name: m.in_sample_residuals() for m in auto.members_}
    first = auto.weights_[auto.weights_["first_step"] == 1].set_index(["series_id", "model"])["weight"]
    assert first.xs("without_errors", level="model").gt(0.01).all()  # it has weight to spread
    for series_id in ("s0", "s2"):
        ets = members["ets"][series_id].dropna()
        naive = members["seasonal_naive"][series_id].reindex(ets.index)
        w_ets, w_naive = first[(series_id, "ets")], first[(series_id, "seasonal_naive")]
        both = naive.notna()
        assert (~both).sum() == 12
        expected = (w_ets * ets[both] + w_naive * naive[both]) / (w_ets + w_naive)
        np.testing.assert_allclose(errors.loc[both[both].index, series_id], expected)
        # the first season has no seasonal-naive error: ETS's alone
        np.testing.assert_allclose(errors.loc[both[~both].index, series_id], ets[~both])
    assert list(errors.columns) == ["s0", "s1", "s2"]
    assert len(auto.in_sample_residuals(months=24)) == 24
    without = Auto(candidates=(WithoutErrors(),), backtest_horizon=6, shape_member=None).fit(panel)
    assert without.in_sample_residuals() is None


def _sparse(n: int, sigma: float, rng: np.random.Generator, occurrence: float = 0.4) -> np.ndarray:
    """Months non-zero with probability ``occurrence``, lognormal sizes (CV^2 = exp(sigma^2) - 1)."""
    return (rng.random(n) < occurrence) * rng.lognormal(3.0, sigma, n)


def test_the_plan_logs_demand_classes_and_intermittent_members_fit_only_sparse_series() -> None:
    rng = np.random.default_rng(8)
    series = {
        "smooth": _seasonal(72, seed=3),
        "erratic": rng.lognormal(3.0, 1.2, 72),  # a value every month, CV^2 about 3
        "intermittent": _sparse(72, 0.3, rng),
        "lumpy": _sparse(72, 1.2, rng),
        "signed": _sparse(72, 1.2, rng) * rng.choice([-1.0, 1.0], 72),  # lumpy, but a net flow
    }
    candidates = ("ets", "seasonal_naive", "croston", "tsb")
    auto = Auto(candidates=candidates, backtest_horizon=6).fit(panel_of(series))
    decisions = auto.decisions_.set_index("series_id")
    assert decisions["demand_class"].to_dict() == {
        "smooth": "smooth",
        "erratic": "erratic",
        "intermittent": "intermittent",
        "lumpy": "lumpy",
        "signed": "lumpy",
    }
    assert decisions.loc["lumpy", "adi"] > 1.32 and decisions.loc["lumpy", "cv2"] > 0.49
    assert decisions.loc["lumpy", "members"] == "ets+seasonal_naive+croston+tsb"
    assert decisions.loc["smooth", "skipped"] == "croston: smooth series; tsb: smooth series"
    plan = auto.plan_.set_index(["series_id", "model"])
    assert plan.loc[("signed", "tsb"), "reason"] == "values below zero"
    assert (plan.xs("ets", level="model")["demand_class"] == decisions["demand_class"]).all()
    for member in auto.members_:
        expected = {"intermittent", "lumpy"} if member.model_name in ("croston", "tsb") else set(series)
        assert set(member.last_month_) == expected, member.model_name
    weights = auto.weights_.set_index(["series_id", "model"])["weight"]
    assert weights.loc[("lumpy", "tsb")] > 0 and ("smooth", "croston") not in weights.index
    # Sparse series never below zero take the zero-inflated bounds about the combined forecast.
    forecast = auto.predict(12).set_index("series_id")
    for series_id in ("intermittent", "lumpy"):
        rows = forecast.loc[series_id]
        bounds = ZeroInflated.from_history(series[series_id]).bounds(rows["forecast"].to_numpy(), (80, 95))
        for column in ("lower_80", "upper_80", "lower_95", "upper_95"):
            np.testing.assert_allclose(rows[column], bounds[column], err_msg=f"{series_id} {column}")
        assert (rows["lower_80"] == 0).all() and (rows["upper_80"] > rows["forecast"]).all()
    assert set(auto.zero_inflated_) == {"intermittent", "lumpy"}
    assert (forecast.loc["signed", "lower_95"] < 0).any()  # a net flow keeps the combined bounds
    # An erratic series' 80 % bounds sit at the Gaussian share of its 95 % distance, not its error shape.
    gaussian = norm.ppf(0.90) / norm.ppf(0.975)
    assert auto.interval_shape_.loc["erratic", 80] == pytest.approx(gaussian)
    assert auto.interval_shape_.loc["smooth", 80] != pytest.approx(gaussian)
    rows = forecast.loc["erratic"]
    share = (rows["upper_80"] - rows["forecast"]) / (rows["upper_95"] - rows["forecast"])
    np.testing.assert_allclose(share, gaussian)


def test_sparse_series_intervals_cover_held_out_months_at_nominal_rates() -> None:
    """Thirty planted intermittent and lumpy series, a year held out: the combination's 80 % and 95 %
    intervals cover close to 80 % and 95 % of the months (the error shape of ETS put the 80 % bounds
    on the forecast: most of its one-step errors are the zero months', all alike)."""
    rng = np.random.default_rng(21)
    series = {f"s{i}": _sparse(108, sigma, rng) for i, sigma in enumerate(np.linspace(0.3, 1.2, 30))}
    panel = panel_of(series)
    cutoff = pd.Period("2019-12", "M")
    auto = Auto(candidates=("ets", "croston", "imapa"), backtest_horizon=12).fit(panel.until(cutoff))
    forecast = auto.predict(12).set_index(["series_id", "month"])
    future = panel.records[panel.records["month"] > cutoff]
    actual = future.assign(series_id=future["series_id"].astype(str)).set_index(["series_id", "month"])[
        "value"
    ]
    for level, nominal in ((80, 0.80), (95, 0.95)):
        lower, upper = forecast[f"lower_{level}"], forecast[f"upper_{level}"]
        assert ((actual >= lower) & (actual <= upper)).mean() == pytest.approx(nominal, abs=0.04)
        assert (upper - lower > 0).all() and (lower >= 0).all()


def test_a_sparse_series_that_restarted_keeps_upper_bounds_above_its_forecast() -> None:
    """BTS bus passengers at a port: zero for years, then 40 and 90. Forecast near 80, its profile
    still said "zero most months", and its 80 and 95 % upper bounds fell on the forecast."""
    history = np.r_[np.zeros(118), 40.0, 90.0]
    profile = ZeroInflated.from_history(history)
    months = pd.period_range("2024-01", periods=3, freq="M")
    combined = pd.DataFrame(
        {"series_id": "port", "month": months, "forecast": 80.0}
        | {"lower_80": 40.0, "upper_80": 120.0, "lower_95": 10.0, "upper_95": 160.0}
    )
    out = zero_inflated_intervals(combined, {"port": profile}, (80, 95))
    assert (profile.bounds(np.full(3, 80.0), (80, 95))["upper_95"] < 80).all()  # the profile's own
    assert out["upper_80"].tolist() == [120.0] * 3 and out["upper_95"].tolist() == [160.0] * 3
    assert out["lower_80"].tolist() == [0.0] * 3  # the zero months still fill the lower tail
    at_its_mean = zero_inflated_intervals(combined.assign(forecast=1.1), {"port": profile}, (80, 95))
    expected = profile.bounds(np.full(3, 1.1), (80, 95))
    np.testing.assert_allclose(at_its_mean["upper_95"], np.maximum(expected["upper_95"], 1.1))
