"""Reconciliation of base forecasts to a summing structure, with sparse linear algebra.

Every method maps base forecasts ``y`` (rows: :attr:`SummingStructure.series`,
aggregates then bottom; columns: horizons or sample paths) to coherent ones
``S G y``:

- ``bottom_up``: ``G = [0 I]``.
- ``top_down``: forecast proportions (Athanasopoulos, Ahmed and Hyndman 2009):
  every parent's reconciled value is split among its children in proportion
  to their base forecasts, from the top down. Needs a strict hierarchy (each
  node has one smallest enclosing parent); grouped structures raise.
- ``ols``, ``wls_struct``, ``wls_var``, ``mint_shrink``: the generalised least
  squares projection ``S (S' W^-1 S)^-1 S' W^-1 y`` with ``W`` the identity,
  the number of bottom series under each node, the residual variances, or the
  Schäfer-Strimmer shrunk residual covariance (Wickramasuriya, Athanasopoulos
  and Hyndman 2019).

The projection is computed in its constraint form
``y - W C' (C W C')^-1 C y`` with ``C = [I  -A]`` (one row per parent): the
system has one unknown per *parent*, is sparse (``C W C' = D_a + A D_b A'``
plus a rank-``T`` term for MinT, handled with the Woodbury identity) and is
factorised once with a sparse LU; no ``n x n`` or ``m x m`` matrix is formed
or inverted. It equals the ``S (S'W^-1S)^-1 S'W^-1`` form exactly (the tests
check it against the dense textbook formula).

``keep`` names series whose base forecasts the projection must not move
(immutable forecasts, Zhang, Kang, Panagiotelis and Li 2023): the
generalised least squares projection onto the coherent forecasts that
equal the base at those series, with the same ``W``. In the constraint form
each kept series adds a row ``e_k'`` to ``C`` whose target is its base
forecast, so the other series absorb every disagreement and still move by
what the kept series' errors say about theirs. The kept series must leave
the constraints solvable: a parent cannot be kept with all of its children,
nor two breakdowns of one total with it (:func:`can_keep`).

``nonnegative=True`` sets negative reconciled *bottom* forecasts to zero and
sums them up again (the "set negatives to zero" heuristic of Wickramasuriya,
Athanasopoulos and Hyndman 2020): coherent, never below zero, and unchanged
when nothing was negative, but not the constrained least-squares optimum
(and a kept parent above such a series moves with it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.reconciliation.covariance import LowRankCovariance, diagonal_covariance

PROJECTIONS: tuple[str, ...] = ("ols", "wls_struct", "wls_var", "mint_shrink")
METHODS: tuple[str, ...] = ("bottom_up", "top_down", *PROJECTIONS)
NEEDS_RESIDUALS: tuple[str, ...] = ("wls_var", "mint_shrink")
SINGULAR_PIVOT = 1e-9
"""A pivot below this (of a unit-diagonal system) means the kept series leave the constraints unsolvable."""


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(
            f"The 'method' parameter of reconcile must be one of {METHODS}. Got {method!r} instead."
        )
    return method


def error_covariance(
    structure: SummingStructure, method: str, covariance: LowRankCovariance | None
) -> LowRankCovariance:
    """The ``W`` of a projection method (``covariance``: the shrunk residual covariance)."""
    if method == "ols":
        return diagonal_covariance(np.ones(len(structure)))
    if method == "wls_struct":
        return diagonal_covariance(np.asarray(structure.S.sum(axis=1)).ravel())
    if covariance is None:
        raise DataError(f"reconciliation method {method!r} needs residuals of the base forecasts")
    if covariance.diagonal.shape[0] != len(structure):
        raise DataError(
            f"residuals for {covariance.diagonal.shape[0]} series, structure has {len(structure)}"
        )
    if method == "wls_var":
        return diagonal_covariance(covariance.variances())
    return covariance


@dataclass(frozen=True)
class Reconciler:
    """A reconciliation map for one structure and method, factorised once, applied to many forecasts."""

    structure: SummingStructure
    method: str
    covariance: LowRankCovariance | None = None
    nonnegative: bool = False
    keep: frozenset[str] = field(default_factory=frozenset)
    """Series whose base forecasts stay as they are (projection methods only)."""

    def __call__(self, base: np.ndarray) -> np.ndarray:
        """Coherent forecasts for ``base`` (rows :attr:`SummingStructure.series`, any number of columns)."""
        values = np.asarray(base, dtype="float64")
        squeeze = values.ndim == 1
        values = values[:, None] if squeeze else values
        if values.shape[0] != len(self.structure):
            raise DataError(
                f"base forecasts have {values.shape[0]} rows, the structure {len(self.structure)}"
            )
        if not np.isfinite(values).all():
            raise DataError("base forecasts must be finite to be reconciled")
        bottom = self._bottom(values)
        if self.nonnegative:
            bottom = np.maximum(bottom, 0.0)
        coherent = self.structure.S @ bottom
        return coherent[:, 0] if squeeze else coherent

    def _bottom(self, values: np.ndarray) -> np.ndarray:
        aggregates = len(self.structure.aggregates)
        if self.keep and self.method not in PROJECTIONS:
            raise DataError(
                f"keeping base forecasts needs a projection method {PROJECTIONS}; got {self.method}"
            )
        if self.method == "bottom_up" or aggregates == 0:
            return values[aggregates:]
        if self.method == "top_down":
            return _top_down(self.structure, self._tree, values)
        return self._projection(values)[aggregates:]

    @cached_property
    def _tree(self) -> np.ndarray:
        return _tree_parents(self.structure)

    def _projection(self, values: np.ndarray) -> np.ndarray:
        solver = self._solver
        residual = solver.constraints @ values
        residual[len(self.structure.aggregates) :] = 0.0  # a kept series' target is its base forecast
        correction = solver.w_times_ct(solver.solve(residual))
        return np.subtract(values, correction, out=correction)  # in place: hundreds of paths are large

    @cached_property
    def _solver(self) -> _ConstraintSolver:
        covariance = error_covariance(self.structure, check_method(self.method), self.covariance)
        return _ConstraintSolver.build(self.structure, covariance, kept_rows(self.structure, self.keep))


def kept_rows(structure: SummingStructure, keep: Collection[str]) -> np.ndarray:
    """Boolean mask over :attr:`SummingStructure.series`: the series in ``keep``."""
    return np.isin(np.asarray(structure.series, dtype=object), list(keep))


def keepable(structure: SummingStructure, keep: Collection[str]) -> frozenset[str]:
    """The series of ``keep`` less those that are the sum of other kept series.

    Such a series cannot keep its own base forecast beside theirs, and
    reconciled it is their sum: on BTS the total of all inbound containers
    is the sum of the four container totals, and the total of all trains the
    total of trains. Taken narrowest first: of two series with the same
    bottom series, a bottom series stays, else the first in
    ``SummingStructure.series`` order.
    """
    rows = np.flatnonzero(kept_rows(structure, keep))
    summing = structure.S.tocsr()
    sizes = np.asarray(summing.sum(axis=1)).ravel()
    is_parent = rows < len(structure.aggregates)
    order = rows[np.lexsort((rows, is_parent, sizes[rows]))]
    shared = (summing[order] @ summing[order].T).tocsr()  # bottom series two kept series share
    accepted = np.zeros(len(order), dtype=bool)
    for i, row in enumerate(order):
        others = shared.indices[shared.indptr[i] : shared.indptr[i + 1]]
        counts = shared.data[shared.indptr[i] : shared.indptr[i + 1]]
        parts = others[accepted[others] & (counts == sizes[order[others]])]  # kept series inside this one
        disjoint = shared[parts][:, parts].sum() == sizes[order[parts]].sum()
        accepted[i] = not (len(parts) and disjoint and sizes[order[parts]].sum() == sizes[row])
    return frozenset(np.asarray(structure.series, dtype=object)[order[accepted]])


def can_keep(structure: SummingStructure, keep: Collection[str]) -> bool:
    """Whether some coherent forecasts equal any base forecasts at the series ``keep``.

    True when the kept series' rows of ``S`` are linearly independent: no kept
    parent is a sum of other kept series (with all its children, or as a
    second breakdown of a kept total).
    """
    try:
        _ConstraintSolver.build(
            structure, diagonal_covariance(np.ones(len(structure))), kept_rows(structure, keep)
        )
    except DataError:
        return False
    return True


def reconcile(
    structure: SummingStructure,
    base: np.ndarray,
    method: str,
    *,
    covariance: LowRankCovariance | None = None,
    nonnegative: bool = False,
    keep: Collection[str] = (),
) -> np.ndarray:
    """Coherent forecasts: ``base`` (rows :attr:`SummingStructure.series`) reconciled with ``method``;
    the series in ``keep`` keep their base forecasts (projection methods)."""
    return Reconciler(structure, check_method(method), covariance, nonnegative, frozenset(keep))(base)


@dataclass(frozen=True)
class _ConstraintSolver:
    """``(C W C')^-1`` for ``W = D + U U'`` by sparse LU of ``C D C'`` and Woodbury for ``U``."""

    constraints: sp.csr_array
    diagonal: np.ndarray
    factor: np.ndarray
    lu: _SymmetricFactor
    capacitance: np.ndarray | None
    cu: np.ndarray

    @classmethod
    def build(
        cls, structure: SummingStructure, covariance: LowRankCovariance, kept: np.ndarray | None = None
    ) -> _ConstraintSolver:
        """``C = [I  -A]``, plus a row ``e_k'`` per ``kept`` series (a boolean mask over the series)."""
        aggregates = len(structure.aggregates)
        summing = sp.hstack([sp.identity(aggregates, format="csr"), -structure.A], format="csr")
        rows = np.flatnonzero(kept) if kept is not None else np.array([], dtype=int)
        keeping = [sp.identity(len(structure), format="csr")[rows]] if len(rows) else []
        constraints = sp.csr_array(sp.vstack([summing, *keeping], format="csr"))
        system = constraints @ sp.diags_array(covariance.diagonal) @ constraints.T
        lu = _SymmetricFactor.build(sp.csc_array(system))
        cu = constraints @ covariance.factor  # constraints x rank
        capacitance = None
        if cu.shape[1]:
            capacitance = np.eye(cu.shape[1]) + cu.T @ lu.solve(np.ascontiguousarray(cu))
        return cls(constraints, covariance.diagonal, covariance.factor, lu, capacitance, cu)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``(C W C')^-1 rhs`` (Woodbury: ``K^-1 - K^-1 V (I + V'K^-1V)^-1 V'K^-1`` with ``V = C U``)."""
        first = self.lu.solve(np.ascontiguousarray(rhs))
        if self.capacitance is None:
            return first
        correction = self.lu.solve(
            np.ascontiguousarray(self.cu @ np.linalg.solve(self.capacitance, self.cu.T @ first))
        )
        return first - correction

    def w_times_ct(self, z: np.ndarray) -> np.ndarray:
        """``W C' z`` without forming ``W`` (built in the array ``C' z``: one allocation fewer)."""
        out = self.constraints.T @ z
        low_rank = self.factor.T @ out if self.factor.shape[1] else None
        out *= self.diagonal[:, None]
        if low_rank is not None:
            out += self.factor @ low_rank
        return out


@dataclass(frozen=True)
class _SymmetricFactor:
    """Sparse LU of a symmetric positive definite matrix, scaled to unit diagonal first.

    Scaling keeps variances of very different sizes (a national total and a
    small port) from upsetting the pivoting; with a positive definite matrix
    no pivoting is needed, so the fill-reducing symmetric ordering is kept.
    """

    scale: np.ndarray
    lu: object

    @classmethod
    def build(cls, system: sp.csc_array) -> _SymmetricFactor:
        """Raises DataError when the system is singular (kept series that fix a parent and its children)."""
        diagonal = system.diagonal()
        if not (diagonal > 0).all():
            raise DataError(_UNSOLVABLE)
        scale = 1.0 / np.sqrt(diagonal)
        scaled = sp.csc_array(sp.diags_array(scale) @ system @ sp.diags_array(scale))
        try:
            lu = splu(
                scaled, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
            )
        except RuntimeError as error:  # "Factor is exactly singular"
            raise DataError(_UNSOLVABLE) from error
        if np.abs(lu.U.diagonal()).min() < SINGULAR_PIVOT:
            raise DataError(_UNSOLVABLE)
        return cls(scale, lu)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        scale = self.scale[:, None] if rhs.ndim == 2 else self.scale
        return scale * self.lu.solve(np.ascontiguousarray(scale * rhs))


_UNSOLVABLE = (
    "the series kept at their base forecasts fix a sum twice (a parent and all its children, or two "
    "breakdowns of one total): keep fewer levels"
)


def _tree_parents(structure: SummingStructure) -> np.ndarray:
    """For each row of ``S``: the row of its smallest enclosing parent (-1 for roots).

    Raises when two enclosing parents are not nested: top-down needs a strict hierarchy.
    """
    S = structure.S.tocsr()
    sizes = np.asarray(S.sum(axis=1)).ravel()
    overlap = (S @ S.T).tocsr()  # shared bottom series between any two rows
    order = np.lexsort((np.arange(len(sizes)), -sizes))  # larger first; ties by row (a fixed order)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    parents = np.full(len(sizes), -1)
    for row in range(len(sizes)):
        start, end = overlap.indptr[row], overlap.indptr[row + 1]
        others = overlap.indices[start:end]
        shared = overlap.data[start:end]
        # enclosing: shares all of this row's bottom series and comes before it in the order
        enclosing = others[(shared == sizes[row]) & (rank[others] < rank[row])]
        if len(enclosing) == 0:
            continue
        closest = enclosing[np.argmax(rank[enclosing])]
        if not _nested(overlap, sizes, closest, enclosing):
            names = structure.series
            raise DataError(
                f"top_down needs a strict hierarchy: {names[row]!r} is in parents that do not nest "
                f"({', '.join(names[e] for e in enclosing[:3])}); use bottom_up, ols, wls or mint_shrink"
            )
        parents[row] = closest
    return parents


def _nested(overlap: sp.csr_array, sizes: np.ndarray, closest: int, enclosing: np.ndarray) -> bool:
    """Every enclosing parent also encloses the closest one."""
    row = overlap[[closest]].toarray().ravel()
    return bool(np.all(row[enclosing] == sizes[closest]))


def _top_down(structure: SummingStructure, parents: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Split each parent's reconciled value among its tree children by their base forecasts."""
    sizes = np.asarray(structure.S.sum(axis=1)).ravel()
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    reconciled = values.copy()
    sibling_sums = np.zeros_like(values)
    children = parents >= 0
    np.add.at(sibling_sums, parents[children], values[children])
    counts = np.bincount(parents[children], minlength=len(sizes))
    for row in order:
        parent = parents[row]
        if parent < 0:
            continue
        total = sibling_sums[parent]
        share = np.divide(values[row], total, out=np.full_like(total, 1.0 / counts[parent]), where=total != 0)
        reconciled[row] = reconciled[parent] * share
    return reconciled[len(structure.aggregates) :]
