"""Who changes rows, and through which door.

Every write of a tracked row is recorded with the context open at the time:
``{"door": "admin", "user": 7, "url": "/admin/..."}``. On PostgreSQL the
context travels with each SQL statement to pghistory's triggers
(``pghistory.context``); on other databases it stays in this process, where
the fallback of ``history.fallback`` reads it. Both record the same
``pghistory.Context`` rows, so readers need not know which database wrote.
"""

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pghistory
import pghistory.runtime
from django.db import connection


class Door:
    ADMIN = "admin"
    API = "api"
    PORTAL = "portal"
    WEB = "web"
    COMMAND = "command"
    TASK = "task"

    ALL = (ADMIN, API, PORTAL, WEB, COMMAND, TASK)


def triggers_record() -> bool:
    """Whether the database records rows itself (PostgreSQL triggers)."""
    return connection.vendor == "postgresql"


def current() -> "pghistory.runtime.Context | None":
    """The context open in this thread, if any (its ``id`` and ``metadata``)."""
    # pghistory keeps the open context in a thread-local; it has no public reader.
    return getattr(pghistory.runtime._tracker, "value", None)


@contextlib.contextmanager
def history_context(**metadata: Any) -> Iterator[None]:
    """Open a context, or add to the one already open (its door and user stay unless given).

    On PostgreSQL this is ``pghistory.context``; elsewhere the same thread-local
    without the SQL it adds to each statement, which only PostgreSQL understands.
    """
    if current() is not None:
        pghistory.context(**metadata)
        yield
        return
    if triggers_record():
        with pghistory.context(**metadata):
            yield
        return
    pghistory.runtime._tracker.value = pghistory.runtime.Context(id=uuid.uuid4(), metadata=dict(metadata))
    try:
        yield
    finally:
        del pghistory.runtime._tracker.value


def annotate(**metadata: Any) -> None:
    """Add to the open context (the user DRF authenticates, the token used); no-op without one."""
    context = current()
    if context is not None:
        context.metadata.update(metadata)


@contextlib.contextmanager
def door(name: str, **metadata: Any) -> Iterator[None]:
    """Run a block through ``name`` (an eager task inside a request, say), then go back to the door before.

    The block gets a context of its own, keeping the user of the one open: a
    context is one row of metadata that all its events share, so changing the
    open one would rewrite the door of what was recorded before.
    """
    outer = current()
    if outer is None:
        with history_context(door=name, **metadata):
            yield
        return
    # pghistory reads the thread's context at every statement: swapping it is enough.
    pghistory.runtime._tracker.value = pghistory.runtime.Context(
        id=uuid.uuid4(), metadata={**outer.metadata, "door": name, **metadata}
    )
    try:
        yield
    finally:
        pghistory.runtime._tracker.value = outer
