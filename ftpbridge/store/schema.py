"""The store's tables (SQLAlchemy Core). Alembic migrations create them; this module is
the code's view of them and must match the newest migration (a test checks)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL.

    SQLite keeps no time zone: values are stored as UTC and read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Identifiers are text end to end: order 0042 and warehouse SKU 007 keep their zeros.
orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("ship_firstname", String(200), nullable=False, default=""),
    Column("ship_lastname", String(200), nullable=False, default=""),
    Column("ship_address1", String(300), nullable=False, default=""),
    Column("ship_address2", String(300), nullable=False, default=""),
    Column("ship_city", String(200), nullable=False, default=""),
    Column("ship_state", String(100), nullable=False, default=""),
    Column("ship_postal_code", String(40), nullable=False, default=""),
    Column("ship_country", String(100), nullable=False, default=""),
    Column("ship_phone", String(60), nullable=False, default=""),
    Column("loaded_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("sku_id", String(64), nullable=False, default=""),
    Column("warehouse_sku", String(100), nullable=False, default=""),
    Column("upc", String(64), nullable=False, default=""),
    Column("product_name", String(500), nullable=False, default=""),
    Column("product_type", String(64), nullable=False, default=""),
    Column("product_id", String(64), nullable=False, default="", server_default=""),
    Column("attributes", String(500), nullable=False, default=""),
    Column("quantity", Integer, nullable=False, default=1),
    Column("partner", String(100), nullable=True),
    Column("status", String(20), nullable=False, default="pending"),
    Column("shipped_date", Date, nullable=True),
    Column("carrier", String(40), nullable=True),
    Column("tracking_number", String(100), nullable=True),
    Column("first_exported_at", UTCDateTime(), nullable=True),
    Column("last_exported_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    # (migration 0010) a partner's items by status, and their orders from the index alone
    Index("ix_items_partner_status_order", "partner", "status", "order_id"),
    Index("ix_items_order_id", "order_id"),
    Index("ix_items_tracking_number", "tracking_number"),  # migration 0009: the console
)

# The ledger of exchanged files. ``import_key`` is the file's sha256 for imports and NULL
# for exports: the unique constraint makes applying the same file twice impossible, even
# for two processes racing (NULLs never collide, on SQLite and PostgreSQL alike).
# ``upload_key`` is the partner's day on the row of that day's normal export, claimed just
# before the upload: a second replica cannot claim the same day (NULL for imports, forced
# exports and released claims).
files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(100), nullable=False),
    Column("direction", String(10), nullable=False),  # "export" | "import"
    Column("name", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("import_key", String(64), nullable=True),
    Column("rows_total", Integer, nullable=False, default=0),
    Column("rows_applied", Integer, nullable=False, default=0),
    Column("rows_unchanged", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("day", String(10), nullable=True),  # the partner's local date of an export
    Column("upload_key", String(10), nullable=True),
    Column("local_path", Text, nullable=True),
    Column("remote_path", Text, nullable=True),
    Column("message", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("partner", "import_key", name="uq_files_partner_import_key"),
    UniqueConstraint("partner", "upload_key", name="uq_files_partner_upload_key"),
    Index("ix_files_partner_direction_created", "partner", "direction", "created_at"),
)

# The audit trail: one row per change an import applied to an item, with each shipment
# field before and after. ``source`` and ``changed_at`` are NULL when ``file_id`` (the
# import's ledger row; not a foreign key, see migration 0004) holds them.
item_changes = Table(
    "item_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(64), nullable=False),
    Column("file_id", Integer, nullable=True),
    Column("row_number", Integer, nullable=True),
    Column("source", String(300), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=True),
    Column("old_status", Text, nullable=True),
    Column("new_status", Text, nullable=True),
    Column("old_shipped_date", Text, nullable=True),
    Column("new_shipped_date", Text, nullable=True),
    Column("old_carrier", Text, nullable=True),
    Column("new_carrier", Text, nullable=True),
    Column("old_tracking_number", Text, nullable=True),
    Column("new_tracking_number", Text, nullable=True),
    Column("email_requested", Boolean, nullable=True),
    Index("ix_item_changes_item_id", "item_id"),
)

# The audit trail as people read it, a view (migration 0004): one row per field whose
# value changed, with the source file's name and the time filled in from the ledger. In a
# MetaData of its own, so that nothing ever tries to create it as a table. Order by id,
# then position (the field's place in status, shipped_date, carrier, tracking_number).
views = MetaData()
audit = Table(
    "audit",
    views,
    Column("id", Integer),
    Column("item_id", String(64)),
    Column("field", String(40)),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("file_id", Integer),
    Column("source", String(300)),
    Column("row_number", Integer),
    Column("changed_at", UTCDateTime()),
    Column("position", Integer),
)

# Remote files seen in a partner's inbox, to take only settled ones: a file is settled
# when its size and modification time have not changed for ``settle_seconds``. Kept in
# the store so that separate ``poll --once`` runs, and a restarted daemon, keep counting.
sightings = Table(
    "sightings",
    metadata,
    Column("partner", String(100), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("size", BigInteger, nullable=True),
    Column("mtime", String(40), nullable=True),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("stable_since", UTCDateTime(), nullable=False),
    # Polls in a row that could not take the file, and why (migration 0006, issue 12).
    Column("failures", Integer, nullable=False, default=0, server_default="0"),
    Column("last_error", Text, nullable=True),
)

# Per partner and job ("export", "poll"): how the last runs went, for alerts and status.
job_state = Table(
    "job_state",
    metadata,
    Column("partner", String(100), primary_key=True),
    Column("job", String(20), primary_key=True),
    Column("last_run_at", UTCDateTime(), nullable=True),
    Column("last_success_at", UTCDateTime(), nullable=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UTCDateTime(), nullable=True),
    Column("replica", String(200), nullable=True),
)


# --------------------------------------------------------------------------- issue 13
# API keys (migration 0005): only a SHA-256 of each key is kept (see store/api_keys.py).
# ``partner`` NULL is the shop's key (every item); a name is never reused, so that the
# audit trail's "api:NAME" always means one key.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("partner", String(100), nullable=True),
    Column("read_only", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

# What the Orders API sorts and searches by (migration 0005): order ids in natural order
# (length, then text: "9" before "10"), order time, and e-mail without case.
Index("ix_orders_natural_id", func.length(orders.c.id), orders.c.id)
Index("ix_orders_created_at", orders.c.created_at)
Index("ix_orders_email_lower", func.lower(orders.c.email))


# --------------------------------------------------------------------------- issue 14
# SKUs with stock (migration 0007). ``id`` is the shop's sku id (text, like every id),
# ``factory_sku`` the warehouse's SKU (Topspin's "Warehouse SKU": what inventory files
# name), ``partner`` the fulfiller that stocks it (NULL: none yet). Quantities are never
# negative (checked by the database too). ``sold_unshipped_quantity`` and
# ``sold_shipped_quantity`` are not kept: they are sums over the items (store/skus.py).
skus = Table(
    "skus",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("product_name", String(500), nullable=False, default=""),
    Column("product_id", String(64), nullable=False, default=""),
    Column("attributes", String(500), nullable=False, default=""),
    Column("factory_sku", String(100), nullable=False, default=""),
    Column("upc", String(64), nullable=False, default=""),
    Column("weight", Float, nullable=True),
    Column("weight_unit", String(2), nullable=False, default=""),
    Column("available", Boolean, nullable=False, default=True),
    Column("in_stock_quantity", Integer, nullable=False, default=0),
    Column("reserve_quantity", Integer, nullable=False, default=0),
    Column("max_backorder_quantity", Integer, nullable=False, default=0),
    Column("partner", String(100), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("in_stock_quantity >= 0", name="ck_skus_in_stock_quantity"),
    CheckConstraint("reserve_quantity >= 0", name="ck_skus_reserve_quantity"),
    CheckConstraint("max_backorder_quantity >= 0", name="ck_skus_max_backorder_quantity"),
    Index("ix_skus_factory_sku_partner", "factory_sku", "partner"),
    Index("ix_skus_partner", "partner"),
    Index("ix_skus_updated_at", "updated_at"),
)

# The campaigns a SKU is sold in (View SKUs' ``campaign_id``): learnt from the items of
# loaded orders (their ``campaign_id``) and from ``skus load``.
sku_campaigns = Table(
    "sku_campaigns",
    metadata,
    Column("sku_id", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Index("ix_sku_campaigns_campaign_id", "campaign_id"),
)

# The stock audit trail: one row per change of a SKU's quantities, each before and after.
# Who: ``file_id`` (the inventory file's ledger row, whose name and time it holds; then
# ``source`` and ``changed_at`` are NULL, as in item_changes) or ``source`` ("api:NAME",
# "command:skus load FILE") with ``changed_at``. ``row_number``: the file's row (NULL
# for a SKU a snapshot set to 0 because the file did not list it).
stock_changes = Table(
    "stock_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sku_id", String(64), nullable=False),
    Column("file_id", Integer, nullable=True),
    Column("row_number", Integer, nullable=True),
    Column("source", String(300), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=True),
    Column("old_in_stock_quantity", Integer, nullable=True),
    Column("new_in_stock_quantity", Integer, nullable=True),
    Column("old_reserve_quantity", Integer, nullable=True),
    Column("new_reserve_quantity", Integer, nullable=True),
    Column("old_max_backorder_quantity", Integer, nullable=True),
    Column("new_max_backorder_quantity", Integer, nullable=True),
    Index("ix_stock_changes_sku_id", "sku_id"),
    Index("ix_stock_changes_file_id", "file_id"),
)

# sold_unshipped_quantity / sold_shipped_quantity sum the items of a SKU (migration 0007).
Index("ix_items_sku_id_status", items.c.sku_id, items.c.status)


# --------------------------------------------------------------------------- issue 16
# The ops console (migration 0009): the secret its session cookies are signed with, kept in
# the store so that every replica verifies what another signed (see store/sessions.py), and
# the sessions signed out before they expired.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("purpose", String(40), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

console_signouts = Table(
    "console_signouts",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_console_signouts_expires_at", "expires_at"),
)
# --------------------------------------------------------------------------- issue 15
# The outbox (migration 0008): shipment events written in the transaction of the change
# (store/shipments.py apply_shipments, store/outbox.py add_emails) and sent afterwards
# (notify/). See store/outbox.py for the states and the claiming of events.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("channel", String(10), nullable=False),  # "webhook" | "email"
    Column("type", String(40), nullable=False),
    Column("partner", String(100), nullable=True),
    Column("order_id", String(64), nullable=False),
    Column("item_id", String(64), nullable=True),
    Column("change_id", Integer, nullable=True),
    Column("file_id", Integer, nullable=True),
    Column("source", String(300), nullable=True),
    Column("item_status", String(20), nullable=True),
    Column("shipped_date", Text, nullable=True),
    Column("carrier", Text, nullable=True),
    Column("tracking_number", Text, nullable=True),
    Column("recipient", String(320), nullable=True),
    Column("payload", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("state", String(12), nullable=False),  # "pending" | "delivered" | "dead"
    Column("attempts", Integer, nullable=False, default=0),
    Column("pending_since", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("leased_by", String(200), nullable=True),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_response", Text, nullable=True),
    Index("ix_outbox_queue", "channel", "state", "id"),
    Index("ix_outbox_order", "order_id", "channel", "state", "id"),
    Index("ix_outbox_lease", "lease_until"),
    Index("ix_outbox_delivered", "delivered_at"),
)
# The changes of one file, or of one API update (file_id NULL, its time): for e-mails.
Index("ix_item_changes_file", item_changes.c.file_id, item_changes.c.changed_at)
