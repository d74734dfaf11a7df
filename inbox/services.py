"""Writes of the inbox: items in bulk, reading, preferences, announcements, digests.

Items are written with one bulk insert per 2,000 that skips the (user, key)
pairs already there, so reading the same events or the same due claims twice
writes nothing twice. Emails leave after commit: items a user wants at once
are queued to ``inbox.tasks.send_immediate_items``; digest items wait for the
daily digest.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from core.audit import audit
from core.background import task
from events.models import OutboxEvent
from gates.models import GateForecast, GateRiskEpisode
from inbox import notifications
from inbox.kinds import kinds_received
from inbox.models import (
    Announcement,
    Delivery,
    InboxDigest,
    InboxItem,
    InboxKind,
    InboxPreference,
)
from inbox.sources import (
    HANDLED_EVENTS,
    SETTLING_EVENTS,
    NewItem,
    due_items,
    items_from_events,
    risk_ended_text,
    risk_text,
    settled_subjects,
    tier_note,
)
from partners.models import LifecycleStatus, Membership, Partner
from programs.models import Program

BULK_SIZE = 2000
# Items named per immediate-email task.
IMMEDIATE_PER_TASK = 500
# How far back the daily run reads the outbox again (a day and a margin).
CATCH_UP_HOURS = 26


def items_create(new_items: Sequence[NewItem]) -> int:
    """Insert the items no user has yet (by their key); queue the immediate emails after commit.
    Returns how many items were asked for (inserts that hit an existing key are skipped)."""
    if not new_items:
        return 0
    rows = [
        InboxItem(
            user_id=new.user_id,
            kind=new.kind,
            title=new.title,
            body=new.body,
            link=new.link,
            partner_id=new.partner_id,
            program_id=new.program_id,
            subject_type=new.subject_type,
            subject_id=new.subject_id,
            dedupe_key=new.dedupe_key,
            created_at=new.created_at,
        )
        for new in new_items
    ]
    immediate = _wanting(Delivery.IMMEDIATE, {(new.user_id, new.kind) for new in new_items})
    pairs = [[new.user_id, new.dedupe_key] for new in new_items if (new.user_id, new.kind) in immediate]
    if pairs:
        # Only items written now are mailed: one read again (the daily catch-up) was decided before.
        existing = set(
            InboxItem.objects.filter(
                user_id__in={user for user, _key in pairs}, dedupe_key__in={key for _user, key in pairs}
            ).values_list("user_id", "dedupe_key")
        )
        pairs = [pair for pair in pairs if tuple(pair) not in existing]
    with transaction.atomic():
        InboxItem.objects.bulk_create(rows, batch_size=BULK_SIZE, ignore_conflicts=True)
        if pairs:
            send = task("inbox.tasks.send_immediate_items")

            def queue() -> None:
                for start in range(0, len(pairs), IMMEDIATE_PER_TASK):
                    send.delay(pairs[start : start + IMMEDIATE_PER_TASK])

            transaction.on_commit(queue)
    return len(rows)


def _wanting(delivery: str, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Those (user, kind) pairs whose user chose ``delivery`` for the kind (one query)."""
    if not pairs:
        return set()
    found = InboxPreference.objects.filter(
        user_id__in={user for user, _kind in pairs}, delivery=delivery
    ).values_list("user_id", "kind")
    return {pair for pair in found if pair in pairs}


def items_from_outbox(event_ids: Iterable[str]) -> int:
    """Turn committed outbox events into items (set-wise: a fixed number of reads, bulk inserts)."""
    ids = [str(event_id) for event_id in event_ids]
    total = 0
    for start in range(0, len(ids), BULK_SIZE):
        batch = ids[start : start + BULK_SIZE]
        total += items_create(items_from_events(batch))
        approvals_settle(settled_subjects(batch))
    return total


def approvals_settle(settled: dict[str, set[int]]) -> int:
    """Once a deal or request is decided, its approval items are read for everyone who had one."""
    marked = 0
    for subject_type, subject_ids in settled.items():
        marked += InboxItem.objects.filter(
            kind=InboxKind.APPROVAL,
            subject_type=subject_type,
            subject_id__in=sorted(subject_ids),
            read_at__isnull=True,
        ).update(read_at=timezone.now())
    return marked


