"""Builders shared by the deal, MDF and portal tests."""

import datetime
from decimal import Decimal

from django.utils import timezone

from deals.models import Deal, DealStatus
from gates.models import BenefitGrant
from programs.models import AllowancePeriod, BenefitKind
from tests.factories import BenefitFactory, DealFactory, ProductLineFactory, ProgramFactory


def grant(partner, kind: str, **values) -> BenefitGrant:
    """Give ``partner`` an active benefit of ``kind`` in a program open to every partner."""
    program = values.pop("program", None) or ProgramFactory()
    benefit = BenefitFactory(program=program, kind=kind, **values)
    return BenefitGrant.objects.create(partner=partner, benefit=benefit)


def grant_deal_registration(partner, **values) -> BenefitGrant:
    return grant(partner, BenefitKind.DEAL_REGISTRATION, name="Deal registration", **values)


def grant_mdf(partner, amount: str = "10000.00", currency: str = "USD", period=AllowancePeriod.QUARTER):
    return grant(
        partner,
        BenefitKind.MDF_ALLOWANCE,
        name=f"MDF {amount}",
        amount=Decimal(amount),
        currency=currency,
        period=period,
    )


def registration(**overrides) -> dict:
    """Keyword arguments for ``deal_register`` with sensible defaults."""
    values = {
        "customer_name": "Woodgrove Bank",
        "customer_domain": "woodgrove.example",
        "country": "GB",
        "products": [ProductLineFactory(code="cloud")],
        "expected_value": Decimal("50000.00"),
        "currency": "USD",
        "expected_close": timezone.localdate() + datetime.timedelta(days=30),
        "description": "",
    }
    values.update(overrides)
    return values


def approved_deal(partner, **overrides) -> Deal:
    values = {
        "status": DealStatus.APPROVED,
        "protected_until": timezone.localdate() + datetime.timedelta(days=30),
        **overrides,
    }
    deal = DealFactory(partner=partner, **values)
    deal.products.set([ProductLineFactory(code="cloud")])
    return deal
