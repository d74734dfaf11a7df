"""Webhook subscriptions, and the delivery of the outbox's events to them.

The path of an event: a service records it in the outbox with its change;
after commit ``events_fan_out`` creates one delivery per subscription that
wants it and whose owner may see its partner; ``deliveries_send`` claims a
batch of deliveries, checks the door and each address again, signs and posts
each, and records the batch's attempts together. A failed attempt is retried after the backoff; the
periodic ``deliveries_sweep`` finds what a crash left behind (events never
fanned out, retries due, deliveries whose worker died while sending).

Delivery is at least once: a worker that dies after the receiver answered
but before the answer was recorded leaves the delivery ``sending``, and once
its lease ends it is sent again with the same ``webhook-id``.
"""

import datetime
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.audit import audit
from core.background import task
from events.catalogue import EVENT_TYPES
from events.models import OutboxEvent
from partners.models import Partner
from partners.models.organisations import sees_every_partner
from programs.models import Program
from webhooks import signing, transport
from webhooks.addresses import UnsafeURL, check_url
from webhooks.models import (
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookSubscription,
    new_secret,
)

logger = logging.getLogger(__name__)

# Seconds to wait before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h. After the
# last one fails the delivery has failed (about 42 hours after the first attempt).
BACKOFF_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 86400)
# Each wait is stretched or shrunk by up to this share, so that retries of many
# deliveries that failed together do not arrive together.
JITTER = 0.2
# How long a worker holds a delivery it sends; past it, the sweep takes the worker for dead.
LEASE = datetime.timedelta(seconds=60)
# Events the sweep leaves to the after-commit path before fanning them out itself.
SETTLE = datetime.timedelta(seconds=10)
# Events fanned out per transaction, and deliveries per queued task (one claim, one lease).
FAN_OUT_BATCH = 1000
DELIVERY_BATCH = 50
# A batch records its attempts at least this often (seconds), and once more at its end: a
# worker dying mid-batch leaves at most this much of its work to be sent again.
RECORD_EVERY = 0.5
# The batch's stopwatch.
_clock = time.monotonic


# --- subscriptions -----------------------------------------------------------------------------


def subscription_errors(*, actor, url: str, event_types: Sequence[str], programs, partners) -> dict[str, str]:
    """What is wrong with these settings of a subscription, per field (empty when nothing is)."""
    errors: dict[str, str] = {}
    try:
        check_url(url)
    except UnsafeURL as exc:
        errors["url"] = str(exc)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        errors["event_types"] = f"Unknown event types: {', '.join(unknown)}."
    elif not event_types:
        errors["event_types"] = "Choose at least one event type."
    partner_ids = {partner.pk for partner in partners}
    if partner_ids - set(
        Partner.objects.visible_to(actor).filter(pk__in=partner_ids).values_list("pk", flat=True)
    ):
        errors["partners"] = "Choose partners you see."
    program_ids = {program.pk for program in programs}
    if program_ids - set(
        Program.objects.visible_to(actor).filter(pk__in=program_ids).values_list("pk", flat=True)
    ):
        errors["programs"] = "Choose programs you see."
    return errors


def subscription_create(
    *,
    actor,
    owner,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    programs: Iterable = (),
    partners: Iterable = (),
    is_active: bool = True,
) -> WebhookSubscription:
    """A new subscription with a fresh secret (``subscription.secret``: show it to the owner once).

    ``owner`` (the actor, or the user a token acts for) is whom the events
    are decided for. The URL must resolve to addresses webhooks may reach.
    """
    programs, partners = list(programs), list(partners)
    errors = subscription_errors(
        actor=actor, url=url, event_types=event_types, programs=programs, partners=partners
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            owner=owner,
            url=url,
            event_types=sorted(set(event_types)),
            description=description.strip(),
            is_active=is_active,
        )
        subscription.programs.set(programs)
        subscription.partners.set(partners)
        audit(
            actor=actor,
            action="webhook.created",
            target=subscription,
            url=url,
            events=subscription.event_types,
        )
    return subscription


