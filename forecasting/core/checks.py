"""Argument checks shared by the models, the backtest and the feature builders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def check_horizon(horizon: Any) -> int:
    """``horizon`` as an int; ValueError unless it is a positive integer."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(
            f"The 'horizon' parameter of predict must be a positive int. Got {horizon!r} instead."
        )
    return int(horizon)


def check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    """Interval levels sorted; ValueError unless each lies strictly between 0 and 100."""
    checked = tuple(sorted(int(level) for level in levels))
    if any(not 0 < level < 100 for level in checked):
        raise ValueError(
            f"The 'levels' parameter of predict must hold ints in (0, 100). Got {levels!r} instead."
        )
    return checked
