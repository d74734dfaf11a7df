"""Writes of deal registration: register, approve, reject, win, lose, expire.

Every service runs in one transaction, checks that the actor may act (views
check too, but a service must not trust its caller), writes an audit entry and
defers side effects (emails, the ``deal_won`` signal, gate re-evaluation) until
the transaction commits. Invalid requests raise ``ValidationError`` keyed by
the form field they concern.
"""

import datetime
import logging
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from core.audit import audit
from core.background import task
from core.locks import transaction_lock
from core.models import AuditEntry
from core.money import is_currency, minor_unit_exponent
from core.states import require_move
from deals import events as deal_events
from deals.models import ACTIVE_STATUSES, DEAL_STATE_MOVES, Deal, DealStatus, SalesRole, normalise_domain
from deals.permissions import can_decide_deal, can_register_deals_as, can_report_outcome, require
from deals.selectors import (
    approved_rival,
    can_register_deal_for,
    can_register_deals,
    deal_registration_segments,
)
from deals.signals import deal_won
from gates import services as gate_services
from partners.models import CustomerSegment, ProductLine, Sale

logger = logging.getLogger(__name__)

SALE_SOURCE = "deal"


def _lock_customer(domain: str) -> None:
    """Serialise registrations on one customer so that two claims cannot both miss each other.

    PostgreSQL: a transaction-scoped advisory lock named after the domain. SQLite
    allows one writer at a time, which serialises the claims already.
    """
    transaction_lock(f"deals:customer:{domain}")


def _check_amount(value: Decimal | None, currency: str, field: str) -> dict[str, str]:
    if value is None:
        return {field: "Give an amount."}
    if value <= 0:
        return {field: "The amount must be greater than zero."}
    if is_currency(currency):
        quantum = minor_unit_exponent(currency)
        if value != value.quantize(quantum):
            places = -int(quantum.as_tuple().exponent)
            return {field: f"{currency} amounts have at most {places} decimal places."}
    return {}


def deal_register(
    *,
    actor,
    partner,
    customer_name: str,
    customer_domain: str,
    country: str,
    products: Sequence[ProductLine],
    expected_value: Decimal,
    currency: str,
    expected_close: datetime.date,
    description: str = "",
    sourced_by: str = SalesRole.PARTNER,
    customer_segment: CustomerSegment | None = None,
    notify: bool = True,
) -> Deal:
    """Register an opportunity for ``partner``.

    Preconditions: the actor is an admin or seller of the partner, and the
    partner holds the deal-registration benefit, for the customer's segment
    where the benefit is limited to one (enterprise accounts only). A customer on which the same
    partner already holds an active claim is refused; one on which another
    partner does is accepted, flagged for the channel manager and linked to
    the earlier claim (the registering partner is told "under review", never
    who else claims it).
    """
    require(can_register_deals_as(actor, partner), "You may not register deals for this organisation.")
    if not can_register_deals(partner):
        raise ValidationError("Your organisation's benefits do not include deal registration.")
    errors: dict[str, str] = {}
    try:
        domain = normalise_domain(customer_domain)
    except ValidationError as exc:
        errors["customer_domain"] = exc.messages[0]
        domain = ""
    if not customer_name.strip():
        errors["customer_name"] = "Give the customer's name."
    if not products:
        errors["products"] = "Choose at least one product line."
    if not is_currency(currency):
        errors["currency"] = "Choose a currency."
    if sourced_by not in SalesRole.values:
        errors["sourced_by"] = "Say who found the opportunity."
    if not can_register_deal_for(partner, customer_segment):
        covered = " or ".join(deal_registration_segments(partner)) or "other"
        errors["customer_segment"] = f"Your deal registration covers {covered} accounts only."
    errors.update(_check_amount(expected_value, currency, "expected_value"))
    if expected_close is not None and expected_close < timezone.localdate():
        errors["expected_close"] = "The expected close date is in the past."
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        _lock_customer(domain)
        own = Deal.objects.filter(partner=partner, customer_domain=domain, status__in=ACTIVE_STATUSES).first()
        if own is not None:
            raise ValidationError(
                {
                    "customer_domain": f"You already hold an active registration on this customer "
                    f"({own.reference})."
                }
            )
        conflict = (
            Deal.objects.filter(customer_domain=domain, status__in=ACTIVE_STATUSES)
            .exclude(partner=partner)
            .order_by("registered_on", "id")
            .first()
        )
        deal = Deal(
            partner=partner,
            registered_by=actor,
            customer_name=customer_name.strip(),
            customer_domain=domain,
            country=country,
            customer_segment=customer_segment,
            description=description.strip(),
            expected_value=expected_value,
            currency=currency,
            expected_close=expected_close,
            needs_review=conflict is not None,
            conflicts_with=conflict,
            sourced_by=sourced_by,
        )
        deal.full_clean(exclude=["products", "registered_by", "conflicts_with", "decided_by"])
        deal.save()
        deal.products.set(products)
        audit(
            actor=actor,
            action="deal.registered",
            target=deal,
            customer_domain=domain,
            expected_value=str(expected_value),
            currency=currency,
            conflicts_with=conflict.pk if conflict else None,
        )
        deal_events.deal_event("deal.submitted", deal)
        if notify:
            _after_commit_notify(deal.pk, "registered")
    return deal


