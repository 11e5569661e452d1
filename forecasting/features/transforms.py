"""Conversions analysts ask for: year-on-year growth and 12-month rolling sums.

Both return a new :class:`SeriesPanel` of derived series (id suffixed
``/yoy_pct`` or ``/rolling_<n>m``). A month is only computed from complete
inputs: growth needs the same month a year earlier, a rolling sum all ``n``
months of its window; otherwise the month is absent (never understated).
Growth on a zero base is undefined: those months are left out and flagged.
Growth series have unit ``percent`` and no ``flow`` (a rate is not a count).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.features.hierarchy import DERIVED_SOURCE, copy_report, records_from_wide
from forecasting.panel import SeriesPanel


def year_on_year_growth(panel: SeriesPanel) -> SeriesPanel:
    """Growth in percent on the same month of the previous year, per series."""
    wide = panel.wide()
    previous = wide.shift(12)
    growth = 100.0 * (wide / previous - 1.0)
    report = copy_report(panel.report)
    zero_base = (previous == 0) & wide.notna()
    for series_id in zero_base.columns[zero_base.any().to_numpy()]:
        months = zero_base.index[zero_base[series_id].to_numpy()]
        report.add(
            "flagged",
            "year-on-year growth undefined on a zero base; month left out",
            count=len(months),
            series_id=f"{series_id}/yoy_pct",
            month=str(months[0]),
        )
    growth = growth.where(np.isfinite(growth))
    # growth rates are not counts: clear the flow so negative growth passes validation
    return _derived(panel, growth, "yoy_pct", {"unit": "percent", "currency": pd.NA, "flow": pd.NA}, report)


def rolling_sum(panel: SeriesPanel, months: int = 12) -> SeriesPanel:
    """Sum over the last ``months`` months (the month itself included), only for complete windows."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValueError(
            f"The 'months' parameter of rolling_sum must be a positive int. Got {months!r} instead."
        )
    totals = panel.wide().rolling(months, min_periods=months).sum()
    return _derived(panel, totals, f"rolling_{months}m", {}, copy_report(panel.report))


def _derived(panel: SeriesPanel, wide: pd.DataFrame, suffix: str, dimensions: dict, report) -> SeriesPanel:
    metadata = panel.metadata.copy()
    for column, value in dimensions.items():
        metadata[column] = value
    metadata["source"] = DERIVED_SOURCE
    metadata.index = metadata.index + "/" + suffix
    wide = wide.copy()
    wide.columns = wide.columns + "/" + suffix
    return SeriesPanel(records_from_wide(wide, metadata), report)
