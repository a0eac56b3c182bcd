"""What an export says to the person who ran it: what marking the items means in the
partner's export mode, and which items lost characters to a legacy encoding."""

from __future__ import annotations

from ftpbridge.files.charsets import Replacements
from ftpbridge.files.exporting import ExportResult
from ftpbridge.wording import plural, quoted


def describe_marking(result: ExportResult, export_mode: str) -> str:
    """What exporting did to the items, in the partner's mode, for the person who ran it."""
    if not result.marked:
        return (
            "Dry run: nothing was marked; the items stay as they were and go in the next"
            " export as usual."
        )
    if result.rows == 0:
        return "No item was waiting: nothing was marked."
    marked = f"Marked {plural(result.rows, 'item')} acknowledged (exported)"
    if export_mode == "new_only":
        return (
            f"{marked}. This partner's export_mode is new_only: they will not be exported"
            " again, so this file is the only one holding them (to look without marking,"
            " use --dry-run)."
        )
    return (
        f"{marked}. This partner's export_mode is all_unshipped: they stay in every export"
        " until they ship."
    )


def describe_replacements(replaced: Replacements) -> list[str]:
    """Lines saying which items and fields lost characters to the encoding."""
    if not replaced:
        return []
    lines = [
        f"Warning: {plural(len(replaced.items), 'item')} had characters {replaced.encoding}"
        f" cannot write, written as '?' in {plural(replaced.cells, 'cell')}:"
    ]
    for change in replaced.examples:
        lines.append(
            f"  order {change.order_id}, item {change.item_id}: {change.field}"
            f" {quoted(change.original)} written as {quoted(change.written)}"
        )
    if replaced.cells > len(replaced.examples):
        lines.append(f"  ... and {plural(replaced.cells - len(replaced.examples), 'more cell')}")
    lines.append(
        'Try: set encoding = "utf-8" for this partner if its system reads UTF-8, or correct'
        " the names in the shop"
    )
    return lines