def subscription_update(
    *,
    actor,
    subscription: WebhookSubscription,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    programs: Iterable | None = None,
    partners: Iterable | None = None,
    is_active: bool | None = None,
) -> WebhookSubscription:
    """Change what is given. Activating a disabled subscription enables it again."""
    new_programs = list(programs) if programs is not None else list(subscription.programs.all())
    new_partners = list(partners) if partners is not None else list(subscription.partners.all())
    errors = subscription_errors(
        actor=actor,
        url=url if url is not None else subscription.url,
        event_types=event_types if event_types is not None else subscription.event_types,
        programs=new_programs,
        partners=new_partners,
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if url is not None:
            subscription.url = url
        if event_types is not None:
            subscription.event_types = sorted(set(event_types))
        if description is not None:
            subscription.description = description.strip()
        if is_active is not None:
            subscription.is_active = is_active
            if is_active:
                subscription.disabled_at = None
                subscription.disabled_reason = ""
                subscription.consecutive_failures = 0
                subscription.failing_since = None
        subscription.save()
        subscription.programs.set(new_programs)
        subscription.partners.set(new_partners)
        audit(
            actor=actor,
            action="webhook.changed",
            target=subscription,
            url=subscription.url,
            events=subscription.event_types,
            active=subscription.is_active,
        )
    return subscription


def subscription_rotate_secret(
    *, actor, subscription: WebhookSubscription, overlap_hours: int | None = None
) -> WebhookSubscription:
    """A new signing secret; the old one keeps signing beside it for ``overlap_hours``.

    Receivers accept either signature meanwhile (the header carries both), so
    they can switch to the new secret without losing an event.
    """
    hours = settings.PRM_WEBHOOKS_SECRET_OVERLAP_HOURS if overlap_hours is None else overlap_hours
    if hours < 0 or hours > 24 * 30:
        raise ValidationError({"overlap_hours": "Give between 0 and 720 hours."})
    with transaction.atomic():
        row = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        row.previous_secret = row.secret
        row.previous_secret_expires_at = timezone.now() + datetime.timedelta(hours=hours)
        row.secret = new_secret()
        row.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        audit(actor=actor, action="webhook.secret_rotated", target=row, overlap_hours=hours)
    return row


def subscription_delete(*, actor, subscription: WebhookSubscription) -> None:
    """Delete a subscription with its delivery log; the events stay in the outbox."""
    with transaction.atomic():
        audit(actor=actor, action="webhook.deleted", target=subscription, url=subscription.url)
        subscription.delete()


def deliveries_redeliver(*, actor, deliveries: Iterable[WebhookDelivery]) -> int:
    """Send these deliveries again now, whatever their state, with their event's id. Returns how many."""
    ids = [delivery.pk for delivery in deliveries]
    if not ids:
        return 0
    with transaction.atomic():
        count = WebhookDelivery.objects.filter(pk__in=ids).update(
            state=DeliveryState.PENDING, next_attempt_at=timezone.now(), lease_until=None
        )
        for subscription_id in set(
            WebhookDelivery.objects.filter(pk__in=ids).values_list("subscription_id", flat=True)
        ):
            audit(
                actor=actor,
                action="webhook.redelivered",
                target=WebhookSubscription(pk=subscription_id),
                deliveries=len(ids),
            )
        transaction.on_commit(lambda: queue_deliveries(ids))
    return count


# --- fan-out -----------------------------------------------------------------------------------


def _wants(
    subscription: WebhookSubscription, event: OutboxEvent, programs: set[int], partners: set[int]
) -> bool:
    if event.event_type not in subscription.event_types:
        return False
    if programs and event.program_id not in programs:
        return False
    return not partners or event.partner_id in partners


def _visible_partner_ids(owner, partner_ids: set[int]) -> set[int]:
    """Of ``partner_ids``, those ``owner`` may see: the one door, one query (none for an owner
    whom no coverage narrows)."""
    if not partner_ids:
        return set()
    if sees_every_partner(owner):
        return set(partner_ids)
    return set(Partner.objects.visible_to(owner).filter(pk__in=partner_ids).values_list("pk", flat=True))


def events_fan_out(event_ids: Sequence[str] | None = None, *, queue: bool = True) -> list[int]:
    """Create the deliveries of undispatched events (these, or the oldest); returns the new ids.

    Safe to repeat and to run concurrently: events are claimed with
    ``SKIP LOCKED`` and marked dispatched in the same transaction, and a
    delivery exists once per subscription and event. An event about a partner
    the owner may not see gets no delivery for that owner at all.
    """
    return events_fan_out_batch(event_ids, queue=queue)[1]


def events_fan_out_batch(
    event_ids: Sequence[str] | None = None, *, queue: bool = True
) -> tuple[int, list[int]]:
    """``events_fan_out``, also saying how many events it claimed (at most ``FAN_OUT_BATCH``)."""
    now = timezone.now()
    with transaction.atomic():
        pending = OutboxEvent.objects.select_for_update(skip_locked=True).filter(dispatched_at__isnull=True)
        if event_ids is not None:
            pending = pending.filter(pk__in=list(event_ids))
        events = list(pending.order_by("occurred_at")[:FAN_OUT_BATCH])
        if not events:
            return 0, []
        subscriptions = list(
            WebhookSubscription.objects.active()
            .select_related("owner")
            .prefetch_related("programs", "partners")
        )
        rows = []
        for subscription in subscriptions:
            programs = {program.pk for program in subscription.programs.all()}
            partners = {partner.pk for partner in subscription.partners.all()}
            wanted = [event for event in events if _wants(subscription, event, programs, partners)]
            if not wanted:
                continue
            visible = _visible_partner_ids(
                subscription.owner, {event.partner_id for event in wanted if event.partner_id is not None}
            )
            everything = sees_every_partner(subscription.owner)
            rows += [
                WebhookDelivery(subscription=subscription, event=event, next_attempt_at=now, created_at=now)
                for event in wanted
                if (event.partner_id in visible if event.partner_id is not None else everything)
            ]
        # The events are locked and undispatched: none of them has a delivery yet, and the
        # unique constraint would refuse a second one.
        created = [row.pk for row in WebhookDelivery.objects.bulk_create(rows, batch_size=FAN_OUT_BATCH)]
        OutboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
        if queue:
            transaction.on_commit(lambda: queue_deliveries(created))
    return len(events), created


def deliveries_dispatch(delivery_ids: Sequence[int]) -> int:
    """After a fan-out: send the first batch at once (no second task for the usual few events),
    queue the rest a batch per task so that workers share them. Returns how many were sent here."""
    ids = sorted(delivery_ids)
    queue_deliveries(ids[DELIVERY_BATCH:])
    return len(deliveries_send(ids[:DELIVERY_BATCH]))


def queue_deliveries(delivery_ids: Sequence[int], countdown: float | None = None) -> None:
    """Queue the sending of these deliveries, a batch per task."""
    deliver = task("webhooks.tasks.deliver_webhooks")
    ids = sorted(delivery_ids)
    for start in range(0, len(ids), DELIVERY_BATCH):
        batch = ids[start : start + DELIVERY_BATCH]
        if countdown:
            deliver.apply_async(args=(batch,), countdown=countdown)
        else:
            deliver.delay(batch)


# --- sending -----------------------------------------------------------------------------------


@dataclass
class SendOutcome:
    delivery_id: int
    state: str
    status_code: int | None = None


@dataclass
class _Attempt:
    """What one attempt of a batch did, waiting to be recorded with the others."""

    delivery: WebhookDelivery
    # None: withheld, nothing was sent (the owner no longer sees the event's partner).
    response: transport.Response | None
    # A failure that ends the delivery at once, without counting against the subscription
    # (which was stopped or disabled meanwhile).
    final: bool = False
    attempted_at: datetime.datetime = field(default_factory=timezone.now)


def backoff(attempt: int) -> datetime.timedelta | None:
    """The wait after failed attempt number ``attempt`` (1, 2, ...), with jitter; None once retries are spent."""
    if attempt < 1 or attempt > len(BACKOFF_SECONDS):
        return None
    base = BACKOFF_SECONDS[attempt - 1]
    return datetime.timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def _due(now: datetime.datetime) -> Q:
    """Waiting and due, or being sent by a worker whose lease ran out (it died)."""
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, lease_until__lt=now
    )


