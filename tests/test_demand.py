"""Demand classes (Syntetos-Boylan), zero-inflated bounds and the intermittent-demand members."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsforecast.models import ADIDA, IMAPA, TSB, CrostonOptimized
from test_models_statistical import panel_of

from forecasting.core.demand import (
    ADI_THRESHOLD,
    CV2_THRESHOLD,
    ZeroInflated,
    classify,
    demand_class,
    demand_statistics,
)
from forecasting.models.intermittent import TSB_ALPHAS
from forecasting.models.registry import make_model

INTERMITTENT_MEMBERS = ("croston", "tsb", "adida", "imapa")


def sparse_series(n: int, occurrence: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Months non-zero with probability ``occurrence``, sizes lognormal (CV^2 = exp(sigma^2) - 1)."""
    return (rng.random(n) < occurrence) * rng.lognormal(3.0, sigma, n)


def test_statistics_of_a_hand_counted_history() -> None:
    y = np.array([0, 4, 0, 0, 2, np.nan, 6, 0])  # 7 months observed, 3 non-zero: 4, 2, 6
    adi, cv2 = demand_statistics(y)
    assert adi == pytest.approx(7 / 3)
    assert cv2 == pytest.approx(4.0 / 16.0)  # sample variance 4, mean 4
    assert demand_statistics(np.zeros(5)) == (float("inf"), 0.0)
    assert demand_statistics(np.array([0.0, 3.0, 0.0])) == (3.0, 0.0)
    with warnings.catch_warnings():  # sizes near 1e-300 squared underflowed: a warning and a NaN class
        warnings.simplefilter("error")
        assert demand_statistics(y * 1e-300) == pytest.approx((7 / 3, 0.25))


def test_classes_at_the_thresholds() -> None:
    assert demand_class(ADI_THRESHOLD - 0.01, CV2_THRESHOLD - 0.01) == "smooth"
    assert demand_class(ADI_THRESHOLD - 0.01, CV2_THRESHOLD) == "erratic"
    assert demand_class(ADI_THRESHOLD, CV2_THRESHOLD - 0.01) == "intermittent"
    assert demand_class(ADI_THRESHOLD, CV2_THRESHOLD) == "lumpy"


def test_class_detection_on_planted_series() -> None:
    rng = np.random.default_rng(7)
    planted = {
        "smooth": 100 + rng.normal(0, 10, 120),
        "erratic": rng.lognormal(3.0, 1.2, 120),  # a value every month, CV^2 about 3
        "intermittent": sparse_series(120, 0.4, 0.3, rng),  # CV^2 about 0.1
        "lumpy": sparse_series(120, 0.4, 1.2, rng),
    }
    assert {name: classify(y) for name, y in planted.items()} == {name: name for name in planted}
    assert classify(np.zeros(24)) == "intermittent"  # never a demand: infinite interval, no spread


@pytest.mark.parametrize(("occurrence", "sigma"), [(0.4, 0.3), (0.4, 1.0), (0.7, 1.2), (0.25, 0.6)])
def test_zero_inflated_bounds_cover_a_planted_series_at_nominal_rates(
    occurrence: float, sigma: float
) -> None:
    """Bounds read from ten years of a planted series, about its true mean, cover the next year's
    months at the nominal rates (seeded simulation, 400 histories)."""
    rng = np.random.default_rng(11)
    mean = occurrence * np.exp(3.0 + sigma**2 / 2)
    covered = {80: [], 95: []}
    for _ in range(400):
        y = sparse_series(132, occurrence, sigma, rng)
        bounds = ZeroInflated.from_history(y[:120]).bounds(np.full(12, mean), (80, 95))
        for level in covered:
            inside = (y[120:] >= bounds[f"lower_{level}"]) & (y[120:] <= bounds[f"upper_{level}"])
            covered[level].append(inside.mean())
    assert np.mean(covered[80]) == pytest.approx(0.80, abs=0.015)
    assert np.mean(covered[95]) == pytest.approx(0.95, abs=0.01)


