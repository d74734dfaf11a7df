"""Customer activations, rewards redeemed with points, and payouts recorded against payable entries."""

import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit
from core.background import task
from core.money import round_money
from deals.models import Deal, DealStatus
from incentives.ledger import move
from incentives.models import (
    POINTS,
    CustomerActivation,
    EntryState,
    LedgerEntry,
    Payout,
    Redemption,
    Reward,
    RuleKind,
)
from incentives.services.calculation import Scope, calculate
from partners.models import Partner


def activation_problems(*, deal: Deal, activated_on: datetime.date | None) -> dict[str, str]:
    """What is wrong with recording this activation, by field; empty when nothing is."""
    errors: dict[str, str] = {}
    if deal.status != DealStatus.WON or deal.closed_on is None:
        errors["deal"] = "Only the customer of a won deal can activate."
    elif activated_on is not None and activated_on < deal.closed_on:
        errors["activated_on"] = (
            f"The customer cannot activate before the deal closed on {deal.closed_on:%d %b %Y}."
        )
    if activated_on is None:
        errors["activated_on"] = "Give the day the customer reached the activation metric."
    elif activated_on > timezone.localdate():
        errors["activated_on"] = "An activation cannot be dated in the future."
    return errors


def activation_record(
    *, actor, deal: Deal, activated_on: datetime.date, metric: str = ""
) -> CustomerActivation:
    """Record that a won deal's customer reached the activation metric; held parts due are released.

    Recalculation and release run after commit (Celery). A later record
    replaces the earlier one (a correction of the fact, audited).
    """
    errors = activation_problems(deal=deal, activated_on=activated_on)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activation, created = CustomerActivation.objects.update_or_create(
            deal=deal,
            defaults={
                "activated_on": activated_on,
                "metric": metric.strip(),
                "recorded_by": actor if getattr(actor, "is_authenticated", False) else None,
                "recorded_at": timezone.now(),
            },
        )
        audit(
            actor=actor,
            action="incentives.activation_recorded" if created else "incentives.activation_corrected",
            target=activation,
            deal=deal.pk,
            activated_on=str(activated_on),
        )
        deal_id = deal.pk

        def enqueue() -> None:
            task("incentives.tasks.deal_activated_task").delay(deal_id)

        transaction.on_commit(enqueue)
    return activation


def points_balance(partner_id: int) -> int:
    """Points earned minus points redeemed, from the ledger."""
    total = sum(
        LedgerEntry.objects.filter(partner_id=partner_id, currency=POINTS).values_list("amount", flat=True),
        Decimal(0),
    )
    return int(total)


def reward_redeem(
    *, actor, partner: Partner, reward: Reward, today: datetime.date | None = None
) -> Redemption:
    """Spend a partner's points on a reward: points leave the ledger, the reward's value becomes payable.

    Partner admins redeem for their own organisation; staff for partners they
    can see. The partner row is locked while the balance is checked, so two
    redemptions cannot spend the same points.
    """
    today = today or timezone.localdate()
    if not Partner.objects.allows(actor, "redeem", partner):
        raise PermissionDenied("Only the partner's admins can redeem its points.")
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        reward = Reward.objects.select_related("rule").get(pk=reward.pk)
        if not reward.is_active or reward.rule.kind != RuleKind.POINTS or not reward.rule.covers(today):
            raise ValidationError({"reward": "This reward is not available."})
        balance = points_balance(partner.pk)
        if balance < reward.points_cost:
            raise ValidationError(
                {
                    "reward": f"{partner.name} has {balance:,} points; {reward.name} needs {reward.points_cost:,}."
                }
            )
        redemption = Redemption.objects.create(
            partner=partner,
            reward=reward,
            points=reward.points_cost,
            amount=round_money(reward.amount, reward.rule.currency),
            currency=reward.rule.currency,
            redeemed_on=today,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        calculate(scope=Scope(redemption_ids=frozenset({redemption.pk})), actor=actor, as_of=today)
        audit(actor=actor, action="incentives.reward_redeemed", target=redemption, points=redemption.points)
    return redemption


def _payable_problem(partner: Partner, currency: str, rows: list, total: Decimal) -> str | None:
    if not rows:
        return f"Nothing is payable to {partner.name} in {currency}."
    if total <= 0:
        return (
            f"{partner.name}'s payable balance in {currency} is {total:,.2f}: nothing to pay until new "
            "earnings cover what was reversed."
        )
    return None


def payout_problems(*, partner: Partner, currency: str, reference: str) -> dict[str, str]:
    """What stands in the way of paying ``partner`` in ``currency``, by field; empty when nothing does."""
    errors: dict[str, str] = {}
    reference = (reference or "").strip()
    if currency == POINTS:
        errors["currency"] = "Points are redeemed for rewards, not paid out."
    else:
        rows = list(
            LedgerEntry.objects.filter(
                partner=partner, currency=currency, state=EntryState.PAYABLE
            ).values_list("id", "amount")
        )
        problem = _payable_problem(partner, currency, rows, sum((amount for _, amount in rows), Decimal(0)))
        if problem:
            errors["currency"] = problem
    if not reference:
        errors["reference"] = "Give the payment reference from the finance system."
    elif Payout.objects.filter(reference=reference).exists():
        errors["reference"] = f"The payment {reference} is already recorded."
    return errors


def payout_record(
    *, actor, partner: Partner, currency: str, reference: str, paid_on: datetime.date | None = None
) -> Payout:
    """Pay a partner everything payable in one currency (clawbacks net off); the entries become paid."""
    reference = (reference or "").strip()
    errors: dict[str, str] = {}
    if currency == POINTS:
        errors["currency"] = "Points are redeemed for rewards, not paid out."
    if not reference:
        errors["reference"] = "Give the payment reference from the finance system."
    elif Payout.objects.filter(reference=reference).exists():
        errors["reference"] = f"The payment {reference} is already recorded."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rows = list(
            LedgerEntry.objects.select_for_update()
            .filter(partner=partner, currency=currency, state=EntryState.PAYABLE)
            .order_by("id")
            .values_list("id", "amount")
        )
        total = sum((amount for _, amount in rows), Decimal(0))
        problem = _payable_problem(partner, currency, rows, total)
        if problem:
            raise ValidationError({"currency": problem})
        payout = Payout.objects.create(
            partner=partner,
            currency=currency,
            amount=round_money(total, currency),
            reference=reference,
            paid_on=paid_on or timezone.localdate(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        move(
            [entry_id for entry_id, _ in rows],
            to_state=EntryState.PAID,
            actor=actor,
            reason=f"Payout {reference}",
            payout=payout,
        )
        audit(
            actor=actor,
            action="incentives.payout_recorded",
            target=payout,
            amount=str(total),
            currency=currency,
        )
    return payout
