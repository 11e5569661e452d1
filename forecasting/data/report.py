"""What a loader did to the input: every row dropped, merged, converted or flagged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Action = Literal["dropped", "merged", "converted", "flagged", "warning"]
ACTIONS: tuple[str, ...] = ("dropped", "merged", "converted", "flagged", "warning")


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
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"The 'action' of a quality issue must be one of {ACTIONS}. Got {action!r}.")
        self.issues.append(
            QualityIssue(action, reason, int(count), file, tuple(int(r) for r in rows), series_id, month)
        )

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

    def format(self) -> str:
        lines = [f"Data quality report: {self.source or 'input'}", f"  rows read: {self.rows_read:,}"]
        if not self.issues:
            lines.append("  no rows dropped, merged, converted or flagged")
        for issue in self.issues:
            lines.append("  " + issue.describe())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()
