"""The simulated trade panel of ``benchmarks/trade_speed.py``: the Swiss mix of demand classes, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_benchmark

from forecasting.core.demand import classify

SWISS_SHARES = {"smooth": 380 / 539, "erratic": 109 / 539, "intermittent": 4 / 539, "lumpy": 46 / 539}
"""The Swiss exports panel's classes on its training history (docs/benchmarks.md)."""


@pytest.fixture(scope="module")
def trade_speed():
    return load_benchmark("trade_speed")


def history_classes(panel: pd.DataFrame, months: int) -> pd.Series:
    wide = panel.pivot(index="series_id", columns="month", values="value")
    return pd.Series([classify(row[:months]) for row in wide.to_numpy()], index=wide.index)


def test_quotas_round_shares_to_the_panel_size(trade_speed) -> None:
    assert trade_speed.class_quotas(SWISS_SHARES, 400) == {
        "smooth": 282,  # 282.0
        "erratic": 81,  # 80.9
        "intermittent": 3,  # 2.97
        "lumpy": 34,  # 34.1
    }
    assert trade_speed.class_quotas({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}


def test_simulated_panel_has_the_swiss_class_mix(trade_speed) -> None:
    panel = trade_speed.simulated_panel(400, SWISS_SHARES, seed=3)
    months = trade_speed.HISTORY_MONTHS + trade_speed.HORIZON
    assert len(panel) == 400 * months and panel["series_id"].nunique() == 400
    assert panel.groupby("series_id")["month"].nunique().eq(months).all()

    shares = history_classes(panel, trade_speed.HISTORY_MONTHS).value_counts(normalize=True)
    for name, share in SWISS_SHARES.items():
        assert shares.get(name, 0.0) == pytest.approx(share, abs=0.01), name


def test_simulated_panel_spans_the_trade_scales(trade_speed) -> None:
    panel = trade_speed.simulated_panel(400, SWISS_SHARES, seed=3)
    assert (panel["value"] >= 0).all() and np.isfinite(panel["value"]).all()
    means = panel.groupby("series_id")["value"].mean()
    assert means.min() < 1e-5 and means.max() > 1e2
    zero_share = panel["value"].eq(0).groupby(panel["series_id"]).mean()
    assert zero_share.gt(0.3).sum() >= 30  # the sparse series have many months of zero


def test_simulated_panel_is_seeded(trade_speed) -> None:
    first = trade_speed.simulated_panel(50, SWISS_SHARES, seed=7)
    pd.testing.assert_frame_equal(first, trade_speed.simulated_panel(50, SWISS_SHARES, seed=7))
    assert not np.allclose(first["value"], trade_speed.simulated_panel(50, SWISS_SHARES, seed=8)["value"])
