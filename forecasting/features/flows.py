"""Every flow's monthly series with its roll-ups and derived series, from one loaded panel.

The flow builders (:mod:`~forecasting.features.cargo`, ``passengers``,
``trade_value``) are built on :mod:`~forecasting.features.hierarchy`; this
module runs each on the series of its flow and merges their summing structures.
A panel whose source declares its summing dimensions gets the roll-ups along
those instead (:mod:`~forecasting.features.grouped`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forecasting.data.report import DataQualityReport
from forecasting.data.summing import SummingStructure
from forecasting.features.breaks import report_shared_level_shifts
from forecasting.features.cargo import build_cargo
from forecasting.features.grouped import build_grouped
from forecasting.features.hierarchy import MAX_ESTIMATED_SHARE, check_estimated_share, copy_report
from forecasting.features.passengers import build_passengers
from forecasting.features.trade_value import build_trade_value
from forecasting.panel import SeriesPanel


def build_series(
    panel: SeriesPanel,
    *,
    max_estimated_share: float = MAX_ESTIMATED_SHARE,
    summing: Sequence[Sequence[str]] = (),
) -> SeriesPanel:
    """Every flow's series with its roll-ups and derived series, one report and one structure for all.

    The report also flags level shifts shared by many crossings of a measure
    (:mod:`~forecasting.features.breaks`).

    Series of other flows (or none) are kept as they are. ``max_estimated_share``
    is the largest share of a parent month that may be estimated (see :mod:`~forecasting.features.hierarchy`).
    ``summing``: the dimensions a source spec declares its series add up along
    (``SourceSpec.summing``); when given, the roll-ups are those of
    :func:`~forecasting.features.grouped.build_grouped`, not the crossing ones.
    """
    check_estimated_share(max_estimated_share)
    if summing:
        return build_grouped(panel, summing, max_estimated_share=max_estimated_share)
    builders = {"cargo": build_cargo, "passengers": build_passengers, "trade_value": build_trade_value}
    report = copy_report(panel.report)
    known = len(panel.report.issues)
    panel = _without_regressors(panel, report)
    flows = panel.metadata["flow"]  # every panel has the canonical dimension columns
    parts = [panel.records[~panel.records["series_id"].isin(flows.index[flows.isin(list(builders))])]]
    structure = panel.structure
    for flow, build in builders.items():
        if flows.eq(flow).any():
            built = build(panel, max_estimated_share=max_estimated_share)
            report.issues.extend(built.report.issues[known:])
            parts.append(built.records)
            structure = SummingStructure.merged([structure, built.structure])
    records = pd.concat([part for part in parts if not part.empty], ignore_index=True)
    built = SeriesPanel(records, report, structure=structure)
    report_shared_level_shifts(built, built.report)
    return built


def _without_regressors(panel: SeriesPanel, report: DataQualityReport) -> SeriesPanel:
    """The panel less the regressor columns its source spec declared, each dropping reported.

    A roll-up has no value for a table's regressor, and the long CSV the built
    series go to cannot declare one: read back, it would be a "dimension"
    changing within every series. ``Forecaster`` takes them from the loaded table.
    """
    for column in panel.regressors:
        report.add(
            "dropped",
            f"regressor column {column!r} not carried into the built series (a panel CSV cannot "
            "declare regressors): forecast the loaded table with Forecaster to use it",
            count=len(panel.records),
        )
    if not panel.regressors:
        return panel
    records = panel.records.drop(columns=list(panel.regressors))
    return SeriesPanel(records, panel.report, structure=panel.structure)
