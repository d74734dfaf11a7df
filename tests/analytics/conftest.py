import datetime

import pytest
from django.db import connection

from gates.models import Gate, GateOutcome, GateState, GateStatus, TierChange, TierChangeReason
from partners.models import Region
from tests.factories import (
    CertificationTypeFactory,
    PartnerFactory,
    ProductLineFactory,
    ProgramFactory,
    TierFactory,
)

CRITERIA = {
    "all": [
        {"metric": "certified_people", "certification_types": ["sales-engineer"], "op": ">=", "target": 3},
        {"metric": "sales_amount", "op": ">=", "target": "100000"},
        {"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["emea"]},
    ]
}


class FunnelWorld:
    """Five partners in the manager's coverage (EMEA) and one out of it, on one three-criterion gate.

    Stored measures, [certified people, sales, region]:
      Alpha   [3, 120000, EMEA] passed   -> meets 3
      Bravo   [2,  95000, EMEA] failed   -> meets 1 (people 33 % short: no near miss)
      Charlie [3,  92000, EMEA] failed   -> meets 2, sales 8,000 short (8 %): a near miss at 10 %
      Delta   [0,      0, EMEA] failed   -> meets 1
      Echo    measured under version 1 of the gate: stale
      Foxtrot (AMER, out of coverage) [3, 99000, EMEA] failed
    """

    def __init__(self):
        CertificationTypeFactory(code="sales-engineer")
        ProductLineFactory(code="cloud")
        self.program = ProgramFactory(name="Main", slug="main")
        self.silver = TierFactory(program=self.program, name="Silver", rank=1)
        self.gold = TierFactory(program=self.program, name="Gold", rank=2)
        self.gate = Gate.objects.create(
            program=self.program,
            name="Gold gate",
            state=GateState.ACTIVE,
            unlocks_tier=self.gold,
            criteria=CRITERIA,
        )
        Gate.objects.filter(pk=self.gate.pk).update(version=2)
        self.gate.refresh_from_db()
        self.partners = {}
        joined = datetime.date(2025, 1, 1)
        rows = {
            "Alpha": ([3, "120000", "emea"], GateOutcome.PASSED, Region.EMEA, 2),
            "Bravo": ([2, "95000", "emea"], GateOutcome.FAILED, Region.EMEA, 2),
            "Charlie": ([3, "92000", "emea"], GateOutcome.FAILED, Region.EMEA, 2),
            "Delta": ([0, "0", "emea"], GateOutcome.FAILED, Region.EMEA, 2),
            "Echo": ([9, "1", "emea"], GateOutcome.FAILED, Region.EMEA, 1),
            "Foxtrot": ([3, "99000", "emea"], GateOutcome.FAILED, Region.NORTH_AMERICA, 2),
        }
        for name, (measures, status, region, version) in rows.items():
            partner = PartnerFactory(
                name=name, region=region, country="GB" if region == Region.EMEA else "US", joined_on=joined
            )
            GateStatus.objects.create(
                partner=partner, gate=self.gate, status=status, measures=measures, gate_version=version
            )
            self.partners[name] = partner


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    """The figures are PostgreSQL SQL (JSON, arrays, window functions, percentiles); on SQLite the
    pages say so instead of computing them."""
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")


@pytest.fixture
def funnel_world(db):
    return FunnelWorld()


def tier_history(world: FunnelWorld) -> None:
    """The tier history of the funnel's partners in Main (all joined on 1 January 2025):

    Alpha   Silver on 10 Jan 2025, Gold on 1 Mar 2025
    Bravo   Silver on 15 Feb 2025
    Charlie Silver on 31 Jan 2025, Gold on 20 Mar 2025, back to Silver on 10 Apr 2025
    Delta   never a tier
    Foxtrot (out of coverage) Gold on 2 Jan 2025
    """

    def change(name, day, from_tier, to_tier):
        TierChange.objects.create(
            partner=world.partners[name],
            program=world.program,
            from_tier=from_tier,
            to_tier=to_tier,
            reason=TierChangeReason.PROMOTED,
            effective_on=day,
        )

    silver, gold = world.silver, world.gold
    change("Alpha", datetime.date(2025, 1, 10), None, silver)
    change("Alpha", datetime.date(2025, 3, 1), silver, gold)
    change("Bravo", datetime.date(2025, 2, 15), None, silver)
    change("Charlie", datetime.date(2025, 1, 31), None, silver)
    change("Charlie", datetime.date(2025, 3, 20), silver, gold)
    change("Charlie", datetime.date(2025, 4, 10), gold, silver)
    change("Foxtrot", datetime.date(2025, 1, 2), None, gold)


@pytest.fixture
def tier_world(funnel_world):
    tier_history(funnel_world)
    return funnel_world
