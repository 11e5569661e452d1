"""Parameter constraints in scikit-learn's style, checked on the driver before any work is sent out.

An estimator declares ``_parameter_constraints``: for each constructor
parameter, the constraints of which a valid value meets at least one. A bad
value raises a :class:`~forecasting.errors.ConfigError` naming the parameter,
e.g. "The 'search' parameter of Arima must be one of {'fast', 'mle'}. Got
'bogus' instead." (exit 2 from the command line), instead of failing on every
series and being reported as a fallback.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from forecasting.errors import ConfigError


class Constraint(ABC):
    """One acceptable kind of value; ``str()`` describes it for the error message."""

    @abstractmethod
    def accepts(self, value: Any) -> bool:
        """Whether ``value`` meets this constraint."""

    @abstractmethod
    def __str__(self) -> str:
        """The constraint in words, for the error message."""


class Options(Constraint):
    """One of a fixed set of values (compared with their type: ``True`` is not ``1``)."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(option) and value == option for option in self.values)

    def __str__(self) -> str:
        if self.values == (None,):
            return "None"
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"


class Interval(Constraint):
    """A number of ``kind`` (``Integral`` or ``Real``; never a bool) within ``[low, high]``.

    ``closed`` is "both", "left", "right" or "neither"; a missing bound is infinite.
    """

    def __init__(self, kind: type, low: float | None, high: float | None, closed: str = "both") -> None:
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if self.kind is Real and not math.isfinite(value):
            return False
        low_ok = (
            self.low is None or value > self.low or (value == self.low and self.closed in ("both", "left"))
        )
        high_ok = (
            self.high is None
            or value < self.high
            or (value == self.high and self.closed in ("both", "right"))
        )
        return low_ok and high_ok

    def __str__(self) -> str:
        kind = "an int" if self.kind is Integral else "a float"
        left = "-inf" if self.low is None else f"{self.low}"
        right = "inf" if self.high is None else f"{self.high}"
        opening = "[" if self.low is not None and self.closed in ("both", "left") else "("
        closing = "]" if self.high is not None and self.closed in ("both", "right") else ")"
        return f"{kind} in the range {opening}{left}, {right}{closing}"


class InstanceOf(Constraint):
    """An instance of ``kind`` (a bool only when ``kind`` is bool)."""

    def __init__(self, kind: type, label: str) -> None:
        self.kind, self.label = kind, label

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) and self.kind is not bool:
            return False
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        return self.label


class Satisfies(Constraint):
    """Any value for which ``check`` returns True, described by ``label``."""

    def __init__(self, check: Callable[[Any], bool], label: str) -> None:
        self.check, self.label = check, label

    def accepts(self, value: Any) -> bool:
        return bool(self.check(value))

    def __str__(self) -> str:
        return self.label


NONE = Options(None)
BOOLEAN = InstanceOf(bool, "a bool")
POSITIVE_INT = Interval(Integral, 1, None)
NON_NEGATIVE_INT = Interval(Integral, 0, None)
N_JOBS = [NONE, POSITIVE_INT, Interval(Integral, None, -1)]
"""joblib's convention: a number of workers, or -1 for all cores (-2 all but one, ...)."""


def int_sequence(low: int) -> Satisfies:
    """A list or tuple of ints, each at least ``low``."""
    item = Interval(Integral, low, None)
    return Satisfies(
        lambda value: isinstance(value, list | tuple) and all(item.accepts(v) for v in value),
        f"a list of ints >= {low}",
    )


def _is_level_list(value: Any) -> bool:
    level = Interval(Integral, 1, 99)
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(level.accepts(v) for v in value)
        and len(set(value)) == len(value)
    )


LEVEL_LIST = Satisfies(_is_level_list, "a non-empty list of distinct ints in (0, 100)")
"""Interval levels as a model parameter (a forecast request's ``levels``)."""


def validate_params(
    owner: str, params: Mapping[str, Any], constraints: Mapping[str, Sequence[Constraint]]
) -> None:
    """ConfigError for the first parameter whose value meets none of its constraints."""
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None or any(constraint.accepts(value) for constraint in allowed):
            continue
        described = [str(constraint) for constraint in allowed]
        expected = described[0] if len(described) == 1 else ", ".join(described[:-1]) + " or " + described[-1]
        raise ConfigError(f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")


def check_param_names(owner: str, given: Sequence[str], known: Sequence[str]) -> None:
    """ConfigError naming a parameter the estimator does not have."""
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ConfigError(
            f"The {unknown[0]!r} parameter is not a parameter of {owner}. Known parameters: {sorted(known)}."
        )
