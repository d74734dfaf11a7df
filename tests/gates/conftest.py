import datetime
from decimal import Decimal

import pytest

from gates.models import Gate, GateState
from programs.models import BenefitKind
from tests.factories import (
    BenefitFactory,
    CertificationFactory,
    CertificationTypeFactory,
    PersonFactory,
    ProductLineFactory,
    ProgramFactory,
    SaleFactory,
    TierFactory,
)


class Ladder:
    """A program with Silver (one certified person) and Gold (three), with benefits on each."""

    def __init__(self):
        self.program = ProgramFactory(slug="main", name="Main program")
        self.silver = TierFactory(program=self.program, name="Silver", rank=1, grace_days=30)
        self.gold = TierFactory(program=self.program, name="Gold", rank=2, grace_days=90)
        self.silver_discount = BenefitFactory(
            program=self.program, name="Silver discount", kind=BenefitKind.DISCOUNT, percent=Decimal(10)
        )
        self.silver_discount.tiers.set([self.silver])
        self.deal_registration = BenefitFactory(
            program=self.program, name="Deal registration", kind=BenefitKind.DEAL_REGISTRATION
        )
        self.deal_registration.tiers.set([self.silver, self.gold])
        self.gold_discount = BenefitFactory(
            program=self.program, name="Gold discount", kind=BenefitKind.DISCOUNT, percent=Decimal(15)
        )
        self.gold_discount.tiers.set([self.gold])
        CertificationTypeFactory(code="sales-engineer")
        ProductLineFactory(code="cloud")
        self.silver_gate = self.gate("Silver gate", 1, self.silver)
        self.gold_gate = self.gate("Gold gate", 3, self.gold)

    def gate(self, name, people, tier=None, **kwargs):
        return Gate.objects.create(
            program=self.program,
            name=name,
            state=GateState.ACTIVE,
            unlocks_tier=tier,
            criteria={
                "metric": "certified_people",
                "certification_types": ["sales-engineer"],
                "op": ">=",
                "target": people,
            },
            **kwargs,
        )

    def certify(self, partner, count, *, expires_on=None):
        return [
            CertificationFactory(
                person=PersonFactory(partner=partner),
                issued_on=datetime.date(2025, 1, 1),
                expires_on=expires_on,
            )
            for _ in range(count)
        ]

    def sell(self, partner, amount, day):
        return SaleFactory(partner=partner, amount=Decimal(amount), closed_on=day)


@pytest.fixture
def ladder(db):
    return Ladder()
