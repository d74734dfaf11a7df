"""What becomes an inbox item: outbox events, read set-wise, and the daily look at what is due.

``items_from_events`` reads a batch of committed outbox events with a fixed
number of queries (the events, the partners' people and covering staff, the
names and forecasts they mention) and returns the items to write; the
services insert them in bulk. ``due_items`` finds what the calendar makes
due: MDF claims and certifications expiring within 60 days.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q
from django.urls import reverse
from django.utils import dateformat, timezone

from deals.models import Deal, MdfRequest, MdfStatus
from events.models import OutboxEvent
from gates.forecast import tier_consequence
from gates.models import GateForecast
from inbox.audience import Audience, audience_for
from inbox.models import InboxKind
from partners.models import Certification
from programs.models import Program

# Days ahead a certification's expiry is announced.
CERTIFICATION_NOTICE_DAYS = 60

HANDLED_EVENTS = (
    "tier.changed",
    "tier.grace_started",
    "tier.grace_ended",
    "gate.at_risk",
    "deal.submitted",
    "mdf.requested",
)


# Decisions that settle an approval: its items are marked read for every approver.
SETTLING_EVENTS = {
    "deal.approved": ("deals.deal", "deal_id"),
    "deal.rejected": ("deals.deal", "deal_id"),
    "mdf.approved": ("deals.mdfrequest", "mdf_request_id"),
    "mdf.rejected": ("deals.mdfrequest", "mdf_request_id"),
}


def settled_subjects(event_ids: Iterable[str]) -> dict[str, set[int]]:
    """Subject type -> the ids of the deals and MDF requests these events decided (one query)."""
    settled: dict[str, set[int]] = {}
    for kind, data in OutboxEvent.objects.filter(
        pk__in=list(event_ids), event_type__in=list(SETTLING_EVENTS)
    ).values_list("event_type", "data"):
        subject_type, key = SETTLING_EVENTS[kind]
        if data.get(key) is not None:
            settled.setdefault(subject_type, set()).add(int(data[key]))
    return settled


@dataclass
class NewItem:
    user_id: int
    kind: str
    title: str
    dedupe_key: str
    body: str = ""
    link: str = ""
    partner_id: int | None = None
    program_id: int | None = None
    subject_type: str = ""
    subject_id: int | None = None
    created_at: datetime.datetime = field(default_factory=timezone.now)


def _day(value) -> str:
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    return dateformat.format(value, "j F Y") if value else ""


def items_from_events(event_ids: Iterable[str]) -> list[NewItem]:
    """The items the events of these ids call for, one per recipient (events of other types are
    ignored). A fixed number of queries for any number of events."""
    events = list(
        OutboxEvent.objects.filter(pk__in=list(event_ids), event_type__in=HANDLED_EVENTS).values_list(
            "id", "event_type", "partner_id", "program_id", "occurred_at", "data"
        )
    )
    if not events:
        return []
    audience = audience_for({partner_id for _id, _type, partner_id, *_ in events if partner_id})
    program_ids = {program_id for _id, _type, _p, program_id, *_ in events if program_id}
    programs = {
        pk: (name, slug)
        for pk, name, slug in Program.objects.filter(pk__in=program_ids).values_list("id", "name", "slug")
    }
    risk_keys = [
        (p, int(data["gate_id"]))
        for _id, kind, p, _prog, _at, data in events
        if kind == "gate.at_risk" and p is not None
    ]
    fixes = _fixes(risk_keys)
    deal_ids = [int(data["deal_id"]) for _id, kind, *_r, data in events if kind == "deal.submitted"]
    deals = {
        pk: (needs_review, status)
        for pk, needs_review, status in Deal.objects.filter(pk__in=deal_ids).values_list(
            "id", "needs_review", "status"
        )
    }
    items: list[NewItem] = []
    for event_id, kind, partner_id, program_id, occurred_at, data in events:
        if partner_id is None or partner_id not in audience.partners:
            continue
        context = _EventContext(
            key=f"event:{event_id.hex}",
            partner_id=partner_id,
            program_id=program_id if program_id in programs else None,
            program=programs.get(program_id, ("", "")) if program_id is not None else ("", ""),
            at=occurred_at,
            data=data,
        )
        if kind.startswith("tier."):
            items += _tier_items(kind, context, audience)
        elif kind == "gate.at_risk":
            items += _risk_items(context, audience, *fixes.get((partner_id, int(data["gate_id"])), ("", "")))
        elif kind == "deal.submitted":
            items += _deal_items(context, audience, deals.get(int(data["deal_id"])))
        elif kind == "mdf.requested":
            items += _mdf_request_items(context, audience)
    return items


@dataclass
class _EventContext:
    key: str
    partner_id: int
    program_id: int | None
    program: tuple[str, str]
    at: datetime.datetime
    data: dict

    def item(self, user_id: int, kind: str, title: str, body: str, link: str, **subject) -> NewItem:
        return NewItem(
            user_id=user_id,
            kind=kind,
            title=title[:300],
            body=body,
            link=link,
            dedupe_key=self.key,
            partner_id=self.partner_id,
            program_id=self.program_id,
            created_at=self.at,
            **subject,
        )


def _fixes(keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[str, str]]:
    """The fix each at-risk forecast names and what would become of the tier, for these (partner,
    gate) pairs (one query)."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = GateForecast.objects.filter(
        partner_id__in={p for p, _g in keys}, gate_id__in={g for _p, g in keys}
    ).values_list(
        "partner_id",
        "gate_id",
        "fix",
        "fails_on",
        "tier_lost_on",
        "override_until",
        "gate__unlocks_tier__name",
    )
    return {
        (p, g): (fix, tier_note(fails_on, tier_lost_on, override_until, tier_name))
        for p, g, fix, fails_on, tier_lost_on, override_until, tier_name in rows
        if (p, g) in wanted
    }