def _claim(
    delivery_ids: Sequence[int], now: datetime.datetime, lease_until: datetime.datetime
) -> list[WebhookDelivery]:
    """Take those of these deliveries that are due, loaded with their subscription, owner and
    event: one transaction of two statements.

    The rows are locked with ``SKIP LOCKED`` (a worker claiming the same ids at the same
    moment takes the others) and updated under the same condition; once committed they are
    ``sending`` under this lease and due for nobody else until it ends.
    """
    with transaction.atomic():
        deliveries = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription__owner", "event")
            .filter(_due(now), pk__in=list(delivery_ids))
            .order_by("pk")
        )
        if not deliveries:
            return []
        claimed = WebhookDelivery.objects.filter(_due(now), pk__in=[row.pk for row in deliveries]).update(
            state=DeliveryState.SENDING, lease_until=lease_until, attempts=F("attempts") + 1
        )
        if claimed != len(deliveries):
            # Only where rows cannot be locked (SQLite): keep those this update took.
            mine = set(
                WebhookDelivery.objects.filter(
                    pk__in=[row.pk for row in deliveries],
                    state=DeliveryState.SENDING,
                    lease_until=lease_until,
                ).values_list("pk", flat=True)
            )
            deliveries = [row for row in deliveries if row.pk in mine]
    subscriptions: dict[int, WebhookSubscription] = {}
    owners: dict[int, Any] = {}
    for delivery in deliveries:
        delivery.state, delivery.lease_until, delivery.attempts = (
            DeliveryState.SENDING,
            lease_until,
            delivery.attempts + 1,
        )
        # One object per subscription and per owner: what one delivery's outcome changes (a
        # failure counted, a subscription disabled) is seen by the next, and a user's
        # permissions are read once.
        subscription = subscriptions.setdefault(delivery.subscription_id, delivery.subscription)
        subscription.owner = owners.setdefault(subscription.owner_id, subscription.owner)
        delivery.subscription = subscription
    return deliveries


