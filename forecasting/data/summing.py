"""Which series sum to which: the summing structure (S matrix) of a hierarchy, as data.

``series build`` knows that a region's trucks are the sum of its crossings'
trucks; :class:`SummingStructure` keeps that knowledge next to the panel as an
edge list from each parent to the bottom-level series it sums (every weight is
one: signed combinations such as a trade balance are derived series, not
parents). ``S`` is the sparse summing matrix with rows ``aggregates + bottom``
and columns ``bottom``, so ``S @ bottom_values`` gives every node.

The structure is written next to the panel CSV (``panel.csv`` ->
``panel.hierarchy.csv``, columns ``parent, child, level``) and read back with
it. :func:`mismatched_parents` reports parents whose history is not the sum of
their children; they must be reported, never reconciled as if they were sums.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from forecasting.data.schema import check_printable
from forecasting.data.tables import reject_nul_bytes
from forecasting.errors import DataError
from forecasting.files import beside, existing_file

STRUCTURE_COLUMNS: tuple[str, ...] = ("parent", "child", "level")
"""Columns of the structure file: one row per (parent, bottom-level child)."""
BOTTOM_LEVEL = "bottom"
SUM_RTOL = 1e-6
"""Relative tolerance (of the parent's magnitude) for a parent to count as the sum of its children."""


@dataclass(frozen=True, eq=False)
class SummingStructure:
    """Parents, the bottom-level series each one sums, and each parent's level name.

    ``children`` maps a parent id to its bottom-level series (series that are
    never parents); ``levels`` maps a parent id to a level name such as
    ``crossing``, ``region`` or ``total``.
    """

    children: Mapping[str, tuple[str, ...]]
    levels: Mapping[str, str]
    source: str | None = None
    """The hierarchy file(s) it was read from, for errors that name it."""

    @classmethod
    def from_edges(cls, edges: pd.DataFrame, *, file: str | None = None) -> SummingStructure:
        """A structure from a ``parent, child, level`` frame; children that are parents are expanded."""
        missing = [c for c in STRUCTURE_COLUMNS if c not in edges.columns]
        if missing:
            raise DataError(f"missing column(s) {missing} in the hierarchy file", file=file)
        blank = edges[list(STRUCTURE_COLUMNS)].isna().any(axis=1).to_numpy()
        if blank.any():
            raise DataError("blank parent, child or level", file=file, row=int(np.flatnonzero(blank)[0]))
        lines = np.arange(len(edges)) + 2  # header = line 1
        check_printable(edges.reset_index(drop=True), STRUCTURE_COLUMNS, file=file, lines=lines)
        direct: dict[str, list[str]] = {}
        levels: dict[str, str] = {}
        for parent, child, level in edges[list(STRUCTURE_COLUMNS)].astype(str).itertuples(index=False):
            direct.setdefault(parent, []).append(child)
            if levels.setdefault(parent, level) != level:
                raise DataError(
                    f"parent has two levels: {levels[parent]!r} and {level!r}", file=file, series=parent
                )
        return cls(_expand(direct, file), levels, file)

    @classmethod
    def empty(cls) -> SummingStructure:
        return cls({}, {})

    @classmethod
    def merged(cls, structures: Iterable[SummingStructure | None]) -> SummingStructure:
        """One structure with the parents of all (e.g. of several flows or source files)."""
        used = [s for s in structures if s is not None and s.aggregates]
        if not used:
            return cls.empty()
        files = ", ".join(dict.fromkeys(s.source for s in used if s.source)) or None
        return cls.from_edges(pd.concat([s.to_frame() for s in used], ignore_index=True), file=files)

    # --- shape -------------------------------------------------------------------
    @cached_property
    def aggregates(self) -> list[str]:
        """Parent ids, sorted: the first rows of :attr:`S`."""
        return sorted(self.children)

    @cached_property
    def bottom(self) -> list[str]:
        """Bottom-level ids, sorted: the columns of :attr:`S` and its last rows."""
        return sorted({child for kids in self.children.values() for child in kids})

    @property
    def series(self) -> list[str]:
        """Row names of :attr:`S`: aggregates, then bottom."""
        return [*self.aggregates, *self.bottom]

    def __len__(self) -> int:
        return len(self.aggregates) + len(self.bottom)

    def __repr__(self) -> str:
        return f"SummingStructure({len(self.aggregates)} parents, {len(self.bottom)} bottom series)"

    @cached_property
    def A(self) -> sp.csr_array:  # noqa: N802 - the aggregation matrix is A in the literature
        """Aggregates x bottom 0/1 matrix: row i sums the bottom series of parent i."""
        column = {name: j for j, name in enumerate(self.bottom)}
        rows = [i for i, parent in enumerate(self.aggregates) for _ in self.children[parent]]
        cols = [column[c] for parent in self.aggregates for c in self.children[parent]]
        shape = (len(self.aggregates), len(self.bottom))
        return sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=shape)

    @cached_property
    def S(self) -> sp.csr_array:  # noqa: N802 - the summing matrix is S in the literature
        """Series x bottom summing matrix ``[A; I]``, rows :attr:`series`, columns :attr:`bottom`."""
        return sp.csr_array(sp.vstack([self.A, sp.identity(len(self.bottom), format="csr")]))

    def level_of(self) -> pd.Series:
        """Level name per series (``bottom`` for bottom-level series), indexed like :attr:`series`."""
        names = [self.levels[parent] for parent in self.aggregates] + [BOTTOM_LEVEL] * len(self.bottom)
        return pd.Series(names, index=pd.Index(self.series, name="series_id"), name="level")

    def check_series(self, series_ids: Iterable[str]) -> None:
        """Raise :class:`DataError` naming the hierarchy file when it names a series not in ``series_ids``."""
        absent = sorted(set(self.series) - set(series_ids))
        if absent:
            raise DataError(
                f"hierarchy names series that are not in the panel: {absent[:5]}",
                file=self.source,
                series=absent[0],
            )

    # --- changes -----------------------------------------------------------------
    def restrict(self, series_ids: Iterable[str]) -> SummingStructure:
        """Only parents that are kept and whose children are all kept."""
        kept = set(series_ids)
        children = {
            parent: kids
            for parent, kids in self.children.items()
            if parent in kept and all(child in kept for child in kids)
        }
        return SummingStructure(children, {parent: self.levels[parent] for parent in children}, self.source)

    def without(self, parents: Iterable[str]) -> SummingStructure:
        """The structure less the given parents (their children stay)."""
        dropped = set(parents)
        return self.restrict(set(self.series) - dropped)

    def drop_series(self, series_ids: Iterable[str]) -> SummingStructure:
        """The structure without some series (absent, as zero: a bottom series, or a parent
        with its children); parents left without children are dropped."""
        dropped = set(series_ids)
        children = {
            parent: kept
            for parent, kids in self.children.items()
            if parent not in dropped and (kept := tuple(child for child in kids if child not in dropped))
        }
        return SummingStructure(children, {parent: self.levels[parent] for parent in children}, self.source)

    def to_frame(self) -> pd.DataFrame:
        """The ``parent, child, level`` edge list written next to a panel."""
        rows = [
            (parent, child, self.levels[parent])
            for parent in self.aggregates
            for child in self.children[parent]
        ]
        return pd.DataFrame(rows, columns=list(STRUCTURE_COLUMNS))


