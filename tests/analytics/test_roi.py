import datetime
from decimal import Decimal

import pytest

from analytics.filters import parse_filters
from analytics.roi import period_starts, program_roi
from tests.analytics.roi_world import RoiWorld

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2025-01-01", "end": "2025-04-30"}


@pytest.fixture
def roi_world(db):
    return RoiWorld()


def _report(roi, name):
    return next(report for report in roi.programs if report.program.name == name)


def test_main_program_revenue_cost_and_ratios(roi_world, channel_manager):
    roi = program_roi(channel_manager, parse_filters(PERIOD, channel_manager))
    assert [report.program.name for report in roi.programs] == ["Cloud", "Main"]
    main = _report(roi, "Main").total
    # Sourced: Alpha's 10,000 USD. Influenced: 5,000 EUR at 1.20 (the rate on 10 Mar) = 6,000.
    # Unregistered: Bravo's 2,000 GBP at 1.25 = 2,500. Delta holds no tier, Foxtrot is out of sight.
    assert (main.sourced, main.influenced, main.unregistered) == (
        Decimal(10000),
        Decimal(6000),
        Decimal(2500),
    )
    assert main.revenue == Decimal(18500)
    # Incentives 1,000 + 300 - 300; SPIF 500; reward 75; MDF 1,000 GBP at 1.25 = 1,250.
    assert (main.incentives, main.spifs, main.rewards, main.mdf) == (
        Decimal(1000),
        Decimal(500),
        Decimal(75),
        Decimal(1250),
    )
    assert main.cost == Decimal(2825)
    assert main.sourced_return == Decimal("3.54")  # 10,000 / 2,825
    assert main.revenue_return == Decimal("6.55")  # 18,500 / 2,825
    # Points are shown apart, never as money.
    assert (main.points_earned, main.points_redeemed) == (Decimal(200), Decimal(-150))
    assert _report(roi, "Main").unconverted == ["JPY"]


def test_the_program_base_currency_converts_at_each_facts_day(roi_world, channel_manager):
    roi = program_roi(channel_manager, parse_filters(PERIOD, channel_manager))
    cloud = _report(roi, "Cloud").total
    assert cloud.currency == "EUR"
    # 10,000 USD on 15 Jan at EUR 1.10: 9,090.909... rounded once; 5,000 EUR as it is.
    assert (cloud.sourced, cloud.influenced, cloud.unregistered) == (
        Decimal("9090.91"),
        Decimal(5000),
        Decimal(0),
    )
    assert (cloud.incentives, cloud.mdf) == (Decimal(400), Decimal(0))  # Bravo holds no Cloud tier
    assert cloud.revenue_return == Decimal("35.23")  # 14,090.909... / 400


def test_the_trend_by_month_and_quarter(roi_world, channel_manager):
    roi = program_roi(channel_manager, parse_filters({**PERIOD, "program": "main"}, channel_manager))
    periods = roi.programs[0].periods
    assert [row.label for row in periods] == ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]
    assert [(row.revenue, row.cost) for row in periods] == [
        (Decimal(10000), Decimal(1000)),
        (Decimal(2500), Decimal(1250)),
        (Decimal(6000), Decimal(575)),
        (Decimal(0), Decimal(0)),
    ]
    assert [row.revenue_return for row in periods] == [
        Decimal("10.00"),
        Decimal("2.00"),
        Decimal("10.43"),
        None,
    ]
    roi = program_roi(
        channel_manager, parse_filters({**PERIOD, "program": "main", "step": "quarter"}, channel_manager)
    )
    assert [(row.label, row.revenue, row.cost) for row in roi.programs[0].periods] == [
        ("2025-01-01", Decimal(18500), Decimal(2825)),
        ("2025-04-01", Decimal(0), Decimal(0)),
    ]


def test_cost_per_tier_against_what_the_tiers_partners_sold(roi_world, channel_manager):
    roi = program_roi(channel_manager, parse_filters({**PERIOD, "program": "main"}, channel_manager))
    tiers = {row.label: (row.revenue, row.cost, row.points_earned) for row in roi.programs[0].tiers}
    # Silver: Alpha's January sale and earning, Bravo's sale and MDF. Gold: Alpha from 1 March.
    assert tiers == {
        "Silver": (Decimal(12500), Decimal(2250), Decimal(200)),
        "Gold": (Decimal(6000), Decimal(575), Decimal(0)),
    }


def test_partner_type_and_region_breakdowns(roi_world, channel_manager):
    roi = program_roi(channel_manager, parse_filters({**PERIOD, "program": "main"}, channel_manager))
    report = roi.programs[0]
    assert {row.label: (row.revenue, row.cost) for row in report.partner_types} == {
        "Reseller": (Decimal(16000), Decimal(1575)),
        "Managed service provider": (Decimal(2500), Decimal(1250)),
    }
    assert {row.label: row.revenue for row in report.regions} == {
        "Europe, Middle East & Africa": Decimal(18500)
    }


def test_filters_narrow_the_partners(roi_world, channel_manager):
    roi = program_roi(
        channel_manager, parse_filters({**PERIOD, "program": "main", "partner_type": "msp"}, channel_manager)
    )
    total = roi.programs[0].total
    assert (total.revenue, total.cost) == (Decimal(2500), Decimal(1250))


def test_a_manager_counts_only_his_coverage(roi_world, superuser):
    roi = program_roi(superuser, parse_filters({**PERIOD, "program": "main"}, superuser))
    total = roi.programs[0].total
    # Foxtrot (AMER) now counts: 99,999 sourced, 5,000 margin.
    assert (total.sourced, total.incentives) == (Decimal(109999), Decimal(6000))


def test_a_hidden_program_counts_nothing(roi_world, channel_manager):
    roi = program_roi(channel_manager, parse_filters({**PERIOD, "program": "nope"}, channel_manager))
    assert roi.programs == []


def test_periods_are_bounded():
    starts = period_starts(datetime.date(1990, 1, 1), datetime.date(2025, 5, 5), "quarter")
    assert len(starts) == 60 and starts[-1] == datetime.date(2025, 4, 1)
    assert period_starts(datetime.date(2025, 2, 3), datetime.date(2025, 3, 1), "month") == [
        datetime.date(2025, 2, 1),
        datetime.date(2025, 3, 1),
    ]


def test_the_figures_cost_the_same_queries_however_many_facts(
    roi_world, channel_manager, django_assert_num_queries
):
    filters = parse_filters(PERIOD, channel_manager)
    manager = type(channel_manager).objects.get
    # The programs, their tiers; the door (the user's and groups' permissions, the manager's
    # regions); the figures.
    fresh = manager(pk=channel_manager.pk)
    with django_assert_num_queries(6):
        program_roi(fresh, filters)
    for index in range(20):
        roi_world.sale(roi_world.bravo, "10", "GBP", datetime.date(2025, 2, 1 + index))
        roi_world.mdf_paid(roi_world.alpha, "10", "EUR", datetime.date(2026 + index, 2, 1))
    fresh = manager(pk=channel_manager.pk)
    with django_assert_num_queries(6):
        program_roi(fresh, filters)