def _visible(deliveries: Sequence[WebhookDelivery]) -> set[int]:
    """The deliveries whose subscription's owner may see the event's partner now: the door, one
    query per owner (none for an owner whom no coverage narrows)."""
    by_owner: dict[int, list[WebhookDelivery]] = {}
    for delivery in deliveries:
        by_owner.setdefault(delivery.subscription.owner_id, []).append(delivery)
    visible: set[int] = set()
    for group in by_owner.values():
        owner = group[0].subscription.owner
        everything = sees_every_partner(owner)
        partners = _visible_partner_ids(
            owner, {delivery.event.partner_id for delivery in group if delivery.event.partner_id is not None}
        )
        visible.update(
            delivery.pk
            for delivery in group
            if (
                delivery.event.partner_id in partners if delivery.event.partner_id is not None else everything
            )
        )
    return visible


def deliveries_send(delivery_ids: Sequence[int]) -> list[SendOutcome]:
    """Send those of these deliveries that are due, as one batch; returns what became of each one
    sent (or withheld). A delivery another worker holds, or not due yet, is left out.

    The batch is claimed with one lease and the door asked once for it (the owner
    may have lost sight of the partner since the event). Before each attempt the
    URL is resolved and checked again, and the request goes to the address just
    checked, over a kept-alive connection when one to that very address is open.
    The attempts are recorded together, one transaction at least every
    ``RECORD_EVERY`` and at the end: a worker that dies mid-batch leaves only the
    unrecorded ones ``sending``, and the sweep sends them again once the lease
    ends (with the same ``webhook-id``, which the receiver deduplicates on).
    A batch that would outlast its lease (slow receivers) hands what is left back.
    """
    now = timezone.now()
    started = _clock()
    lease_until = now + LEASE
    deliveries = _claim(delivery_ids, now, lease_until)
    if not deliveries:
        return []
    visible = _visible(deliveries)
    # The last moment to start an attempt: one that times out (connecting, then reading)
    # still ends inside the lease.
    last_start = started + LEASE.total_seconds() - _attempt_budget()
    outcomes: list[SendOutcome] = []
    attempts: list[_Attempt] = []
    recorded = _clock()
    for index, delivery in enumerate(deliveries):
        if _clock() > last_start:
            _release(deliveries[index:], lease_until)
            break
        try:
            attempts.append(_attempt(delivery, may_see=delivery.pk in visible))
        except Exception as exc:
            # Not the network (that is an answer): a fault of this delivery. Recorded as a failed
            # attempt, it is retried with the backoff like any other, and does not take down the
            # batch, whose unrecorded attempts would otherwise be sent again with it each time.
            logger.exception("webhook delivery %s could not be sent", delivery.pk)
            error = f"Not sent: {type(exc).__name__}: {exc}"[:300]
            attempts.append(_Attempt(delivery, transport.Response(None, 0, "", error)))
        if _clock() - recorded >= RECORD_EVERY:
            outcomes += _record(attempts)
            attempts, recorded = [], _clock()
    outcomes += _record(attempts)
    return outcomes


