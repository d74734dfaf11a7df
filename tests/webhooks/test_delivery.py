"""Delivery to a real receiver on loopback: signatures, retries, crashes, redelivery, disabling."""

import datetime
import json

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events.models import OutboxEvent
from tests.webhooks.conftest import emit_status_change
from webhooks import services
from webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def _emit_and_commit(capture, partner, **kwargs):
    with capture(execute=True), transaction.atomic():
        event_id = emit_status_change(partner, **kwargs)
    return OutboxEvent.objects.get(pk=event_id)


def test_an_event_reaches_the_receiver_signed_after_commit(
    subscribe, receiver, partner, django_capture_on_commit_callbacks
):
    subscription = subscribe()
    event = _emit_and_commit(django_capture_on_commit_callbacks, partner)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.verified and request.status == 200
    assert request.webhook_id == event.webhook_id == f"evt_{event.id.hex}"
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    # The receiver's own check, in the few lines the README shows.
    payload = Webhook(subscription.secret).verify(request.body, request.headers)
    assert payload["type"] == "partner.status_changed" and payload["version"] == 1
    assert payload["id"] == event.webhook_id
    assert payload["data"] == {
        "partner_id": partner.pk,
        "partner_name": "Acme",
        "from_status": "active",
        "to_status": "suspended",
    }
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1
    attempt = delivery.attempt_log.get()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == "ok"
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_a_rolled_back_change_sends_nothing(subscribe, receiver, partner, django_capture_on_commit_callbacks):
    subscribe()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        emit_status_change(partner)
        raise RuntimeError("the change fails")
    assert not OutboxEvent.objects.filter(event_type="partner.status_changed").exists()
    assert receiver.requests == []


def test_a_receiver_failing_three_times_then_succeeding_accepts_exactly_one_delivery(
    subscribe, receiver, partner, django_capture_on_commit_callbacks
):
    subscribe()
    receiver.script = [500, 503, 500]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        event = _emit_and_commit(django_capture_on_commit_callbacks, partner)
        delivery = WebhookDelivery.objects.get()
        waits = []
        for _ in range(3):
            delivery.refresh_from_db()
            assert delivery.state == DeliveryState.PENDING
            waits.append((delivery.next_attempt_at - timezone.now()).total_seconds())
            # Not due yet: the sweep leaves it alone.
            services.deliveries_sweep()
            clock.move_to(delivery.next_attempt_at + datetime.timedelta(seconds=1))
            services.deliveries_sweep()

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 4
    assert [r.status for r in receiver.requests] == [500, 503, 500, 200]
    assert {r.webhook_id for r in receiver.requests} == {event.webhook_id}
    assert receiver.processed == [event.webhook_id]
    # 5 s, 5 min, 30 min, each with up to 20 % jitter.
    for wait, base in zip(waits, services.BACKOFF_SECONDS, strict=False):
        assert base * 0.8 <= wait <= base * 1.2
    codes = list(delivery.attempt_log.order_by("attempted_at", "id").values_list("status_code", flat=True))
    assert codes == [500, 503, 500, 200]
    assert "receiver says no" in delivery.attempt_log.filter(status_code=500).first().response_excerpt
    assert len(delivery.attempt_log.filter(status_code=500).first().response_excerpt) <= 1024


class WorkerDied(BaseException):
    """What the worker's death looks like from inside: nothing after it runs."""


def test_a_delivery_interrupted_after_sending_is_sent_again_with_the_same_id(
    subscribe, receiver, partner, monkeypatch, django_capture_on_commit_callbacks
):
    subscribe()
    real_record = services._record

    def die(*args, **kwargs):
        raise WorkerDied

    monkeypatch.setattr(services, "_record", die)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with pytest.raises(WorkerDied):
            _emit_and_commit(django_capture_on_commit_callbacks, partner)
        # The receiver got it and said yes, but nothing was recorded.
        assert len(receiver.requests) == 1 and receiver.requests[0].status == 200
        delivery = WebhookDelivery.objects.get()
        assert delivery.state == DeliveryState.SENDING and delivery.attempt_log.count() == 0

        monkeypatch.setattr(services, "_record", real_record)
        services.deliveries_sweep()  # another worker: the lease still holds
        assert len(receiver.requests) == 1
        clock.move_to(start + services.LEASE + datetime.timedelta(seconds=1))
        services.deliveries_sweep()

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2
    first, second = receiver.requests
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    assert receiver.processed == [first.webhook_id]  # the receiver deduplicated


