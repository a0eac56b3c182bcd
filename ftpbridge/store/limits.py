"""Time limits on the database work of one request.

PostgreSQL: ``SET LOCAL statement_timeout`` (the rest of the transaction). SQLite: a
progress handler that interrupts a statement running past the deadline. Either way a
statement that runs too long raises :class:`StoreTimeout`, and the transaction is rolled
back by the caller's ``Store.begin()``/``connect()`` block.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from ftpbridge.errors import StoreError

# SQLite calls the progress handler every this many virtual machine instructions.
_PROGRESS_STEPS = 20_000


class StoreTimeout(StoreError):
    """Raised when the database work of a request ran past its time limit."""


@contextlib.contextmanager
def statement_deadline(connection: Connection, seconds: float) -> Iterator[None]:
    """Interrupt statements of ``connection`` that run past ``seconds`` from now."""
    what = f"the store did not answer within {seconds:g} s"
    hint = "ask for fewer orders (page_size) or narrower terms, or try again later"
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
        try:
            yield
        except DBAPIError as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == "57014":
                raise StoreTimeout(what, hint=hint) from None
            raise
        return
    driver = connection.connection.driver_connection
    deadline = time.monotonic() + seconds
    driver.set_progress_handler(  # type: ignore[union-attr]
        lambda: 1 if time.monotonic() > deadline else 0, _PROGRESS_STEPS
    )
    try:
        yield
    except OperationalError as exc:
        if "interrupted" in str(exc.orig):
            raise StoreTimeout(what, hint=hint) from None
        raise
    finally:
        driver.set_progress_handler(None, 0)  # type: ignore[union-attr]
