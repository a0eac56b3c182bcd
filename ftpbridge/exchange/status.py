"""``ftpbridge status``: how every partner is doing, read from the store (works while the
daemon runs). Silent stalls are what hurts most in this field, so failures, alerts and
stale partners are shown first and plainly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ftpbridge.exchange.inventory import INVENTORY
from ftpbridge.logs import shown
from ftpbridge.settings import Settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.items import count_by_status
from ftpbridge.store.outbox import Summary, summary
from ftpbridge.store.reads import count_past_due
from ftpbridge.store.state import all_job_states, failures_of
from ftpbridge.wording import plural

_DEFAULT_PORTS = {"ftp": 21, "ftps": 21, "sftp": 22}

# A notification waiting longer than this (or failing) is stuck: status flags it.
STUCK_AFTER = dt.timedelta(minutes=15)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def partner_status(
    store: Store,
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    past_due_cap: int | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready dict per configured partner (see the README for the fields).
    ``past_due_cap``: count past-due items only up to this many (one more means "more")."""
    now = now or utcnow()
    since = now - dt.timedelta(hours=24)
    with store.connect() as connection:
        jobs = all_job_states(connection)
        totals = ledger.import_totals(connection, since)
        counts = count_by_status(connection)
        # Counted, not listed: one indexed query for every partner (issue 16's Partners page).
        past_due = count_past_due(
            connection,
            {
                name: now - dt.timedelta(days=partner.past_due_days)
                for name, partner in settings.partners.items()
            },
            cap=past_due_cap,
        )
        deliveries = summary(connection)
        result = []
        for name, partner in settings.partners.items():
            exports = ledger.recent(connection, partner=name, direction="export", limit=1)
            imports = ledger.recent(connection, partner=name, direction="import", limit=1)
            stock = ledger.recent(connection, partner=name, direction="inventory", limit=1)
            poll = jobs.get((name, "poll"), {})
            export = jobs.get((name, "export"), {})
            inventory = jobs.get((name, "inventory"), {})
            failures = max(
                state.get("consecutive_failures", 0) for state in (poll, export, inventory)
            )
            errors = [state for state in (poll, export, inventory) if state.get("last_error_at")]
            last_error = max(errors, key=lambda state: state["last_error_at"]) if errors else None
            polled = poll.get("last_success_at")
            scheduled = partner.enabled and partner.transport is not None
            stale = scheduled and (
                polled is None or (now - polled).total_seconds() > partner.stale_seconds
            )
            # The inventory files the poll could not take are counted under their own key.
            stuck = failures_of(connection, name) | failures_of(
                connection, INVENTORY.sightings_key(name)
            )
            last_export = exports[0] if exports else None
            last_import = imports[0] if imports else None
            last_stock = stock[0] if stock else None
            result.append(
                {
                    "name": name,
                    "enabled": partner.enabled,
                    "transport": partner.transport,
                    "host": partner.host or (str(partner.path) if partner.path else None),
                    "port": partner.port or _DEFAULT_PORTS.get(partner.transport or ""),
                    "last_export": (
                        {
                            "file": last_export["name"],
                            "items": last_export["rows_total"],
                            "state": last_export["state"],
                            "at": _iso(last_export["created_at"]),
                        }
                        if last_export
                        else None
                    ),
                    "last_poll": _iso(polled),
                    "last_import": (
                        {
                            "file": last_import["name"],
                            "state": last_import["state"],
                            "applied": last_import["rows_applied"],
                            "unchanged": last_import["rows_unchanged"],
                            "rejected": last_import["rows_rejected"],
                            "at": _iso(last_import["created_at"]),
                        }
                        if last_import
                        else None
                    ),
                    "last_inventory": (
                        {
                            "file": last_stock["name"],
                            "state": last_stock["state"],
                            "applied": last_stock["rows_applied"],
                            "rejected": last_stock["rows_rejected"],
                            "message": last_stock["message"],
                            "at": _iso(last_stock["created_at"]),
                        }
                        if last_stock
                        else None
                    ),
                    "imports_24h": totals.get(
                        name, {"files": 0, "applied": 0, "unchanged": 0, "rejected": 0}
                    ),
                    "items": {
                        "pending": counts.get((name, "pending"), 0),
                        "acknowledged": counts.get((name, "acknowledged"), 0),
                        "shipped": counts.get((name, "shipped"), 0),
                        "past_due": past_due.get(name, 0),
                    },
                    "consecutive_failures": failures,
                    "alert": failures >= partner.alert_after,
                    "last_error": last_error["last_error"] if last_error else None,
                    "last_error_at": _iso(last_error["last_error_at"]) if last_error else None,
                    "stale": stale,
                    # Files the poll could not take (issue 12): tried again at each poll,
                    # moved to errors_dir after alert_after tries.
                    "stuck_files": [
                        {"file": file, "failures": failures, "last_error": error}
                        for file, (failures, error) in sorted(stuck.items())
                    ],
                    "replica": {"poll": poll.get("replica"), "export": export.get("replica")},
                    "deliveries": delivery_status(deliveries.get(name), now),
                }
            )
    return result


