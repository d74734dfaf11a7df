"""Recording events in the outbox, in the transaction of the change they describe.

Any app may call ``emit`` or ``emit_many`` inside its service's
``transaction.atomic``: the rows commit or roll back with the change. After
commit, ``events_committed`` is sent so that delivery starts at once; if that
never happens (the process dies), the webhooks' periodic sweep finds the
undispatched rows. A set-wise write (the nightly evaluation) passes all its
events to one ``emit_many``: one bulk insert, one signal.
"""

import datetime
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from events.catalogue import event_type
from events.models import OutboxEvent
from events.signals import events_committed

# Rows per INSERT statement of a bulk emit.
BULK_SIZE = 2000


@dataclass
class NewEvent:
    event_type: str
    data: Mapping[str, Any]
    partner_id: int | None = None
    program_id: int | None = None
    occurred_at: datetime.datetime | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def emit(
    name: str,
    *,
    data: Mapping[str, Any],
    partner_id: int | None = None,
    program_id: int | None = None,
    occurred_at: datetime.datetime | None = None,
) -> uuid.UUID:
    """Record one event; returns its id. Call inside the change's transaction."""
    event = NewEvent(name, data, partner_id=partner_id, program_id=program_id, occurred_at=occurred_at)
    emit_many([event])
    return event.id


def emit_many(new_events: Iterable[NewEvent]) -> list[uuid.UUID]:
    """Record many events with bulk inserts; one ``events_committed`` after commit for them all."""
    now = timezone.now()
    rows = []
    for new in new_events:
        kind = event_type(new.event_type)
        rows.append(
            OutboxEvent(
                id=new.id,
                event_type=kind.name,
                schema_version=kind.version,
                partner_id=new.partner_id,
                program_id=new.program_id,
                occurred_at=new.occurred_at or now,
                data=dict(new.data),
            )
        )
    if not rows:
        return []
    with transaction.atomic():
        OutboxEvent.objects.bulk_create(rows, batch_size=BULK_SIZE)
        ids = [str(row.id) for row in rows]
        transaction.on_commit(lambda: events_committed.send(sender=OutboxEvent, event_ids=ids))
    return [row.id for row in rows]
