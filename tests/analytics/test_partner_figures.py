"""A partner's own figures and its peer medians, worked out by hand.

Me (reseller) holds Main Gold. Its facts in 2025: 1,000 USD sold on 10 Jan, 500 EUR at 1.10 = 550 on
12 Feb, 40 points earned on 20 Jan (and 15 spent, not subtracted), one certification on 5 Feb, one
deal registered on 3 Jan and won on 12 Feb.
Peers: the other resellers holding Gold, selling 100, 200, 300, 400 and 500 USD in January (median
300); an MSP holding Gold and a reseller holding Silver are not peers.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.filters import parse_filters
from analytics.partner_figures import partner_figures
from deals.models import DealStatus
from gates.models import PartnerTier
from incentives.models import IncentiveRule, LedgerEntry
from incentives.models.ledger import POINTS, Component, SourceType
from incentives.models.rules import RuleKind
from partners.models import PartnerType
from partners.models.facts import Certification, Sale
from tests.factories import (
    CertificationTypeFactory,
    DealFactory,
    ExchangeRateFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
    ProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

D = datetime.date
PERIOD = {"start": "2025-01-01", "end": "2025-03-31"}


class PeerWorld:
    def __init__(self):
        ExchangeRateFactory(currency="EUR", valid_from=D(2020, 1, 1), rate=Decimal("1.10"))
        self.line = ProductLineFactory(code="cloud")
        self.program = ProgramFactory(name="Main", slug="main", base_currency="USD")
        self.silver = TierFactory(program=self.program, name="Silver", rank=1)
        self.gold = TierFactory(program=self.program, name="Gold", rank=2)
        self.me = PartnerFactory(name="Me", partner_type=PartnerType.RESELLER)
        self.hold(self.me, self.gold)
        self.sale(self.me, "1000", "USD", D(2025, 1, 10))
        self.sale(self.me, "500", "EUR", D(2025, 2, 12))
        rule = IncentiveRule.objects.create(
            kind=RuleKind.POINTS,
            program=self.program,
            name="Points",
            currency="USD",
            effective_from=D(2024, 1, 1),
        )
        for index, (amount, day) in enumerate((("40", D(2025, 1, 20)), ("-15", D(2025, 2, 1)))):
            LedgerEntry.objects.create(
                partner=self.me,
                rule=rule,
                source_type=SourceType.ACTIVITY,
                source_id=f"a{index}",
                component=Component.POINTS,
                amount=Decimal(amount),
                currency=POINTS,
                event_on=day,
                period="2025-Q1",
            )
        person = PersonFactory(partner=self.me)
        Certification.objects.create(
            person=person, certification_type=CertificationTypeFactory(code="se"), issued_on=D(2025, 2, 5)
        )
        DealFactory(
            partner=self.me, status=DealStatus.WON, registered_on=D(2025, 1, 3), closed_on=D(2025, 2, 12)
        )
        self.peers = []
        for amount in ("100", "200", "300", "400", "500"):
            peer = PartnerFactory(partner_type=PartnerType.RESELLER)
            self.hold(peer, self.gold)
            self.sale(peer, amount, "USD", D(2025, 1, 15))
            self.peers.append(peer)
        msp = PartnerFactory(partner_type=PartnerType.MSP)
        self.hold(msp, self.gold)
        self.sale(msp, "99999", "USD", D(2025, 1, 15))
        silver = PartnerFactory(partner_type=PartnerType.RESELLER)
        self.hold(silver, self.silver)
        self.sale(silver, "99999", "USD", D(2025, 1, 15))

    def hold(self, partner, tier):
        PartnerTier.objects.create(partner=partner, program=tier.program, tier=tier)

    def sale(self, partner, amount, currency, day):
        Sale.objects.create(
            partner=partner,
            amount=Decimal(amount),
            currency=currency,
            product_line=self.line,
            region=partner.region,
            closed_on=day,
        )


@pytest.fixture
def peer_world(db):
    return PeerWorld()


def _figures(world, **params):
    return partner_figures(world.me, parse_filters({**PERIOD, **params}, None))


def test_the_partners_own_figures_by_month(peer_world):
    figures = _figures(peer_world)
    assert figures.currency == "USD"
    assert [
        (row.label, row.revenue, row.points, row.certifications, row.deals_registered, row.deals_won)
        for row in figures.periods
    ] == [
        ("2025-01-01", Decimal("1000.00"), Decimal(40), 0, 1, 0),
        ("2025-02-01", Decimal("550.00"), Decimal(0), 1, 0, 1),
        ("2025-03-01", Decimal(0), Decimal(0), 0, 0, 0),
    ]
    assert (figures.total.revenue, figures.total.points, figures.total.deals_won) == (
        Decimal("1550.00"),
        Decimal(40),
        1,
    )
    (quarter,) = _figures(peer_world, step="quarter").periods
    assert (quarter.label, quarter.revenue) == ("2025-01-01", Decimal("1550.00"))


def test_the_median_of_exactly_five_peers_is_shown(peer_world):
    (gold,) = _figures(peer_world).peers
    assert (gold.program, gold.tier, gold.peers, gold.shown) == ("Main", "Gold", 5, True)
    assert gold.medians == {
        "revenue": Decimal("300.00"),
        "points": Decimal("0.0"),
        "certifications": Decimal("0.0"),
        "deals_registered": Decimal("0.0"),
        "deals_won": Decimal("0.0"),
    }


def test_four_peers_are_too_few_and_no_median_leaves_the_database(peer_world):
    PartnerTier.objects.filter(partner=peer_world.peers[0]).delete()
    with CaptureQueriesContext(connection) as queries:
        (gold,) = _figures(peer_world).peers
    assert (gold.peers, gold.shown, gold.medians) == (4, False, None)
    # The peer query answers the group's count with nulls in place of the medians (then the
    # programs open to the partner are read).
    assert len(queries) == 3


def test_an_even_group_takes_the_middle_two(peer_world):
    extra = PartnerFactory(partner_type=PartnerType.RESELLER)
    peer_world.hold(extra, peer_world.gold)
    peer_world.sale(extra, "600", "USD", D(2025, 1, 15))
    (gold,) = _figures(peer_world).peers
    assert gold.medians is not None
    assert (gold.peers, gold.medians["revenue"]) == (6, Decimal("350.00"))


def test_a_partner_without_a_tier_has_no_peer_group(peer_world):
    PartnerTier.objects.filter(partner=peer_world.me).delete()
    assert _figures(peer_world).peers == []
