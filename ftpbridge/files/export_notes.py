"""What an export says to the person who ran it: what marking the items means in the
partner's export mode, and which items lost characters to a legacy encoding."""

from __future__ import annotations

from ftpbridge.files.charsets import Replacements
from ftpbridge.files.exporting import ExportResult
from ftpbridge.wording import plural, quoted


def describe_marking(result: ExportResult, export_mode: str, marked: int | None = None) -> str:
    """What exporting did to the items, in the partner's mode, for the person who ran it.

    ``marked``: how many items were marked, when that was done after the export (an
    upload marks the items of its file once it is on the server: ``mark_sent``'s count,
    which leaves out an item shipped or cancelled meanwhile); None: what the export itself
    marked (all its rows, or none when it did not mark)."""
    if result.dry_run:
        return (
            "Dry run: nothing was marked; the items stay as they were and go in the next"
            " export as usual."
        )
    if result.rows == 0:
        return "No item was waiting: nothing was marked."
    if marked is None:
        marked = result.rows if result.marked else 0
    if marked == 0:
        return (
            f"Nothing was marked: none of the {plural(result.rows, 'item')} in the file is"
            " waiting to ship any more (shipped or cancelled meanwhile); they keep their status."
        )
    text = f"Marked {plural(marked, 'item')} acknowledged (exported)"
    if marked < result.rows:
        others = result.rows - marked
        text += (
            f" of the {result.rows:,} in the file ({plural(others, 'item')} shipped or cancelled"
            " meanwhile kept that status)"
        )
    if export_mode == "new_only":
        return (
            f"{text}. This partner's export_mode is new_only: they will not be exported"
            " again, so this file is the only one holding them (to look without marking,"
            " use --dry-run)."
        )
    return (
        f"{text}. This partner's export_mode is all_unshipped: they stay in every export"
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
