"""Reads for deal registration and MDF: entitlements, lists and balances."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from deals.models import ACTIVE_STATUSES, Deal, DealStatus, MdfPeriod, MdfRequest
from gates.models import BenefitGrant
from programs.models import AllowancePeriod, Benefit, BenefitKind


def active_grants(partner, *, kind: str | None = None) -> QuerySet[BenefitGrant]:
    grants = BenefitGrant.objects.filter(partner=partner, revoked_at__isnull=True).select_related(
        "benefit", "benefit__program"
    )
    if kind is not None:
        grants = grants.filter(benefit__kind=kind)
    return grants


def can_register_deals(partner) -> bool:
    """Deal registration is a benefit: only partners holding it may register."""
    return active_grants(partner, kind=BenefitKind.DEAL_REGISTRATION).exists()


def can_register_deal_for(partner, customer_segment) -> bool:
    """Whether the partner's deal-registration rights cover a customer of ``customer_segment``
    (None: a customer of no stated segment). A right limited to a segment covers that segment's
    customers only; an unlimited one covers every customer."""
    covering = Q(benefit__customer_segment__isnull=True)
    if customer_segment is not None:
        covering |= Q(benefit__customer_segment=customer_segment)
    return active_grants(partner, kind=BenefitKind.DEAL_REGISTRATION).filter(covering).exists()


def deal_registration_segments(partner) -> list[str]:
    """The names of the customer segments the partner's limited deal-registration rights cover."""
    grants = (
        active_grants(partner, kind=BenefitKind.DEAL_REGISTRATION)
        .filter(benefit__customer_segment__isnull=False)
        .select_related("benefit__customer_segment")
    )
    return sorted({str(grant.benefit.customer_segment) for grant in grants})


def mdf_allowance(partner) -> Benefit | None:
    """The MDF allowance the partner holds today, if any.

    Tiers are exclusive, so a partner normally holds one; should several apply
    (a tier and a gate), the largest governs rather than their sum, which keeps
    one period in one currency.
    """
    grant = active_grants(partner, kind=BenefitKind.MDF_ALLOWANCE).order_by("-benefit__amount", "id").first()
    return grant.benefit if grant else None


def period_bounds(day: datetime.date, period: str) -> tuple[datetime.date, datetime.date]:
    """The calendar quarter or year holding ``day``."""
    if period == AllowancePeriod.YEAR:
        return datetime.date(day.year, 1, 1), datetime.date(day.year, 12, 31)
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = datetime.date(day.year, first_month, 1)
    if first_month == 10:
        end = datetime.date(day.year, 12, 31)
    else:
        end = datetime.date(day.year, first_month + 3, 1) - datetime.timedelta(days=1)
    return start, end


@dataclass
class MdfBalance:
    """What a partner may still request this period, and where the rest stands."""

    benefit: Benefit | None
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    currency: str
    allowance: Decimal
    requested: Decimal
    approved: Decimal
    claimed: Decimal
    paid: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.allowance - self.requested - self.approved - self.claimed - self.paid)

    @property
    def used_ratio(self) -> float:
        if self.allowance <= 0:
            return 0.0
        return float(min(Decimal(1), (self.allowance - self.remaining) / self.allowance))


def mdf_balance(partner, *, day: datetime.date | None = None) -> MdfBalance | None:
    """The current period's balance; ``None`` when the partner holds no MDF allowance.

    Two queries: the grant and the period row (which may not exist yet, before
    the first request of the period).
    """
    benefit = mdf_allowance(partner)
    if benefit is None or benefit.amount is None:
        return None
    day = day or timezone.localdate()
    starts_on, ends_on = period_bounds(day, benefit.period or AllowancePeriod.QUARTER)
    period = MdfPeriod.objects.filter(partner=partner, starts_on=starts_on).first()
    zero = Decimal(0)
    if period is None:
        return MdfBalance(
            benefit, starts_on, ends_on, benefit.currency, benefit.amount, zero, zero, zero, zero
        )
    return MdfBalance(
        benefit,
        period.starts_on,
        period.ends_on,
        period.currency,
        # The allowance follows the benefit held today (a promotion raises it).
        benefit.amount if benefit.currency == period.currency else period.allowance,
        period.requested,
        period.approved,
        period.claimed,
        period.paid,
    )


def deals_for(user) -> QuerySet[Deal]:
    return Deal.objects.visible_to(user).select_related("partner").prefetch_related("products")


def mdf_requests_for(user) -> QuerySet[MdfRequest]:
    return MdfRequest.objects.visible_to(user).select_related("partner")


def rival_claims(deal: Deal) -> QuerySet[Deal]:
    """Other partners' active registrations on the same customer (every one, whoever may see them).

    For deciding (``deal_approve``) and for counting; what a user is shown of
    them goes through ``deals_for``.
    """
    return (
        # door: the rule decides against every claim; what a user is shown goes through deals_for
        Deal.objects.filter(customer_domain=deal.customer_domain, status__in=ACTIVE_STATUSES)
        .exclude(partner_id=deal.partner_id)
        .order_by("registered_on", "id")
    )


def approved_rival(deal: Deal) -> Deal | None:
    """The approved claim of another partner that keeps ``deal`` from being approved, if any."""
    return rival_claims(deal).filter(status=DealStatus.APPROVED).select_related("partner").first()
