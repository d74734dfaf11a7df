"""Writes of market development funds: request, decide, claim with proof, pay.

Money moves between the buckets of a period (available, requested, approved,
claimed, paid) and every move is a ledger entry. Each service locks the
period row first and the request row second (always in that order, so two
services never deadlock), re-reads them under the lock and only then checks
what is left: two concurrent requests for the last of an allowance cannot
both pass.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit
from core.money import minor_unit_exponent, round_money
from core.states import require_move
from deals import events as deal_events
from deals.models import MDF_STATE_MOVES, MdfBucket, MdfLedgerEntry, MdfPeriod, MdfRequest, MdfStatus
from deals.permissions import can_act_on_mdf_as_partner, can_decide_mdf, require
from deals.selectors import mdf_allowance, period_bounds
from deals.uploads import validate_proof
from programs.models import AllowancePeriod, Benefit


class _Moves:
    """Collects the moves of one service call and applies them to the locked period."""

    def __init__(self, period: MdfPeriod, request: MdfRequest | None, actor, note: str = "") -> None:
        self.period, self.request, self.actor, self.note = period, request, actor, note
        self.entries: list[MdfLedgerEntry] = []

    def move(self, source: str, destination: str, amount: Decimal) -> None:
        if amount <= 0:
            return
        for bucket, sign in ((source, -1), (destination, 1)):
            if bucket != MdfBucket.AVAILABLE:
                setattr(self.period, bucket, getattr(self.period, bucket) + sign * amount)
        self.entries.append(
            MdfLedgerEntry(
                period=self.period,
                from_bucket=source,
                to_bucket=destination,
                amount=amount,
                currency=self.period.currency,
                actor=self.actor if getattr(self.actor, "is_authenticated", False) else None,
                note=self.note[:300],
            )
        )

    def save(self) -> None:
        assert self.request is not None, "every move belongs to a request"
        self.period.save()
        for entry in self.entries:
            entry.request = self.request
        MdfLedgerEntry.objects.bulk_create(self.entries)


def _day(day: datetime.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _money_error(amount: Decimal | None, currency: str) -> str | None:
    if amount is None:
        return "Give an amount."
    if amount <= 0:
        return "The amount must be greater than zero."
    quantum = minor_unit_exponent(currency)
    if amount != amount.quantize(quantum):
        return f"{currency} amounts have at most {-int(quantum.as_tuple().exponent)} decimal places."
    return None


def _locked_period(partner, benefit: Benefit, day: datetime.date) -> MdfPeriod:
    """The partner's period for ``day``, created if needed, locked for this transaction.

    Concurrent first requests of a period both try to create the row; the
    unique constraint lets one win and the other reads the winner's row.
    """
    assert benefit.amount is not None, "an MDF allowance has an amount"
    starts_on, ends_on = period_bounds(day, benefit.period or AllowancePeriod.QUARTER)
    period, _ = MdfPeriod.objects.get_or_create(
        partner=partner,
        starts_on=starts_on,
        defaults={"ends_on": ends_on, "currency": benefit.currency, "allowance": benefit.amount},
    )
    period = MdfPeriod.objects.select_for_update().get(pk=period.pk)
    # The allowance follows the benefit held today: a promotion raises it, a
    # demotion lowers what may still be requested (never what was granted).
    if benefit.currency == period.currency and period.allowance != benefit.amount:
        period.allowance = benefit.amount
    return period


def _lock_request(request: MdfRequest) -> tuple[MdfPeriod, MdfRequest]:
    period = MdfPeriod.objects.select_for_update().get(pk=request.period_id)
    locked = MdfRequest.objects.select_for_update().select_related("partner").get(pk=request.pk)
    return period, locked


def _require_move(request: MdfRequest, destination: str) -> None:
    require_move(
        MDF_STATE_MOVES,
        request.status,
        destination,
        refused=f"This request is {request.get_status_display().lower()}: nothing to do.",
    )


def mdf_request_create(
    *,
    actor,
    partner,
    title: str,
    activity_kind: str,
    starts_on: datetime.date,
    ends_on: datetime.date,
    amount: Decimal,
    description: str = "",
    day: datetime.date | None = None,
) -> MdfRequest:
    """Request funds for an activity against what remains of the current period's allowance.

    Preconditions: the actor is an admin of the partner and the partner holds
    an MDF allowance. The requested amount is reserved at once (moved from
    available to requested) so that later requests see it gone.
    """
    require(can_act_on_mdf_as_partner(actor, partner), "You may not request funds for this organisation.")
    benefit = mdf_allowance(partner)
    if benefit is None or benefit.amount is None:
        raise ValidationError("Your organisation's benefits do not include an MDF allowance.")
    day = day or timezone.localdate()
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Name the activity."
    message = _money_error(amount, benefit.currency)
    if message:
        errors["amount"] = message
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = "The activity ends before it starts."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        period = _locked_period(partner, benefit, day)
        remaining = period.allowance - period.committed
        if amount > remaining:
            left = max(Decimal(0), remaining).quantize(minor_unit_exponent(period.currency))
            raise ValidationError(
                {
                    "amount": f"Only {left:,} {period.currency} of this period's allowance remain "
                    f"(until {period.ends_on:%d %B %Y})."
                }
            )
        request = MdfRequest(
            partner=partner,
            period=period,
            requested_by=actor,
            title=title.strip(),
            activity_kind=activity_kind,
            description=description.strip(),
            starts_on=starts_on,
            ends_on=ends_on,
            amount=amount,
            currency=period.currency,
        )
        request.full_clean(exclude=["period", "partner", "requested_by"])
        request.save()
        moves = _Moves(period, request, actor, note="requested")
        moves.move(MdfBucket.AVAILABLE, MdfBucket.REQUESTED, amount)
        moves.save()
        audit(
            actor=actor, action="mdf.requested", target=request, amount=str(amount), currency=period.currency
        )
        deal_events.mdf_event("mdf.requested", request)
    return request


def mdf_request_approve(*, actor, request: MdfRequest, amount: Decimal | None = None) -> MdfRequest:
    """Approve all or part of a request; the part not approved returns to the allowance."""
    with transaction.atomic():
        period, request = _lock_request(request)
        require(can_decide_mdf(actor, request), "You may not decide on this request.")
        _require_move(request, MdfStatus.APPROVED)
        approved = request.amount if amount is None else amount
        message = _money_error(approved, request.currency)
        if message is None and approved > request.amount:
            message = "You cannot approve more than was requested."
        if message:
            raise ValidationError({"amount": message})
        moves = _Moves(period, request, actor, note="approved")
        moves.move(MdfBucket.REQUESTED, MdfBucket.APPROVED, approved)
        moves.move(MdfBucket.REQUESTED, MdfBucket.AVAILABLE, request.amount - approved)
        request.status = MdfStatus.APPROVED
        request.approved_amount = approved
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.save()
        moves.save()
        audit(actor=actor, action="mdf.approved", target=request, amount=str(approved))
        deal_events.mdf_event("mdf.approved", request)
    return request


def mdf_request_reject(*, actor, request: MdfRequest, reason: str) -> MdfRequest:
    """Reject a request with the reason the partner reads; its amount returns to the allowance.

    Records ``mdf.rejected`` in the outbox in the same transaction.
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give the partner the reason for the rejection."})
    with transaction.atomic():
        period, request = _lock_request(request)
        require(can_decide_mdf(actor, request), "You may not decide on this request.")
        _require_move(request, MdfStatus.REJECTED)
        moves = _Moves(period, request, actor, note="rejected")
        moves.move(MdfBucket.REQUESTED, MdfBucket.AVAILABLE, request.amount)
        request.status = MdfStatus.REJECTED
        request.rejection_reason = reason.strip()
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.save()
        moves.save()
        audit(actor=actor, action="mdf.rejected", target=request, reason=request.rejection_reason)
        deal_events.mdf_event("mdf.rejected", request)
    return request


