"""One lock for everything that rewrites cost records, so two writers never race."""

from django.db import connection

_KEY = 0x1F5C_0575  # any constant unique to this app


def cost_lock(wait: bool) -> bool:
    """Take the lock for the current transaction; without `wait`, False if it is held.

    SQLite runs one write transaction at a time, so there it always succeeds.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_KEY])
        row = cursor.fetchone()
        return bool(row and row[0])
