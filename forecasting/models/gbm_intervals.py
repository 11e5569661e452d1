"""The global model's conformal intervals: the rolling-origin refits' windows, the offsets from their errors.

Split conformal calibration: the model is refitted on truncated histories
(rolling origin, inside the training data) and its errors per forecast step,
scaled by each series' MASE scale, give the interval quantiles. Steps beyond
the calibrated horizon reuse the last step's scores widened by
``sqrt(h / calibrated horizon)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from forecasting.core.conformal import conformal_bounds
from forecasting.core.constants import SEASON_LENGTH
from forecasting.models.gbm_series import fallback_reasons

CALIBRATION_SCORES = 100
"""Scaled errors per horizon step the automatic number of calibration windows aims for."""
MAX_CALIBRATION_WINDOWS = 12


def calibration_windows(
    history: np.ndarray,
    modelled: np.ndarray,
    horizon: int,
    step: int | None,
    n_windows: int | None,
    min_obs: int,
    nonnegative: bool,
) -> list[tuple[int, np.ndarray]]:
    """``(cut, usable series)`` of each rolling-origin calibration refit, newest first.

    Window ``w`` refits on the history minus its last ``horizon + w * step``
    months (``step`` None: half the horizon); ``n_windows`` None takes as many
    as give about ``CALIBRATION_SCORES`` scores per step, 3 to 12.
    """
    step = step or max(1, horizon // 2)
    if n_windows is None:
        n_windows = min(
            MAX_CALIBRATION_WINDOWS, max(3, math.ceil(CALIBRATION_SCORES / max(modelled.sum(), 1)))
        )
    windows = []
    for window in range(n_windows):
        cut = history.shape[1] - horizon - window * step
        if cut < min_obs:
            break
        reasons = fallback_reasons(history[:, :cut], min_obs, nonnegative)
        usable = modelled & np.array([reason is None for reason in reasons])
        if not usable.any():
            break
        windows.append((cut, usable))
    return windows


def interval_offsets(scores: np.ndarray | None, horizon: int, levels: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-step interval offsets in error-scale units, from the conformal scores.

    Without calibration scores, a seasonal-naive Gaussian width is used
    (sigma ~ 1.25 x the seasonal naive MAE), reported in ``fallbacks_``.
    """
    steps = np.arange(1, horizon + 1)
    offsets: dict[str, np.ndarray] = {}
    for level in levels:
        alpha = 1 - level / 100
        if scores is None:
            width = norm.ppf(1 - alpha / 2) * 1.25 * np.sqrt(np.ceil(steps / SEASON_LENGTH))
            offsets[f"lower_{level}"], offsets[f"upper_{level}"] = -width, width
            continue
        calibrated = scores.shape[1]
        columns = np.minimum(steps, calibrated) - 1
        widen = np.sqrt(np.maximum(steps / calibrated, 1.0))
        lower, upper = conformal_bounds(scores[:, columns], alpha)
        offsets[f"lower_{level}"], offsets[f"upper_{level}"] = lower * widen, upper * widen
    return offsets
