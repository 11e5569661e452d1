"""Roll-ups along the border hierarchy (crossing -> region -> total) and signed combinations.

One implementation serves every flow: a :class:`Node` names the dimensions that
define a parent series and, optionally, signed weights by direction (turnover =
export + import, balance = export - import, both = inbound + outbound). A parent
month is the (weighted) sum of its children only where *every* child is
reported; where some child is missing the month is left missing and flagged in
the report, never understated. For roll-ups across crossings a child counts
only within its own first..last month (a crossing not yet open or closed for
good is absent, not missing); a signed combination of one crossing's (or one
aggregate's) directions needs every direction every month.

Leaves are the input series that have a ``crossing``; series without one
(published provincial or national aggregates) are kept as they are and are not
children of any roll-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.report import DataQualityReport
from forecasting.data.schema import DIMENSIONS
from forecasting.errors import DataError
from forecasting.files import write_csv_atomic
from forecasting.panel import SeriesPanel

DERIVED_SOURCE = "derived"


@dataclass(frozen=True)
class Node:
    """A level of parents: one parent per distinct value of ``keys`` among the leaves.

    ``template`` builds the parent id from the (slugged) key values, e.g.
    ``"region/{region}/trade_value/{direction}"``. ``weights`` (by direction)
    make a signed combination that needs every weighted direction present;
    ``dimensions`` set the parent's dimension columns (e.g. direction "both").
    ``of_aggregates`` builds the node from the published aggregates instead of
    the leaves (for signed combinations: the turnover of a national
    exports/imports pair is as useful as a crossing's).
    """

    keys: tuple[str, ...]
    template: str
    weights: Mapping[str, float] | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    of_aggregates: bool = False


LEVELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("crossing", "region"), "{crossing}"),
    (("region",), "region/{region}"),
    ((), "total"),
)
"""The hierarchy: (keys, id prefix) for crossing, region and total parents."""


def nodes_at_levels(
    keys: tuple[str, ...],
    path: str,
    weights: Mapping[str, float] | None = None,
    dimensions: Mapping[str, str] | None = None,
) -> tuple[Node, ...]:
    """The same node at every level of :data:`LEVELS` (id ``<prefix>/<path>``).

    Signed combinations are also built for published aggregates, per region
    (id ``<region>/<path>``).
    """
    dims = dict(dimensions or {})
    nodes = [Node((*level, *keys), f"{prefix}/{path}", weights, dims) for level, prefix in LEVELS]
    if weights is not None:
        nodes.append(Node(("region", *keys), "{region}/" + path, weights, dims, of_aggregates=True))
    return tuple(nodes)


def slug(value: object) -> str:
    """A series-id token: lowercase ascii letters, digits and hyphens."""
    text = re.sub(r"[^a-z0-9]+", "-", "all" if _is_missing(value) else str(value).lower()).strip("-")
    if not text:
        raise DataError(f"cannot make a series-id token from {value!r}")
    return text


def _is_missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def copy_report(report: DataQualityReport) -> DataQualityReport:
    """A report that can be extended without touching the input panel's report."""
    return DataQualityReport(source=report.source, rows_read=report.rows_read, issues=list(report.issues))


def records_from_wide(wide: pd.DataFrame, metadata: pd.DataFrame) -> pd.DataFrame:
    """Long records (absent rows where NaN) for a month x series frame, with each series' dimensions."""
    stacked = wide.rename_axis(index="month", columns="series_id").stack(future_stack=True).dropna()
    long = stacked.rename("value").reset_index()
    long = long.merge(metadata, left_on="series_id", right_index=True, how="left")
    return long.astype({column: "string" for column in metadata.columns})


def build_nodes(
    panel: SeriesPanel, nodes: Sequence[Node], extra_keys: Mapping[str, pd.Series] | None = None
) -> SeriesPanel:
    """The panel's series plus every parent of ``nodes``, with partial months flagged in the report.

    ``extra_keys`` adds computed key columns (e.g. the cargo ``mode``) to the
    leaves' metadata.
    """
    report = copy_report(panel.report)
    metadata = panel.metadata.copy()
    for name, values in (extra_keys or {}).items():
        metadata[name] = values.reindex(metadata.index)
    leaves = metadata[metadata["crossing"].notna()] if "crossing" in metadata else metadata.iloc[:0]
    aggregates = metadata.drop(index=leaves.index)
    if len(aggregates):
        report.add(
            "warning",
            "series without a crossing (published aggregates) kept as they are, not rolled up: "
            + ", ".join(sorted(aggregates.index)[:5]),
            count=len(aggregates),
        )
    wide = panel.wide()
    parents = [_parents(node, aggregates if node.of_aggregates else leaves, wide, report) for node in nodes]
    parent_wide = pd.concat([p[0] for p in parents], axis=1) if parents else pd.DataFrame(index=wide.index)
    parent_meta = pd.concat([p[1] for p in parents]) if parents else pd.DataFrame()
    _check_new_ids(parent_meta.index, metadata.index)
    records = pd.concat([panel.records, records_from_wide(parent_wide, parent_meta)], ignore_index=True)
    return SeriesPanel(records[[c for c in panel.records.columns if c in records.columns]], report)


def _check_new_ids(new: pd.Index, existing: pd.Index) -> None:
    duplicated = new[new.duplicated()].unique()
    clash = new.intersection(existing)
    if len(duplicated) or len(clash):
        raise DataError(f"roll-up series ids clash with other series: {sorted({*duplicated, *clash})[:5]}")


def _parents(
    node: Node, leaves: pd.DataFrame, wide: pd.DataFrame, report: DataQualityReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parent values (month x parent) and parent metadata for one node."""
    if node.weights is not None:
        leaves = leaves[leaves["direction"].isin(list(node.weights))]
    group_keys = [*node.keys, "flow", "unit", "currency"]
    ids, columns, rows = [], [], []
    for key, children in leaves.groupby(group_keys, dropna=False, sort=True).groups.items():
        values = dict(zip(group_keys, key, strict=True))
        parent_id = node.template.format(**{k: slug(values[k]) for k in node.keys})
        children = list(children)
        if node.weights is not None and not _has_all_directions(
            node, leaves.loc[children], parent_id, report
        ):
            continue
        if len(children) == 1 and children[0] == parent_id:
            continue  # the leaf already is this node
        weights = _weights(node, leaves.loc[children])
        ids.append(parent_id)
        # one crossing's (or aggregate's) directions must all be there; across crossings, spans count
        strict = node.weights is not None and ("crossing" in node.keys or node.of_aggregates)
        parent = _sum_children(parent_id, wide[children], weights, report, strict=strict)
        columns.append(parent.to_numpy())
        rows.append({**_parent_dimensions(values), **node.dimensions})
    metadata = _disambiguate_units(
        pd.DataFrame(rows, index=pd.Index(ids, name="series_id"), columns=list(DIMENSIONS))
    )
    frame = pd.DataFrame(
        np.column_stack(columns) if columns else None, index=wide.index, columns=metadata.index
    )
    return frame, metadata


def _has_all_directions(
    node: Node, children: pd.DataFrame, parent_id: str, report: DataQualityReport
) -> bool:
    missing = sorted(set(node.weights or {}) - set(children["direction"]))
    if missing:
        report.add(
            "warning", f"not built: no {', '.join(missing)} series among its children", series_id=parent_id
        )
    return not missing


def _weights(node: Node, children: pd.DataFrame) -> np.ndarray:
    if node.weights is None:
        return np.ones(len(children))
    return children["direction"].map(node.weights).to_numpy(dtype="float64")


def _sum_children(
    parent_id: str, children: pd.DataFrame, weights: np.ndarray, report: DataQualityReport, *, strict: bool
) -> pd.Series:
    """Weighted sum where every active child is reported; missing (and flagged) where one is not.

    A child is active from its first to its last reported month: before a
    crossing opens or after it closes for good it is not missing, it is not
    there. A month missing inside a child's span makes the parent missing.
    With ``strict`` every child is active in every month with any data.
    """
    reported = children.notna()
    spans = reported.cummax() & reported[::-1].cummax()[::-1]
    active = np.ones(reported.shape, dtype=bool) if strict else spans.to_numpy()
    missing = active & ~reported.to_numpy()
    has_data = reported.to_numpy().any(axis=1)
    partial = has_data & missing.any(axis=1)
    total = children.fillna(0.0).to_numpy() @ weights
    parent = pd.Series(np.where(has_data & ~partial, total, np.nan), index=children.index)
    if partial.any():
        absent = list(children.columns[missing[partial].any(axis=0)])
        shown = ", ".join(absent[:3]) + (", ..." if len(absent) > 3 else "")
        report.add(
            "flagged",
            f"roll-up left missing where some children are not reported ({shown})",
            count=int(partial.sum()),
            series_id=parent_id,
            month=str(children.index[partial][0]),
        )
    return parent


def _parent_dimensions(values: Mapping[str, object]) -> dict[str, object]:
    dimensions: dict[str, object] = {column: pd.NA for column in DIMENSIONS}
    dimensions.update({k: v for k, v in values.items() if k in DIMENSIONS})
    dimensions["source"] = DERIVED_SOURCE
    return dimensions


def _disambiguate_units(metadata: pd.DataFrame) -> pd.DataFrame:
    """Suffix the unit to ids that several units would share (tonnes and TEU are never summed)."""
    if metadata.empty:
        return metadata
    duplicated = metadata.index.duplicated(keep=False)
    if duplicated.any():
        suffix = metadata["unit"].map(lambda unit: slug(unit if pd.notna(unit) else "no-unit"))
        metadata.index = np.where(duplicated, metadata.index + "/" + suffix, metadata.index)
    return metadata


def write_long_csv(panel: SeriesPanel, path: str | Path, *, inputs: Iterable[str | Path] = ()) -> Path | None:
    """Write the panel's records as a long CSV, month as ``YYYY-MM`` (readable by ``load_long``).

    Through the package's one CSV writer (atomic, formulas neutralised; ``-``
    is stdout, which returns None); ``inputs`` are files it must not overwrite.
    """
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    return write_csv_atomic(records, path, inputs=inputs)
