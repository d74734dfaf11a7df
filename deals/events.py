"""The events deal registration and MDF record in the outbox (delivered by the webhooks)."""

from collections.abc import Sequence

from core.money import round_money
from deals.models import Deal, MdfRequest
from events.outbox import NewEvent, emit, emit_many


def _money(amount, currency: str) -> str | None:
    return None if amount is None else str(round_money(amount, currency))


def deal_data(deal: Deal) -> dict:
    return {
        "partner_id": deal.partner_id,
        "partner_name": deal.partner.name,
        "deal_id": deal.pk,
        "reference": deal.reference,
        "status": deal.status,
        "customer_name": deal.customer_name,
        "customer_domain": deal.customer_domain,
        "expected_value": _money(deal.expected_value, deal.currency),
        "currency": deal.currency,
        "expected_close": deal.expected_close,
        "protected_until": deal.protected_until,
    }


def deal_event(name: str, deal: Deal, **extra) -> None:
    """Record ``deal.<name>`` for ``deal``, inside the service's transaction."""
    data = deal_data(deal)
    if name == "deal.rejected":
        data["rejection_reason"] = deal.rejection_reason
    if "amount" in extra:
        extra["amount"] = _money(extra["amount"], deal.currency)
    data.update(extra)
    emit(name, data=data, partner_id=deal.partner_id)


def deals_expired_events(deal_ids: Sequence[int]) -> None:
    """``deal.expired`` for each of these (just expired) deals: one read, one bulk insert."""
    deals = Deal.objects.filter(pk__in=list(deal_ids)).select_related("partner")
    emit_many(NewEvent("deal.expired", deal_data(deal), partner_id=deal.partner_id) for deal in deals)


def mdf_event(name: str, request: MdfRequest) -> None:
    """Record ``mdf.<name>`` for ``request``, inside the service's transaction."""
    data = {
        "partner_id": request.partner_id,
        "partner_name": request.partner.name,
        "mdf_request_id": request.pk,
        "status": request.status,
        "title": request.title,
        "amount": _money(request.amount, request.currency),
        "approved_amount": _money(request.approved_amount, request.currency),
        "claimed_amount": _money(request.claimed_amount, request.currency),
        "currency": request.currency,
    }
    if name == "mdf.paid":
        data["payment_reference"] = request.payment_reference
    if name == "mdf.rejected":
        data["rejection_reason"] = request.rejection_reason
    emit(name, data=data, partner_id=request.partner_id)
