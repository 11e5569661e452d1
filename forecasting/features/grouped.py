"""Roll-ups along declared dimensions: a total that adds up two (or more) ways, a grouped structure.

Trade is published by partner and by goods: the total is the sum over
partners and also the sum over goods, and the bottom series are the
partner x goods cells. A source spec declares such dimensions
(``[summing] dimensions = ["partner", "goods"]``, :class:`~forecasting.data.sources.SourceSpec`);
each dimension may be a path of nested ones from coarse to fine
(``["region", "country"]``). The series with a value in every declared
dimension are the bottom series; there is one parent per combination of
values of every coarser cut: for ``partner`` and ``goods`` the total, one
parent per partner and one per goods; for ``[["region", "country"], "goods"]``
also the region x goods and region parents. The parents are built like the
crossing roll-ups (:func:`~forecasting.features.hierarchy.build_nodes`:
unreported children estimated up to a share, flagged) and recorded in the
panel's :class:`~forecasting.data.summing.SummingStructure`, where each parent
lists the bottom series it sums: a grouped structure, reconciled like a tree
(top-down excepted: it needs one parent per node).

Parent ids name the cut's dimension values, ``total``, ``partner/de``,
``region/eu/goods/01``; the level of a parent names the finest dimension of
each path in its cut (``partner``, ``region+goods``), ``total`` for the total.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from forecasting.data.schema import DIMENSIONS
from forecasting.errors import DataError
from forecasting.features.hierarchy import MAX_ESTIMATED_SHARE, Node, build_nodes
from forecasting.panel import SeriesPanel

TOTAL = "total"
SHARED_DIMENSIONS: tuple[str, ...] = ("flow", "measure", "direction", "unit", "currency")
"""Dimensions the bottom series must share unless declared: a total never adds exports to imports."""


def grouped_nodes(dimensions: Sequence[Sequence[str]], shared: Sequence[str] = ()) -> tuple[Node, ...]:
    """One node per cut of the dimension paths coarser than the bottom, the total first.

    A cut takes a prefix of each path (possibly empty); the full cut (every
    path whole) is the bottom level and has no node. ``shared``: dimensions
    every bottom series has alike (e.g. ``direction``), which the parents carry too.
    """
    paths = [tuple(path) for path in dimensions]
    full = tuple(len(path) for path in paths)
    cuts = sorted(
        (depths for depths in itertools.product(*(range(len(path) + 1) for path in paths)) if depths != full),
        key=lambda depths: (sum(depths), depths),
    )
    nodes = []
    for depths in cuts:
        keys = tuple(key for path, depth in zip(paths, depths, strict=True) for key in path[:depth])
        finest = [path[depth - 1] for path, depth in zip(paths, depths, strict=True) if depth]
        template = "/".join(f"{key}/{{{key}}}" for key in keys) or TOTAL
        nodes.append(Node((*keys, *shared), template, level="+".join(finest) or TOTAL))
    return tuple(nodes)


def build_grouped(
    panel: SeriesPanel,
    dimensions: Sequence[Sequence[str]],
    *,
    max_estimated_share: float = MAX_ESTIMATED_SHARE,
) -> SeriesPanel:
    """The panel's series plus the parents of every cut of ``dimensions`` (see the module docstring).

    Series without a value in every declared dimension are kept as they are
    (reported). The bottom series must share their flow, measure, direction,
    unit and currency, unless one of those is declared as a dimension.
    """
    keys = [key for path in dimensions for key in path]
    absent = [key for key in keys if key not in panel.metadata.columns]
    if absent:
        known = [c for c in panel.metadata.columns if c not in DIMENSIONS or panel.metadata[c].notna().any()]
        raise DataError(f"summing dimension(s) {absent} are not dimensions of the panel; it has {known}")
    leaves = panel.metadata[panel.metadata[keys].notna().all(axis=1)]
    if leaves.empty:
        raise DataError(f"no series has a value in every summing dimension {keys}")
    for column in [c for c in SHARED_DIMENSIONS if c not in keys]:
        values = leaves[column].dropna().unique()
        if len(values) > 1 or (len(values) == 1 and leaves[column].isna().any()):
            shown = ", ".join(sorted(map(str, values))[:4])
            raise DataError(
                f"the series to sum along {keys} differ in {column} ({shown}): a total would add them up; "
                f"declare {column} as a summing dimension or build them separately"
            )
    shared = [column for column in SHARED_DIMENSIONS if column not in keys]
    return build_nodes(
        panel,
        grouped_nodes(dimensions, shared),
        max_estimated_share=max_estimated_share,
        leaf_keys=tuple(keys),
    )