def tier_note(fails_on, tier_lost_on, override_until, tier_name: str | None) -> str:
    """The forecast's sentence on the tier at stake (its grace, an override holding it), or ""."""
    return tier_consequence(
        GateForecast(fails_on=fails_on, tier_lost_on=tier_lost_on, override_until=override_until), tier_name
    )


def _program_link(context: _EventContext) -> str:
    slug = context.program[1]
    return reverse("portal:program_detail", args=[slug]) if slug else reverse("portal:dashboard")


def _partner_link(partner_id: int) -> str:
    return reverse("portal:partner_detail", args=[partner_id])


def _tier_items(kind: str, context: _EventContext, audience: Audience) -> list[NewItem]:
    data = context.data
    reason = data.get("reason", "")
    program = context.program[0] or "the program"
    before, after = data.get("from_tier_name"), data.get("to_tier_name")
    partner = audience.partners[context.partner_id]
    staff_title = ""
    if kind == "tier.changed":
        if after and before:
            title = f"Your tier in {program} is now {after} (was {before})"
        elif after:
            title = f"You reached {after} in {program}"
        else:
            title = f"You no longer hold a tier in {program}" + (f" (was {before})" if before else "")
        body = {
            "promoted": "Your results met the gate of the new tier: its benefits apply from "
            f"{_day(data.get('effective_on'))}.",
            "demoted": "The grace period ended without the gate being met again.",
            "override_set": "The channel team set this tier by hand.",
            "override_ended": "The tier the channel team had set ended; your results decide again.",
        }.get(reason, "")
    elif kind == "tier.grace_started":
        title = f"Grace period: keep {before or 'your tier'} in {program}"
        body = (
            f"You no longer meet the gate of {before or 'your tier'}. You keep the tier and its "
            "benefits during the grace period; meet the gate again before it ends."
        )
        staff_title = f"{partner.name} is in grace for {before or 'its tier'} in {program}"
    else:  # tier.grace_ended
        if reason != "grace_recovered":
            return []  # a demotion is told by its tier.changed
        title = f"You kept {after or before or 'your tier'} in {program}"
        body = "You met the gate again during the grace period."
    items = [
        context.item(user, InboxKind.TIER_CHANGE, title, body, _program_link(context))
        for user in audience.partner_users(context.partner_id)
    ]
    if staff_title:
        items += [
            context.item(
                staff.user_id,
                InboxKind.AT_RISK,
                staff_title,
                f"Grace began on {_day(data.get('effective_on'))}.",
                _partner_link(context.partner_id),
            )
            for staff in audience.covering(context.partner_id)
        ]
    return items


