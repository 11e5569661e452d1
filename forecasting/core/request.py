"""The forecast request: how far ahead and at which interval levels, validated once.

Every entry point builds one :class:`ForecastRequest` (the ``forecast`` and
``backtest`` commands from ``--horizon``/``--levels``, a job from ``job.horizon``/
``job.levels``, :class:`forecasting.Forecaster` from ``h``/``level``) and the layers
below take its ``levels``: models forecast ``lower_<l>``/``upper_<l>`` for each, the
metrics score coverage and width at each (MSIS at the widest), calibration and
reconciliation adjust each, and the export writes each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from forecasting.core.constants import DEFAULT_LEVELS, MAX_HORIZON
from forecasting.core.intervals import interval_columns
from forecasting.errors import ConfigError


def parse_levels(levels: Any, *, key: str = "levels", allow_empty: bool = False) -> tuple[int, ...]:
    """``levels`` as a sorted tuple of distinct ints in (0, 100); ConfigError naming ``key`` otherwise.

    Accepts a sequence of ints (whole floats such as ``80.0`` too), a single int, or
    a comma-separated string (``"50,90"``, the command line's spelling).
    """
    values: Iterable[Any]
    if isinstance(levels, str):
        values = [part.strip() for part in levels.split(",")] if levels.strip() else []
    elif isinstance(levels, Integral | Real) and not isinstance(levels, bool):
        values = [levels]
    elif isinstance(levels, Iterable):
        values = list(levels)
    else:
        raise ConfigError(f"must be interval levels in (0, 100), e.g. 80,95. Got {levels!r}", key=key)
    parsed = [_level(value, key) for value in values]
    if not parsed and not allow_empty:
        raise ConfigError("must name at least one interval level in (0, 100), e.g. 80,95", key=key)
    duplicates = sorted({level for level in parsed if parsed.count(level) > 1})
    if duplicates:
        raise ConfigError(f"must not repeat a level. Got {duplicates[0]} twice in {list(parsed)}", key=key)
    return tuple(sorted(parsed))


def _level(value: Any, key: str) -> int:
    if isinstance(value, str):
        try:
            value = float(value) if value.strip() else None
        except ValueError:
            value = None
    ok = (
        isinstance(value, Integral | Real)
        and not isinstance(value, bool)
        and float(value).is_integer()
        and 0 < float(value) < 100
    )
    if not ok:
        raise ConfigError(
            f"must hold whole numbers strictly between 0 and 100, e.g. 80,95. Got {value!r}", key=key
        )
    return int(value)


def parse_horizon(horizon: Any, *, key: str = "horizon") -> int:
    """``horizon`` as an int in 1..MAX_HORIZON; ConfigError naming ``key`` otherwise."""
    if isinstance(horizon, bool) or not isinstance(horizon, Integral) or not 1 <= horizon <= MAX_HORIZON:
        raise ConfigError(
            f"must be a positive whole number of months, at most {MAX_HORIZON} months (100 years). "
            f"Got {horizon!r}",
            key=key,
        )
    return int(horizon)


@dataclass(frozen=True)
class ForecastRequest:
    """What a forecast is asked for: ``horizon`` months ahead, intervals at ``levels`` percent.

    Validated on construction (:func:`parse_horizon`, :func:`parse_levels`): ``levels``
    are stored sorted, distinct, ints in (0, 100); an empty tuple asks for point
    forecasts only. ``ForecastRequest(12)`` asks for :data:`DEFAULT_LEVELS`.
    """

    horizon: int
    levels: tuple[int, ...] = DEFAULT_LEVELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizon", parse_horizon(self.horizon))
        object.__setattr__(self, "levels", parse_levels(self.levels, allow_empty=True))

    @classmethod
    def parse(
        cls,
        horizon: Any,
        levels: Any = DEFAULT_LEVELS,
        *,
        horizon_key: str = "horizon",
        levels_key: str = "levels",
        allow_empty: bool = False,
    ) -> ForecastRequest:
        """A request from user input, errors naming the keys they came from (``--levels``, ``job.levels``)."""
        return cls(
            parse_horizon(horizon, key=horizon_key),
            parse_levels(levels, key=levels_key, allow_empty=allow_empty),
        )

    @property
    def widest(self) -> int | None:
        """The widest requested level (MSIS is scored there), None without intervals."""
        return self.levels[-1] if self.levels else None

    def interval_columns(self) -> list[str]:
        """``lower_<l>, upper_<l>`` for each level, ascending."""
        return interval_columns(self.levels)
