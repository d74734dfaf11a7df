"""The outbox purge: past the retention, dispatched events nobody still needs go; the rest stay."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events import retention, tasks
from events.models import OutboxEvent
from events.outbox import emit
from tests.webhooks.conftest import *  # noqa: F403 - the receiver and subscription fixtures
from webhooks.models import DeliveryState, WebhookDelivery

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def old_event(days: int, *, dispatched: bool = True) -> OutboxEvent:
    pk = emit("partner.status_changed", data={"partner_id": 1}, partner_id=None, occurred_at=NOW)
    at = NOW - datetime.timedelta(days=days)
    OutboxEvent.objects.filter(pk=pk).update(occurred_at=at, dispatched_at=at if dispatched else None)
    return OutboxEvent.objects.get(pk=pk)


def test_dispatched_events_past_the_retention_go_and_recent_ones_stay(settings):
    settings.PRM_OUTBOX_RETENTION_DAYS = 30
    old, recent = old_event(31), old_event(29)
    assert tasks.purge_outbox() == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk}
    assert old.pk not in set(OutboxEvent.objects.values_list("pk", flat=True))


def test_undispatched_events_stay_however_old():
    never_fanned_out = old_event(400, dispatched=False)
    assert retention.outbox_purge(days=30) == 0
    assert OutboxEvent.objects.filter(pk=never_fanned_out.pk).exists()


@pytest.mark.parametrize(
    ("state", "kept"),
    [
        (DeliveryState.PENDING, True),
        (DeliveryState.SENDING, True),
        (DeliveryState.DELIVERED, False),
        (DeliveryState.FAILED, False),
        (DeliveryState.WITHHELD, False),
    ],
)
def test_events_with_deliveries_still_to_send_stay(subscribe, state, kept):
    subscription = subscribe()
    event = old_event(100)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event=event, state=state, next_attempt_at=NOW
    )
    assert retention.outbox_purge(days=30) == (0 if kept else 1)
    assert OutboxEvent.objects.filter(pk=event.pk).exists() is kept
    # The delivery log of a purged event goes with it.
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists() is kept


def test_the_purge_deletes_in_batches_with_flat_queries(monkeypatch):
    monkeypatch.setattr(retention, "PURGE_BATCH", 10)
    for _ in range(25):
        old_event(100)
    with CaptureQueriesContext(connection) as small:
        assert retention.outbox_purge(days=30) == 25
    for _ in range(25):
        old_event(100)
    monkeypatch.setattr(retention, "PURGE_BATCH", 1000)
    with CaptureQueriesContext(connection) as one_batch:
        assert retention.outbox_purge(days=30) == 25
    # Per batch a constant number of statements: three batches cost three times one.
    per_batch = (len(small) - len(one_batch)) / 2
    assert len(one_batch) <= per_batch + 3


def test_the_purge_is_on_the_beat_schedule(settings):
    entries = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "events.tasks.purge_outbox" in entries
