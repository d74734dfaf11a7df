"""How long the outbox keeps its events: past the retention, the ones nobody still needs go.

The outbox keeps every event it has not fanned out yet. Above it, an app that
still needs some dispatched events (the webhooks, for deliveries not yet
sent or retried) registers a *keeper* in its ``AppConfig.ready``: a callable
returning a queryset of the ``OutboxEvent`` ids to keep. The purge asks every
keeper in its one delete per batch, so its cost stays flat however many
events there are. Deleting an event deletes what hangs off it (the
webhooks' delivery log of that event) with it.
"""

import datetime
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from events.models import OutboxEvent

# Events deleted per statement (and per transaction).
PURGE_BATCH = 1000

_keepers: dict[str, Callable[[], QuerySet]] = {}


def register_keeper(name: str, keeper: Callable[[], QuerySet]) -> None:
    """Keep the events whose ids ``keeper()`` returns (a queryset of ``OutboxEvent`` pks)."""
    _keepers[name] = keeper


def purgeable(*, now: datetime.datetime | None = None, days: int | None = None) -> QuerySet[OutboxEvent]:
    """Events older than the retention, dispatched, and kept by no keeper."""
    days = settings.PRM_OUTBOX_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    events = OutboxEvent.objects.filter(occurred_at__lt=cutoff, dispatched_at__isnull=False)
    for keeper in _keepers.values():
        events = events.exclude(pk__in=keeper())
    return events


def outbox_purge(*, now: datetime.datetime | None = None, days: int | None = None) -> int:
    """Delete the purgeable events in batches; returns how many events went."""
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                purgeable(now=now, days=days)
                .order_by("occurred_at")
                .values_list("pk", flat=True)[:PURGE_BATCH]
            )
            if not batch:
                return deleted
            OutboxEvent.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
