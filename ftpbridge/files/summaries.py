"""What an import (of an updated file, or an inventory file) tells people about its rows:
reasons grouped, with how many rows gave each and the first of them ("3,000 rows: carrier
'Pigeon Post' is unknown: rows 2, 3, 4, 5, 6 and 2,995 more"), for rejected rows and for
warnings (rows applied anyway).

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
    """Rows that share one reason: how many, and the first ``ROWS_SHOWN`` of them as
    (row number, order id, item id), or the ids its ReasonGroups' ``labels`` name."""

    count: int = 0
    rows: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class ReasonGroups:
    """Reason → its rows, in the order reasons first appear; ``other``: rows whose reason
    was not kept (over ``KEPT_REASONS`` distinct ones). ``labels``: what a row's two ids
    are called in the lines (an updated file's order and item; an inventory file's SKU as
    sent and the shop's sku id)."""

    groups: dict[str, ReasonGroup] = field(default_factory=dict)
    other: int = 0
    labels: tuple[str, str] = ("order", "item")

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups.values()) + self.other

    def add(
        self, reasons: np.ndarray, rows: np.ndarray, order_ids: np.ndarray, item_ids: np.ndarray
    ) -> None:
        """Count the rows of a chunk (the reasons, row numbers and ids of the rows concerned)."""
        if len(rows) == 0:
            return
        frame = pd.DataFrame(
            {
                "reason": reasons.astype(object),
                "row": rows.astype(np.int64),
                "order_id": order_ids.astype(object),
                "item_id": item_ids.astype(object),
            }
        )
        grouped = frame.groupby("reason", sort=False)
        counts = grouped.size()
        firsts = grouped.head(ROWS_SHOWN)
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
                mine = firsts[firsts["reason"] == reason].head(room)
                group.rows.extend(
                    (int(row), str(order), str(item))
                    for row, order, item in zip(
                        mine["row"], mine["order_id"], mine["item_id"], strict=True
                    )
                )

    def lines(self, indent: str = "  ") -> list[str]:
        """One line per reason, most rows first: a single row with its ids (an empty one
        left out), else the count and the first rows."""
        lines = []
        for reason, group in sorted(self.groups.items(), key=lambda item: -item[1].count):
            if group.count == 1:
                row, *ids = group.rows[0]
                named = ", ".join(
                    f"{label} {value}"
                    for label, value in zip(self.labels, ids, strict=True)
                    if value
                )
                lines.append(f"{indent}row {row}{f' ({named})' if named else ''}: {reason}")
                continue
            where = ", ".join(str(row) for row, _order, _item in group.rows)
            more = group.count - len(group.rows)
            tail = f" and {more:,} more" if more > 0 else ""
            lines.append(f"{indent}{plural(group.count, 'row')}: {reason} (rows {where}{tail})")
        if self.other:
            lines.append(f"{indent}{plural(self.other, 'more row')} with other reasons")
        return lines