def _attempt_budget() -> float:
    return float(settings.PRM_WEBHOOKS_CONNECT_TIMEOUT + settings.PRM_WEBHOOKS_READ_TIMEOUT)


def _attempt(delivery: WebhookDelivery, *, may_see: bool) -> _Attempt:
    """Check, sign and post one delivery (nothing is written here)."""
    subscription, event = delivery.subscription, delivery.event
    if not subscription.is_active or subscription.disabled_at is not None:
        return _Attempt(
            delivery, transport.Response(None, 0, "", "The subscription is not active."), final=True
        )
    if not may_see:
        return _Attempt(delivery, None)
    try:
        target = check_url(subscription.url)
    except UnsafeURL as exc:
        return _Attempt(delivery, transport.Response(None, 0, "", str(exc)[:300]))
    now = timezone.now()
    payload = signing.body(event)
    headers = signing.headers(
        message_id=event.webhook_id, payload=payload, secrets=subscription.signing_secrets(now), at=now
    )
    return _Attempt(delivery, transport.post(target, payload.encode(), headers), attempted_at=now)


def _release(deliveries: Sequence[WebhookDelivery], lease_until: datetime.datetime) -> None:
    """Hand back claimed deliveries not attempted (the batch ran out of lease): due again at once,
    the claim's attempt uncounted, queued for another task."""
    ids = [delivery.pk for delivery in deliveries]
    WebhookDelivery.objects.filter(pk__in=ids, state=DeliveryState.SENDING, lease_until=lease_until).update(
        state=DeliveryState.PENDING,
        lease_until=None,
        next_attempt_at=timezone.now(),
        attempts=F("attempts") - 1,
    )
    queue_deliveries(ids)


WITHHELD_ERROR = "Not sent: the owner no longer sees this event's partner."


def _record(attempts: Sequence[_Attempt]) -> list[SendOutcome]:
    """Write these attempts and what follows from each (delivered, a retry, a failure) in one
    transaction: one insert for the log, an update per outcome for the deliveries (usually one:
    all delivered with a 200), and a statement on a subscription only when its health changes."""
    if not attempts:
        return []
    now = timezone.now()
    outcomes: list[SendOutcome] = []
    retries: dict[int, list[int]] = {}
    disabled: list[int] = []
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(
            [
                DeliveryAttempt(
                    delivery=attempt.delivery, error=WITHHELD_ERROR, attempted_at=attempt.attempted_at
                )
                if attempt.response is None
                else DeliveryAttempt(
                    delivery=attempt.delivery,
                    attempted_at=attempt.attempted_at,
                    status_code=attempt.response.status_code,
                    latency_ms=attempt.response.latency_ms,
                    response_excerpt=attempt.response.excerpt,
                    error=attempt.response.error,
                    succeeded=attempt.response.succeeded,
                )
                for attempt in attempts
            ]
        )
        # The deliveries' new values are few (a state, a status code): one update per set of
        # them, and one more for the retries' times, each its own (the jitter).
        changes: dict[tuple[str, int | None], list[int]] = {}
        retried: list[WebhookDelivery] = []
        for attempt in attempts:
            delivery, response = attempt.delivery, attempt.response
            delivery.lease_until = None
            if response is None:
                delivery.state = DeliveryState.WITHHELD
                changes.setdefault((delivery.state, delivery.last_status_code), []).append(delivery.pk)
                outcomes.append(SendOutcome(delivery.pk, delivery.state))
                continue
            delivery.last_status_code = response.status_code
            if response.succeeded:
                delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
                _count_success(delivery.subscription)
            elif (wait := None if attempt.final else backoff(delivery.attempts)) is not None:
                delivery.state, delivery.next_attempt_at = DeliveryState.PENDING, now + wait
                _mark_failing(delivery.subscription, now)
                retried.append(delivery)
                retries.setdefault(math.ceil(wait.total_seconds()), []).append(delivery.pk)
            else:
                delivery.state = DeliveryState.FAILED
                if not attempt.final and _count_failure(delivery.subscription, now):
                    disabled.append(delivery.subscription_id)
            changes.setdefault((delivery.state, delivery.last_status_code), []).append(delivery.pk)
            outcomes.append(SendOutcome(delivery.pk, delivery.state, response.status_code))
        for (state, status_code), ids in changes.items():
            values: dict[str, Any] = {"state": state, "lease_until": None, "last_status_code": status_code}
            if state == DeliveryState.DELIVERED:
                values["delivered_at"] = now
            WebhookDelivery.objects.filter(pk__in=ids).update(**values)
        if retried:
            WebhookDelivery.objects.bulk_update(retried, ["next_attempt_at"])
        for seconds, ids in retries.items():
            _queue_retry(ids, seconds)
        for subscription_id in disabled:
            transaction.on_commit(
                partial(task("webhooks.tasks.notify_subscription_disabled").delay, subscription_id)
            )
    return outcomes


