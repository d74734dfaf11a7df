import datetime
from decimal import Decimal

import pytest

from analytics.filters import parse_filters
from analytics.tiers import tier_movement

pytestmark = pytest.mark.django_db

PERIOD = {"program": "main", "start": "2025-01-01", "end": "2025-04-30"}


def test_the_distribution_counts_the_tier_held_at_each_months_end(tier_world, channel_manager):
    movement = tier_movement(channel_manager, parse_filters(PERIOD, channel_manager))
    assert movement.days == [
        datetime.date(2025, 1, 31),
        datetime.date(2025, 2, 28),
        datetime.date(2025, 3, 31),
        datetime.date(2025, 4, 30),
    ]
    # 31 Jan: Alpha, Charlie silver. 28 Feb: + Bravo. 31 Mar: Alpha, Charlie gold, Bravo silver.
    # 30 Apr: Charlie back to silver. Foxtrot is out of coverage.
    assert movement.series == [("Silver", [2, 3, 1, 2]), ("Gold", [0, 0, 2, 1])]


def test_quarters_end_at_the_quarters_end(tier_world, channel_manager):
    movement = tier_movement(channel_manager, parse_filters({**PERIOD, "step": "quarter"}, channel_manager))
    assert movement.days == [datetime.date(2025, 3, 31), datetime.date(2025, 4, 30)]
    assert movement.series == [("Silver", [1, 2]), ("Gold", [2, 1])]


def test_the_migration_matrix_moves_partners_between_the_two_days(tier_world, channel_manager):
    filters = parse_filters({"program": "main", "start": "2025-02-01", "end": "2025-03-31"}, channel_manager)
    movement = tier_movement(channel_manager, filters)
    cells = {(cell.from_name, cell.to_name): cell.partners for cell in movement.matrix}
    # 1 Feb: Alpha, Charlie silver; 31 Mar: Alpha, Charlie gold, Bravo silver.
    assert cells == {("No tier", "Silver"): 1, ("Silver", "Gold"): 2}


def test_time_to_tier_counts_days_from_joining(tier_world, channel_manager):
    movement = tier_movement(channel_manager, parse_filters(PERIOD, channel_manager))
    rows = {row.tier_name: row for row in movement.time_to_tier}
    # Silver: Alpha 9 days, Charlie 30, Bravo 45. Gold: Alpha 59, Charlie 78.
    assert (rows["Silver"].partners, rows["Silver"].median_days, rows["Silver"].average_days) == (
        3,
        Decimal("30.0"),
        Decimal("28.0"),
    )
    assert (rows["Gold"].partners, rows["Gold"].median_days) == (2, Decimal("68.5"))


def test_the_superuser_sees_the_partner_out_of_coverage(tier_world, superuser):
    movement = tier_movement(superuser, parse_filters(PERIOD, superuser))
    assert movement.series[1] == ("Gold", [1, 1, 3, 2])
