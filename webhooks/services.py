"""Webhook subscriptions, and the delivery of the outbox's events to them.

The path of an event: a service records it in the outbox with its change;
after commit ``events_fan_out`` creates one delivery per subscription that
wants it and whose owner may see its partner; ``delivery_send`` claims a
delivery, checks the door and the address again, signs and posts it, and
records the attempt. A failed attempt is retried after the backoff; the
periodic ``deliveries_sweep`` finds what a crash left behind (events never
fanned out, retries due, deliveries whose worker died while sending).

Delivery is at least once: a worker that dies after the receiver answered
but before the answer was recorded leaves the delivery ``sending``, and once
its lease ends it is sent again with the same ``webhook-id``.
"""

import datetime
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
# Events fanned out per transaction, and deliveries per queued task.
FAN_OUT_BATCH = 1000
DELIVERY_BATCH = 20


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


def owner_may_see(owner, event: OutboxEvent) -> bool:
    """Whether the subscription's owner may know of ``event`` (its partner through the door)."""
    if event.partner_id is None:
        return sees_every_partner(owner)
    return bool(_visible_partner_ids(owner, {event.partner_id}))


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
    """After a fan-out: send the first few at once (no second task for the usual single event),
    queue the rest a few per task so that workers share them. Returns how many were sent here."""
    ids = sorted(delivery_ids)
    queue_deliveries(ids[DELIVERY_BATCH:])
    return sum(delivery_send(delivery_id) is not None for delivery_id in ids[:DELIVERY_BATCH])


def queue_deliveries(delivery_ids: Sequence[int], countdown: float | None = None) -> None:
    """Queue the sending of these deliveries, a few per task."""
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


def backoff(attempt: int) -> datetime.timedelta | None:
    """The wait after failed attempt number ``attempt`` (1, 2, ...), with jitter; None once retries are spent."""
    if attempt < 1 or attempt > len(BACKOFF_SECONDS):
        return None
    base = BACKOFF_SECONDS[attempt - 1]
    return datetime.timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def _claim(delivery_id: int, now: datetime.datetime) -> bool:
    """Take a delivery that is due (or whose worker died mid-way): one conditional update."""
    due = Q(state=DeliveryState.PENDING, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, lease_until__lt=now
    )
    return bool(
        WebhookDelivery.objects.filter(due, pk=delivery_id).update(
            state=DeliveryState.SENDING, lease_until=now + LEASE, attempts=F("attempts") + 1
        )
    )


def delivery_send(delivery_id: int) -> SendOutcome | None:
    """Send one delivery if it is due; None when another worker has it or it is not due.

    Before sending, the door is asked again (the owner may have lost sight of
    the partner since the event) and the URL resolved and checked again.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("subscription__owner", "event").get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    if not subscription.is_active or subscription.disabled_at is not None:
        return _record(
            delivery, transport.Response(None, 0, "", "The subscription is not active."), final=True
        )
    if not owner_may_see(subscription.owner, event):
        return _withhold(delivery)
    try:
        target = check_url(subscription.url)
    except UnsafeURL as exc:
        return _record(delivery, transport.Response(None, 0, "", str(exc)[:300]))
    payload = signing.body(event)
    headers = signing.headers(
        message_id=event.webhook_id, payload=payload, secrets=subscription.signing_secrets(now), at=now
    )
    response = transport.post(target, payload.encode(), headers)
    return _record(delivery, response)


def _withhold(delivery: WebhookDelivery) -> SendOutcome:
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery, error="Not sent: the owner no longer sees this event's partner."
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.WITHHELD, lease_until=None)
    return SendOutcome(delivery.pk, DeliveryState.WITHHELD)


def _record(delivery: WebhookDelivery, response: transport.Response, *, final: bool = False) -> SendOutcome:
    """Write the attempt and what follows from it: delivered, a retry, or a failure."""
    now = timezone.now()
    subscription = delivery.subscription
    disabled = False
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=response.status_code,
            latency_ms=response.latency_ms,
            response_excerpt=response.excerpt,
            error=response.error,
            succeeded=response.succeeded,
        )
        changes: dict = {"lease_until": None, "last_status_code": response.status_code}
        if response.succeeded:
            state = DeliveryState.DELIVERED
            changes.update(state=state, delivered_at=now)
            if subscription.consecutive_failures or subscription.failing_since:
                WebhookSubscription.objects.filter(pk=subscription.pk).update(
                    consecutive_failures=0, failing_since=None
                )
        else:
            wait = None if final else backoff(delivery.attempts)
            if wait is not None:
                state = DeliveryState.PENDING
                changes.update(state=state, next_attempt_at=now + wait)
                WebhookSubscription.objects.filter(pk=subscription.pk, failing_since=None).update(
                    failing_since=now
                )
            else:
                state = DeliveryState.FAILED
                changes.update(state=state)
                if not final:
                    disabled = _count_failure(subscription, now)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
        if state == DeliveryState.PENDING:
            _queue_retry(delivery.pk, changes["next_attempt_at"] - now)
        if disabled:
            subscription_id = subscription.pk
            transaction.on_commit(
                lambda: task("webhooks.tasks.notify_subscription_disabled").delay(subscription_id)
            )
    return SendOutcome(delivery.pk, state, response.status_code)


def _count_failure(subscription: WebhookSubscription, now: datetime.datetime) -> bool:
    """A delivery spent its retries: count it; past the limit the subscription is disabled."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    limit = settings.PRM_WEBHOOKS_DISABLE_AFTER_FAILURES
    reason = (
        f"{limit} deliveries in a row failed after every retry (the receiver answered no 2xx "
        "for about 42 hours each)."
    )
    disabled = WebhookSubscription.objects.filter(
        pk=subscription.pk, consecutive_failures__gte=limit, disabled_at__isnull=True
    ).update(disabled_at=now, disabled_reason=reason)
    if disabled:
        logger.warning("webhook subscription %s disabled after %s failed deliveries", subscription.pk, limit)
        audit(actor=None, action="webhook.disabled", target=subscription, reason=reason)
    return bool(disabled)


def _queue_retry(delivery_id: int, wait: datetime.timedelta) -> None:
    """With a broker, the retry is queued with its countdown; eagerly (no broker) a countdown
    would run at once, so the sweep sends it when it is due."""
    if current_app.conf.task_always_eager:
        return
    transaction.on_commit(lambda: queue_deliveries([delivery_id], countdown=wait.total_seconds()))


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
