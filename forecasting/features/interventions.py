"""Intervention regressors: step, pulse and ramp dummies for known events.

Border closures, bridge openings and sanctions are known in advance or once
they happen, so their dummies are defined for any month, future included: a
closure that has ended is 0, a step stays 1, a ramp keeps rising to its end
and then holds at 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecasting.data.parsing import FIRST_MONTH, LAST_MONTH
from forecasting.errors import ConfigError, DataError

EventKind = Literal["step", "pulse", "ramp"]
EVENT_KINDS: tuple[str, ...] = ("step", "pulse", "ramp")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

SeriesFilter = Mapping[str, str | Sequence[str]] | Sequence[str] | None


@dataclass(frozen=True)
class Event:
    """A known intervention and the series it touches.

    ``kind``: ``"step"`` is 1 from ``start`` on (``end`` must be None);
    ``"pulse"`` is 1 from ``start`` to ``end`` inclusive (``end`` defaults to
    ``start``: a one-month pulse) and 0 afterwards, e.g. a border closure;
    ``"ramp"`` rises linearly over ``start..end`` (``1/n`` in the first month,
    1 in the last) and holds at 1 afterwards. ``series`` selects the series:
    None for all, a mapping of dimension -> value(s) such as
    ``{"flow": "passengers"}``, or a sequence of series ids.
    """

    name: str
    kind: EventKind
    start: str | pd.Period
    end: str | pd.Period | None = None
    series: SeriesFilter = None

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Event:
        """An event from a job-config entry, validated, with the key named on error."""
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ConfigError(f"unknown event key(s) {unknown}; allowed: {sorted(allowed)}", key=unknown[0])
        missing = [key for key in ("name", "kind", "start") if key not in config]
        if missing:
            raise ConfigError(f"event needs {missing}", key=missing[0])
        event = cls(**dict(config))
        event.window()
        return event

    def window(self) -> tuple[pd.Period, pd.Period | None]:
        """Validated ``(start, end)`` months; raises :class:`ConfigError` naming the event."""
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"event name must be a lowercase identifier. Got {self.name!r}.", key="name")
        if self.kind not in EVENT_KINDS:
            raise ConfigError(f"event {self.name!r}: kind must be one of {EVENT_KINDS}. Got {self.kind!r}.")
        start = _month(self.start, self.name, "start")
        end = None if self.end is None else _month(self.end, self.name, "end")
        if self.kind == "step" and end is not None:
            raise ConfigError(f"event {self.name!r}: a step has no end (use a pulse for a temporary shift)")
        if self.kind == "ramp" and end is None:
            raise ConfigError(f"event {self.name!r}: a ramp needs an end month", key="end")
        if self.kind == "pulse" and end is None:
            end = start
        if end is not None and end < start:
            raise ConfigError(f"event {self.name!r}: end {end} is before start {start}", key="end")
        return start, end

    def values(self, months: pd.PeriodIndex) -> np.ndarray:
        """The dummy for each month (any months, past or future)."""
        start, end = self.window()
        ordinal = months.asi8
        if self.kind == "step":
            return (ordinal >= start.ordinal).astype("float64")
        if self.kind == "pulse":
            return ((ordinal >= start.ordinal) & (ordinal <= end.ordinal)).astype("float64")
        length = end.ordinal - start.ordinal + 1
        return np.clip((ordinal - start.ordinal + 1) / length, 0.0, 1.0)

    def applies_to(self, series_ids: Sequence[str], metadata: pd.DataFrame | None) -> np.ndarray:
        """Which of ``series_ids`` the event touches."""
        ids = pd.Index(series_ids, dtype="object")
        if self.series is None:
            return np.ones(len(ids), dtype=bool)
        if not isinstance(self.series, Mapping):
            wanted = [self.series] if isinstance(self.series, str) else list(self.series)
            return ids.isin(wanted)
        if metadata is None:
            raise ConfigError(f"event {self.name!r} filters by dimensions but no series metadata was given")
        mask = np.ones(len(ids), dtype=bool)
        for column, allowed in self.series.items():
            if column not in metadata.columns:
                raise ConfigError(f"event {self.name!r}: unknown dimension {column!r}", key=column)
            accepted = [allowed] if isinstance(allowed, str) else list(allowed)
            mask &= metadata.reindex(ids)[column].isin(accepted).to_numpy(dtype=bool)
        return mask


def _month(value: str | pd.Period, name: str, key: str) -> pd.Period:
    try:
        month = pd.Period(value, freq="M")
    except (TypeError, ValueError) as error:
        raise ConfigError(f"event {name!r}: {key} {value!r} is not a month (YYYY-MM)", key=key) from error
    if not FIRST_MONTH <= month <= LAST_MONTH:
        raise ConfigError(f"event {name!r}: {key} {month} is outside {FIRST_MONTH}..{LAST_MONTH}", key=key)
    return month


def events_from_config(entries: Iterable[Mapping[str, Any] | Event]) -> list[Event]:
    """Events from a list of dicts (job config), rejecting duplicate names."""
    events = [entry if isinstance(entry, Event) else Event.from_dict(entry) for entry in entries]
    names = [event.name for event in events]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigError(f"duplicate event name(s) {duplicated}", key="name")
    for event in events:
        event.window()
    return events


def intervention_features(
    events: Iterable[Mapping[str, Any] | Event],
    months: pd.PeriodIndex,
    series_ids: Sequence[str],
    metadata: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per series and month, one column per event (0 where it does not apply).

    ``metadata`` (``SeriesPanel.metadata``) is needed for events that select
    series by dimension.
    """
    checked = events_from_config(events)
    try:
        months = pd.PeriodIndex(months, freq="M")
    except (TypeError, ValueError) as error:
        raise DataError(f"months must be monthly periods: {error}", column="month") from error
    ids = [str(s) for s in series_ids]
    frame = pd.DataFrame(
        {
            "series_id": np.repeat(ids, len(months)),
            "month": pd.PeriodIndex(np.tile(months, len(ids)), freq="M"),
        }
    )
    for event in checked:
        applies = np.repeat(event.applies_to(ids, metadata), len(months))
        frame[event.name] = np.where(applies, np.tile(event.values(months), len(ids)), 0.0)
    return frame
