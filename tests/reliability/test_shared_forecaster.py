"""Issue 27, item 5: threads sharing one ``Forecaster`` each get their own series back.

``forecast`` used to store what it fitted on the object and then read it back
to predict, so a second thread's fit in between handed the first thread the
second one's models and series. Each call now answers from what it fitted
itself; the fitted attributes are replaced (and read by ``predict``) as one set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import pytest

from forecasting import Forecaster
from forecasting.models.baselines import Naive
from forecasting.panel import SeriesPanel
from forecasting.sample import load_sample

pytestmark = pytest.mark.timeout(120)

SLOW_FIT, SLOW_PREDICT = "slow-fit", "slow-predict"
"""Markers in a series id: fitting it pauses, or predicting after fitting it pauses."""


class Paced(Naive):
    """Naive with pauses that line two threads up: B stores its fit while A is still predicting."""

    def fit(self, panel: SeriesPanel, X: pd.DataFrame | None = None) -> Paced:
        if any(SLOW_FIT in sid for sid in panel.series_ids):
            time.sleep(0.5)
        return super().fit(panel, X)

    def predict(self, horizon: int, X_future: Any = None, levels: Sequence[int] = (80, 95)) -> pd.DataFrame:
        forecasts = super().predict(horizon, X_future, levels)
        if any(SLOW_PREDICT in sid for sid in self.models_):
            time.sleep(1.5)
        return forecasts


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_sample().to_long()[["series_id", "month", "value", "flow", "unit"]]


def _subset(sample: pd.DataFrame, ids: Sequence[str], marker: str = "") -> pd.DataFrame:
    frame = sample[sample["series_id"].isin(ids)].copy()
    frame["series_id"] = frame["series_id"] + marker
    return frame


def _in_threads(calls: Sequence[Callable[[], pd.DataFrame]]) -> list[pd.DataFrame]:
    """Run the calls at once, one thread each; their results in order (a thread's error is raised)."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_a_fit_stored_by_another_thread_mid_forecast_is_not_read(sample: pd.DataFrame) -> None:
    ids = sorted(sample["series_id"].unique())
    first = _subset(sample, ids[:3], f"/{SLOW_PREDICT}")  # stores its fit at once, then predicts slowly
    second = _subset(sample, ids[3:6], f"/{SLOW_FIT}")  # stores its fit while the first still predicts
    shared = Forecaster([Paced()])
    got = _in_threads([lambda: shared.forecast(first, h=2), lambda: shared.forecast(second, h=2)])
    for frame, wanted in zip(got, (first, second), strict=True):
        assert sorted(frame["series_id"].unique()) == sorted(wanted["series_id"].unique())
        assert len(frame) == 2 * wanted["series_id"].nunique() and frame.notna().all().all()
    assert set(shared.panel_.series_ids) in ({*first["series_id"]}, {*second["series_id"]})
    assert set(shared.layout_.ids) == set(shared.panel_.series_ids), "fitted attributes from two fits"


def test_threads_on_the_bundled_sample_get_what_a_lone_call_gets(sample: pd.DataFrame) -> None:
    ids = sorted(sample["series_id"].unique())
    groups = [ids[0:3], ids[3:6], ids[6:9], ids[9:]]
    frames = [_subset(sample, group) for group in groups]
    models = {"naive": "naive", "snaive": "seasonal_naive", "drift": "drift"}
    alone = [Forecaster(models).forecast(frame, h=6, level=(80,)) for frame in frames]
    shared = Forecaster(models)
    for _ in range(3):  # a few rounds: each thread's own series and numbers, every time
        got = _in_threads([lambda frame=frame: shared.forecast(frame, h=6, level=(80,)) for frame in frames])
        for mine, expected in zip(got, alone, strict=True):
            pd.testing.assert_frame_equal(mine, expected)
