"""Deliveries sent in batches: one claim and one record for many, each outcome its own, and a
worker dying mid-batch loses nothing; connections kept alive between deliveries."""

import datetime
import socket
import time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.webhooks.conftest import emit_status_change
from tests.webhooks.receiver import Receiver
from webhooks import services, signing, transport
from webhooks.models import DeliveryState, WebhookDelivery

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """What the worker's death looks like from inside: nothing after it runs."""


def _deliveries(partner, count: int) -> list[int]:
    for _ in range(count):
        emit_status_change(partner)
    return sorted(services.events_fan_out(queue=False))


@pytest.fixture
def second_receiver():
    server = Receiver()
    yield server
    server.close()


def test_in_one_batch_a_failing_receiver_is_retried_and_the_other_delivered(
    subscribe, receiver, second_receiver, partner, superuser
):
    accepting = subscribe()
    failing = services.subscription_create(
        actor=superuser, owner=superuser, url=second_receiver.url, event_types=["partner.status_changed"]
    )
    second_receiver.secret = failing.secret
    second_receiver.default_status = 503
    ids = _deliveries(partner, 1)
    assert len(ids) == 2

    outcomes = services.deliveries_send(ids)

    assert {outcome.state for outcome in outcomes} == {DeliveryState.DELIVERED, DeliveryState.PENDING}
    delivered = WebhookDelivery.objects.get(subscription=accepting)
    retried = WebhookDelivery.objects.get(subscription=failing)
    assert delivered.state == DeliveryState.DELIVERED and delivered.last_status_code == 200
    assert delivered.delivered_at is not None and delivered.lease_until is None
    assert retried.state == DeliveryState.PENDING and retried.last_status_code == 503
    assert retried.delivered_at is None and retried.lease_until is None and retried.attempts == 1
    wait = (retried.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= services.BACKOFF_SECONDS[0] * (1 + services.JITTER)
    # Each attempt in the log with its own code, latency and first bytes.
    ok = delivered.attempt_log.get()
    assert ok.succeeded and ok.status_code == 200 and ok.response_excerpt == "ok" and ok.latency_ms >= 0
    refused = retried.attempt_log.get()
    assert not refused.succeeded and refused.status_code == 503
    assert refused.response_excerpt.startswith("receiver says no") and len(refused.response_excerpt) == 1024
    accepting.refresh_from_db()
    failing.refresh_from_db()
    assert accepting.failing_since is None and failing.failing_since is not None
    assert len(receiver.processed) == 1 and second_receiver.processed == []


def test_a_delivery_that_cannot_be_sent_fails_alone_and_is_retried(subscribe, receiver, partner, monkeypatch):
    """A fault that is not the network's (here the body cannot be built) is that delivery's
    failed attempt: the rest of the batch is sent and recorded, and it is retried later."""
    subscribe()
    ids = _deliveries(partner, 3)
    broken = WebhookDelivery.objects.select_related("event").get(pk=ids[1]).event.pk
    real_body = signing.body

    def body(event):
        if event.pk == broken:
            raise TypeError("not JSON serializable")
        return real_body(event)

    monkeypatch.setattr(signing, "body", body)
    outcomes = services.deliveries_send(ids)

    assert [(outcome.delivery_id, outcome.state) for outcome in outcomes] == [
        (ids[0], DeliveryState.DELIVERED),
        (ids[1], DeliveryState.PENDING),
        (ids[2], DeliveryState.DELIVERED),
    ]
    assert len(receiver.processed) == 2
    failed = WebhookDelivery.objects.get(pk=ids[1])
    assert failed.lease_until is None and failed.next_attempt_at > timezone.now()
    assert "TypeError: not JSON serializable" in failed.attempt_log.get().error


def test_a_batch_costs_the_same_queries_whatever_its_size(subscribe, receiver, partner):
    subscribe()
    small, large = _deliveries(partner, 2), _deliveries(partner, 12)
    counts = []
    for ids in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert len(services.deliveries_send(ids)) == len(ids)
        counts.append(len(queries))
    # Claim: savepoint, the locked select of the deliveries with their subscription, owner and
    # event, the update, release. Record: savepoint, one insert of the attempts, one update of
    # the delivered, release. The superuser owner sees every partner: no door query.
    assert counts == [8, 8]
    assert len(receiver.processed) == 14


@pytest.mark.parametrize("record_every", [0.0, 60.0], ids=["recorded-each", "recorded-at-the-end"])
def test_a_worker_killed_mid_batch_loses_nothing_and_resends_only_what_it_had_not_recorded(
    subscribe, receiver, partner, monkeypatch, record_every
):
    subscribe()
    monkeypatch.setattr(services, "RECORD_EVERY", record_every)
    ids = _deliveries(partner, 5)
    real_post = transport.post
    sent = []

    def post_then_die_on_the_third(*args, **kwargs):
        response = real_post(*args, **kwargs)  # the receiver gets it and says yes
        sent.append(response)
        if len(sent) == 3:
            raise WorkerDied
        return response

    monkeypatch.setattr(transport, "post", post_then_die_on_the_third)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with pytest.raises(WorkerDied):
            services.deliveries_send(ids)
        assert len(receiver.requests) == 3
        recorded = set(
            WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).values_list("pk", flat=True)
        )
        assert recorded == (set(ids[:2]) if record_every == 0 else set())
        left = WebhookDelivery.objects.exclude(pk__in=recorded)
        assert {row.state for row in left} == {DeliveryState.SENDING}
        assert not any(row.attempt_log.exists() for row in left)

        monkeypatch.setattr(transport, "post", real_post)
        services.deliveries_sweep()  # the lease still holds: nothing is sent twice yet
        assert len(receiver.requests) == 3
        clock.move_to(start + services.LEASE + datetime.timedelta(seconds=1))
        services.deliveries_sweep()

    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.DELIVERED}
    # Every event processed once; sent again were only those the dead worker had not recorded.
    assert sorted(receiver.processed) == sorted(
        f"evt_{event_id.hex}" for event_id in WebhookDelivery.objects.values_list("event_id", flat=True)
    )
    assert len(receiver.requests) == (5 + 1 if record_every == 0 else 5 + 3)


