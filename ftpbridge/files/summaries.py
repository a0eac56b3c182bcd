"""What an import tells people about its rows: reasons grouped, with how many rows gave
each and the first of them ("3,000 rows: carrier 'Pigeon Post' is unknown: rows 2, 3, 4,
5, 6 and 2,995 more"), for rejected rows and for warnings (rows applied anyway).

Collected chunk by chunk while the report is written, so the summary never reads the
report back; bounded: at most ``KEPT_REASONS`` distinct reasons are kept with their rows,
the rest only counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ftpbridge.wording import plural

KEPT_REASONS = 50
ROWS_SHOWN = 5


@dataclass
class ReasonGroup:
    """Rows that share one reason: how many, and the first ``ROWS_SHOWN`` row numbers."""

    count: int = 0
    rows: list[int] = field(default_factory=list)


@dataclass
class ReasonGroups:
    """Reason → its rows, in the order reasons first appear; ``other``: rows whose reason
    was not kept (over ``KEPT_REASONS`` distinct ones)."""

    groups: dict[str, ReasonGroup] = field(default_factory=dict)
    other: int = 0

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups.values()) + self.other

    def add(self, reasons: np.ndarray, rows: np.ndarray) -> None:
        """Count the rows of a chunk (``reasons`` and ``rows`` of the rows concerned)."""
        if len(rows) == 0:
            return
        frame = pd.DataFrame({"reason": reasons.astype(object), "row": rows.astype(np.int64)})
        grouped = frame.groupby("reason", sort=False)["row"]
        counts = grouped.size()
        firsts: dict[object, list[int]] = {
            reason: rows.head(ROWS_SHOWN).tolist() for reason, rows in grouped
        }
        for reason, count in counts.items():
            text = str(reason)
            group = self.groups.get(text)
            if group is None:
                if len(self.groups) >= KEPT_REASONS:
                    self.other += int(count)
                    continue
                group = self.groups[text] = ReasonGroup()
            group.count += int(count)
            room = ROWS_SHOWN - len(group.rows)
            if room > 0:
                group.rows.extend(int(row) for row in firsts[reason][:room])

    def lines(self, indent: str = "  ") -> list[str]:
        """One line per reason, most rows first: count, reason, first rows."""
        lines = []
        for reason, group in sorted(self.groups.items(), key=lambda item: -item[1].count):
            where = ", ".join(str(row) for row in group.rows)
            more = group.count - len(group.rows)
            rows = f"row {where}" if group.count == 1 else f"rows {where}"
            if more > 0:
                rows += f" and {more:,} more"
            lines.append(f"{indent}{plural(group.count, 'row')}: {reason} ({rows})")
        if self.other:
            lines.append(f"{indent}{plural(self.other, 'more row')} with other reasons")
        return lines