def test_zero_inflated_bounds_are_non_negative_nested_and_never_a_point_unless_constant() -> None:
    history = np.r_[np.zeros(9), 5.0, 8.0, 20.0]  # zero in 75 % of months: the 80 % quantile is zero
    profile = ZeroInflated.from_history(history)
    assert profile.occurrence == 0.25
    bounds = profile.bounds(np.array([2.75, 0.0]), (50, 80, 95))
    for level in (50, 80, 95):
        assert (bounds[f"lower_{level}"] == 0).all()  # the zero months fill the lower tail
    # The 50 % and 80 % quantiles are zero: the upper bound is the smallest size.
    np.testing.assert_allclose(bounds["upper_50"], [5.0, 5.0])
    assert (bounds["upper_80"] > 0).all() and (bounds["upper_95"] >= bounds["upper_80"]).all()
    assert bounds["upper_95"][0] == pytest.approx(20.0)  # sizes 5, 8, 20 twice: 5.6th of 6 by i / 7
    # Twice the history's mean: half the sizes twice as large (10, 16, 40 beside 5, 8, 20).
    assert profile.bounds(np.array([5.5]), (95,))["upper_95"][0] == pytest.approx(20.0 + 0.6 * 20.0)
    constant = ZeroInflated.from_history(np.full(24, 7.0)).bounds(np.full(3, 7.0), (80, 95))
    np.testing.assert_allclose([constant["lower_95"], constant["upper_95"]], 7.0)
    zeros = ZeroInflated.from_history(np.zeros(24)).bounds(np.zeros(3), (80,))
    assert (zeros["upper_80"] == 0).all()
    with pytest.raises(ValueError, match="never below zero"):
        ZeroInflated.from_history(np.array([1.0, -1.0]))


def test_intermittent_members_are_statsforecasts_forecasts_with_zero_inflated_bounds() -> None:
    rng = np.random.default_rng(3)
    series = {f"s{i}": sparse_series(120, 0.3, 0.5, rng) for i in range(3)}
    panel = panel_of(series)
    peers = {"croston": CrostonOptimized(), "adida": ADIDA(), "imapa": IMAPA()}
    for name in INTERMITTENT_MEMBERS:
        model = make_model(name).fit(panel)
        forecasts = model.predict(12)
        assert model.fallbacks_.empty, name
        for series_id, rows in forecasts.groupby("series_id"):
            y = series[series_id]
            alphas = getattr(model.models_[series_id], "alphas_", None)
            peer = peers[name] if name in peers else TSB(alpha_d=alphas[0], alpha_p=alphas[1])
            expected = peer.forecast(y, h=12)["mean"]
            np.testing.assert_allclose(rows["forecast"], expected, rtol=1e-12, err_msg=name)
            bounds = ZeroInflated.from_history(y).bounds(expected, (80, 95))
            for column in ("lower_80", "upper_80", "lower_95", "upper_95"):
                np.testing.assert_allclose(rows[column], bounds[column], rtol=1e-12, err_msg=name)
            assert (rows["lower_95"] == 0).all() and (rows["upper_80"] > rows["forecast"]).all()
        errors = model.in_sample_residuals()
        assert errors.shape == (120, 3) and np.isfinite(errors.iloc[-1]).all()


def test_tsb_chooses_its_smoothing_by_in_sample_error_and_a_negative_series_falls_back() -> None:
    rng = np.random.default_rng(5)
    demand = sparse_series(120, 0.5, 0.4, rng)
    stopped = np.r_[demand[:96], np.zeros(24)]  # demand ceased two years ago
    panel = panel_of({"stopped": stopped, "signed": demand - 5.0})
    model = make_model("tsb").fit(panel)
    assert model.models_["stopped"].alphas_ == (0.3, 0.1)  # among TSB_ALPHAS: a stop is followed
    slowest = make_model("tsb", alpha_d=min(TSB_ALPHAS), alpha_p=min(TSB_ALPHAS)).fit(panel)
    chosen, slow = (m.predict(1).set_index("series_id").loc["stopped", "forecast"] for m in (model, slowest))
    assert chosen < 0.1 * demand.mean() < slow
    fallback = model.fallbacks_.set_index("series_id")
    assert list(fallback.index) == ["signed"] and "below zero" in fallback.loc["signed", "reason"]
    assert slowest.models_["stopped"].alphas_ == (min(TSB_ALPHAS), min(TSB_ALPHAS))
