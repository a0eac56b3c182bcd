"""The order store: orders, items, the file ledger and the audit trail.

SQLite by default (WAL mode), PostgreSQL through psycopg 3 with the same code: no
dialect-only SQL outside :mod:`ftpbridge.store.engine`. The store never imports pandas or
a transport; it takes and returns plain rows.
"""

from ftpbridge.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
