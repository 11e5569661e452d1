"""Passenger series: per crossing and direction, rolled up to region and total, with both directions."""

from __future__ import annotations

from forecasting.features.hierarchy import MAX_ESTIMATED_SHARE, Node, build_nodes, nodes_at_levels
from forecasting.panel import SeriesPanel

PASSENGER_NODES: tuple[Node, ...] = (
    *nodes_at_levels(("direction",), "passengers/{direction}"),
    *nodes_at_levels((), "passengers/both", {"inbound": 1.0, "outbound": 1.0}, {"direction": "both"}),
)
"""Per level (crossing, region, total): inbound, outbound and both = inbound + outbound."""


def build_passengers(panel: SeriesPanel, *, max_estimated_share: float = MAX_ESTIMATED_SHARE) -> SeriesPanel:
    """The panel's passenger series plus their roll-ups and both-direction totals."""
    return build_nodes(
        panel.filter(flow="passengers"), PASSENGER_NODES, max_estimated_share=max_estimated_share
    )