@dataclass(frozen=True)
class RiskText:
    """What an at-risk item says: to the partner's users (``title``) and to the staff covering it."""

    title: str
    staff_title: str
    body: str
    resolved: bool = False  # nothing is left to do: the item is read


def risk_text(
    *, gate: str, partner_name: str, fails_on, shortfall: str, fix: str, tier: str = ""
) -> RiskText:
    """The item of a running at-risk episode: the day the gate would fail, the shortfall, the fix and,
    when the gate is that of the tier earned, when the tier would go (``tier``, ``tier_note``)."""
    on = _day(fails_on)
    return RiskText(
        title=f"At risk: “{gate}” would no longer be met on {on}",
        staff_title=f"{partner_name} at risk: “{gate}” fails on {on}",
        body=f"Short of: {shortfall}." + (f" Fix: {fix}" if fix else "") + (f" {tier}" if tier else ""),
    )


def risk_ended_text(reason: str, *, gate: str, partner_name: str, on: datetime.date) -> RiskText:
    """The item of an at-risk episode that ended on ``on``: recovered, held by an override, or failed."""
    day = _day(on)
    if reason == "recovered":
        return RiskText(
            title=f"Safe again: “{gate}” is met through its horizon",
            staff_title=f"{partner_name} safe again: “{gate}”",
            body=f"On {day} nothing known any longer makes “{gate}” fail within its horizon: the warning is over.",
            resolved=True,
        )
    if reason == "overridden":
        return RiskText(
            title=f"Not at risk: an override holds the tier of “{gate}”",
            staff_title=f"{partner_name} not at risk: an override holds the tier of “{gate}”",
            body=f"From {day} a tier override holds the tier through the gate's horizon.",
            resolved=True,
        )
    return RiskText(
        title=f"No longer met: “{gate}”",
        staff_title=f"{partner_name} no longer meets “{gate}”",
        body=f"The gate failed on {day}.",
    )


def _risk_items(context: _EventContext, audience: Audience, fix: str, tier: str) -> list[NewItem]:
    data = context.data
    name = audience.partners[context.partner_id].name
    text = risk_text(
        gate=data.get("gate_name", "a gate"),
        partner_name=name,
        fails_on=data.get("fails_on"),
        shortfall=data.get("shortfall", ""),
        fix=fix,
        tier=tier,
    )
    subject = {"subject_type": "gates.gate", "subject_id": data.get("gate_id")}
    items = [
        context.item(user, InboxKind.AT_RISK, text.title, text.body, _program_link(context), **subject)
        for user in audience.partner_users(context.partner_id)
    ]
    items += [
        context.item(
            staff.user_id,
            InboxKind.AT_RISK,
            text.staff_title,
            text.body,
            _partner_link(context.partner_id),
            **subject,
        )
        for staff in audience.covering(context.partner_id)
    ]
    return items


def _deal_items(context: _EventContext, audience: Audience, deal) -> list[NewItem]:
    if deal is None or deal[1] != "submitted":
        return []  # decided already, or gone
    needs_review, _status = deal
    data = context.data
    deal_id = int(data["deal_id"])
    title = f"Deal {data.get('reference', '')} from {audience.partners[context.partner_id].name} awaits your approval"
    body = (
        f"{data.get('customer_name', '')} ({data.get('customer_domain', '')}), "
        f"{data.get('expected_value', '')} {data.get('currency', '')}"
        + (f", expected to close on {_day(data.get('expected_close'))}" if data.get("expected_close") else "")
        + "."
    )
    link = reverse("portal:deal_detail", args=[deal_id])
    deciders = [staff.user_id for staff in audience.covering(context.partner_id) if staff.may_decide_deals]
    if not needs_review:  # a registration under review is the vendor's call
        deciders += audience.distributor_users_of(context.partner_id)
    subject = {"subject_type": "deals.deal", "subject_id": deal_id}
    # A distributor's item is not about a partner of its own: the deal's partner is the one it serves.
    return [
        context.item(user, InboxKind.APPROVAL, title, body, link, **subject)
        for user in dict.fromkeys(deciders)
    ]


