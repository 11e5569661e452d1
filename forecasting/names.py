"""Names that become folder names: an MLflow experiment's artifacts live in ``mlruns/<experiment>/``.

Checked where they enter (job config, CLI flags) and again where they are used
as a path (:func:`forecasting.tracking.ensure_experiment`), so ``../../x``, an
absolute path or a name with a trailing newline never places runs and models
outside the store.
"""

from __future__ import annotations

import re

from forecasting.errors import ConfigError

MAX_NAME_LENGTH = 100
EXPERIMENT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}")
"""Letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most 100 characters."""


def check_experiment_name(name: object, *, key: str = "tracking.experiment", file: str | None = None) -> str:
    """An experiment name safe as one folder name: no separators, no ``..``, bounded, one line."""
    if not isinstance(name, str) or not EXPERIMENT_NAME.fullmatch(name) or ".." in name:
        shown = name if not isinstance(name, str) or len(name) <= 60 else name[:60] + "..."
        raise ConfigError(
            f"must be 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-' (no '..', no path). Got {shown!r}",
            key=key,
            file=file,
        )
    return name
