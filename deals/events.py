"""The events deal registration and MDF record in the outbox (delivered by the webhooks)."""

from collections.abc import Sequence

from deals.models import Deal, MdfRequest
from events.outbox import NewEvent, emit, emit_many


def deal_data(deal: Deal) -> dict:
    return {
        "partner_id": deal.partner_id,
        "partner_name": deal.partner.name,
        "deal_id": deal.pk,
        "reference": deal.reference,
        "status": deal.status,
        "customer_name": deal.customer_name,
        "customer_domain": deal.customer_domain,
        "expected_value": str(deal.expected_value),
        "currency": deal.currency,
        "expected_close": deal.expected_close,
        "protected_until": deal.protected_until,
    }


def deal_event(name: str, deal: Deal, **extra) -> None:
    """Record ``deal.<name>`` for ``deal``, inside the service's transaction."""
    data = deal_data(deal)
    if name == "deal.rejected":
        data["rejection_reason"] = deal.rejection_reason
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
        "amount": str(request.amount),
        "approved_amount": None if request.approved_amount is None else str(request.approved_amount),
        "claimed_amount": None if request.claimed_amount is None else str(request.claimed_amount),
        "currency": request.currency,
    }
    if name == "mdf.paid":
        data["payment_reference"] = request.payment_reference
    emit(name, data=data, partner_id=request.partner_id)
