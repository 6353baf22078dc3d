"""One evaluation at a time: an older, slower run must not resolve what a newer one fired."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_KEY = 0x41_1E_27_5E  # any constant unique to this use


@contextmanager
def evaluation_lock() -> Iterator[bool]:
    """Yields whether this process holds the lock (a session lock, PostgreSQL only;
    SQLite's single writer already keeps runs apart where it matters)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_KEY])
        row = cursor.fetchone()
    held = bool(row and row[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_KEY])