def test_a_batch_that_would_outlast_its_lease_hands_the_rest_back(subscribe, receiver, partner, monkeypatch):
    """Slow receivers: each attempt here takes 50 s of a 60 s lease, so after the first the
    batch stops, and the rest are due again at once, their claim uncounted."""
    subscribe()
    ids = _deliveries(partner, 3)
    clock = [1000.0]
    real_post = transport.post

    def slow_post(*args, **kwargs):
        clock[0] += 50
        return real_post(*args, **kwargs)

    monkeypatch.setattr(services, "_clock", lambda: clock[0])
    monkeypatch.setattr(transport, "post", slow_post)
    queued = []
    monkeypatch.setattr(
        services, "queue_deliveries", lambda delivery_ids, countdown=None: queued.append(delivery_ids)
    )

    outcomes = services.deliveries_send(ids)

    assert [outcome.delivery_id for outcome in outcomes] == ids[:1]
    assert queued == [ids[1:]]
    for row in WebhookDelivery.objects.filter(pk__in=ids[1:]):
        assert row.state == DeliveryState.PENDING and row.attempts == 0 and row.lease_until is None
        assert row.next_attempt_at <= timezone.now()
    assert len(receiver.requests) == 1


def test_a_delivery_another_worker_holds_is_left_out_of_a_batch(subscribe, receiver, partner):
    subscribe()
    ids = _deliveries(partner, 3)
    held = timezone.now() + services.LEASE
    WebhookDelivery.objects.filter(pk=ids[1]).update(state=DeliveryState.SENDING, lease_until=held)
    outcomes = services.deliveries_send(ids)
    assert [outcome.delivery_id for outcome in outcomes] == [ids[0], ids[2]]
    assert WebhookDelivery.objects.get(pk=ids[1]).state == DeliveryState.SENDING
    assert len(receiver.requests) == 2


# --- kept-alive connections --------------------------------------------------------------------


@pytest.fixture
def keep_alive_receiver(allow_loopback):
    """A receiver speaking HTTP/1.1, keeping connections open."""
    server = Receiver(keep_alive=True)
    yield server
    transport.POOL.clear()
    server.close()


def _subscribe(owner, receiver: Receiver, url: str | None = None):
    subscription = services.subscription_create(
        actor=owner, owner=owner, url=url or receiver.url, event_types=["partner.status_changed"]
    )
    receiver.secret = subscription.secret
    return subscription


def test_deliveries_to_one_receiver_share_a_kept_alive_connection(keep_alive_receiver, superuser, partner):
    _subscribe(superuser, keep_alive_receiver)
    ids = _deliveries(partner, 3)
    services.deliveries_send(ids[:1])
    services.deliveries_send(ids[1:])
    assert [request.status for request in keep_alive_receiver.requests] == [200, 200, 200]
    assert all(request.verified for request in keep_alive_receiver.requests)
    assert keep_alive_receiver.connections == 1
    # Small writes go out at once: no wait for the receiver's delayed acknowledgement.
    ((kept, _since),) = [entry for entries in transport.POOL._idle.values() for entry in entries]
    assert kept.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.mark.parametrize("seen_before_sending", [True, False], ids=["seen-closed", "closed-meanwhile"])
def test_a_connection_the_receiver_closed_is_replaced(
    allow_loopback, superuser, partner, monkeypatch, seen_before_sending
):
    receiver = Receiver(keep_alive=True, idle_timeout=0.05)  # drops a connection idle for 50 ms
    try:
        _subscribe(superuser, receiver)
        ids = _deliveries(partner, 2)
        services.deliveries_send(ids[:1])
        time.sleep(0.3)
        if not seen_before_sending:
            # The close arrives while the request is sent: the check before reuse misses it, the
            # request meets a closed connection, and goes again on a new one.
            monkeypatch.setattr(transport, "_still_open", lambda connection: True)
        outcomes = services.deliveries_send(ids[1:])
        assert [outcome.state for outcome in outcomes] == [DeliveryState.DELIVERED]
        assert [request.status for request in receiver.requests] == [200, 200]
        assert receiver.connections == 2
        assert WebhookDelivery.objects.get(pk=ids[1]).attempt_log.get().succeeded
    finally:
        transport.POOL.clear()
        receiver.close()


def test_a_name_rebound_after_a_delivery_does_not_ride_its_kept_connection(
    keep_alive_receiver, superuser, partner, monkeypatch
):
    """DNS rebinding with a connection open: the name is resolved and checked again before the
    second attempt, which is refused, although a connection to the first address is kept."""
    answers = {"hooks.example.com": "127.0.0.1"}
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = keep_alive_receiver.server.server_address[1]
    _subscribe(superuser, keep_alive_receiver, url=f"http://hooks.example.com:{port}/hook")
    ids = _deliveries(partner, 2)
    services.deliveries_send(ids[:1])
    assert len(keep_alive_receiver.requests) == 1 and sum(map(len, transport.POOL._idle.values())) == 1

    answers["hooks.example.com"] = "169.254.169.254"
    services.deliveries_send(ids[1:])

    assert len(keep_alive_receiver.requests) == 1
    second = WebhookDelivery.objects.get(pk=ids[1])
    assert second.state == DeliveryState.PENDING and "metadata" in second.attempt_log.get().error
