"""The outbox: notification events written in the transaction of the change they tell
about, and the bookkeeping of their delivery (the sending itself is ``ftpbridge.notify``).

Writing. :func:`ftpbridge.store.shipments.apply_shipments` writes one ``webhook`` event per
item change (:func:`webhook_events_sql`, :func:`with_webhook_events`), when its
:class:`Notify` asks for it;
:func:`add_emails` writes one ``email`` event per order of a file or of an API update.
Both run in the caller's transaction: a change rolled back leaves no event, a change
committed cannot lose its events. Each event gets an ``event_id`` (``evt_`` and 32 hex
digits: 16 random for the statement that wrote it, then its change's number) that never
changes, so a receiver can drop duplicates.

Sending (:mod:`ftpbridge.store.deliveries`). An event is ``pending`` until it is
``delivered`` or ``dead``. A sender claims a batch of due events of one channel in a
short transaction, oldest first, and only events with no older pending event of the same
order waiting for a retry or held by another sender (so a correction never overtakes its
shipment). Claiming leases them (``lease_until``, ``leased_by``): no other sender takes
them while the lease runs. On PostgreSQL claims are serialised by a transaction-level
advisory lock and the rows are locked ``FOR UPDATE SKIP LOCKED``, so replicas never take
one event at the same moment. A sender that died (``kill -9``) loses its leases at once:
on PostgreSQL its session's advisory lock is gone with its connection; on SQLite (one
machine) its process is gone. Then it records what each attempt got.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, select, update

from ftpbridge.errors import UsageError
from ftpbridge.store.engine import driver_sql, timestamp_value
from ftpbridge.store.schema import outbox

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
WEBHOOK = "webhook"
EMAIL = "email"
CHANNELS = (WEBHOOK, EMAIL)


@dataclass(frozen=True)
class Notify:
    """Which events a change writes into the outbox (the caller decides from the settings).

    ``webhook``: one event per item change. ``email``: one e-mail per order (written by
    :func:`add_emails`), for items of the partners in ``email_partners`` (None: every one).
    """

    webhook: bool = False
    email: bool = False
    email_partners: frozenset[str] | None = None


NOTHING = Notify()


# --------------------------------------------------------------------------- writing


def new_id_prefix() -> str:
    """The random half of the event ids one statement writes (16 hex digits)."""
    return secrets.token_hex(8)


def event_id_sql(dialect: str, number: str, marker: str = "?") -> str:
    """SQL for an event id: ``evt_``, a random prefix (the first marker of the statement,
    :func:`new_id_prefix`) and ``number`` (a change id, unique in the store) as 16 hex
    digits. Ids of one statement follow each other, so a million of them go into the
    unique index in order (random ids went in at random places: the import writing a
    million events took three times as long); the random half keeps the ids of two
    stores (or two statements) apart."""
    if dialect == "postgresql":
        return f"'evt_' || {marker} || lpad(to_hex({number}), 16, '0')"
    return f"'evt_' || {marker} || printf('%016x', {number})"


WEBHOOK_TYPES = ("item.shipped", "item.corrected", "item.reinstated", "item.cancelled")
"""Every type a webhook event can have (the README's Notifications section documents each):
shipped, new details for an item shipped before, put back to waiting (pending or
acknowledged), cancelled (only by hand: ``ftpbridge orders set-status --status cancelled``)."""


def change_type_sql(old_status: str, new_status: str) -> str:
    """SQL for an item change's event type (one of WEBHOOK_TYPES) from its status before
    and after."""
    return (
        f"CASE WHEN {new_status} = 'cancelled' THEN 'item.cancelled'"
        f" WHEN {new_status} <> 'shipped' THEN 'item.reinstated'"
        f" WHEN {old_status} = 'shipped' THEN 'item.corrected' ELSE 'item.shipped' END"
    )


WEBHOOK_COLUMNS = (
    "event_id, channel, type, partner, order_id, item_id, change_id, file_id, source,"
    " item_status, shipped_date, carrier, tracking_number, created_at, state, attempts,"
    " pending_since, next_attempt_at"
)


def webhook_events_sql(dialect: str) -> str:
    """SQLite: ``INSERT INTO outbox`` one webhook event per ``item_changes`` row with an id
    above the marker's (the changes just written; the transaction holds the write lock).
    Markers: the id prefix, file_id, source, created_at, pending_since, next_attempt_at,
    the last change id before. (PostgreSQL writes them in apply_shipments' statement.)"""
    return (
        f"INSERT INTO outbox ({WEBHOOK_COLUMNS}) SELECT {event_id_sql(dialect, 'c.id')}, 'webhook',"  # noqa: S608 - constants only
        f" {change_type_sql('c.old_status', 'c.new_status')}, items.partner, items.order_id,"
        " c.item_id, c.id, ?, ?, c.new_status, c.new_shipped_date, c.new_carrier,"
        " c.new_tracking_number, ?, 'pending', 0, ?, ?"
        " FROM item_changes AS c JOIN items ON items.id = c.item_id WHERE c.id > ? ORDER BY c.id"
    )


def with_webhook_events(apply_sql: str) -> str:
    """PostgreSQL: apply_shipments' one statement (store/shipments.py) made to write each
    change's webhook event too: the changes come back from their INSERT (RETURNING) and
    become outbox rows in the same statement. Six more markers, after the changes' four:
    the id prefix, file_id, source, created_at, pending_since, next_attempt_at."""
    events = (
        " new_tracking_number, %s FROM before ORDER BY row_number RETURNING id, item_id,"  # noqa: S608 - constants only
        " old_status, new_status, new_shipped_date, new_carrier, new_tracking_number),"
        f" events AS (INSERT INTO outbox ({WEBHOOK_COLUMNS})"
        f" SELECT {event_id_sql('postgresql', 'recorded.id', '%s')},"
        f" 'webhook', {change_type_sql('recorded.old_status', 'recorded.new_status')},"
        " before.partner, before.order_id, recorded.item_id, recorded.id, %s, %s,"
        " recorded.new_status, recorded.new_shipped_date, recorded.new_carrier,"
        " recorded.new_tracking_number, %s, 'pending', 0, %s, %s FROM recorded"
        " JOIN before ON before.id = recorded.item_id ORDER BY recorded.id)"
    )
    rewritten = apply_sql.replace(
        "WITH before AS (SELECT items.id,",
        "WITH before AS (SELECT items.id, items.order_id, items.partner,",
    ).replace(" new_tracking_number, %s FROM before ORDER BY row_number)", events)
    if rewritten.count("%s") != apply_sql.count("%s") + 6:
        raise RuntimeError("apply_shipments' statement changed: with_webhook_events must follow")
    return rewritten


def last_change_id(connection: Connection) -> int:
    """The highest ``item_changes`` id so far (0 for none)."""
    return int(
        connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM item_changes").scalar_one()
    )


_EMAIL_ITEM = (
    "'item_id', c.item_id, 'product_name', items.product_name, 'quantity', items.quantity,"
    " 'event', {event}, 'shipped_date', c.new_shipped_date, 'carrier', c.new_carrier,"
    " 'tracking_number', c.new_tracking_number"
)
_EMAIL_SQL = (
    "INSERT INTO outbox (event_id, channel, type, partner, order_id, file_id, source,"
    " recipient, payload, created_at, state, attempts, pending_since, next_attempt_at)"
    " SELECT {event_id}, 'email', CASE WHEN SUM(CASE WHEN c.old_status = 'shipped' THEN 0"
    " ELSE 1 END) > 0 THEN 'order.shipped' ELSE 'order.corrected' END, MIN(items.partner),"
    " orders.id, ?, ?, orders.email, {payload}, ?, 'pending', 0, ?, ?"
    " FROM item_changes AS c JOIN items ON items.id = c.item_id"
    " JOIN orders ON orders.id = items.order_id"
    " WHERE {which} AND c.new_status = 'shipped' AND orders.email <> ''{partners}"
    " GROUP BY orders.id, orders.email, orders.ship_firstname, orders.ship_lastname"
    " ORDER BY MIN(c.id)"
)
_NAME = "TRIM(orders.ship_firstname || ' ' || orders.ship_lastname)"
_ITEM_EVENT = "CASE WHEN c.old_status = 'shipped' THEN 'item.corrected' ELSE 'item.shipped' END"


def add_emails(
    connection: Connection,
    now: dt.datetime,
    *,
    source: str,
    file_id: int | None = None,
    changed_at: dt.datetime | None = None,
    partners: frozenset[str] | None = None,
) -> int:
    """Write one ``email`` event per order among the changes of one file (``file_id``) or
    of one API update (no file: its ``source`` and ``changed_at``), in the caller's
    transaction; return how many. Only shipments and corrections are told (an item put back
    to waiting is not), only to orders with an e-mail address, and, with ``partners``,
    only for those partners' items. The e-mail's facts (the name, each item's product,
    quantity, date, carrier and number) are kept in its ``payload`` as they are now."""
    if (file_id is None) == (changed_at is None):
        raise ValueError("add_emails needs a file_id or (for an API update) changed_at")
    dialect = connection.dialect.name
    if dialect == "postgresql":
        items_json = "json_agg(json_build_object(" + _EMAIL_ITEM + ") ORDER BY c.id)"
        payload = f"CAST(json_build_object('name', {_NAME}, 'items', {items_json}) AS TEXT)"
    else:
        items_json = "json_group_array(json_object(" + _EMAIL_ITEM + "))"
        payload = f"json_object('name', {_NAME}, 'items', {items_json})"
    payload = payload.replace("{event}", _ITEM_EVENT)
    stamp = timestamp_value(connection, now)
    parameters: list[Any] = [new_id_prefix(), file_id, source, stamp, stamp, stamp]
    if file_id is not None:
        which = "c.file_id = ?"
        parameters.append(file_id)
    else:
        which = "c.file_id IS NULL AND c.changed_at = ? AND c.source = ?"
        parameters += [timestamp_value(connection, changed_at or now), source]
    partner_sql = ""
    if partners is not None:
        if not partners:
            return 0
        if dialect == "postgresql":
            partner_sql = " AND items.partner = ANY(?)"
            parameters.append(sorted(partners))
        else:
            partner_sql = f" AND items.partner IN ({','.join('?' * len(partners))})"
            parameters += sorted(partners)
    sql = _EMAIL_SQL.format(
        event_id=event_id_sql(dialect, "MIN(c.id)"),
        payload=payload,
        which=which,
        partners=partner_sql,
    )
    return int(connection.exec_driver_sql(driver_sql(connection, sql), tuple(parameters)).rowcount)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Event:
    """One outbox row (see migration 0008 for the columns)."""

    id: int
    event_id: str
    channel: str
    type: str
    partner: str | None
    order_id: str
    item_id: str | None
    change_id: int | None
    file_id: int | None
    source: str | None
    item_status: str | None
    shipped_date: str | None
    carrier: str | None
    tracking_number: str | None
    recipient: str | None
    payload: str | None
    created_at: dt.datetime
    state: str
    attempts: int
    pending_since: dt.datetime
    next_attempt_at: dt.datetime
    lease_until: dt.datetime | None
    leased_by: str | None
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    last_response: str | None


def events_of(connection: Connection, query: Any) -> list[Event]:
    return [Event(**row) for row in connection.execute(query).mappings()]


def pending(connection: Connection, *, limit: int = 100, channel: str | None = None) -> list[Event]:
    """Events not delivered yet (waiting, retrying or being sent), oldest first."""
    query = select(outbox).where(outbox.c.state == PENDING, outbox.c.channel.in_(CHANNELS))
    if channel is not None:
        query = query.where(outbox.c.channel == channel)
    return events_of(connection, query.order_by(outbox.c.id).limit(limit))


def dead(connection: Connection, *, limit: int = 100, channel: str | None = None) -> list[Event]:
    """Events given up on (refused by the receiver, or failing for ``give_up_after``),
    most recent attempt first."""
    query = select(outbox).where(outbox.c.state == DEAD, outbox.c.channel.in_(CHANNELS))
    if channel is not None:
        query = query.where(outbox.c.channel == channel)
    return events_of(
        connection, query.order_by(outbox.c.last_attempt_at.desc(), outbox.c.id.desc()).limit(limit)
    )


def find(connection: Connection, reference: str) -> Event:
    """The event whose id is ``reference``, or starts with it (8 characters at least, one
    event only); UsageError naming what was not found."""
    reference = reference.strip()
    found = events_of(connection, select(outbox).where(outbox.c.event_id == reference))
    if not found and len(reference) >= 8 and _ID_CHARACTERS.issuperset(reference):
        escaped = reference.replace("_", "\\_")
        found = events_of(
            connection,
            select(outbox).where(outbox.c.event_id.like(escaped + "%", escape="\\")).limit(2),
        )
        if len(found) > 1:
            raise UsageError(
                f"{reference!r} is the start of several event ids",
                hint="give more of the id (ftpbridge notify list shows them)",
            )
    if not found:
        shown = reference if len(reference) <= 60 else reference[:57] + "..."
        raise UsageError(
            f"no event {shown!r} in the outbox",
            hint="ftpbridge notify list --dead shows the dead events and their ids",
        )
    return found[0]


_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def retry(connection: Connection, event_ids: Sequence[str] | None, now: dt.datetime) -> int:
    """Send the given events (None: every dead one) again from now: pending, due now, their
    attempts counted from zero and ``give_up_after`` from now. A delivered event is sent
    once more. Returns how many were changed."""
    statement = update(outbox).values(
        state=PENDING,
        attempts=0,
        pending_since=now,
        next_attempt_at=now,
        lease_until=None,
        leased_by=None,
    )
    if event_ids is None:
        statement = statement.where(outbox.c.state == DEAD, outbox.c.channel.in_(CHANNELS))
    else:
        statement = statement.where(outbox.c.event_id.in_(list(event_ids)))
    return int(connection.execute(statement).rowcount)


@dataclass(frozen=True)
class Summary:
    """How one partner's (or, ``partner`` None, unrouted items') deliveries stand."""

    partner: str | None
    pending: int
    failing: int  # pending after at least one failed attempt
    dead: int
    oldest_pending: dt.datetime | None


def summary(connection: Connection) -> dict[str | None, Summary]:
    """Per partner: events pending, failing and dead, and the oldest pending one's time."""
    is_pending = outbox.c.state == PENDING
    query = (
        select(
            outbox.c.partner,
            func.sum(case((is_pending, 1), else_=0)),
            func.sum(case((and_(is_pending, outbox.c.attempts > 0), 1), else_=0)),
            func.sum(case((outbox.c.state == DEAD, 1), else_=0)),
            func.min(case((is_pending, outbox.c.created_at))),
        )
        # (channel, state): the queue's index, not every delivered event
        .where(outbox.c.channel.in_(CHANNELS), outbox.c.state.in_((PENDING, DEAD)))
        .group_by(outbox.c.partner)
    )
    result: dict[str | None, Summary] = {}
    for partner, pending_count, failing, dead_count, oldest in connection.execute(query):
        result[partner] = Summary(
            partner, int(pending_count or 0), int(failing or 0), int(dead_count or 0), oldest
        )
    return result