def test_events_committed_without_their_signal_are_found_by_the_sweep(subscribe, receiver, partner):
    """A crash between commit and the after-commit hook: the outbox still holds the event."""
    subscribe()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        event_id = emit_status_change(partner)  # the test's transaction never commits: no hook runs
        services.deliveries_sweep()
        assert receiver.requests == []  # left to the after-commit path a little longer
        clock.move_to(start + services.SETTLE + datetime.timedelta(seconds=1))
        summary = services.deliveries_sweep()
    assert summary.events_fanned_out == 2  # the partner's creation (not subscribed to) and its change
    assert [r.webhook_id for r in receiver.requests] == [f"evt_{event_id.hex}"]
    services.deliveries_sweep()
    assert len(receiver.requests) == 1


def test_both_secrets_sign_during_a_rotation(subscribe, receiver, partner, superuser):
    subscription = subscribe()
    old = subscription.secret
    rotated = services.subscription_rotate_secret(actor=superuser, subscription=subscription, overlap_hours=2)
    assert rotated.secret != old and rotated.secret.startswith("whsec_")

    receiver.secret = old  # a receiver that has not switched yet
    emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    request = receiver.requests[-1]
    assert request.verified and len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated.secret).verify(request.body, request.headers)

    with time_machine.travel(timezone.now() + datetime.timedelta(hours=3), tick=False):
        emit_status_change(partner)
        services.events_fan_out()
        services.deliveries_sweep()
    request = receiver.requests[-1]
    assert not request.verified  # the old secret expired with the overlap
    assert len(request.headers["webhook-signature"].split(" ")) == 1


def test_redirects_are_not_followed(subscribe, receiver, partner):
    subscribe()
    receiver.script = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 1
    assert delivery.state == DeliveryState.PENDING and delivery.last_status_code == 302


def test_a_subscription_failing_persistently_is_disabled_and_its_owner_told(
    subscribe, receiver, partner, settings, channel_manager, django_capture_on_commit_callbacks
):
    settings.PRM_WEBHOOKS_DISABLE_AFTER_FAILURES = 1
    channel_manager.email = "morgan@vendor.example"
    channel_manager.save()
    subscription = subscribe(owner=channel_manager)
    receiver.default_status = 500
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(start, tick=False) as clock:
        emit_status_change(partner)
        services.events_fan_out()
        services.deliveries_sweep()
        for _ in services.BACKOFF_SECONDS:
            delivery = WebhookDelivery.objects.get()
            clock.move_to(delivery.next_attempt_at + datetime.timedelta(seconds=1))
            services.deliveries_sweep()

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == len(services.BACKOFF_SECONDS) + 1
    subscription.refresh_from_db()
    assert subscription.disabled_at is not None and "failed after every retry" in subscription.disabled_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["morgan@vendor.example"] and subscription.url in mail.outbox[0].body

    # Disabled: new events are not sent, until the owner enables it again.
    emit_status_change(partner)
    services.events_fan_out()
    assert WebhookDelivery.objects.count() == 1
    receiver.default_status = 200
    services.subscription_update(actor=channel_manager, subscription=subscription, is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.deliveries_redeliver(actor=channel_manager, deliveries=[delivery])
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert receiver.processed == [json.loads(receiver.requests[0].body)["id"]]


def test_redelivery_by_hand_sends_the_same_id_again(
    subscribe, receiver, partner, superuser, django_capture_on_commit_callbacks
):
    subscribe()
    emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.DELIVERED
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_redeliver(actor=superuser, deliveries=[delivery]) == 1
    assert len(receiver.requests) == 2 and len({r.webhook_id for r in receiver.requests}) == 1
    assert WebhookSubscription.objects.get().deliveries.get().attempts == 2
