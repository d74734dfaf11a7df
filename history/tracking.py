"""Declaring what the history records: ``@tracked()`` on a model, ``track_links()`` for its many-to-many.

Each tracked model gets an event table (``<Model>Event``) holding a snapshot of
the row after every insert and update and before every delete, with the
context of the change. On PostgreSQL the database writes them with triggers
(pghistory), so raw SQL, ``COPY``, ``bulk_create`` and ``QuerySet.update``
are recorded too; elsewhere ``history.fallback`` writes the same rows from
the ORM's signals.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import pghistory
import pgtrigger
from django.db import models


@dataclass(frozen=True)
class Spec:
    """What an update must change to be recorded (on PostgreSQL: the trigger's condition)."""

    changes: tuple[str, ...] = ()  # empty: any stored field
    ignore: frozenset[str] = frozenset()  # stored fields whose change alone records nothing


SPECS: dict[str, Spec] = {}  # event model label -> spec


def _event_name(model: type[models.Model]) -> str:
    return f"{model.__name__}Event"


def tracked(
    *,
    exclude: Iterable[str] = (),
    ignore: Iterable[str] = (),
    changes: Iterable[str] = (),
    event_table: str | None = None,
):
    """Record every insert, update and delete of the decorated model.

    ``exclude``: fields never stored (secrets). ``ignore``: stored fields whose
    change alone records nothing (``auto_now`` stamps are ignored anyway).
    ``changes``: only an update changing one of these is recorded (an
    override on a row the engine rewrites nightly). ``event_table``: the event
    table's name, for a model that moved to another app and keeps its tables.
    """
    exclude, ignore, changes = list(exclude), list(ignore), list(changes)

    def decorate(model: type[models.Model]) -> type[models.Model]:
        auto = [
            f.name
            for f in model._meta.local_fields
            if getattr(f, "auto_now", False) and f.name not in exclude
        ]
        condition = (
            pgtrigger.AnyChange(*changes)
            if changes
            else pgtrigger.AnyChange(exclude=[*exclude, *ignore, *auto] or None)
        )
        name = _event_name(model)
        SPECS[f"{model._meta.app_label}.{name}"] = Spec(
            changes=tuple(changes), ignore=frozenset([*ignore, *auto])
        )
        return pghistory.track(
            pghistory.InsertEvent(),
            pghistory.UpdateEvent(condition=condition),
            pghistory.DeleteEvent(),
            exclude=exclude or None,
            model_name=name,
            meta={"db_table": event_table} if event_table else None,
        )(model)

    return decorate


def track_links(through: type[models.Model], *, name: str) -> None:
    """Record each link added to or removed from a many-to-many (its through table's rows)."""
    SPECS[f"{through._meta.app_label}.{name}"] = Spec()
    pghistory.track(pghistory.InsertEvent(), pghistory.DeleteEvent(), model_name=name)(through)
