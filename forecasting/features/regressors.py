"""Exogenous matrices for models: calendar and intervention regressors, past and future.

Output follows :mod:`forecasting.core.exog`: a ``month`` column,
``series_id`` when a feature differs between series, and numeric features.
Everything here is known in advance, so ``X_future`` exists for any horizon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from forecasting.core.checks import check_horizon
from forecasting.errors import ConfigError
from forecasting.features.calendar import calendar_features
from forecasting.features.interventions import Event, events_from_config, intervention_features
from forecasting.panel import SeriesPanel


def make_exog(
    panel: SeriesPanel,
    horizon: int,
    events: Iterable[Event | Mapping[str, Any]] = (),
    calendar: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(X, X_future)``: regressors for every month of each series and for the ``horizon`` after it.

    ``X`` covers each series from its first to its last month (gaps included,
    since models see the full monthly range); ``X_future`` the ``horizon``
    months after each series' last month. Calendar-only matrices have no
    ``series_id`` (they apply to every series); with events, rows are per series.
    """
    horizon = check_horizon(horizon)
    checked = events_from_config(events)
    if not calendar and not checked:
        raise ConfigError("make_exog has nothing to build: set calendar=True or give events", key="events")
    spans = panel.spans()
    observed = {sid: pd.period_range(row["first"], row["last"], freq="M") for sid, row in spans.iterrows()}
    future = {
        sid: pd.period_range(row["last"] + 1, periods=horizon, freq="M") for sid, row in spans.iterrows()
    }
    return (
        _regressors(observed, checked, calendar, panel.metadata),
        _regressors(future, checked, calendar, panel.metadata),
    )


def _regressors(
    months_by_series: Mapping[str, pd.PeriodIndex],
    events: list[Event],
    calendar: bool,
    metadata: pd.DataFrame,
) -> pd.DataFrame:
    every_month = pd.PeriodIndex(sorted(set().union(*months_by_series.values())), freq="M")
    calendar_frame = calendar_features(every_month) if calendar else None
    if not events:
        return calendar_frame
    per_series = pd.concat(
        [intervention_features(events, months, [sid], metadata) for sid, months in months_by_series.items()],
        ignore_index=True,
    )
    if calendar_frame is None:
        return per_series
    return per_series.merge(calendar_frame, on="month", how="left", validate="many_to_one")


def exog_from_settings(
    panel: SeriesPanel, horizon: int, settings: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`make_exog` from stored settings (``calendar`` flag and ``events`` tables), as a job or
    a served model keeps them."""
    return make_exog(
        panel, horizon, events=settings.get("events", []), calendar=bool(settings.get("calendar", True))
    )
