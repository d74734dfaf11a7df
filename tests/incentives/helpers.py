"""Builders for the incentive tests: a program with tiers, won deals, tier history and rules."""

import datetime
from decimal import Decimal

from django.utils import timezone

from deals.models import Deal, DealStatus, SalesRole
from gates.models import TierChange, TierChangeReason
from incentives.models import (
    BandMethod,
    CommissionRate,
    IncentiveRule,
    MarginRate,
    RebateBand,
    RebatePeriod,
    Reward,
    RuleKind,
    SpifTrigger,
)
from partners.models import Sale
from tests.factories import DealFactory, ProductLineFactory

START = datetime.date(2025, 1, 1)


def set_tier(partner, tier, on: datetime.date, *, program=None, changed_at=None) -> TierChange:
    """Record in the tier history that ``partner`` holds ``tier`` from ``on`` (None: no tier)."""
    program = program or tier.program
    return TierChange.objects.create(
        partner=partner,
        program=program,
        to_tier=tier,
        reason=TierChangeReason.PROMOTED,
        effective_on=on,
        changed_at=changed_at or timezone.now(),
    )


def won_deal(
    partner,
    amount: str | Decimal = "10000.00",
    *,
    closed_on: datetime.date = datetime.date(2025, 2, 10),
    currency: str = "USD",
    line=None,
    sourced_by: str = SalesRole.PARTNER,
    closed_by: str = SalesRole.PARTNER,
    customer: str = "Woodgrove Bank",
) -> Deal:
    """A won deal and the sale it became, as ``deals.services.deal_mark_won`` records them."""
    line = line or ProductLineFactory(code="cloud")
    deal = DealFactory(
        partner=partner,
        customer_name=customer,
        status=DealStatus.WON,
        closed_on=closed_on,
        expected_value=Decimal(amount),
        currency=currency,
        sourced_by=sourced_by,
        closed_by=closed_by,
    )
    deal.products.set([line])
    Sale.objects.create(
        partner=partner,
        amount=Decimal(amount),
        currency=currency,
        product_line=line,
        region=partner.region,
        closed_on=closed_on,
        deal=deal,
        customer_name=customer,
        source="deal",
        external_id=f"deal-{deal.pk}",
    )
    return deal


def rule(kind: str, program, **values) -> IncentiveRule:
    defaults = {
        "name": f"{kind} rule",
        "currency": "USD",
        "effective_from": START,
    }
    defaults.update(values)
    return IncentiveRule.objects.create(kind=kind, program=program, **defaults)


def margin_rule(program, rates: dict, **values) -> IncentiveRule:
    """``rates``: {tier: percent} or {(tier, product line): percent}."""
    created = rule(RuleKind.MARGIN, program, **values)
    for target, percent in rates.items():
        tier, line = target if isinstance(target, tuple) else (target, None)
        MarginRate.objects.create(rule=created, tier=tier, product_line=line, percent=Decimal(percent))
    return created


def commission_rule(program, rates: dict | None = None, **values) -> IncentiveRule:
    created = rule(RuleKind.COMMISSION, program, **values)
    rates = rates or {
        (SalesRole.VENDOR, SalesRole.VENDOR): "3",
        (SalesRole.VENDOR, SalesRole.PARTNER): "8",
        (SalesRole.PARTNER, SalesRole.VENDOR): "10",
        (SalesRole.PARTNER, SalesRole.PARTNER): "20",
    }
    for (sourced_by, closed_by), percent in rates.items():
        CommissionRate.objects.create(
            rule=created, sourced_by=sourced_by, closed_by=closed_by, percent=Decimal(percent)
        )
    return created


def rebate_rule(
    program, bands: list[tuple], *, period=RebatePeriod.QUARTER, method=BandMethod.MARGINAL, **values
):
    """``bands``: [(lower, upper or None, percent)]."""
    created = rule(RuleKind.REBATE, program, rebate_period=period, band_method=method, **values)
    for lower, upper, percent in bands:
        RebateBand.objects.create(
            rule=created,
            lower_bound=Decimal(lower),
            upper_bound=Decimal(upper) if upper is not None else None,
            percent=Decimal(percent),
        )
    return created


def spif_rule(program, *, trigger=SpifTrigger.DEAL, amount="500", budget=None, **values) -> IncentiveRule:
    values.setdefault("effective_to", datetime.date(2025, 6, 30))
    return rule(
        RuleKind.SPIF,
        program,
        spif_trigger=trigger,
        spif_amount=Decimal(amount),
        budget=Decimal(budget) if budget is not None else None,
        **values,
    )


def points_rule(program, *, multiplier="1", rewards=(), **values) -> IncentiveRule:
    created = rule(RuleKind.POINTS, program, points_multiplier=Decimal(multiplier), **values)
    for name, cost, amount in rewards:
        Reward.objects.create(rule=created, name=name, points_cost=cost, amount=Decimal(amount))
    return created