def _count_success(subscription: WebhookSubscription) -> None:
    """An accepted delivery ends a subscription's run of failures."""
    if subscription.consecutive_failures or subscription.failing_since:
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            consecutive_failures=0, failing_since=None
        )
        subscription.consecutive_failures, subscription.failing_since = 0, None


def _mark_failing(subscription: WebhookSubscription, now: datetime.datetime) -> None:
    """A failed attempt with a retry to come: the subscription is failing since now, unless earlier."""
    if subscription.failing_since is None:
        WebhookSubscription.objects.filter(pk=subscription.pk, failing_since=None).update(failing_since=now)
        subscription.failing_since = now


def _count_failure(subscription: WebhookSubscription, now: datetime.datetime) -> bool:
    """A delivery spent its retries: count it; past the limit the subscription is disabled."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    subscription.consecutive_failures += 1
    limit = settings.PRM_WEBHOOKS_DISABLE_AFTER_FAILURES
    reason = (
        f"{limit} deliveries in a row failed after every retry (the receiver answered no 2xx "
        "for about 42 hours each)."
    )
    disabled = WebhookSubscription.objects.filter(
        pk=subscription.pk, consecutive_failures__gte=limit, disabled_at__isnull=True
    ).update(disabled_at=now, disabled_reason=reason)
    if disabled:
        subscription.disabled_at, subscription.disabled_reason = now, reason
        logger.warning("webhook subscription %s disabled after %s failed deliveries", subscription.pk, limit)
        audit(actor=None, action="webhook.disabled", target=subscription, reason=reason)
    return bool(disabled)


def _queue_retry(delivery_ids: list[int], countdown: int) -> None:
    """With a broker, retries are queued with their countdown (those of a batch due within the
    same second share a task); eagerly (no broker) a countdown would run at once, so the sweep
    sends them when they are due."""
    if current_app.conf.task_always_eager:
        return
    transaction.on_commit(partial(queue_deliveries, delivery_ids, countdown=countdown))


# --- the sweep ---------------------------------------------------------------------------------


@dataclass
class SweepSummary:
    events_fanned_out: int = 0
    deliveries_queued: int = 0


def deliveries_sweep(*, now: datetime.datetime | None = None, limit: int = 5000) -> SweepSummary:
    """Pick up what the after-commit path missed: events not fanned out, retries due, deliveries
    whose worker died while sending (their lease ended). Safe to run at any time."""
    now = now or timezone.now()
    summary = SweepSummary()
    while OutboxEvent.objects.filter(dispatched_at__isnull=True, occurred_at__lte=now - SETTLE).exists():
        batch = list(
            OutboxEvent.objects.filter(dispatched_at__isnull=True, occurred_at__lte=now - SETTLE)
            .order_by("occurred_at")
            .values_list("pk", flat=True)[:FAN_OUT_BATCH]
        )
        before = summary.events_fanned_out
        events_fan_out([str(pk) for pk in batch])
        summary.events_fanned_out += OutboxEvent.objects.filter(
            pk__in=batch, dispatched_at__isnull=False
        ).count()
        if summary.events_fanned_out == before:
            break  # locked by a concurrent fan-out: it will finish them
    due = list(
        WebhookDelivery.objects.filter(
            Q(state=DeliveryState.PENDING, next_attempt_at__lte=now)
            | Q(state=DeliveryState.SENDING, lease_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if due:
        queue_deliveries(due)
    summary.deliveries_queued = len(due)
    return summary