def outbox_catch_up(*, hours: int = CATCH_UP_HOURS) -> int:
    """Read again the last ``hours`` of the outbox's events the inbox handles: a process that died
    between a commit and queueing its task left them unread. What was read is skipped (by key)."""
    since = timezone.now() - datetime.timedelta(hours=hours)
    ids = OutboxEvent.objects.filter(
        occurred_at__gte=since, event_type__in=[*HANDLED_EVENTS, *SETTLING_EVENTS]
    ).values_list("pk", flat=True)
    return items_from_outbox(str(pk) for pk in ids.order_by("occurred_at", "pk").iterator())


def due_items_create(*, today: datetime.date | None = None) -> int:
    """The daily look: events a crash left unread (and at-risk items a crash left stale), claims due
    and certifications expiring, then announcements whose time came."""
    today = today or timezone.localdate()
    created = outbox_catch_up()
    risk_items_catch_up(today=today)
    created += items_create(due_items(today=today))
    for announcement in Announcement.objects.filter(
        published_at__lte=timezone.now(), delivered_at__isnull=True
    ).order_by("published_at", "pk"):
        created += announcement_deliver(announcement_id=announcement.pk)
    return created


# --- at-risk items following their forecast ---------------------------------------------------


def risk_items_refresh(
    *,
    moved: Iterable[Sequence[int]],
    closer: Iterable[Sequence[int]],
    ended: Iterable[Sequence[Any]],
    as_of: datetime.date,
) -> int:
    """Bring the at-risk items of these episodes up to what the forecast says now; returns items changed.

    ``moved`` are the (partner id, gate id) pairs of running episodes whose
    forecast changed, ``closer`` those whose failing day moved closer than
    the day last told, ``ended`` (partner id, gate id, reason) triples of
    episodes that ended on ``as_of`` (``gates.signals.gate_forecasts_changed``).
    An episode's item is the at-risk item about the partner and gate each
    recipient got when the episode started: it is rewritten in place (no
    second item) with the current day, shortfall and fix, and marked unread
    again only when the day moved closer. An episode that ends says so: safe
    again, or held by an override (both read: nothing is left to do), or the
    gate no longer met. Items of earlier episodes are left as they ended.
    Reads the forecasts and the items in one query each; safe to repeat.
    """
    moved_pairs = {(int(p), int(g)) for p, g in moved}
    closer_pairs = {(int(p), int(g)) for p, g in closer}
    reasons = {(int(p), int(g)): str(reason) for p, g, reason in ended}
    pairs = moved_pairs | set(reasons)
    if not pairs:
        return 0
    partner_ids, gate_ids = {p for p, _g in pairs}, {g for _p, g in pairs}
    forecasts = {
        (row[0], row[1]): row[2:]
        for row in GateForecast.objects.filter(partner_id__in=partner_ids, gate_id__in=gate_ids).values_list(
            "partner_id",
            "gate_id",
            "fails_on",
            "shortfall",
            "fix",
            "episode_started_on",
            "partner__name",
            "gate__name",
            "tier_lost_on",
            "override_until",
            "gate__unlocks_tier__name",
            "at_risk",
        )
        if (row[0], row[1]) in pairs
    }
    now = timezone.now()
    changed = []
    items = InboxItem.objects.filter(
        kind=InboxKind.AT_RISK, subject_type="gates.gate", partner_id__in=partner_ids, subject_id__in=gate_ids
    ).annotate(for_staff=F("user__is_staff"))
    for item in items:
        key = (item.partner_id, item.subject_id)
        found = forecasts.get(key)  # type: ignore[arg-type]
        if found is None:
            continue
        (
            fails_on,
            shortfall,
            fix,
            started_on,
            partner_name,
            gate_name,
            tier_lost_on,
            override_until,
            tier_name,
            at_risk,
        ) = found
        if started_on is None or timezone.localdate(item.created_at) < started_on:
            continue  # an earlier episode's item
        before = (item.title, item.body, item.read_at)
        if key in reasons and not at_risk:  # at risk again: a newer episode runs, with an item of its own
            text = risk_ended_text(reasons[key], gate=gate_name, partner_name=partner_name, on=as_of)
            item.title, item.body = text.staff_title if item.for_staff else text.title, text.body
            if text.resolved and item.read_at is None:
                item.read_at = now
        elif key in moved_pairs and at_risk and fails_on is not None:
            text = risk_text(
                gate=gate_name,
                partner_name=partner_name,
                fails_on=fails_on,
                shortfall=shortfall,
                fix=fix,
                tier=tier_note(fails_on, tier_lost_on, override_until, tier_name),
            )
            item.title, item.body = text.staff_title if item.for_staff else text.title, text.body
            if key in closer_pairs:
                item.read_at = None
        if (item.title, item.body, item.read_at) != before:
            changed.append(item)
    InboxItem.objects.bulk_update(changed, ["title", "body", "read_at"], batch_size=BULK_SIZE)
    return len(changed)