def delivery_status(found: Summary | None, now: dt.datetime) -> dict[str, Any]:
    """A partner's notifications (webhook and e-mail events) as status shows them:
    ``pending``, ``failing`` (pending after a failed attempt), ``dead``, ``oldest_pending``
    and ``stuck`` (failing, or waiting longer than 15 minutes)."""
    if found is None:
        return {"pending": 0, "failing": 0, "dead": 0, "oldest_pending": None, "stuck": False}
    oldest = found.oldest_pending
    return {
        "pending": found.pending,
        "failing": found.failing,
        "dead": found.dead,
        "oldest_pending": _iso(oldest),
        "stuck": found.failing > 0 or (oldest is not None and now - oldest > STUCK_AFTER),
    }


def deliveries_total(store: Store, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every partner's notifications together (and those of items with no partner)."""
    now = now or utcnow()
    with store.connect() as connection:
        found = list(summary(connection).values())
    oldest = [entry.oldest_pending for entry in found if entry.oldest_pending is not None]
    total = Summary(
        None,
        sum(entry.pending for entry in found),
        sum(entry.failing for entry in found),
        sum(entry.dead for entry in found),
        min(oldest) if oldest else None,
    )
    return delivery_status(total, now)


def render_deliveries(total: dict[str, Any]) -> list[str]:
    """The notifications line of ``status`` (none when nothing waits and nothing is dead)."""
    if not total["pending"] and not total["dead"]:
        return []
    parts = [f"{total['pending']} waiting"]
    if total["pending"]:
        parts[0] += f" (oldest {total['oldest_pending']})"
    if total["failing"]:
        parts.append(f"{total['failing']} failing")
    if total["dead"]:
        parts.append(f"{total['dead']} dead")
    flag = "  [STUCK: see ftpbridge notify list]" if total["stuck"] else ""
    if total["dead"]:
        flag += "  [DEAD: ftpbridge notify list --dead; notify retry]"
    return [f"notifications: {', '.join(parts)}{flag}"]


def render(rows: list[dict[str, Any]]) -> list[str]:
    """Readable lines for a terminal."""
    if not rows:
        return ["No partners configured."]
    lines = []
    for row in rows:
        flags = []
        if not row["enabled"]:
            flags.append("disabled")
        if row["alert"]:
            flags.append(f"ALERT: {row['consecutive_failures']} failures in a row")
        elif row["consecutive_failures"]:
            flags.append(f"{plural(row['consecutive_failures'], 'failure')} in a row")
        if row["stale"]:
            flags.append("STALE: no successful poll recently")
        head = f"{row['name']}"
        where = "manual only"
        if row["transport"] == "local":
            where = f"local folder {row['host']}"
        elif row["transport"]:
            where = f"{row['transport']}://{row['host']}:{row['port']}"
        lines.append(f"{head}  ({where})" + (f"  [{'; '.join(flags)}]" if flags else ""))
        export = row["last_export"]
        lines.append(
            "  last export:  "
            + (
                f"{export['file']} ({export['items']} items, {export['state']}) at {export['at']}"
                if export
                else "never"
            )
        )
        lines.append(f"  last poll:    {row['last_poll'] or 'never'}")
        stock = row["last_inventory"]
        if stock:
            state = stock["state"].upper() if stock["state"] == "held" else stock["state"]
            lines.append(
                f"  last stock:   {shown(stock['file'])} ({state}: {stock['applied']} applied,"
                f" {stock['rejected']} rejected) at {stock['at']}"
                + (f"; {shown(stock['message'])}" if stock["message"] else "")
            )
        day = row["imports_24h"]
        lines.append(
            f"  last 24 h:    {plural(day['files'], 'file')} imported: {day['applied']} applied,"
            f" {day['unchanged']} unchanged, {day['rejected']} rejected"
        )
        items = row["items"]
        lines.append(
            f"  items:        {items['pending']:,} pending, {items['acknowledged']:,}"
            f" acknowledged (of these, {items['past_due']:,} past due),"
            f" {items['shipped']:,} shipped"
        )
        if row["last_error"]:
            lines.append(f"  last error:   {row['last_error']} ({row['last_error_at']})")
        for stuck in row.get("stuck_files", []):
            tries = stuck["failures"]
            lines.append(
                f"  not taken:    {shown(stuck['file'])}"
                f" ({tries} {'try' if tries == 1 else 'tries'}): {stuck['last_error']}"
            )
        sent = row["deliveries"]
        if sent["pending"] or sent["dead"]:
            lines.append(
                f"  notifications: {sent['pending']} waiting, {sent['failing']} failing,"
                f" {sent['dead']} dead" + ("  (stuck)" if sent["stuck"] else "")
            )
    return lines
