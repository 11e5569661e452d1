"""What a loader did to the input: every row dropped, merged, converted or flagged.

A real file yields thousands of findings (the BTS file: 2,800, most of them
one of eight kinds), so a person reads :meth:`DataQualityReport.summary`: the
shared level shifts first (they say the most about a panel), the count of
findings per kind, and the :data:`SUMMARY_LINES` most telling findings; the
full report (:meth:`DataQualityReport.format`, each finding once, grouped by
kind) goes to a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from forecasting.files import beside

Action = Literal["dropped", "merged", "converted", "flagged", "warning"]
ACTIONS: tuple[str, ...] = ("dropped", "merged", "converted", "flagged", "warning")
SEVERITY: tuple[str, ...] = ("dropped", "warning", "flagged", "merged", "converted")
"""Actions from what most needs a look (values lost) to routine conversions: the summary's order."""
LEVEL_SHIFT = "level shift shared across crossings"
"""The kind of :mod:`forecasting.features.breaks`' flags: a counting change or an event at most
crossings at once, which no model trained before it foresees; a summary lists these first."""
FIRST_KINDS: tuple[str, ...] = (LEVEL_SHIFT,)
LEVEL_SHIFT_NOTE = "a counting change or an event: declare a step event if models should learn it"
KIND_NOTES: dict[str, str] = {LEVEL_SHIFT: LEVEL_SHIFT_NOTE}
"""What to make of a kind of finding: the end of each of its reasons, said once in a summary."""
SUMMARY_LINES = 20
"""Findings a summary shows besides the shared level shifts; the full report has every one."""


@dataclass(frozen=True)
class QualityIssue:
    """One adjustment or observation about the input, with where it happened."""

    action: Action
    reason: str
    count: int = 1
    file: str | None = None
    rows: tuple[int, ...] = ()
    series_id: str | None = None
    month: str | None = None
    kind: str | None = None
    """What sort of finding this is, where the reason alone does not say (:func:`kind_of`)."""

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.series_id:
            where.append(f"series {self.series_id!r}")
        if self.month:
            where.append(f"month {self.month}")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = f" (+{len(self.rows) - 5} more)" if len(self.rows) > 5 else ""
            where.append(f"rows {shown}{more}")
        location = f" [{'; '.join(where)}]" if where else ""
        return f"{self.action:<9} {self.count:>7,}  {self.reason}{location}"


def kind_of(issue: QualityIssue) -> str:
    """The sort of finding: its ``kind``, else its reason up to the first ``:``, `` (`` or ``;``.

    Reasons put the general statement first and the particulars after
    (``gap: months missing inside the series ...``), so the prefix groups
    findings the way a person would count them.
    """
    if issue.kind:
        return issue.kind
    text = issue.reason
    for mark in (":", " (", ";"):
        text = text.split(mark, 1)[0]
    return text.strip()


@dataclass(frozen=True)
class KindCount:
    """How many findings of one kind (and action) a report has, and the sum of their counts."""

    action: str
    kind: str
    findings: int
    count: int

    def describe(self) -> str:
        return f"{self.action:<9} {self.findings:>7,} {self.count:>9,}  {self.kind}"


def _short_names(files: set[str]) -> dict[str, str]:
    """Each file by its name, or by its path where two files share the name."""
    names = [Path(file).name for file in files]
    return {file: Path(file).name if names.count(Path(file).name) == 1 else file for file in files}


def some_of(names: Sequence[str], shown: int = 3) -> str:
    """``names`` for a one-line summary: the first ``shown`` and how many more."""
    more = f", +{len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def report_path(output: str | Path) -> Path:
    """Where the full report of a built panel goes: ``panel.csv`` -> ``panel.report.txt`` beside it."""
    return beside(output, ".report.txt")