def risk_items_catch_up(*, today: datetime.date, hours: int = CATCH_UP_HOURS) -> int:
    """Rewrite the at-risk items of the episodes the last day's forecasts moved or ended; returns
    items changed.

    The forecast hands its changes to ``risk_items_refresh`` after commit; a
    process that died in between left the items saying an old day. This reads
    the forecasts at risk written since ``hours`` ago and the episodes ended
    since yesterday, and rewrites their items' text (an item is marked unread
    again only by the forecast's own hand-over, which knows whether the day
    moved closer). Items already right are not written: safe to repeat.
    """
    since = timezone.now() - datetime.timedelta(hours=hours)
    moved = list(
        GateForecast.objects.filter(at_risk=True, updated_at__gte=since).values_list("partner_id", "gate_id")
    )
    ended: dict[datetime.date, list[tuple[int, int, str]]] = defaultdict(list)
    for partner_id, gate_id, reason, ended_on in GateRiskEpisode.objects.filter(
        ended_on__gte=today - datetime.timedelta(days=1), ended_on__lte=today
    ).values_list("partner_id", "gate_id", "end_reason", "ended_on"):
        if ended_on is not None:
            ended[ended_on].append((partner_id, gate_id, reason))
    changed = risk_items_refresh(moved=moved, closer=[], ended=[], as_of=today) if moved else 0
    for ended_on, triples in sorted(ended.items()):
        changed += risk_items_refresh(moved=[], closer=[], ended=triples, as_of=ended_on)
    return changed


# --- reading ---------------------------------------------------------------------------------


def item_mark_read(*, actor, item_id: int) -> bool:
    """Mark one of the actor's items read; False when it is not theirs (or not visible)."""
    updated = (
        InboxItem.objects.actionable_by(actor, "read")
        .filter(pk=item_id, read_at__isnull=True)
        .update(read_at=timezone.now())
    )
    return bool(updated) or InboxItem.objects.actionable_by(actor, "read").filter(pk=item_id).exists()


def items_mark_all_read(*, actor) -> int:
    """Mark every unread item the actor sees read; returns how many."""
    return InboxItem.objects.actionable_by(actor, "read").unread().update(read_at=timezone.now())


def preferences_set(*, actor, deliveries: dict[str, str]) -> None:
    """Save how the actor wants each kind delivered (``{kind: delivery}``).

    Only the kinds that can reach the actor (``inbox.kinds.kinds_received``)
    take a preference; another kind, an unknown one or an unknown delivery
    raises ``ValidationError`` and saves nothing.
    """
    unknown = set(deliveries) - set(InboxKind.values)
    bad = {kind for kind, value in deliveries.items() if value not in Delivery.values}
    if unknown or bad:
        raise ValidationError(f"Unknown kinds or deliveries: {', '.join(sorted(unknown | bad))}.")
    received = {kind for kind, _label in kinds_received(actor)}
    foreign = set(deliveries) - received
    if foreign:
        raise ValidationError(
            f"These kinds of item do not reach you: {', '.join(InboxKind(kind).label for kind in sorted(foreign))}."
        )
    with transaction.atomic():
        for kind, delivery in deliveries.items():
            InboxPreference.objects.update_or_create(user=actor, kind=kind, defaults={"delivery": delivery})


