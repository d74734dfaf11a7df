"""Partner lifetime value over the ROI world (tests/analytics/roi_world.py), worked out by hand.

Join dates: Alpha 10 Jan 2025, Delta 15 Feb 2025 (cohort 2025-Q1), Bravo 1 Dec 2024 (2024-Q4);
Foxtrot is out of the manager's coverage. Facts up to 30 April 2025, in USD (the reference):

  Alpha  sales 10,000 USD (15 Jan, month 0) + 5,000 EUR at 1.20 = 6,000 (10 Mar, month 2);
         100,000 JPY has no rate and is left out.
         cost: Main margin 1,000 (month 0), SPIF 500, reward 75, Cloud margin 400 EUR at 1.20 = 480
         (all month 2): 2,055. Lifetime value 13,945; 3 whole months old on 30 April.
  Delta  sale 3,000 USD on 1 Feb, before joining: month 0. Value 3,000; 2 months old.
  Bravo  sale 2,000 GBP at 1.25 = 2,500 (5 Feb, month 2); margin 300 reversed the same day (0);
         MDF paid 1,000 GBP = 1,250 (20 Feb, month 2). Value 1,250; 4 months old.

Cohort 2025-Q1 (Alpha, Delta): month 0 (9,000 + 3,000) / 2 = 6,000; month 1 the same;
month 2 (13,945 + 3,000) / 2 = 8,472.50; month 3 only Alpha is that old: 13,945.
Cohort 2024-Q4 (Bravo): 0, 0, 1,250, 1,250, 1,250.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.filters import parse_filters
from analytics.lifetime import lifetime_value
from analytics.roi import program_roi
from gates.models import PartnerTier
from partners.models import Partner
from tests.analytics.roi_world import RoiWorld

pytestmark = pytest.mark.django_db

D = datetime.date
PERIOD = {"start": "2024-10-01", "end": "2025-04-30"}


class LifetimeWorld(RoiWorld):
    def __init__(self):
        super().__init__()
        for partner, joined in (
            (self.alpha, D(2025, 1, 10)),
            (self.delta, D(2025, 2, 15)),
            (self.bravo, D(2024, 12, 1)),
            (self.foxtrot, D(2025, 1, 1)),
        ):
            Partner.objects.filter(pk=partner.pk).update(joined_on=joined)
        # Today's tiers in Main: a program filter counts the partners holding one of its tiers.
        PartnerTier.objects.create(partner=self.alpha, program=self.main, tier=self.gold)
        PartnerTier.objects.create(partner=self.bravo, program=self.main, tier=self.silver)


@pytest.fixture
def lifetime_world(db):
    return LifetimeWorld()


def _curves(figures):
    return {
        cohort.label: [(p.month, p.partners, p.value) for p in cohort.curve] for cohort in figures.cohorts
    }


def test_each_partners_value_is_its_revenue_less_what_the_program_paid(lifetime_world, channel_manager):
    figures = lifetime_value(channel_manager, parse_filters(PERIOD, channel_manager))
    assert figures.currency == "USD" and figures.partners == 3
    assert [(row.name, row.revenue, row.cost, row.value, row.age_months) for row in figures.top] == [
        ("Alpha", Decimal("16000.00"), Decimal("2055.00"), Decimal("13945.00"), 3),
        ("Delta", Decimal("3000.00"), Decimal("0.00"), Decimal("3000.00"), 2),
        ("Bravo", Decimal("2500.00"), Decimal("1250.00"), Decimal("1250.00"), 4),
    ]
    assert [row.name for row in figures.bottom] == ["Bravo", "Delta", "Alpha"]
    assert figures.unconverted == ["JPY"]


def test_the_cohort_curves_average_the_partners_old_enough(lifetime_world, channel_manager):
    figures = lifetime_value(channel_manager, parse_filters(PERIOD, channel_manager))
    assert [(cohort.label, cohort.partners) for cohort in figures.cohorts] == [("2024-Q4", 1), ("2025-Q1", 2)]
    assert _curves(figures) == {
        "2024-Q4": [
            (0, 1, Decimal("0.00")),
            (1, 1, Decimal("0.00")),
            (2, 1, Decimal("1250.00")),
            (3, 1, Decimal("1250.00")),
            (4, 1, Decimal("1250.00")),
        ],
        "2025-Q1": [
            (0, 2, Decimal("6000.00")),
            (1, 2, Decimal("6000.00")),
            (2, 2, Decimal("8472.50")),
            (3, 1, Decimal("13945.00")),
        ],
    }
    assert figures.months == 4


def test_a_program_counts_its_tier_holders_and_costs_as_its_roi_does(lifetime_world, channel_manager):
    filters = parse_filters({**PERIOD, "program": "main"}, channel_manager)
    figures = lifetime_value(channel_manager, filters)
    # Alpha without the Cloud margin: 1,000 + 500 + 75; Delta holds no Main tier.
    assert [(row.name, row.cost) for row in figures.top] == [
        ("Alpha", Decimal("1575.00")),
        ("Bravo", Decimal("1250.00")),
    ]
    roi_filters = parse_filters(
        {"program": "main", "start": "2024-01-01", "end": "2025-04-30"}, channel_manager
    )
    (main,) = program_roi(channel_manager, roi_filters).programs
    assert main.total.cost == sum(row.cost for row in figures.top) == Decimal("2825.00")


def test_the_join_window_and_the_count_of_top_partners(lifetime_world, channel_manager):
    filters = parse_filters({"start": "2025-01-01", "end": "2025-04-30"}, channel_manager)
    figures = lifetime_value(channel_manager, filters, top=1)
    assert [cohort.label for cohort in figures.cohorts] == ["2025-Q1"]
    assert [row.name for row in figures.top] == ["Alpha"]
    assert [row.name for row in figures.bottom] == ["Delta"]


def test_a_partner_counts_only_itself(lifetime_world, django_user_model):
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="delta-admin")
    MembershipFactory(user=user, partner=lifetime_world.delta)
    figures = lifetime_value(user, parse_filters(PERIOD, user))
    assert [row.name for row in figures.top] == ["Delta"]


def test_the_figures_cost_the_same_queries_whatever_the_data(lifetime_world, channel_manager):
    filters = parse_filters(PERIOD, channel_manager)
    lifetime_value(channel_manager, filters)  # the door caches the manager's permissions and regions
    counts = []
    for round_ in range(2):
        with CaptureQueriesContext(connection) as queries:
            lifetime_value(channel_manager, filters)
        counts.append(len(queries))
        for index in range(15):
            lifetime_world.sale(lifetime_world.delta, "10", "EUR", D(2025, 3, 1 + index + 15 * round_ % 13))
    # the programs whose ledger counts; the figures
    assert counts == [2, 2]
