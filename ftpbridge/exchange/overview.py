"""The Partners page of the ops console: ``partner_status`` (the figures ``ftpbridge
status`` prints, so the two never disagree), with when each job runs next, a state in
words, and rows applied and refused per day over 30 days for the chart.

Every figure comes from indexed queries (see :mod:`ftpbridge.store.reads`); the page adds
no query per item, and ``bench`` measures the page against its queries run alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from ftpbridge.exchange.status import partner_status
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.reads import daily_import_rows
from ftpbridge.store.state import all_job_states

CHART_DAYS = 30
# Past-due items are counted up to this many per partner ("1,000+"): an exact count of a
# million costs seconds, and a thousand late items already say everything.
PAST_DUE_CAP = 1_000


@dataclass
class PartnerOverview:
    """One partner's row of the Partners page."""

    status: dict[str, Any]
    state: str  # "failing", "stale", "disabled", "manual", "warning", "ok"
    state_text: str
    next_poll: dt.datetime | None
    next_export: dt.datetime | None
    last_poll_run: dt.datetime | None
    last_export_run: dt.datetime | None
    next_inventory: dt.datetime | None = None  # None: no inventory job (manual, no pattern)
    last_inventory_run: dt.datetime | None = None
    days: list[dt.date] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)

    @property
    def in_trouble(self) -> bool:
        return self.state in ("failing", "stale")


def partners_overview(
    store: Store, settings: Settings, now: dt.datetime | None = None
) -> list[PartnerOverview]:
    """Every configured partner, those in trouble first (failing, then stale), then by name."""
    now = now or utcnow()
    rows = partner_status(store, settings, now, past_due_cap=PAST_DUE_CAP)
    today = now.date()
    first_day = today - dt.timedelta(days=CHART_DAYS - 1)
    since = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
    with store.connect() as connection:
        jobs = all_job_states(connection)
        daily = daily_import_rows(connection, list(settings.partners), since)
    days = [first_day + dt.timedelta(days=offset) for offset in range(CHART_DAYS)]
    position = {day: index for index, day in enumerate(days)}
    applied = {name: [0] * CHART_DAYS for name in settings.partners}
    refused = {name: [0] * CHART_DAYS for name in settings.partners}
    for owner, created_at, rows_applied, rows_refused in daily:  # one row per file
        index = position.get(created_at.astimezone(dt.UTC).date())
        if index is not None and owner in applied:
            applied[owner][index] += rows_applied
            refused[owner][index] += rows_refused
    result = []
    for row in rows:
        partner = settings.partners[row["name"]]
        poll = jobs.get((partner.name, "poll"), {})
        export = jobs.get((partner.name, "export"), {})
        inventory = jobs.get((partner.name, "inventory"), {})
        state, text = _state(row, partner)
        scheduled = partner.enabled and partner.transport is not None
        stocked = scheduled and bool(partner.inventory_pattern)
        result.append(
            PartnerOverview(
                status=row,
                state=state,
                state_text=text,
                next_poll=(
                    _next_run(poll.get("last_run_at"), partner.poll_interval, now)
                    if scheduled
                    else None
                ),
                next_export=_next_export(partner, now) if scheduled else None,
                last_poll_run=poll.get("last_run_at"),
                last_export_run=export.get("last_run_at"),
                next_inventory=(
                    _next_run(inventory.get("last_run_at"), partner.inventory_interval, now)
                    if stocked
                    else None
                ),
                last_inventory_run=inventory.get("last_run_at"),
                days=days,
                applied=applied[partner.name],
                refused=refused[partner.name],
            )
        )
    rank = {"failing": 0, "stale": 1}
    result.sort(key=lambda item: (rank.get(item.state, 2), item.status["name"]))
    return result


def _state(row: dict[str, Any], partner: PartnerSettings) -> tuple[str, str]:
    failures = row["consecutive_failures"]
    if row["alert"]:
        return "failing", f"Failing: {failures} failures in a row"
    if row["stale"]:
        return "stale", "Stale: no successful poll recently"
    if not partner.enabled:
        return "disabled", "Disabled"
    if partner.transport is None:
        return "manual", "Manual only (no server configured)"
    if failures:
        noun = "failure" if failures == 1 else "failures"
        return "warning", f"Working, but {failures} {noun} in a row"
    stock = row["last_inventory"]
    if stock is not None and stock["state"] == "held":  # the poll alerted: a person decides
        return "warning", "Working, but its last inventory file was held"
    return "ok", "Working"


def _next_run(last_run: dt.datetime | None, interval: float, now: dt.datetime) -> dt.datetime:
    """When a job run every ``interval`` seconds (the poll, the inventory poll) is due."""
    if last_run is None:
        return now
    return max(now, last_run + dt.timedelta(seconds=interval))


def _next_export(partner: PartnerSettings, now: dt.datetime) -> dt.datetime | None:
    try:
        trigger = CronTrigger.from_crontab(partner.export_cron, timezone=ZoneInfo(partner.timezone))
    except ValueError:  # validated when the service starts; shown as unknown here
        return None
    upcoming = trigger.get_next_fire_time(None, now)
    return upcoming.astimezone(dt.UTC) if upcoming is not None else None