# --- announcements --------------------------------------------------------------------------


def announcement_publish(*, actor, announcement: Announcement) -> int:
    """Publish now (if not yet published) and write the audience's items. Returns items written."""
    if not Announcement.objects.allows(actor, "publish", announcement):
        raise ValidationError("You may not publish announcements.")
    with transaction.atomic():
        if announcement.published_at is None or announcement.published_at > timezone.now():
            announcement.published_at = timezone.now()
            announcement.save(update_fields=["published_at"])
        audit(actor=actor, action="announcement.published", target=announcement)
        return announcement_deliver(announcement_id=announcement.pk)


def audience_partners(announcement: Announcement):
    """The partners an announcement reaches: not terminated, and addressed by the rule of
    ``addressed_to``: every partner without programs or segments, else those in one of its
    segments or to whom one of its programs is open."""
    partners = Partner.objects.exclude(status=LifecycleStatus.TERMINATED)
    programs = Program.objects.filter(announcements=announcement)
    segment_ids = list(announcement.segments.values_list("pk", flat=True))
    if not segment_ids and not programs.exists():
        return partners
    # ``program_open_to``'s rule, spelt as a join: its segment subquery would resolve ``OuterRef``
    # against the program, not the partner, nested in this subquery.
    open_program = programs.filter(is_active=True).filter(
        Q(segment__isnull=True) | Q(segment__memberships__partner_id=OuterRef("pk"))
    )
    in_segment = Q(
        pk__in=Partner.objects.filter(segment_memberships__segment_id__in=segment_ids).values("pk")
    )
    return partners.filter(in_segment | Q(Exists(open_program)))