def _locked(deal: Deal) -> Deal:
    return Deal.objects.select_for_update().select_related("partner").get(pk=deal.pk)


def _require_move(deal: Deal, destination: str) -> None:
    require_move(
        DEAL_STATE_MOVES,
        deal.status,
        destination,
        refused=f"This registration is {deal.get_status_display().lower()}: nothing to do.",
    )


def deal_approve(*, actor, deal: Deal, today: datetime.date | None = None, notify: bool = True) -> Deal:
    """Approve a submitted registration; it is protected for ``PRM_DEAL_PROTECTION_DAYS``.

    A flagged registration cannot be approved while another partner holds an
    approved claim on the same customer: the manager rejects one first.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        deal = _locked(deal)
        require(can_decide_deal(actor, deal), "You may not decide on this registration.")
        _require_move(deal, DealStatus.APPROVED)
        _lock_customer(deal.customer_domain)
        rival = approved_rival(deal)
        if rival is not None:
            raise ValidationError(
                f"{rival.partner.name} holds an approved registration on this customer ({rival.reference}, "
                f"protected until {rival.protected_until:%d %B %Y}). Reject one of the two claims."
            )
        deal.status = DealStatus.APPROVED
        deal.decided_by = actor
        deal.decided_at = timezone.now()
        deal.rejection_reason = ""
        deal.protected_until = today + datetime.timedelta(days=settings.PRM_DEAL_PROTECTION_DAYS)
        deal.save()
        audit(
            actor=actor, action="deal.approved", target=deal, protected_until=deal.protected_until.isoformat()
        )
        deal_events.deal_event("deal.approved", deal)
        if notify:
            _after_commit_notify(deal.pk, "approved")
    return deal


def deal_reject(*, actor, deal: Deal, reason: str, notify: bool = True) -> Deal:
    """Reject a submitted registration; the partner sees the reason."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give the partner the reason for the rejection."})
    with transaction.atomic():
        deal = _locked(deal)
        require(can_decide_deal(actor, deal), "You may not decide on this registration.")
        _require_move(deal, DealStatus.REJECTED)
        deal.status = DealStatus.REJECTED
        deal.decided_by = actor
        deal.decided_at = timezone.now()
        deal.rejection_reason = reason.strip()
        deal.save()
        audit(actor=actor, action="deal.rejected", target=deal, reason=deal.rejection_reason)
        deal_events.deal_event("deal.rejected", deal)
        if notify:
            _after_commit_notify(deal.pk, "rejected")
    return deal


