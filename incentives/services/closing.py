"""Period close, release of what became payable, forfeits of overdue held parts, the daily run."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.audit import audit
from incentives import events as incentive_events
from incentives import facts
from incentives.ledger import move
from incentives.models import (
    Component,
    CustomerActivation,
    EntryState,
    IncentivePeriod,
    IncentiveRule,
    LedgerEntry,
)
from incentives.periods import Period, quarter_of, quarters_between
from incentives.services.calculation import CalculationSummary, Scope, calculate


@dataclass
class CloseSummary:
    period: str
    closed_now: bool
    calculation: CalculationSummary
    released: int


def period_close(*, period: Period, actor=None, as_of: datetime.date | None = None) -> CloseSummary:
    """Close a quarter: settle everything dated in it, its rebates (and the year's after Q4), make it payable.

    Safe to repeat: a second close recalculates (usually writing nothing) and
    releases what is due. A quarter closes only after it has ended.
    """
    as_of = as_of or timezone.localdate()
    if period.is_year:
        raise ValidationError(
            {"period": "Close quarters one at a time; closing the fourth quarter settles the year's rebates."}
        )
    if period.end >= as_of:
        raise ValidationError(
            {
                "period": f"{period.label()} runs until {period.end:%d %b %Y}: it can be closed from "
                f"{period.end + datetime.timedelta(days=1):%d %b %Y}."
            }
        )
    row, _ = IncentivePeriod.objects.get_or_create(
        code=period.code, defaults={"starts_on": period.start, "ends_on": period.end}
    )
    calculation = calculate(scope=Scope(period=period), as_of=as_of, actor=actor, closing=period)
    with transaction.atomic():
        closed_now = bool(
            IncentivePeriod.objects.filter(pk=row.pk, closed_at__isnull=True).update(
                closed_at=timezone.now(),
                closed_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        )
        if closed_now:
            audit(actor=actor, action="incentives.period_closed", target=row, **calculation.as_dict())
            incentive_events.statements_closed(period.code, timezone.now())
    released = release_payable(actor=actor)
    return CloseSummary(period=period.code, closed_now=closed_now, calculation=calculation, released=released)


def _waiting_for_activation() -> Q:
    activated = CustomerActivation.objects.filter(
        deal_id=OuterRef("deal_id"), activated_on__lte=OuterRef("held_until")
    )
    return Q(Q(component=Component.HELD), ~Exists(activated))


def release_payable(*, actor=None) -> int:
    """Accrued entries of closed quarters become payable, except held parts still awaiting activation."""
    closed = facts.closed_period_codes()
    if not closed:
        return 0
    due = (
        LedgerEntry.objects.filter(state=EntryState.ACCRUED, period__in=closed)
        .exclude(_waiting_for_activation())
        .values_list("id", flat=True)
    )
    return move(list(due), to_state=EntryState.PAYABLE, actor=actor, reason="The period is closed")


def forfeit_due(*, as_of: datetime.date | None = None) -> CalculationSummary:
    """Recalculate deals whose held part passed its activation deadline: the held part is forfeited."""
    as_of = as_of or timezone.localdate()
    overdue = (
        LedgerEntry.objects.filter(component=Component.HELD, held_until__lt=as_of, state=EntryState.ACCRUED)
        .filter(_waiting_for_activation())
        .values_list("source_id", flat=True)
        .distinct()
    )
    deal_ids = frozenset(int(i) for i in overdue if i.isdigit())
    if not deal_ids:
        return CalculationSummary()
    return calculate(scope=Scope(deal_ids=deal_ids), as_of=as_of)


def periods_due(as_of: datetime.date) -> list[Period]:
    """Ended quarters not yet closed, once the close delay after their end has passed."""
    delay = datetime.timedelta(days=settings.PRM_INCENTIVES_CLOSE_DELAY_DAYS)
    first_rule = (
        IncentiveRule.objects.order_by("effective_from").values_list("effective_from", flat=True).first()
    )
    if first_rule is None:
        return []
    closed = facts.closed_period_codes()
    return [
        period
        for period in quarters_between(first_rule, as_of)
        if period.code not in closed and period.end + delay < as_of
    ]


def incentives_daily(*, as_of: datetime.date | None = None) -> dict:
    """The scheduled run: close due quarters, forfeit overdue held parts, settle the current quarter."""
    as_of = as_of or timezone.localdate()
    closed = [period_close(period=period, as_of=as_of).period for period in periods_due(as_of)]
    forfeits = forfeit_due(as_of=as_of)
    current = calculate(scope=Scope(period=quarter_of(as_of)), as_of=as_of)
    return {"closed": closed, "forfeit_run": forfeits.as_dict(), "current": current.as_dict()}
