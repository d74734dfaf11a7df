"""Leaderboards over the ROI world (tests/analytics/roi_world.py), with a distributor, more sales,
certifications and points; every figure worked out by hand."""

import datetime
from decimal import Decimal

import pytest

from analytics.filters import parse_filters
from analytics.leaderboards import leaderboards
from gates.models import PartnerTier
from incentives.models import IncentiveRule
from incentives.models.ledger import POINTS, Component, SourceType
from tests.analytics.roi_world import RoiWorld
from tests.factories import CertificationFactory, DistributorFactory, PersonFactory

pytestmark = pytest.mark.django_db

D = datetime.date
# 61 days; the previous period runs from 30 December 2024 to 28 February 2025.
PERIOD = {"start": "2025-03-01", "end": "2025-04-30"}


class BoardWorld(RoiWorld):
    """Besides the ROI world's sales (Alpha 10,000 USD 15 Jan and 5,000 EUR 10 Mar; Bravo 2,000
    GBP 5 Feb; Delta 3,000 USD 1 Feb; Foxtrot 99,999 USD 15 Jan):

      Bravo 3,000 GBP 5 Mar; Delta 1,500 USD 10 Apr.
      Revenue, previous, growth:  Alpha 6,000 (5,000 EUR at 1.20)  10,000  -40.0 %
                                  Bravo 3,750                       2,500  +50.0 %
                                  Delta 1,500                       3,000  -50.0 %
      Certifications: Alpha 1 on 1 Feb (before), 1 on 20 Mar; Bravo 2 (15 Mar, 1 Apr).
      Points: Delta +50 on 5 Mar; Alpha's +200 on 20 Jan is before the period.
      Westwind serves Alpha, Bravo and Foxtrot (out of sight): 9,750 against 12,500, -22.0 %.
    """

    def __init__(self):
        super().__init__()
        self.westwind = DistributorFactory(name="Westwind")
        for partner in (self.alpha, self.bravo, self.foxtrot):
            partner.distributor = self.westwind
            partner.save()
        self.sale(self.bravo, "3000", "GBP", D(2025, 3, 5))
        self.sale(self.delta, "1500", "USD", D(2025, 4, 10))
        for partner, days in (
            (self.alpha, [D(2025, 2, 1), D(2025, 3, 20)]),
            (self.bravo, [D(2025, 3, 15), D(2025, 4, 1)]),
        ):
            person = PersonFactory(partner=partner)
            for day in days:
                CertificationFactory(person=person, issued_on=day)
        points = IncentiveRule.objects.get(program=self.main, kind="points")
        self.entry(
            self.delta,
            points,
            "50",
            POINTS,
            D(2025, 3, 5),
            component=Component.POINTS,
            kind=SourceType.ACTIVITY,
        )


@pytest.fixture
def board_world(db):
    return BoardWorld()


def _board(entries):
    return [(entry.rank, entry.name) for entry in entries]


def test_partners_ranked_by_each_figure(board_world, channel_manager):
    boards = leaderboards(channel_manager, parse_filters(PERIOD, channel_manager))
    assert (boards.previous_start, boards.previous_end) == (D(2024, 12, 30), D(2025, 2, 28))
    assert boards.currency == "USD"
    partners = boards.partners
    assert [(entry.name, entry.revenue, entry.previous_revenue) for entry in partners["revenue"]] == [
        ("Alpha", Decimal(6000), Decimal(10000)),
        ("Bravo", Decimal(3750), Decimal(2500)),
        ("Delta", Decimal(1500), Decimal(3000)),
    ]
    assert [(entry.name, entry.growth_percent) for entry in partners["growth"]] == [
        ("Bravo", Decimal("50.0")),
        ("Alpha", Decimal("-40.0")),
        ("Delta", Decimal("-50.0")),
    ]
    assert [(entry.name, entry.certifications) for entry in partners["certifications"]] == [
        ("Bravo", 2),
        ("Alpha", 1),
    ]
    assert [(entry.name, entry.points) for entry in partners["points"]] == [("Delta", Decimal(50))]


def test_distributors_add_up_their_partners_in_sight(board_world, channel_manager, superuser):
    (northwind,) = leaderboards(channel_manager, parse_filters(PERIOD, channel_manager)).distributors[
        "revenue"
    ]
    assert (northwind.name, northwind.revenue, northwind.previous_revenue, northwind.growth_percent) == (
        "Westwind",
        Decimal(9750),
        Decimal(12500),
        Decimal("-22.0"),
    )
    assert northwind.certifications == 3
    # Staff who see every partner count Foxtrot's 99,999 in the previous period too.
    (northwind,) = leaderboards(superuser, parse_filters(PERIOD, superuser)).distributors["revenue"]
    assert northwind.previous_revenue == Decimal(112499)


def test_the_top_is_bounded(board_world, channel_manager):
    boards = leaderboards(channel_manager, parse_filters(PERIOD, channel_manager), top=2)
    assert _board(boards.partners["revenue"]) == [(1, "Alpha"), (2, "Bravo")]
    assert _board(boards.partners["growth"]) == [(1, "Bravo"), (2, "Alpha")]


def test_a_program_narrows_partners_currency_and_points(board_world, channel_manager):
    PartnerTier.objects.create(partner=board_world.alpha, program=board_world.cloud, tier=board_world.member)
    boards = leaderboards(channel_manager, parse_filters({**PERIOD, "program": "cloud"}, channel_manager))
    assert boards.currency == "EUR"
    (alpha,) = boards.partners["revenue"]
    # 5,000 EUR now; 10,000 USD on 15 Jan at EUR 1.10 = 9,090.91 before: -45.0 %.
    assert (alpha.name, alpha.revenue, alpha.previous_revenue, alpha.growth_percent) == (
        "Alpha",
        Decimal(5000),
        Decimal("9090.91"),
        Decimal("-45.0"),
    )
    assert boards.partners["points"] == []


def test_filters_narrow_the_partners(board_world, channel_manager):
    boards = leaderboards(channel_manager, parse_filters({**PERIOD, "partner_type": "msp"}, channel_manager))
    assert [entry.name for entry in boards.partners["revenue"]] == ["Bravo", "Delta"]


def test_one_query_however_many_partners(board_world, channel_manager, django_assert_num_queries):
    filters = parse_filters(PERIOD, channel_manager)
    fresh = type(channel_manager).objects.get(pk=channel_manager.pk)
    # The door (the user's and groups' permissions, the manager's regions); the boards.
    with django_assert_num_queries(4):
        leaderboards(fresh, filters)
    for index in range(15):
        board_world.sale(board_world.bravo, "10", "GBP", D(2025, 3, 1 + index))
        PersonFactory(partner=board_world.delta)
    fresh = type(channel_manager).objects.get(pk=channel_manager.pk)
    with django_assert_num_queries(4):
        leaderboards(fresh, filters)
