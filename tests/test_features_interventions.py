"""Intervention dummies: values in and after the event window, series filters, config errors."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.features.interventions import Event, events_from_config, intervention_features

MONTHS = pd.period_range("2019-12", "2030-12", freq="M")
METADATA = pd.DataFrame(
    {"flow": ["passengers", "cargo"], "crossing": ["heihe", "heihe"]},
    index=pd.Index(["heihe/passengers/inbound", "heihe/cargo/road/import"], name="series_id"),
)


def _column(frame: pd.DataFrame, series_id: str, name: str) -> pd.Series:
    rows = frame[frame["series_id"] == series_id]
    return pd.Series(rows[name].to_numpy(), index=pd.PeriodIndex(rows["month"]))


def test_closure_pulse_is_one_inside_and_zero_after_also_in_the_future() -> None:
    closure = {"name": "closure", "kind": "pulse", "start": "2020-02", "end": "2023-01",
               "series": {"flow": "passengers"}}  # fmt: skip
    frame = intervention_features([closure], MONTHS, list(METADATA.index), METADATA)
    passengers = _column(frame, "heihe/passengers/inbound", "closure")
    assert passengers["2020-01"] == 0 and passengers["2020-02"] == 1 and passengers["2023-01"] == 1
    assert passengers["2023-02":].sum() == 0
    assert passengers.sum() == 36
    assert _column(frame, "heihe/cargo/road/import", "closure").sum() == 0


def test_step_stays_one_and_ramp_rises_then_holds() -> None:
    events = [
        Event("bridge", "step", "2022-06", series=["heihe/cargo/road/import"]),
        Event("recovery", "ramp", "2023-02", "2023-05"),
    ]
    frame = intervention_features(events, MONTHS, list(METADATA.index), METADATA)
    bridge = _column(frame, "heihe/cargo/road/import", "bridge")
    assert bridge[:"2022-05"].sum() == 0 and (bridge["2022-06":] == 1).all()
    assert _column(frame, "heihe/passengers/inbound", "bridge").sum() == 0
    ramp = _column(frame, "heihe/passengers/inbound", "recovery")
    assert ramp["2023-01":"2023-06"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert (ramp["2030-12"] == 1.0) and ramp[:"2023-01"].sum() == 0


def test_one_month_pulse_by_default_and_rows_for_every_series_and_month() -> None:
    frame = intervention_features([Event("strike", "pulse", "2024-03")], MONTHS, ["a", "b"])
    assert len(frame) == 2 * len(MONTHS)
    assert frame.groupby("series_id")["strike"].sum().tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"name": "x", "kind": "spike", "start": "2020-01"}, None),
        ({"name": "x", "kind": "step", "start": "2020-01", "end": "2021-01"}, None),
        ({"name": "x", "kind": "ramp", "start": "2020-01"}, "end"),
        ({"name": "x", "kind": "pulse", "start": "2021-01", "end": "2020-01"}, "end"),
        ({"name": "x", "kind": "pulse", "start": "soon"}, "start"),
        ({"name": "x", "kind": "pulse", "start": "2020-01", "colour": "red"}, "colour"),
        ({"kind": "pulse", "start": "2020-01"}, "name"),
        ({"name": "Bad Name", "kind": "pulse", "start": "2020-01"}, "name"),
    ],
)
def test_bad_event_config_names_the_key(config: dict, key: str | None) -> None:
    with pytest.raises(ConfigError) as raised:
        events_from_config([config])
    assert raised.value.key == key


def test_duplicate_names_and_dimension_filter_without_metadata_are_rejected() -> None:
    with pytest.raises(ConfigError, match="duplicate"):
        events_from_config([Event("a", "pulse", "2020-01"), Event("a", "step", "2021-01")])
    with pytest.raises(ConfigError, match="metadata"):
        intervention_features([Event("a", "pulse", "2020-01", series={"flow": "cargo"})], MONTHS, ["s"])
