"""PostgreSQL advisory locks, named: one key derivation for every critical section.

A lock is named in words (``gates:full-run``, ``prm.ingest:sales:crm``); its
key is the hash of the database's name and that name, so several databases
on one server (the test databases, a staging copy) never lock each other
out. Elsewhere (SQLite, which writes one transaction at a time) the locks
are granted at once.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# The key of a named lock, as SQL taking the name as its one parameter.
KEY_SQL = "hashtext(current_database() || ':' || %s)"


def _locking() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def session_lock(name: str) -> Iterator[bool]:
    """Try to hold ``name`` for the block, across transactions; yields False, at once, if another holds it."""
    if not _locking():
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_try_advisory_lock({KEY_SQL})", [name])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock({KEY_SQL})", [name])


def transaction_lock(name: str) -> None:
    """Wait for ``name`` and hold it until the current transaction ends (call inside ``atomic``)."""
    if not _locking():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_xact_lock({KEY_SQL})", [name])
