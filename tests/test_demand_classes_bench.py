"""``benchmarks/demand_classes.py --input``: every model forecasts the series ``forecast`` would forecast."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import load_benchmark

from forecasting.panel import SeriesPanel


@pytest.fixture(scope="module")
def demand_classes():
    return load_benchmark("demand_classes")


def _records(series_id: str, first: str, last: str) -> pd.DataFrame:
    months = pd.period_range(first, last, freq="M")
    return pd.DataFrame({"series_id": series_id, "month": months, "value": range(1, len(months) + 1)})


def test_input_panels_keep_the_forecast_series_long_enough_for_the_peers(demand_classes, capsys) -> None:
    train = SeriesPanel(
        pd.concat(
            [
                _records("active", "2015-01", "2022-12"),
                _records("ended", "2015-01", "2021-06"),  # 18 months behind at the cutoff: stale
                _records("new", "2021-01", "2022-12"),  # 24 months: too short for two 12-month windows
            ],
            ignore_index=True,
        )
    )
    months = pd.PeriodIndex(["2023-01", "2023-01"], freq="M")
    test = pd.DataFrame({"series_id": ["active", "new"], "month": months, "value": 1.0})
    kept, scored = demand_classes.forecast_part(train, test, 12, peers=True)
    assert kept.series_ids == ["active"]
    assert list(scored["series_id"]) == ["active"]
    assert "stale at the cutoff, left out as forecast leaves them: 1" in capsys.readouterr().err
    kept, _ = demand_classes.forecast_part(train, test, 12, peers=False)
    assert kept.series_ids == ["active", "new"]
