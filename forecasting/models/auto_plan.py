"""Which of ``auto``'s members suit each series (``decisions_``, ``plan_``), from its own history.

*Seasonality* by the M4 benchmarks' autocorrelation test
(:func:`~forecasting.core.seasonality.seasonal_acf`): the non-seasonal
baselines (naive, drift), when they are candidates, forecast only the series
without seasonality. *Length*: the global gradient-boosting members need
``global_min_obs`` months of a series (below two seasons they would only stand
in with a no-change forecast), the seasonal no-change members one season.
*Panel*: the global members need ``global_min_series`` series to learn from.
*Demand class* (``demand_class``, Syntetos-Boylan, from the average demand
interval and the spread of the non-zero sizes: :mod:`forecasting.core.demand`):
the intermittent-demand members (``INTERMITTENT_MEMBERS``) forecast only
intermittent and lumpy series never below zero. A member that does not suit a
series is not fitted for it, and ``plan_`` says why. Every member sees only
the last ``max_history`` months of a series (:func:`recent_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from forecasting.core.constants import SEASON_LENGTH
from forecasting.core.demand import SPARSE_CLASSES, demand_class, demand_statistics
from forecasting.core.seasonality import seasonal_acf
from forecasting.models.base import PanelForecaster, fill_gaps, series_arrays
from forecasting.models.intermittent import INTERMITTENT_MODELS
from forecasting.panel import SeriesPanel

DECISION_COLUMNS = [
    "series_id",
    "n_obs",
    "seasonal_acf",
    "seasonal",
    "adi",
    "cv2",
    "demand_class",
    "nonnegative",
    "members",
    "skipped",
]
PLAN_COLUMNS = ["series_id", "demand_class", "model", "used", "reason"]
INTERMITTENT_MEMBERS = tuple(model.name for model in INTERMITTENT_MODELS)
"""The intermittent-demand members (:mod:`forecasting.models.intermittent`)."""


class Role(NamedTuple):
    """Which series a member may forecast: non-seasonal ones only, or all (None), how long, and of
    which demand classes (None: all; else only series never below zero of these classes)."""

    season: str | None = None
    min_obs: int = 1
    demand: frozenset[str] | None = None


ROLES = {
    "seasonal_naive": Role(min_obs=SEASON_LENGTH),
    "seasonal_profile": Role(min_obs=SEASON_LENGTH),
    "naive": Role("nonseasonal", 2),
    "drift": Role("nonseasonal", 3),
    **{name: Role(min_obs=2, demand=SPARSE_CLASSES) for name in INTERMITTENT_MEMBERS},
}
"""Members with a restricted role; any other member (ETS, ARIMA, Theta, CES, a custom model) forecasts all."""
GLOBAL_MEMBERS = ("gbm", "gbm_median")
"""Global members: they need ``global_min_obs`` months of a series to fit it."""


def recent_history(panel: SeriesPanel, months: int | None) -> SeriesPanel:
    """Each series' last ``months`` months (the panel itself when None or when nothing is older)."""
    if months is None:
        return panel
    recent = _months_to_last(panel) < months
    return panel if recent.all() else panel.part(panel.records[recent])


def history_before(panel: SeriesPanel, months: int) -> SeriesPanel | None:
    """Each series without its last ``months`` months (None when no series has anything left)."""
    kept = panel.records[_months_to_last(panel) >= months]
    return panel.part(kept) if not kept.empty else None


def _months_to_last(panel: SeriesPanel) -> np.ndarray:
    """Per record, the months from it to its series' last month."""
    records = panel.records
    last = records.groupby("series_id", observed=True)["month"].transform("max").array.asi8
    return last - records["month"].array.asi8


def series_decisions(panel: SeriesPanel) -> pd.DataFrame:
    """Per series: observations, the seasonality statistic and decision, the demand class
    (:mod:`forecasting.core.demand`, on the observed months) and whether it is never below zero."""
    rows = []
    for series_id, y, _ in series_arrays(panel):
        adi, cv2 = demand_statistics(y)
        filled = fill_gaps(y[np.argmax(np.isfinite(y)) :])[0]
        acf = seasonal_acf(filled)
        nonnegative = bool(np.nanmin(y) >= 0)
        rows.append((series_id, len(filled), acf, acf > 1, adi, cv2, demand_class(adi, cv2), nonnegative))
    return pd.DataFrame(rows, columns=DECISION_COLUMNS[:-2])


def member_plan(
    decisions: pd.DataFrame,
    members: Sequence[PanelForecaster],
    global_min_obs: int,
    global_min_series: int = 1,
) -> pd.DataFrame:
    """Per series and member: whether it forecasts the series, or why not.

    A series no member's role suits (only non-seasonal baselines among the
    candidates and a seasonal series) keeps every member long enough for it.
    """
    rows = []
    few = len(decisions) < global_min_series
    roles = {m.model_name: _role(m.model_name, global_min_obs) for m in members}
    for row in decisions.itertuples(index=False):
        reasons = {name: _not_suited(role, row) for name, role in roles.items()}
        if few:  # a global model learns across series: a handful teach it little
            reasons |= {
                name: f"{len(decisions)} series in the panel < {global_min_series}"
                for name in roles
                if name in GLOBAL_MEMBERS
            }
        if all(reasons.values()):
            reasons = {name: _too_short(role, row) for name, role in roles.items()}
        for name, reason in reasons.items():
            rows.append((row.series_id, row.demand_class, name, reason is None, reason or ""))
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _role(name: str, global_min_obs: int) -> Role:
    return ROLES.get(name, Role(min_obs=global_min_obs if name in GLOBAL_MEMBERS else 1))


def _too_short(role: Role, row) -> str | None:  # noqa: ANN001 - a decisions row
    return f"{row.n_obs} months < {role.min_obs}" if row.n_obs < role.min_obs else None


def _not_suited(role: Role, row) -> str | None:  # noqa: ANN001 - a decisions row
    if row.n_obs < role.min_obs:
        return _too_short(role, row)
    if role.season == "nonseasonal" and row.seasonal:
        return "seasonal"
    if role.demand is not None and row.demand_class not in role.demand:
        return f"{row.demand_class} series"
    if role.demand is not None and not row.nonnegative:
        return "values below zero"
    return None


def with_members(decisions: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """``decisions`` plus the members each series uses and those skipped, with the reason."""
    used = plan[plan["used"]].groupby("series_id", sort=False)["model"].agg("+".join)
    left = plan[~plan["used"]]
    skipped = (left["model"] + ": " + left["reason"]).groupby(left["series_id"], sort=False).agg("; ".join)
    out = decisions.copy()
    out["members"] = out["series_id"].map(used).fillna("")
    out["skipped"] = out["series_id"].map(skipped).fillna("")
    return out[DECISION_COLUMNS]