def mdf_request_withdraw(*, actor, request: MdfRequest) -> MdfRequest:
    """The partner withdraws a request not yet decided; its amount returns to the allowance."""
    with transaction.atomic():
        period, request = _lock_request(request)
        require(can_act_on_mdf_as_partner(actor, request.partner), "You may not withdraw this request.")
        _require_move(request, MdfStatus.CANCELLED)
        moves = _Moves(period, request, actor, note="withdrawn")
        moves.move(MdfBucket.REQUESTED, MdfBucket.AVAILABLE, request.amount)
        request.status = MdfStatus.CANCELLED
        request.save()
        moves.save()
        audit(actor=actor, action="mdf.withdrawn", target=request)
    return request


def mdf_allow_early_claim(*, actor, request: MdfRequest, reason: str) -> MdfRequest:
    """A manager lets the partner claim approved funds before the activity has ended.

    Preconditions: the actor may decide on the request, which is approved and
    whose activity has not ended yet. The exception, who granted it and why
    are kept on the request and in the audit trail; no money moves.
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give the reason for the exception; it is kept with the request."})
    with transaction.atomic():
        _, request = _lock_request(request)
        require(can_decide_mdf(actor, request), "You may not decide on this request.")
        # The exception lets the request be claimed early: it must be one that may be claimed.
        _require_move(request, MdfStatus.CLAIMED)
        if request.early_claim_allowed_at is not None:
            raise ValidationError("An early claim is already allowed for this request.")
        if request.may_be_claimed_on(timezone.localdate()):
            raise ValidationError("The activity has ended: the partner may claim without an exception.")
        request.early_claim_allowed_by = actor
        request.early_claim_allowed_at = timezone.now()
        request.early_claim_reason = reason.strip()[:2000]
        request.save(update_fields=["early_claim_allowed_by", "early_claim_allowed_at", "early_claim_reason"])
        audit(
            actor=actor, action="mdf.early_claim_allowed", target=request, reason=request.early_claim_reason
        )
    return request


def mdf_claim(
    *, actor, request: MdfRequest, amount: Decimal, proof, day: datetime.date | None = None
) -> MdfRequest:
    """Claim approved funds with proof of performance (PDF, PNG or JPEG, size-limited).

    Preconditions: the activity has ended by ``day`` (today by default), or a
    manager has allowed an early claim (``mdf_allow_early_claim``): proof of
    performance cannot exist for what has not happened yet. The claimed amount
    may be less than approved; the rest returns to the allowance. The file is
    stored under a random name.
    """
    day = day or timezone.localdate()
    errors: dict[str, str] = {}
    try:
        content_type = validate_proof(proof)
    except ValidationError as exc:
        errors["proof"] = exc.messages[0]
    with transaction.atomic():
        period, request = _lock_request(request)
        require(can_act_on_mdf_as_partner(actor, request.partner), "You may not claim these funds.")
        _require_move(request, MdfStatus.CLAIMED)
        if not request.may_be_claimed_on(day):
            raise ValidationError(
                f"The activity runs until {_day(request.ends_on)}: claim from "
                f"{_day(request.claimable_from())}, once it has ended, or ask your channel "
                "manager for an exception.",
                code="conflict",
            )
        message = _money_error(amount, request.currency)
        if message is None and request.approved_amount is not None and amount > request.approved_amount:
            approved = round_money(request.approved_amount, request.currency)
            message = f"You may claim at most the {approved:,} {request.currency} approved."
        if message:
            errors["amount"] = message
        if errors:
            raise ValidationError(errors)
        moves = _Moves(period, request, actor, note="claimed")
        moves.move(MdfBucket.APPROVED, MdfBucket.CLAIMED, amount)
        moves.move(MdfBucket.APPROVED, MdfBucket.AVAILABLE, (request.approved_amount or Decimal(0)) - amount)
        request.status = MdfStatus.CLAIMED
        request.claimed_amount = amount
        request.claimed_by = actor
        request.claimed_at = timezone.now()
        request.proof_name = (proof.name or "proof")[-200:]
        request.proof_content_type = content_type
        request.proof.save(proof.name, proof, save=False)
        request.save()
        moves.save()
        audit(actor=actor, action="mdf.claimed", target=request, amount=str(amount), proof=request.proof_name)
        deal_events.mdf_event("mdf.claimed", request)
    return request


def mdf_mark_paid(*, actor, request: MdfRequest, reference: str = "") -> MdfRequest:
    """The vendor paid a claim: the claimed amount moves to paid."""
    with transaction.atomic():
        period, request = _lock_request(request)
        require(can_decide_mdf(actor, request), "You may not record payments.")
        _require_move(request, MdfStatus.PAID)
        moves = _Moves(period, request, actor, note=f"paid {reference}".strip())
        moves.move(MdfBucket.CLAIMED, MdfBucket.PAID, request.claimed_amount or Decimal(0))
        request.status = MdfStatus.PAID
        request.paid_by = actor
        request.paid_at = timezone.now()
        request.payment_reference = reference.strip()
        request.save()
        moves.save()
        audit(actor=actor, action="mdf.paid", target=request, reference=request.payment_reference)
        deal_events.mdf_event("mdf.paid", request)
    return request


def ledger_totals(period: MdfPeriod) -> dict[str, Decimal]:
    """Each bucket's balance recomputed from the ledger, to check the period's running totals."""
    totals = {bucket: Decimal(0) for bucket in MdfBucket.values if bucket != MdfBucket.AVAILABLE}
    for entry in period.entries.all():
        if entry.from_bucket in totals:
            totals[entry.from_bucket] -= entry.amount
        if entry.to_bucket in totals:
            totals[entry.to_bucket] += entry.amount
    return totals
