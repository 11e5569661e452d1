"""make_exog: regressors for every training month and for any horizon, in the exog format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.core.exog import exog_matrices
from forecasting.errors import ConfigError
from forecasting.features.calendar import CALENDAR_COLUMNS
from forecasting.features.interventions import Event
from forecasting.features.regressors import make_exog
from forecasting.panel import SeriesPanel


def _panel() -> SeriesPanel:
    frames = [
        pd.DataFrame({"series_id": "p", "month": pd.period_range("2018-01", "2022-12", freq="M"),
                      "value": 1.0, "flow": "passengers"}),
        pd.DataFrame({"series_id": "c", "month": pd.period_range("2019-06", "2023-03", freq="M"),
                      "value": 2.0, "flow": "cargo"}),
    ]  # fmt: skip
    return SeriesPanel(pd.concat(frames, ignore_index=True))


@pytest.mark.parametrize("horizon", [1, 36])
def test_calendar_regressors_exist_for_training_and_any_horizon(horizon: int) -> None:
    panel = _panel()
    X, X_future = make_exog(panel, horizon)
    assert "series_id" not in X.columns and list(X.columns) == ["month", *CALENDAR_COLUMNS]
    for series_id in panel.series_ids:
        months = panel.series(series_id).index
        [matrix] = exog_matrices(X, [(series_id, months)], "X")
        assert matrix.shape == (len(months), len(CALENDAR_COLUMNS))
        future = pd.period_range(months[-1] + 1, periods=horizon, freq="M")
        [matrix] = exog_matrices(X_future, [(series_id, future)], "X_future")
        assert matrix.shape == (horizon, len(CALENDAR_COLUMNS)) and np.isfinite(matrix).all()


def test_events_give_per_series_rows_with_future_values() -> None:
    panel = _panel()
    closure = Event("closure", "pulse", "2020-02", "2023-01", series={"flow": "passengers"})
    bridge = Event("bridge", "step", "2022-06", series={"flow": "cargo"})
    X, X_future = make_exog(panel, 36, events=[closure, bridge])
    assert {"series_id", "closure", "bridge", "spring_festival_days"} <= set(X.columns)
    passengers_future = X_future[X_future["series_id"] == "p"].set_index("month")
    # passengers end 2022-12: the closure still runs in 2023-01, then it is over
    assert passengers_future.loc[pd.Period("2023-01", "M"), "closure"] == 1
    assert passengers_future["closure"].sum() == 1
    cargo_future = X_future[X_future["series_id"] == "c"]
    assert len(cargo_future) == 36 and (cargo_future["bridge"] == 1).all()
    assert cargo_future["month"].min() == pd.Period("2023-04", "M")
    cargo_past = X[X["series_id"] == "c"].set_index("month")["bridge"]
    assert cargo_past.sum() == len(pd.period_range("2022-06", "2023-03", freq="M"))


def test_events_only_and_nothing_to_build() -> None:
    X, _ = make_exog(
        _panel(), 6, events=[{"name": "shock", "kind": "pulse", "start": "2020-03"}], calendar=False
    )
    assert list(X.columns) == ["series_id", "month", "shock"]
    with pytest.raises(ConfigError):
        make_exog(_panel(), 6, calendar=False)
    with pytest.raises(ValueError, match="horizon"):
        make_exog(_panel(), 0)
