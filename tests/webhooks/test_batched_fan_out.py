"""With a broker, commits in a short window share one fan-out task, which fans out every
undispatched event in batches (the fix of the lag at many single-event transactions)."""

import pytest
from django.core.cache import cache

from events.models import OutboxEvent
from events.outbox import emit
from webhooks import receivers, services, tasks
from webhooks.models import DeliveryState, WebhookDelivery

pytestmark = pytest.mark.django_db


class Queued:
    def __init__(self):
        self.calls: list[dict] = []

    def apply_async(self, **options):
        self.calls.append(options)


@pytest.fixture
def with_broker(monkeypatch):
    """The signal's receiver as it runs with a broker: tasks are queued, not run."""
    queued = Queued()
    monkeypatch.setattr(receivers, "_in_process", lambda: False)
    monkeypatch.setattr(receivers, "task", lambda name: queued)
    cache.delete(receivers.FAN_OUT_PENDING_KEY)
    yield queued
    cache.delete(receivers.FAN_OUT_PENDING_KEY)


def test_many_commits_in_the_window_queue_one_fan_out(with_broker):
    for n in range(50):
        receivers.on_events_committed(sender=OutboxEvent, event_ids=[f"id-{n}"])
    assert with_broker.calls == [{"countdown": receivers.FAN_OUT_WINDOW}]


def test_a_commit_after_the_fan_out_started_queues_another(with_broker):
    receivers.on_events_committed(sender=OutboxEvent, event_ids=["a"])
    receivers.release_fan_out_flag()  # what the task does before it reads the outbox
    receivers.on_events_committed(sender=OutboxEvent, event_ids=["b"])
    assert len(with_broker.calls) == 2


def test_the_batched_fan_out_delivers_every_undispatched_event_once(
    subscribe, receiver, partner, monkeypatch, django_capture_on_commit_callbacks
):
    subscribe()
    monkeypatch.setattr(services, "FAN_OUT_BATCH", 3)
    # Emitted outside a captured commit: their after-commit fan-out never runs, only the task below.
    ids = [emit("partner.status_changed", data={"status": "active"}, partner_id=partner.pk) for _ in range(7)]
    cache.add(receivers.FAN_OUT_PENDING_KEY, 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.fan_out_pending_events() == 7
    assert cache.get(receivers.FAN_OUT_PENDING_KEY) is None
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
    assert set(WebhookDelivery.objects.values_list("event_id", flat=True)) == set(ids)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.DELIVERED}
    assert sorted(receiver.processed) == sorted(f"evt_{pk.hex}" for pk in ids)
