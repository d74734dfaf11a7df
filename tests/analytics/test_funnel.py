from decimal import Decimal

import pytest

from analytics.filters import parse_filters
from analytics.funnel import gate_funnel
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_funnel_counts_criteria_met_per_partner_in_coverage(funnel_world, channel_manager):
    (funnel,) = gate_funnel(channel_manager, parse_filters({}, channel_manager))
    assert funnel.gate == funnel_world.gate
    # Delta and Bravo meet one, Charlie two, Alpha three; Foxtrot is out of coverage.
    assert funnel.met_counts == [0, 2, 1, 1]
    assert funnel.passed == 1
    assert funnel.stale == 1
    assert [criterion.met for criterion in funnel.criteria] == [2, 1, 4]


def test_near_misses_are_within_the_distance_with_their_gap(funnel_world, channel_manager):
    (funnel,) = gate_funnel(channel_manager, parse_filters({}, channel_manager))
    assert [miss.partner_name for miss in funnel.near_misses] == ["Charlie"]
    (gap,) = funnel.near_misses[0].gaps
    assert gap.gap == Decimal(8000)
    assert gap.criterion.index == 1
    assert "8,000" in gap.gap_display

    # At 40 %, Bravo (one person of three short, 5,000 of sales) is near too; Charlie, the closer, first.
    (funnel,) = gate_funnel(channel_manager, parse_filters({"near": "40"}, channel_manager))
    assert [miss.partner_name for miss in funnel.near_misses] == ["Charlie", "Bravo"]
    assert [gap.gap for gap in funnel.near_misses[1].gaps] == [Decimal(1), Decimal(5000)]


def test_the_superuser_counts_every_partner(funnel_world, superuser):
    (funnel,) = gate_funnel(superuser, parse_filters({}, superuser))
    assert funnel.met_counts == [0, 2, 2, 1]


def test_a_partner_user_counts_only_itself(funnel_world):
    user = UserFactory(username="charlie-admin")
    MembershipFactory(user=user, partner=funnel_world.partners["Charlie"])
    (funnel,) = gate_funnel(user, parse_filters({}, user))
    assert funnel.met_counts == [0, 0, 1, 0]


def test_filters_narrow_the_partners(funnel_world, superuser):
    (funnel,) = gate_funnel(superuser, parse_filters({"region": "na"}, superuser))
    assert funnel.met_counts == [0, 0, 1, 0]