def _mdf_request_items(context: _EventContext, audience: Audience) -> list[NewItem]:
    data = context.data
    request_id = int(data["mdf_request_id"])
    name = audience.partners[context.partner_id].name
    title = f"MDF request “{data.get('title', '')}” from {name} awaits your approval"
    body = f"{data.get('amount', '')} {data.get('currency', '')} requested."
    link = reverse("portal:mdf_detail", args=[request_id])
    return [
        context.item(
            staff.user_id,
            InboxKind.APPROVAL,
            title,
            body,
            link,
            subject_type="deals.mdfrequest",
            subject_id=request_id,
        )
        for staff in audience.covering(context.partner_id)
        if staff.may_decide_mdf
    ]


# --- what the calendar makes due ------------------------------------------------------------


def due_items(*, today: datetime.date) -> list[NewItem]:
    """MDF claims now due and certifications expiring within ``CERTIFICATION_NOTICE_DAYS``, once
    each (their keys name the request, or the certification and its expiry)."""
    now = timezone.now()
    claims = list(
        MdfRequest.objects.filter(status=MdfStatus.APPROVED)
        .filter(Q(ends_on__lte=today) | Q(early_claim_allowed_at__isnull=False))
        .values_list("id", "partner_id", "title", "ends_on", "approved_amount", "currency")
    )
    until = today + datetime.timedelta(days=CERTIFICATION_NOTICE_DAYS)
    certifications = list(
        Certification.objects.filter(expires_on__gte=today, expires_on__lte=until, person__is_active=True)
        .order_by("expires_on", "id")
        .values_list(
            "id",
            "expires_on",
            "person__partner_id",
            "person__user_id",
            "person__first_name",
            "person__last_name",
            "certification_type__name",
        )
    )
    audience = audience_for({row[1] for row in claims} | {row[2] for row in certifications}, with_staff=False)
    items: list[NewItem] = []
    for request_id, partner_id, title, ends_on, amount, currency in claims:
        link = reverse("portal:mdf_detail", args=[request_id])
        for user in audience.partner_admins(partner_id):
            items.append(
                NewItem(
                    user_id=user,
                    kind=InboxKind.MDF_CLAIM_DUE,
                    title=f"Claim your MDF for “{title}”",
                    body=(
                        f"{amount} {currency} were approved; the activity "
                        + ("ended" if ends_on <= today else "may be claimed early, ending")
                        + f" on {_day(ends_on)}. Claim with proof of performance to be paid."
                    ),
                    link=link,
                    dedupe_key=f"mdf-claim:{request_id}",
                    partner_id=partner_id,
                    subject_type="deals.mdfrequest",
                    subject_id=request_id,
                    created_at=now,
                )
            )
    team = reverse("portal:team")
    for cert_id, expires_on, partner_id, own_user, first, last, type_name in certifications:
        if expires_on is None:  # the filter says so; the type does not
            continue
        users = dict.fromkeys(audience.partner_admins(partner_id))
        if own_user is not None and own_user in dict(audience.members.get(partner_id, [])):
            users[own_user] = None
        days = (expires_on - today).days
        for user in users:
            whose = "Your" if user == own_user else f"{first} {last}’s"
            items.append(
                NewItem(
                    user_id=user,
                    kind=InboxKind.CERTIFICATION_EXPIRING,
                    title=f"{whose} certification “{type_name}” expires on {_day(expires_on)}",
                    body=f"In {days} day{'s' if days != 1 else ''}. Renew it before then to keep it counting.",
                    link=team,
                    dedupe_key=f"certification:{cert_id}:{expires_on.isoformat()}",
                    partner_id=partner_id,
                    subject_type="partners.certification",
                    subject_id=cert_id,
                    created_at=now,
                )
            )
    return items
