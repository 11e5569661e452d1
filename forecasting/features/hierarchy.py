"""Roll-ups along the border hierarchy (crossing -> region -> total) and signed combinations.

One implementation serves every flow: a :class:`Node` names the dimensions that
define a parent series and, optionally, signed weights by direction (turnover =
export + import, balance = export - import, both = inbound + outbound).

A parent month is the (weighted) sum of its children. Where some child is not
reported, its stand-in follows what its reported siblings did that month
(:func:`stand_in_months`), else the child's own recent level and season; the
parent is built when the estimated children are at most
``max_estimated_share`` of the parent (in absolute weighted terms), flagged
in the report and in the ``estimated_share`` column of its records, and left
missing (and flagged) otherwise: small ports with gaps no longer blank a
border total, and a big port's gap is never papered over. For roll-ups
across crossings a child counts only within its own first..last month (a
crossing not yet open or closed for good is absent, not missing); a signed
combination of one crossing's (or one aggregate's) directions needs every
direction every month.

Leaves are the input series that have a ``crossing``; series without one
(published provincial or national aggregates) are kept as they are and are not
children of any roll-up. Every parent whose weights are all one is recorded in
the panel's :class:`~forecasting.data.summing.SummingStructure` (signed
combinations are derived series, not sums).
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
from forecasting.data.summing import SummingStructure
from forecasting.errors import ConfigError, DataError
from forecasting.files import Staging, write_csv_atomic
from forecasting.panel import SeriesPanel

DERIVED_SOURCE = "derived"
MAX_ESTIMATED_SHARE = 0.05
"""Default largest share of a parent month that may stand in for unreported children."""


@dataclass(frozen=True)
class Node:
    """A level of parents: one parent per distinct value of ``keys`` among the leaves.

    ``template`` builds the parent id from the (slugged) key values, e.g.
    ``"region/{region}/trade_value/{direction}"``. ``weights`` (by direction)
    make a signed combination that needs every weighted direction present;
    ``dimensions`` set the parent's dimension columns (e.g. direction "both").
    ``of_aggregates`` builds the node from the published aggregates instead of
    the leaves (for signed combinations: the turnover of a national
    exports/imports pair is as useful as a crossing's). ``level`` names the
    node's level in the summing structure.
    """

    keys: tuple[str, ...]
    template: str
    weights: Mapping[str, float] | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    of_aggregates: bool = False
    level: str = "total"


LEVELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("crossing", "region"), "{crossing}"),
    (("region",), "region/{region}"),
    ((), "total"),
)
"""The hierarchy: (keys, id prefix) for crossing, region and total parents."""
LEVEL_NAMES: tuple[str, ...] = ("crossing", "region", "total")
"""The level name of each entry of :data:`LEVELS`."""


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
    nodes = [
        Node((*level, *keys), f"{prefix}/{path}", weights, dims, level=name)
        for (level, prefix), name in zip(LEVELS, LEVEL_NAMES, strict=True)
    ]
    if weights is not None:
        nodes.append(
            Node(("region", *keys), "{region}/" + path, weights, dims, of_aggregates=True, level="region")
        )
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


def check_estimated_share(max_estimated_share: float) -> float:
    """The ``max_estimated_share`` option as a float in [0, 1)."""
    share = float(max_estimated_share)
    if not 0.0 <= share < 1.0:
        raise ConfigError(
            f"must be a share in [0, 1), e.g. 0.05. Got {max_estimated_share!r}", key="max_estimated_share"
        )
    return share


def estimate_months(wide: pd.DataFrame) -> pd.DataFrame:
    """A stand-in for every month of every series from its own past (month x series).

    The same month a year before, scaled by the ratio of the last three
    months' level to the level of the same three months a year before
    (seasonal naive with the current level); where that cannot be computed,
    the mean of the last twelve reported months. Only earlier months are used,
    so a stand-in never peeks at the future.
    """
    recent = wide.rolling(3, min_periods=1).mean().shift(1)
    before = recent.shift(12)
    seasonal = wide.shift(12) * recent / before.where(before > 0)
    level = wide.rolling(12, min_periods=1).mean().shift(1).ffill()
    return seasonal.where(np.isfinite(seasonal), level)


SIBLING_KEYS: tuple[str, ...] = ("region", "flow", "direction", "unit", "currency")
"""Series that share these (crossings with crossings, aggregates with aggregates) are siblings."""


def stand_in_months(wide: pd.DataFrame, metadata: pd.DataFrame) -> pd.DataFrame:
    """Every series' stand-in for every month (month x series): from its siblings, else its own past.

    Siblings share :data:`SIBLING_KEYS`: the other children of the series'
    region roll-up, whatever parent the stand-in serves, so a child stands in
    with one value at every level (a crossing's other measures are a poor
    guide: few, and of other traffic). Within a region because a border's
    crossings move together (the US-Canada and US-Mexico restrictions
    differed). :func:`sibling_estimates` where it can be computed,
    :func:`estimate_months` elsewhere.
    """
    keys = metadata.reindex(index=wide.columns, columns=list(SIBLING_KEYS)).astype("string").fillna("")
    keys["crossing"] = metadata["crossing"].reindex(wide.columns).notna() if "crossing" in metadata else False
    groups = keys.groupby(list(keys.columns), sort=False).groups.values()
    siblings = pd.concat([sibling_estimates(wide[list(ids)]) for ids in groups], axis=1)
    return siblings.reindex(columns=wide.columns).fillna(estimate_months(wide))


def sibling_estimates(children: pd.DataFrame) -> pd.DataFrame:
    """A stand-in for every month of every series from what the other series did (month x series).

    The series' value in a reference month times the growth from that month
    to this one of the others reported in both (the same ones on both sides,
    so others that stop reporting do not read as a fall); the mean over two
    references: the series' last reported month before this one and its
    latest reported same calendar month before (its season). NaN where it has
    neither or no other series was reported in both months. Its own values
    are read only in earlier months; the others' in this month are reported
    data of this month. Why: when every reported crossing collapses (the
    2020-04 .. 2021-07 border restrictions, -90 %), a stand-in from the
    series' own past stays at its pre-closure level and becomes a large share
    of its parent by construction; following the others, it keeps its usual
    share.
    """
    values = children.to_numpy(dtype="float64")
    reported = ~np.isnan(values)
    present = np.nan_to_num(values)
    mask = reported.astype("float64")
    # [t, r]: total at t / at r of the children reported in both months t and r
    now, then = present @ mask.T, mask @ present.T
    months = np.arange(len(values))[:, None]
    columns = np.arange(values.shape[1])[None, :]
    total, count = np.zeros(values.shape), np.zeros(values.shape)
    for reference in (_last_reported_before(reported), _same_month_reported_before(reported)):
        month = np.maximum(reference, 0)
        base = then[months, month]
        usable = (reference >= 0) & (base > 0)
        scaled = present[month, columns] * now[months, month] / np.where(usable, base, 1.0)
        total += np.where(usable, scaled, 0.0)
        count += usable
    estimates = np.divide(total, count, out=np.full(values.shape, np.nan), where=count > 0)
    return pd.DataFrame(estimates, index=children.index, columns=children.columns)


def _last_reported_before(reported: np.ndarray) -> np.ndarray:
    """Row of each column's last reported month strictly before each row (-1 if none)."""
    rows = np.where(reported, np.arange(len(reported))[:, None], -1)
    before = np.full(reported.shape, -1)
    before[1:] = np.maximum.accumulate(rows, axis=0)[:-1]
    return before


def _same_month_reported_before(reported: np.ndarray) -> np.ndarray:
    """Row of each column's latest reported same calendar month (12, 24, ... rows) before (-1 if none)."""
    found = np.full(reported.shape, -1)
    for phase in range(min(12, len(reported))):
        before = _last_reported_before(reported[phase::12])
        found[phase::12] = np.where(before >= 0, phase + 12 * before, -1)
    return found


def build_nodes(
    panel: SeriesPanel,
    nodes: Sequence[Node],
    extra_keys: Mapping[str, pd.Series] | None = None,
    *,
    max_estimated_share: float = MAX_ESTIMATED_SHARE,
    leaf_keys: Sequence[str] = ("crossing",),
) -> SeriesPanel:
    """The panel's series plus every parent of ``nodes``, with estimated and missing months flagged.

    ``extra_keys`` adds computed key columns (e.g. the cargo ``mode``) to the
    leaves' metadata. Leaves are the series with a value in every one of
    ``leaf_keys``. A parent carries the values of its node's keys that are
    dimension columns of the panel. The result carries the summing structure of the sums.
    """
    share_limit = check_estimated_share(max_estimated_share)
    report = copy_report(panel.report)
    metadata = panel.metadata.copy()
    for name, values in (extra_keys or {}).items():
        metadata[name] = values.reindex(metadata.index)
    if all(key in metadata for key in leaf_keys):
        leaves = metadata[metadata[list(leaf_keys)].notna().all(axis=1)]
    else:
        leaves = metadata.iloc[:0]
    aggregates = metadata.drop(index=leaves.index)
    if len(aggregates):
        report.add(
            "warning",
            f"series without a value in {', '.join(leaf_keys)} (published aggregates or another "
            "breakdown) kept as they are, not rolled up: " + ", ".join(sorted(aggregates.index)[:5]),
            count=len(aggregates),
        )
    wide = panel.wide()
    rule = _EstimationRule(stand_in_months(wide, metadata), share_limit)
    carried = tuple(column for column in panel.metadata.columns if column not in DIMENSIONS)
    parents = [
        _parents(node, aggregates if node.of_aggregates else leaves, wide, report, rule, carried)
        for node in nodes
    ]
    parent_wide = (
        pd.concat([p.values for p in parents], axis=1) if parents else pd.DataFrame(index=wide.index)
    )
    parent_share = pd.concat([p.share for p in parents], axis=1) if parents else parent_wide
    parent_meta = pd.concat([p.metadata for p in parents]) if parents else pd.DataFrame()
    _check_new_ids(parent_meta.index, metadata.index)
    new = records_from_wide(parent_wide, parent_meta)
    new["estimated_share"] = _long_values(parent_share, new)
    records = pd.concat([panel.records, new], ignore_index=True)
    edges = [SummingStructure.from_edges(p.edges) for p in parents if len(p.edges)]
    structure = SummingStructure.merged([panel.structure, *edges])
    kept = [c for c in (*panel.records.columns, "estimated_share") if c in records.columns]
    return SeriesPanel(records[list(dict.fromkeys(kept))], report, structure=structure)


def _long_values(wide: pd.DataFrame, long: pd.DataFrame) -> np.ndarray:
    """Values of a month x series frame at the ``series_id, month`` rows of ``long``."""
    rows = wide.index.get_indexer(pd.PeriodIndex(long["month"], freq="M"))
    columns = wide.columns.get_indexer(long["series_id"].astype(str))
    return wide.to_numpy()[rows, columns]


def _check_new_ids(new: pd.Index, existing: pd.Index) -> None:
    duplicated = new[new.duplicated()].unique()
    clash = new.intersection(existing)
    if len(duplicated) or len(clash):
        raise DataError(f"roll-up series ids clash with other series: {sorted({*duplicated, *clash})[:5]}")


@dataclass(frozen=True)
class _EstimationRule:
    """Stand-ins for unreported months and the largest share of a parent they may make up."""

    estimates: pd.DataFrame
    max_share: float


@dataclass(frozen=True)
class _NodeParents:
    """One node's parents: values and estimated share (month x parent), metadata, structure edges."""

    values: pd.DataFrame
    share: pd.DataFrame
    metadata: pd.DataFrame
    edges: pd.DataFrame


def _parents(
    node: Node,
    leaves: pd.DataFrame,
    wide: pd.DataFrame,
    report: DataQualityReport,
    rule: _EstimationRule,
    carried: tuple[str, ...] = (),
) -> _NodeParents:
    """Parent values, estimated shares, metadata and summing edges for one node.

    ``carried``: the panel's own dimension columns beyond :data:`DIMENSIONS`; a
    parent gets the values of those among the node's keys.
    """
    if node.weights is not None:
        leaves = leaves[leaves["direction"].isin(list(node.weights))]
    group_keys = list(dict.fromkeys([*node.keys, "flow", "unit", "currency"]))
    own = [key for key in node.keys if key in carried]
    ids, columns, shares, rows, edges = [], [], [], [], []
    for key, children in leaves.groupby(group_keys, dropna=False, sort=True).groups.items():
        values = dict(zip(group_keys, key, strict=True))
        parent_id = node.template.format(**{k: slug(values[k]) for k in node.keys})
        children = list(children)
        if node.weights is not None and not _has_all_directions(
            node, leaves.loc[children], parent_id, values["unit"], report
        ):
            continue
        if len(children) == 1 and children[0] == parent_id:
            continue  # the leaf already is this node
        weights = _weights(node, leaves.loc[children])
        ids.append(parent_id)
        # one crossing's (or aggregate's) directions must all be there; across crossings, spans count
        strict = node.weights is not None and ("crossing" in node.keys or node.of_aggregates)
        parent, share = _sum_children(parent_id, wide[children], weights, report, rule, strict=strict)
        columns.append(parent)
        shares.append(share)
        rows.append({**_parent_dimensions(values), **node.dimensions, **{k: values[k] for k in own}})
        if np.all(weights == 1.0):
            edges.extend((len(ids) - 1, child, node.level) for child in children)
    metadata = _disambiguate_units(
        pd.DataFrame(rows, index=pd.Index(ids, name="series_id"), columns=[*DIMENSIONS, *own])
    )
    return _NodeParents(
        values=_month_frame(columns, wide.index, metadata.index),
        share=_month_frame(shares, wide.index, metadata.index),
        metadata=metadata,
        edges=pd.DataFrame(
            [(metadata.index[position], child, level) for position, child, level in edges],
            columns=["parent", "child", "level"],
        ),
    )


def _month_frame(columns: list[np.ndarray], months: pd.Index, ids: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(np.column_stack(columns) if columns else None, index=months, columns=ids)


def _has_all_directions(
    node: Node, children: pd.DataFrame, parent_id: str, unit: object, report: DataQualityReport
) -> bool:
    """Whether every weighted direction is among ``children``; reported when not.

    The unit is named: a crossing's passengers in persons and its vehicles
    are two parents that share an id until :func:`_disambiguate_units`
    suffixes the unit to the ones built, so without it the two warnings read
    as one printed twice.
    """
    missing = sorted(set(node.weights or {}) - set(children["direction"]))
    if missing:
        in_unit = "" if _is_missing(unit) else f" in {unit}"
        reason = f"not built: no {', '.join(missing)} series among its children{in_unit}"
        report.add("warning", reason, series_id=parent_id)
    return not missing


def _weights(node: Node, children: pd.DataFrame) -> np.ndarray:
    if node.weights is None:
        return np.ones(len(children))
    return children["direction"].map(node.weights).to_numpy(dtype="float64")


def _sum_children(
    parent_id: str,
    children: pd.DataFrame,
    weights: np.ndarray,
    report: DataQualityReport,
    rule: _EstimationRule,
    *,
    strict: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum and estimated share per month; missing where estimates would be too large a share.

    A child is active from its first to its last reported month: before a
    crossing opens or after it closes for good it is not missing, it is not
    there. With ``strict`` every child is active in every month with any data.
    A month with an active child unreported uses the child's stand-in
    (:func:`stand_in_months`) when the stand-ins are at most
    ``rule.max_share`` of the parent (in absolute weighted terms); with a
    share of 0 such months are always left missing.
    """
    reported = children.notna()
    spans = reported.cummax() & reported[::-1].cummax()[::-1]
    active = np.ones(reported.shape, dtype=bool) if strict else spans.to_numpy()
    missing = active & ~reported.to_numpy()
    has_data = reported.to_numpy().any(axis=1)
    partial = has_data & missing.any(axis=1)
    estimates = rule.estimates[children.columns].to_numpy()
    filled = np.where(missing, estimates, children.fillna(0.0).to_numpy())
    contribution = np.abs(np.nan_to_num(filled, nan=0.0) * weights)
    estimated = np.where(missing, contribution, 0.0).sum(axis=1)
    whole = contribution.sum(axis=1)
    share = np.divide(estimated, whole, out=np.zeros_like(whole), where=whole > 0)
    estimable = ~(missing & np.isnan(estimates)).any(axis=1)
    built = partial & estimable & (share <= rule.max_share) & (rule.max_share > 0)
    left_missing = partial & ~built
    ok = has_data & ~left_missing
    parent = np.where(ok, np.nan_to_num(filled, nan=0.0) @ weights, np.nan)
    _flag(parent_id, children, missing, (built, left_missing), share, rule.max_share, report)
    return parent, np.where(ok, share, np.nan)


def _flag(
    parent_id: str,
    children: pd.DataFrame,
    missing: np.ndarray,
    outcomes: tuple[np.ndarray, np.ndarray],
    share: np.ndarray,
    max_share: float,
    report: DataQualityReport,
) -> None:
    """One report line for the months built with estimates, one for the months left missing."""
    built, left_missing = outcomes
    for months, what in (
        (built, f"roll-up built with estimated children (at most {share[built].max(initial=0):.2%} of it)"),
        (left_missing, f"roll-up left missing: unreported children would be over {max_share:.0%} of it"),
    ):
        if months.any():
            absent = list(children.columns[missing[months].any(axis=0)])
            shown = ", ".join(absent[:3]) + (", ..." if len(absent) > 3 else "")
            report.add(
                "flagged",
                f"{what} ({shown})",
                count=int(months.sum()),
                series_id=parent_id,
                month=str(children.index[months][0]),
            )


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


def write_long_csv(
    panel: SeriesPanel, path: str | Path, *, inputs: Iterable[str | Path] = (), staging: Staging | None = None
) -> Path | None:
    """Write the panel's records as a long CSV, month as ``YYYY-MM`` (readable by ``load_long``).

    Through the package's one CSV writer (atomic, formulas neutralised; ``-``
    is stdout, which returns None); ``inputs`` are files it must not overwrite;
    ``staging``: renamed into place with its side files (:func:`~forecasting.files.written_together`).
    """
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    return write_csv_atomic(records, path, inputs=inputs, staging=staging)