def deal_mark_won(
    *,
    actor,
    deal: Deal,
    amount: Decimal | None = None,
    closed_on: datetime.date | None = None,
    product_line: ProductLine | None = None,
    closed_by: str | None = None,
) -> Deal:
    """Record an approved deal as won: it becomes a sale fact and the gates re-evaluate.

    The sale (source ``deal``, external id ``deal-<id>``) is in the deal's
    currency, for ``amount`` (the expected value by default), on ``closed_on``
    (today by default), on one of the deal's product lines. ``closed_by`` says
    who ran the sale to its close (commissions depend on it). After commit the
    partner is queued for re-evaluation and ``deal_won`` is sent.
    """
    closed_on = closed_on or timezone.localdate()
    with transaction.atomic():
        deal = _locked(deal)
        require(can_report_outcome(actor, deal), "You may not report the outcome of this registration.")
        _require_move(deal, DealStatus.WON)
        amount = deal.expected_value if amount is None else amount
        errors = _check_amount(amount, deal.currency, "amount")
        products = list(deal.products.all())
        if product_line is None:
            product_line = products[0] if products else None
        if product_line is None or product_line.pk not in {p.pk for p in products}:
            errors["product_line"] = "Choose one of the deal's product lines."
        if closed_by is not None and closed_by not in SalesRole.values:
            errors["closed_by"] = "Say who closed the sale."
        if errors:
            raise ValidationError(errors)
        sale = Sale(
            partner_id=deal.partner_id,
            amount=amount,
            currency=deal.currency,
            product_line=product_line,
            region=deal.partner.region,
            closed_on=closed_on,
            deal=deal,
            customer_name=deal.customer_name,
            country=deal.country,
            customer_segment_id=deal.customer_segment_id,
            source=SALE_SOURCE,
            external_id=f"deal-{deal.pk}",
        )
        try:
            sale.full_clean()
        except ValidationError as exc:
            raise ValidationError(
                {
                    ("amount" if field == "currency" else field): messages
                    for field, messages in exc.message_dict.items()
                }
            ) from exc
        sale.save()
        deal.status = DealStatus.WON
        deal.closed_on = closed_on
        if closed_by is not None:
            deal.closed_by = closed_by
        deal.save()
        audit(
            actor=actor,
            action="deal.won",
            target=deal,
            sale=sale.pk,
            amount=str(amount),
            currency=deal.currency,
        )
        deal_events.deal_event("deal.won", deal, amount=amount, closed_on=closed_on, sale_id=sale.pk)
        gate_services.request_reevaluation([deal.partner_id])
        deal_id, sale_id = deal.pk, sale.pk
        transaction.on_commit(lambda: deal_won.send(sender=Deal, deal_id=deal_id, sale_id=sale_id))
    return deal


def deal_mark_lost(*, actor, deal: Deal, reason: str = "") -> Deal:
    """Record a submitted or approved registration as lost; the customer is free again."""
    with transaction.atomic():
        deal = _locked(deal)
        require(can_report_outcome(actor, deal), "You may not report the outcome of this registration.")
        _require_move(deal, DealStatus.LOST)
        deal.status = DealStatus.LOST
        deal.closed_on = timezone.localdate()
        deal.save()
        audit(actor=actor, action="deal.lost", target=deal, reason=reason.strip())
    return deal


def deals_expire(*, today: datetime.date | None = None) -> int:
    """Expire approved registrations whose protection ended before ``today``; safe to repeat.

    The conditional update claims each registration once, so two overlapping
    runs expire (and audit) it once.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Deal.objects.select_for_update(skip_locked=connection.vendor == "postgresql")
            .filter(status=DealStatus.APPROVED, protected_until__lt=today)
            .values_list("id", flat=True)
        )
        if not ids:
            return 0
        expired = Deal.objects.filter(pk__in=ids, status=DealStatus.APPROVED).update(
            status=DealStatus.EXPIRED, updated_at=now
        )
        AuditEntry.objects.bulk_create(
            AuditEntry(
                actor=None,
                action="deal.expired",
                target_type=Deal._meta.label_lower,
                target_id=str(deal_id),
                data={"on": today.isoformat()},
                at=now,
            )
            for deal_id in ids
        )
        deal_events.deals_expired_events(ids)
    logger.info("expired %s deal registrations", expired)
    return expired


def _after_commit_notify(deal_id: int, event: str) -> None:
    def send() -> None:
        task("deals.tasks.notify_deal_event").delay(deal_id, event)

    transaction.on_commit(send)
