"""Trade-value series: per crossing and direction, rolled up to region and total; turnover, balance."""

from __future__ import annotations

from forecasting.features.hierarchy import MAX_ESTIMATED_SHARE, Node, build_nodes, nodes_at_levels
from forecasting.panel import SeriesPanel

TRADE_NODES: tuple[Node, ...] = (
    *nodes_at_levels(("direction",), "trade_value/{direction}"),
    *nodes_at_levels(
        (),
        "trade_value/turnover",
        {"export": 1.0, "import": 1.0},
        {"direction": "both", "measure": "turnover"},
    ),
    *nodes_at_levels(
        (),
        "trade_value/balance",
        {"export": 1.0, "import": -1.0},
        {"direction": "both", "measure": "balance"},
    ),
)
"""Per level (crossing, region, total): exports and imports, turnover = exports + imports,
balance = exports - imports (the last two also for published aggregates)."""


def build_trade_value(panel: SeriesPanel, *, max_estimated_share: float = MAX_ESTIMATED_SHARE) -> SeriesPanel:
    """The panel's trade-value series plus their roll-ups and derived turnover and balance."""
    return build_nodes(panel.filter(flow="trade_value"), TRADE_NODES, max_estimated_share=max_estimated_share)
