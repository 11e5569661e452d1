"""Ensembles: combinations equal the hand-combined member forecasts; failures are reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel
from sklearn.base import clone

from forecasting.errors import ModelError
from forecasting.models.base import PanelForecaster
from forecasting.models.baselines import Drift, Naive, SeasonalNaive
from forecasting.models.ensemble import Ensemble
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

BOUNDS = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
MEMBERS = ("seasonal_naive", "drift", "naive")


class Broken(PanelForecaster):
    """A member that cannot fit anything."""

    name = "broken"

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        raise np.linalg.LinAlgError("no convergence")


def _member_stack(panel: SeriesPanel, horizon: int) -> np.ndarray:
    """Members' forecasts as an array (member, row, bound)."""
    return np.stack([make_model(m).fit(panel).predict(horizon)[BOUNDS].to_numpy() for m in MEMBERS])


@pytest.mark.parametrize("method", ["median", "mean"])
def test_mean_and_median_combine_every_bound(small_panel: SeriesPanel, method: str) -> None:
    forecast = Ensemble(members=MEMBERS, method=method).fit(small_panel).predict(6)
    stack = _member_stack(small_panel, 6)
    expected = np.median(stack, axis=0) if method == "median" else stack.mean(axis=0)
    np.testing.assert_allclose(forecast[BOUNDS].to_numpy(), expected)
    assert list(forecast.columns) == ["series_id", "month", "model", *BOUNDS]
    assert (forecast["model"] == "ensemble").all()
    assert forecast.groupby("series_id")["month"].min().astype(str).eq("2021-01").all()
    assert (forecast["lower_95"] <= forecast["lower_80"]).all()
    assert (forecast["upper_80"] <= forecast["upper_95"]).all()


def test_weighted_favours_the_member_with_the_better_backtest(small_panel: SeriesPanel) -> None:
    model = Ensemble(members=MEMBERS, method="weighted", backtest_horizon=6, backtest_folds=2).fit(
        small_panel
    )
    weights = model.weights_.pivot(index="series_id", columns="model", values="weight")
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # The panel is strongly seasonal: seasonal naive beats naive and drift in every backtest.
    assert (weights.idxmax(axis=1) == "seasonal_naive").all()
    forecast = model.predict(4)
    stack = _member_stack(small_panel, 4)
    per_row = weights.loc[forecast["series_id"], list(MEMBERS)].to_numpy()
    expected = np.einsum("mrb,rm->rb", stack, per_row)
    np.testing.assert_allclose(forecast[BOUNDS].to_numpy(), expected)


def test_series_too_short_for_the_backtest_get_equal_weights() -> None:
    records = seasonal_panel(n_series=2, n_months=60).to_long()
    short = records[(records["series_id"] == "s1") & (records["month"] >= pd.Period("2019-06", "M"))]
    panel = SeriesPanel(pd.concat([records[records["series_id"] == "s0"], short.assign(series_id="short")]))
    model = Ensemble(members=MEMBERS, method="weighted", backtest_horizon=12, backtest_folds=2).fit(panel)
    equal = model.weights_[model.weights_["series_id"] == "short"]
    assert set(equal["source"]) == {"equal"}
    np.testing.assert_allclose(equal["weight"], 1 / 3)
    # The short series (7 months) falls back inside seasonal naive, and that is reported.
    assert ("short", "seasonal_naive", "naive") in set(
        model.fallbacks_[["series_id", "model", "fallback"]].itertuples(index=False, name=None)
    )


def test_instances_clone_and_failed_member_is_reported(small_panel: SeriesPanel) -> None:
    ensemble = Ensemble(members=(SeasonalNaive(), Drift(), Broken()), method="mean")
    copy = clone(ensemble)
    assert copy.get_params()["method"] == "mean"
    fitted = copy.fit(small_panel)
    assert [m.model_name for m in fitted.members_] == ["seasonal_naive", "drift"]
    broken = fitted.fallbacks_[fitted.fallbacks_["model"] == "broken"]
    assert sorted(broken["series_id"]) == ["s0", "s1", "s2"]
    assert "no convergence" in broken["reason"].iloc[0]
    forecast = fitted.predict(2)
    two = np.stack([m().fit(small_panel).predict(2)[BOUNDS].to_numpy() for m in (SeasonalNaive, Drift)])
    np.testing.assert_allclose(forecast[BOUNDS].to_numpy(), two.mean(axis=0))
    with pytest.raises(ModelError, match="every member failed"):
        Ensemble(members=(Broken(),)).fit(small_panel)
    with pytest.raises(ValueError, match="distinct"):
        Ensemble(members=(Naive(), "naive")).fit(small_panel)
    with pytest.raises(ValueError, match="'method'"):
        Ensemble(members=MEMBERS, method="vote").fit(small_panel)
