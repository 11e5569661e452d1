"""Argument checks shared across layers: horizons and levels, job names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from forecasting.core.constants import ALIGNMENTS, MAX_HORIZON
from forecasting.errors import ConfigError, shorten

JOB_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""Matched with ``fullmatch``: a trailing newline or a 300-character name is not a job name."""


def check_horizon(horizon: Any) -> int:
    """``horizon`` as an int; ValueError unless it is a positive integer of at most :data:`MAX_HORIZON`."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(
            f"The 'horizon' parameter of predict must be a positive int. Got {horizon!r} instead."
        )
    if horizon > MAX_HORIZON:
        raise ValueError(
            f"The 'horizon' parameter of predict must be at most {MAX_HORIZON} (months). "
            f"Got {horizon!r} instead."
        )
    return int(horizon)


def check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    """Interval levels sorted; ValueError unless each lies strictly between 0 and 100, once.

    The models' own check; user input is parsed by :mod:`forecasting.core.request`.
    """
    checked = tuple(sorted(int(level) for level in levels))
    if any(not 0 < level < 100 for level in checked) or len(set(checked)) != len(checked):
        raise ValueError(
            f"The 'levels' parameter of predict must hold distinct ints in (0, 100). Got {levels!r} instead."
        )
    return checked


def check_align(align: object, *, key: str = "--align") -> str:
    """One of :data:`~forecasting.core.constants.ALIGNMENTS`; ConfigError naming ``key`` otherwise."""
    if align not in ALIGNMENTS:
        raise ConfigError(f"must be one of {', '.join(ALIGNMENTS)}. Got {align!r}", key=key)
    return str(align)


def check_job_name(name: object, *, key: str = "job.name", file: str | None = None) -> str:
    """A job name is used in file names (exports, lock, model folder): no separators, no ``..``."""
    if not isinstance(name, str) or not JOB_NAME.fullmatch(name):
        raise ConfigError(
            f"must be 1 to 64 lowercase letters, digits, '-' or '_'. Got {shorten(name)}", key=key, file=file
        )
    return name


MAX_EXPERIMENT_NAME_LENGTH = 100
EXPERIMENT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_EXPERIMENT_NAME_LENGTH - 1}}}")
"""Letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most 100 characters."""


def check_experiment_name(name: object, *, key: str = "tracking.experiment", file: str | None = None) -> str:
    """An MLflow experiment name safe as one folder name (its artifacts live in ``mlruns/<experiment>/``).

    No separators, no ``..``, bounded, one line: checked where names enter (job
    config, CLI flags) and again where they become a path, so runs and models
    never land outside the store.
    """
    if not isinstance(name, str) or not EXPERIMENT_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"must be 1-{MAX_EXPERIMENT_NAME_LENGTH} letters, digits, '.', '_' or '-' (no '..', no path). "
            f"Got {shorten(name)}",
            key=key,
            file=file,
        )
    return name