def _expand(direct: Mapping[str, list[str]], file: str | None) -> dict[str, tuple[str, ...]]:
    """Each parent's bottom-level series (a child that is itself a parent is replaced by its own)."""
    expanded: dict[str, tuple[str, ...]] = {}

    def bottom_of(parent: str, path: tuple[str, ...]) -> tuple[str, ...]:
        if parent in path:
            raise DataError(f"the hierarchy has a cycle: {' -> '.join((*path, parent))}", file=file)
        if parent not in expanded:
            found: list[str] = []
            for child in direct[parent]:
                found.extend(bottom_of(child, (*path, parent)) if child in direct else (child,))
            if len(set(found)) < len(found):
                duplicated = sorted(child for child, count in Counter(found).items() if count > 1)
                raise DataError(f"child counted twice under one parent: {duplicated[:3]}", series=parent)
            expanded[parent] = tuple(sorted(found))
        return expanded[parent]

    for parent in direct:
        bottom_of(parent, ())
    return expanded


def structure_path(panel_path: str | Path) -> Path:
    """Where the structure of a panel file lives: ``panel.csv`` -> ``panel.hierarchy.csv``."""
    return beside(panel_path, ".hierarchy.csv")


def read_structure(panel_path: str | Path) -> SummingStructure | None:
    """The structure written next to ``panel_path``, or None when there is none.

    Anything at that name must be a readable hierarchy: a FIFO, a folder, an
    empty or binary file is a :class:`DataError` naming it (a wrong hierarchy
    would reconcile the forecasts along sums that do not hold).
    """
    path = existing_file(structure_path(panel_path))
    if path is None:
        return None
    reject_nul_bytes(path)
    try:
        edges = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        reason = "the file is empty" if isinstance(error, pd.errors.EmptyDataError) else error
        raise DataError(
            f"not a hierarchy file ({', '.join(STRUCTURE_COLUMNS)}): {reason}", file=str(path)
        ) from None
    return SummingStructure.from_edges(edges, file=str(path))


def mismatched_parents(
    wide: pd.DataFrame,
    structure: SummingStructure,
    estimated_share: pd.DataFrame | None = None,
    *,
    rtol: float = SUM_RTOL,
) -> pd.DataFrame:
    """Parents whose history differs from the sum of their children, one row each.

    Compared on months where the parent and every child are reported and no
    part of the parent is estimated (``estimated_share`` > 0, month x series).
    Columns: ``parent``, ``months`` (mismatched), ``first_month``, ``max_relative_error``.
    """
    columns = ["parent", "months", "first_month", "max_relative_error"]
    if not structure.aggregates:
        return pd.DataFrame(columns=columns)
    structure.check_series(wide.columns)
    bottom = wide[structure.bottom].to_numpy()
    parents = wide[structure.aggregates].to_numpy()
    summed = (structure.A @ np.nan_to_num(bottom).T).T
    complete = (structure.A @ np.isnan(bottom).astype(float).T).T == 0
    usable = complete & ~np.isnan(parents)
    if estimated_share is not None:
        share = estimated_share.reindex(index=wide.index, columns=structure.aggregates).to_numpy()
        usable &= ~(np.nan_to_num(share) > 0)
    scale = np.maximum(np.abs(parents), np.abs(summed))
    error = np.where(usable, np.abs(parents - summed) / np.where(scale > 0, scale, 1.0), 0.0)
    bad = error > rtol
    rows = []
    for i in np.flatnonzero(bad.any(axis=0)):
        first = int(np.flatnonzero(bad[:, i])[0])
        rows.append(
            (structure.aggregates[i], int(bad[:, i].sum()), str(wide.index[first]), error[:, i].max())
        )
    return pd.DataFrame(rows, columns=columns)
