"""Cargo series: per crossing, mode and direction, rolled up to region and total.

The transport ``mode`` is the ``mode`` column when the records have one, else
the ``measure`` without a trailing ``_cargo`` (``road_cargo`` -> ``road``).
Commodity series (a ``commodity`` column) are leaves summed into their mode.
Series in different units (tonnes, TEU, vehicles) are never summed together:
parents that several units would share get the unit appended to their id.
"""

from __future__ import annotations

import pandas as pd

from forecasting.features.hierarchy import MAX_ESTIMATED_SHARE, Node, build_nodes, nodes_at_levels
from forecasting.panel import SeriesPanel

CARGO_NODES: tuple[Node, ...] = (
    *nodes_at_levels(("mode", "direction"), "cargo/{mode}/{direction}"),
    *nodes_at_levels(("direction",), "cargo/all/{direction}", dimensions={"measure": "all_cargo"}),
    *nodes_at_levels(
        (), "cargo/all/both", {"import": 1.0, "export": 1.0}, {"direction": "both", "measure": "all_cargo"}
    ),
)
"""Per level (crossing, region, total): by mode and direction, all modes by direction, and all
modes for both directions (imports + exports)."""


def transport_mode(metadata: pd.DataFrame) -> pd.Series:
    """The transport mode of each series (``mode`` column, else measure without ``_cargo``)."""
    if "mode" in metadata.columns:
        return metadata["mode"].astype("string")
    return metadata["measure"].astype("string").str.removesuffix("_cargo")


def build_cargo(panel: SeriesPanel, *, max_estimated_share: float = MAX_ESTIMATED_SHARE) -> SeriesPanel:
    """The panel's cargo series plus their roll-ups by mode and over all modes."""
    cargo = panel.filter(flow="cargo")
    return build_nodes(
        cargo,
        CARGO_NODES,
        extra_keys={"mode": transport_mode(cargo.metadata)},
        max_estimated_share=max_estimated_share,
    )