@dataclass
class DataQualityReport:
    """The audit trail of one load: nothing is adjusted without an entry here."""

    source: str = ""
    rows_read: int = 0
    issues: list[QualityIssue] = field(default_factory=list)

    def add(
        self,
        action: Action,
        reason: str,
        *,
        count: int = 1,
        file: str | None = None,
        rows: tuple[int, ...] | list[int] = (),
        series_id: str | None = None,
        month: str | None = None,
        kind: str | None = None,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"The 'action' of a quality issue must be one of {ACTIONS}. Got {action!r}.")
        rows = tuple(int(r) for r in rows)
        self.issues.append(QualityIssue(action, reason, int(count), file, rows, series_id, month, kind))

    def extend(self, other: DataQualityReport) -> DataQualityReport:
        self.issues.extend(other.issues)
        self.rows_read += other.rows_read
        return self

    def count(self, action: Action | None = None) -> int:
        return sum(i.count for i in self.issues if action is None or i.action == action)

    def to_frame(self) -> pd.DataFrame:
        columns = ["action", "reason", "count", "file", "rows", "series_id", "month"]
        return pd.DataFrame(
            [
                {
                    "action": i.action,
                    "reason": i.reason,
                    "count": i.count,
                    "file": i.file,
                    "rows": ",".join(map(str, i.rows)),
                    "series_id": i.series_id,
                    "month": i.month,
                }
                for i in self.issues
            ],
            columns=columns,
        )

    # --- for a person -----------------------------------------------------------------------
    def findings(self) -> list[QualityIssue]:
        """Each finding once, grouped by kind in :meth:`kinds` order, in the order found within a kind.

        A finding the source's own path locates loses that path and, in a report of several files
        (a job's sources), one located in a file is named by the file's name when no other file of
        the report has that name: the header names the files in full, once.
        """
        short = _short_names({issue.file for issue in self.issues if issue.file})
        unique = [
            replace(i, file=None if i.file == self.source else short.get(i.file, i.file))
            for i in dict.fromkeys(self.issues)
        ]
        rank = {(k.action, k.kind): position for position, k in enumerate(self.kinds())}
        return sorted(unique, key=lambda issue: rank[(issue.action, kind_of(issue))])

    def kinds(self) -> list[KindCount]:
        """Findings and summed counts per kind: shared level shifts first, then by :data:`SEVERITY`,
        most findings first."""
        groups: dict[tuple[str, str], list[QualityIssue]] = {}
        for issue in dict.fromkeys(self.issues):
            groups.setdefault((issue.action, kind_of(issue)), []).append(issue)
        counts = [
            KindCount(a, k, len(group), sum(i.count for i in group)) for (a, k), group in groups.items()
        ]
        return sorted(counts, key=_kind_rank)

    def summary_lines(self, *, limit: int = SUMMARY_LINES, saved_to: str | Path | None = None) -> list[str]:
        """The findings as a person reads them (module docstring), indented for a report body."""
        if not self.issues:
            return ["  no rows dropped, merged, converted or flagged"]
        findings = self.findings()
        kinds = self.kinds()
        first = [i for i in findings if kind_of(i) in FIRST_KINDS]
        others = [i for i in findings if kind_of(i) not in FIRST_KINDS]
        where = f"; all of them in {saved_to}" if saved_to is not None else ""
        lines = [f"  findings: {len(findings):,} of {len(kinds)} kinds{where}"]
        for kind in FIRST_KINDS:
            lines += _first_kind_lines(kind, [i for i in first if kind_of(i) == kind])
        lines.append("  by kind:      findings     count  kind")
        lines += ["    " + kind.describe() for kind in kinds]
        shown = _most_important(others, limit)
        if shown:
            lines.append(f"  the {len(shown)} most important of {len(others):,} other findings:")
            lines += ["    " + issue.describe() for issue in shown]
        return lines

    def summary(self, *, limit: int = SUMMARY_LINES, saved_to: str | Path | None = None) -> str:
        """The aggregated report a command prints (:meth:`summary_lines` under the header)."""
        return "\n".join([*self._header(), *self.summary_lines(limit=limit, saved_to=saved_to)])

    def format(self) -> str:
        """The full report: header, counts per kind, then every finding once, grouped by kind."""
        lines = self._header()
        if not self.issues:
            lines.append("  no rows dropped, merged, converted or flagged")
            return "\n".join(lines)
        lines.append("  by kind:      findings     count  kind")
        lines += ["    " + kind.describe() for kind in self.kinds()]
        lines.append("  findings:")
        lines += ["    " + issue.describe() for issue in self.findings()]
        return "\n".join(lines)

    def _header(self) -> list[str]:
        return [f"Data quality report: {self.source or 'input'}", f"  rows read: {self.rows_read:,}"]

    def __str__(self) -> str:
        return self.format()


def _kind_rank(kind: KindCount) -> tuple[int, int, int, str]:
    first = FIRST_KINDS.index(kind.kind) if kind.kind in FIRST_KINDS else len(FIRST_KINDS)
    return first, SEVERITY.index(kind.action), -kind.findings, kind.kind


def _most_important(issues: list[QualityIssue], limit: int) -> list[QualityIssue]:
    """Up to ``limit`` findings: the largest of every kind in turn (most severe kinds first), so each
    kind shows an example before any shows a second; shown grouped by kind, largest first."""
    by_kind: dict[tuple[str, str], list[QualityIssue]] = {}
    for issue in issues:  # already in kind order
        by_kind.setdefault((issue.action, kind_of(issue)), []).append(issue)
    ranked = [sorted(group, key=lambda i: (-i.count, i.describe())) for group in by_kind.values()]
    chosen: list[QualityIssue] = []
    for turn in range(max(map(len, ranked), default=0)):
        chosen += [group[turn] for group in ranked if turn < len(group)]
        if len(chosen) >= limit:
            break
    chosen = chosen[:limit]
    order = {id(issue): position for position, issue in enumerate(i for g in ranked for i in g)}
    return sorted(chosen, key=lambda issue: order[id(issue)])


def _first_kind_lines(kind: str, issues: list[QualityIssue]) -> list[str]:
    """Every finding of a kind a summary shows first; the kind's note once, not on every line."""
    if not issues:
        return []
    note = KIND_NOTES.get(kind)
    header = f"  {kind}: {len(issues)}" + (f" ({note})" if note else "")
    tail = f"; {note}" if note else ""
    return [header, *("    " + replace(i, reason=i.reason.removesuffix(tail)).describe() for i in issues)]