def announcement_deliver(*, announcement_id: int) -> int:
    """Write the items of a published announcement once: for the users of the partners it reaches
    and of the distributors serving them. Claims the announcement with a conditional update."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Announcement.objects.filter(
            pk=announcement_id, published_at__lte=now, delivered_at__isnull=True
        ).update(delivered_at=now)
        if not claimed:
            return 0
        announcement = Announcement.objects.get(pk=announcement_id)
        partners = audience_partners(announcement)
        about = announcement_program_id(announcement)
        key = announcement_key(announcement.pk)
        common: dict[str, Any] = {
            "kind": InboxKind.ANNOUNCEMENT,
            "title": announcement.title,
            "body": announcement.body,
            "link": "",
            "dedupe_key": key,
            "program_id": about,
            "subject_type": "inbox.announcement",
            "subject_id": announcement.pk,
            "created_at": announcement.published_at or now,
        }
        items = [
            NewItem(user_id=user_id, partner_id=partner_id, **common)
            for user_id, partner_id in Membership.objects.filter(
                partner__in=partners, user__is_active=True
            ).values_list("user_id", "partner_id")
        ]
        items += [
            NewItem(user_id=user_id, **common)
            for user_id in Membership.objects.filter(distributor__partners__in=partners, user__is_active=True)
            .values_list("user_id", flat=True)
            .distinct()
        ]
        written = items_create(items)
        if announcement.send_email and items:
            # The manager asked for an e-mail: every recipient's item is mailed once, by the same
            # claim as an immediate preference (so nobody gets it twice), after commit.
            pairs = sorted({(item.user_id, key) for item in items})
            send = task("inbox.tasks.send_immediate_items")

            def queue() -> None:
                for start in range(0, len(pairs), IMMEDIATE_PER_TASK):
                    send.delay([list(pair) for pair in pairs[start : start + IMMEDIATE_PER_TASK]])

            transaction.on_commit(queue)
        return written


def announcement_program_id(announcement: Announcement) -> int | None:
    """The program its items are about: the one program of an announcement addressed only to it (the
    inbox's door then hides the item with the program); none when segments or several programs
    address it, since a reader may see it through a segment without seeing the program."""
    programs = list(announcement.programs.values_list("pk", flat=True)[:2])
    if len(programs) == 1 and not announcement.segments.exists():
        return programs[0]
    return None


def announcement_key(announcement_id: int) -> str:
    """The inbox items' key of an announcement: one item per user, whose read time is the receipt."""
    return f"announcement:{announcement_id}"


def announcement_mark_read(*, actor, announcement: Announcement) -> InboxItem:
    """Mark ``announcement`` read for ``actor``: its inbox item's read time is the read receipt.

    The caller has checked the door (``Announcement.objects.actionable_by(actor, "read")``). A user
    who joined after it was delivered has no item yet: one is written, read. Reading again keeps
    the first time.
    """
    key = announcement_key(announcement.pk)
    now = timezone.now()
    with transaction.atomic():
        item = InboxItem.objects.filter(user=actor, dedupe_key=key).first()
        if item is None:
            membership = Membership.for_user(actor)
            item, _created = InboxItem.objects.get_or_create(
                user=actor,
                dedupe_key=key,
                defaults={
                    "kind": InboxKind.ANNOUNCEMENT,
                    "title": announcement.title,
                    "body": announcement.body,
                    "partner_id": membership.partner_id if membership else None,
                    "program_id": announcement_program_id(announcement),
                    "subject_type": "inbox.announcement",
                    "subject_id": announcement.pk,
                    "created_at": announcement.published_at or now,
                    "read_at": now,
                },
            )
        if item.read_at is None:
            InboxItem.objects.filter(pk=item.pk, read_at__isnull=True).update(read_at=now)
            item.read_at = now
    return item


# --- emails -----------------------------------------------------------------------------------


def immediate_items_send(pairs: Sequence[Sequence]) -> int:
    """Email each (user id, key) item not emailed yet, claiming it first so that a retry or a
    second delivery of the same task sends nothing twice. Returns emails sent."""
    by_user: dict[int, list[str]] = defaultdict(list)
    for user_id, key in pairs:
        by_user[int(user_id)].append(str(key))
    users = get_user_model()._default_manager.in_bulk(list(by_user))
    sent = 0
    for user_id, keys in by_user.items():
        user = users.get(user_id)
        if user is None or not user.email:
            continue
        for item in InboxItem.objects.visible_to(user).filter(dedupe_key__in=keys, emailed_at__isnull=True):
            claimed = InboxItem.objects.filter(pk=item.pk, emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
            if claimed:
                notifications.item_email(user, item)
                sent += 1
    return sent


def digests_send(*, today: datetime.date | None = None) -> int:
    """One email per user with the unread items of their digest kinds not sent before.

    Each user's digest of the day is claimed (a unique row per user and day)
    in the transaction that marks its items sent, and the email leaves after
    commit: running it twice the same day sends once. Returns emails queued.
    """
    today = today or timezone.localdate()
    digest_kinds: dict[int, list[str]] = defaultdict(list)
    for user_id, kind in InboxPreference.objects.filter(
        delivery=Delivery.DIGEST, user__is_active=True
    ).values_list("user_id", "kind"):
        digest_kinds[user_id].append(kind)
    already = set(InboxDigest.objects.filter(digest_on=today).values_list("user_id", flat=True))
    users = get_user_model()._default_manager.in_bulk([u for u in digest_kinds if u not in already])
    sent = 0
    for user_id, user in sorted(users.items()):
        if not user.email:
            continue
        try:
            with transaction.atomic():
                items = list(
                    InboxItem.objects.visible_to(user)
                    .unread()
                    .filter(kind__in=digest_kinds[user_id], emailed_at__isnull=True)
                    .order_by("created_at", "id")
                )
                if not items:
                    continue
                InboxDigest.objects.create(user=user, digest_on=today, items=len(items))
                InboxItem.objects.filter(pk__in=[item.pk for item in items]).update(emailed_at=timezone.now())
                transaction.on_commit(partial(notifications.digest_email, user, items))
        except IntegrityError:
            continue  # another run claimed this user's digest of the day
        sent += 1
    return sent
