"""The what-if's incentive figure for rebates, SPIFs and points rules that depend on the tier.

Priced directly (``incentives.whatif.tier_moves_cost``) on a fixed day, 20 May
2025: the period is Q2 2025 (1 April to 20 May), a yearly rebate's the year
to that day.
"""

import datetime
from decimal import Decimal

import pytest

from incentives.models import BandMethod, RebatePeriod, SpifTrigger
from incentives.whatif import tier_moves_cost
from tests.factories import (
    CertificationFactory,
    EngagementActivityFactory,
    PartnerFactory,
    PersonFactory,
)
from tests.incentives.helpers import margin_rule, points_rule, rebate_rule, set_tier, spif_rule, won_deal

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2025, 5, 20)
Q1_DAY = datetime.date(2025, 2, 1)


def _up(partner, ladder):
    return (partner.pk, ladder.program.pk, ladder.silver.pk, ladder.gold.pk)


def _down(partner, ladder):
    return (partner.pk, ladder.program.pk, ladder.gold.pk, ladder.silver.pk)


def _rows(cost):
    return {
        row["name"]: (
            row["kind"],
            row["count"],
            row["counted"],
            row["before"],
            row["after"],
            row["difference"],
        )
        for row in cost["rules"]
    }


def test_rebates_from_a_minimum_tier_price_the_movers_sales_of_the_period_rounded_once(ladder):
    up, down = PartnerFactory(name="Up"), PartnerFactory(name="Down")
    rebate_rule(
        ladder.program,
        [("0", "10000", "2"), ("10000", None, "5")],
        name="Gold quarterly rebate",
        min_tier=ladder.gold,
    )
    rebate_rule(
        ladder.program,
        [("0", None, "1.5")],
        name="Gold yearly rebate",
        period=RebatePeriod.YEAR,
        method=BandMethod.WHOLE,
        min_tier=ladder.gold,
    )
    rebate_rule(ladder.program, [("0", None, "3")], name="Any tier rebate")  # the tier changes nothing
    for amount, day in (("8000.00", "2025-04-02"), ("4000.00", "2025-05-20"), ("333.33", "2025-04-30")):
        ladder.sell(up, amount, datetime.date.fromisoformat(day))
    ladder.sell(up, "5000.00", Q1_DAY)  # the year's, not the quarter's
    ladder.sell(up, "9000.00", datetime.date(2025, 5, 21))  # after the day
    ladder.sell(down, "20000.00", datetime.date(2025, 4, 10))

    cost = tier_moves_cost([_up(up, ladder), _down(down, ladder)], AS_OF)

    # Quarter, marginal: Up 12,333.33 → 10,000 × 2 % + 2,333.33 × 5 % = 200 + 116.6665 → 316.67 as Gold;
    # Down 20,000 → 200 + 500 = 700.00 as Gold, nothing as Silver.
    # Year, whole band 1.5 %: Up 17,333.33 → 259.99995 → 260.00; Down 20,000 → 300.00.
    assert _rows(cost) == {
        "Gold quarterly rebate": ("rebate", 2, "partner", "700.00", "316.67", "-383.33"),
        "Gold yearly rebate": ("rebate", 2, "partner", "300.00", "260.00", "-40.00"),
    }
    assert cost["totals"] == [
        {"currency": "USD", "before": "1000.00", "after": "576.67", "difference": "-423.33"}
    ]
    assert (cost["points"], cost["problems"]) == (None, [])


def test_a_spif_from_a_minimum_tier_shares_its_budget_with_every_partner(ladder):
    mover, other = PartnerFactory(name="Mover"), PartnerFactory(name="Other")
    set_tier(other, ladder.gold, datetime.date(2024, 12, 1))
    set_tier(mover, ladder.silver, datetime.date(2024, 12, 1))
    spif_rule(ladder.program, name="Gold deal SPIF", amount="500", budget="1200", min_tier=ladder.gold)
    spif_rule(
        ladder.program,
        name="Gold certification SPIF",
        trigger=SpifTrigger.CERTIFICATION,
        amount="150",
        min_tier=ladder.gold,
    )
    won_deal(other, "100.00", closed_on=Q1_DAY)  # before the period: takes 500 of the budget either way
    won_deal(mover, "100.00", closed_on=datetime.date(2025, 4, 5))
    won_deal(other, "100.00", closed_on=datetime.date(2025, 4, 10))
    won_deal(mover, "100.00", closed_on=datetime.date(2025, 4, 20))
    CertificationFactory(person=PersonFactory(partner=mover), issued_on=datetime.date(2025, 4, 15))
    CertificationFactory(person=PersonFactory(partner=other), issued_on=datetime.date(2025, 5, 1))

    cost = tier_moves_cost([_up(mover, ladder)], AS_OF)

    # Budget 1,200 by date. Today: Other 1 Feb 500, Other 10 Apr 500 (the mover is Silver).
    # After: Other 1 Feb 500, Mover 5 Apr 500, Other 10 Apr 200 (what is left), Mover 20 Apr 0.
    # The period's bonuses of the mover and of the partner it displaces: 500 → 700.
    # Certifications, no budget: the mover's 15 Apr one earns 150 as Gold; Other's is unchanged.
    assert _rows(cost) == {
        "Gold deal SPIF": ("spif", 2, "deal", "500.00", "700.00", "200.00"),
        "Gold certification SPIF": ("spif", 1, "certification", "0.00", "150.00", "150.00"),
    }
    assert cost["totals"] == [
        {"currency": "USD", "before": "500.00", "after": "850.00", "difference": "350.00"}
    ]


def test_points_from_a_minimum_tier_are_counted_in_points_apart_from_money(ladder):
    mover = PartnerFactory(name="Mover")
    points_rule(ladder.program, name="Gold points", multiplier="1.5", min_tier=ladder.gold)
    points_rule(ladder.program, name="Everyone's points")  # the tier changes nothing
    margin_rule(ladder.program, {ladder.silver: "10", ladder.gold: "15"}, name="Tier margin")
    for points, day in ((10, "2025-04-03"), (7, "2025-05-02")):
        EngagementActivityFactory(partner=mover, points=points, occurred_on=datetime.date.fromisoformat(day))
    EngagementActivityFactory(partner=mover, points=40, occurred_on=Q1_DAY)  # last quarter
    won_deal(mover, "1000.00", closed_on=datetime.date(2025, 4, 3))

    cost = tier_moves_cost([_up(mover, ladder)], AS_OF)

    # 10 × 1.5 = 15 and 7 × 1.5 = 10.5 → 11, each activity rounded once: 26 points as Gold, none as Silver.
    assert _rows(cost) == {
        "Gold points": ("points", 2, "activity", "0", "26", "26"),
        "Tier margin": ("margin", 1, "deal", "100.00", "150.00", "50.00"),
    }
    assert cost["rules"][0]["currency"] == "PTS"
    assert cost["totals"] == [
        {"currency": "USD", "before": "100.00", "after": "150.00", "difference": "50.00"}
    ]
    assert cost["points"] == {"before": "0", "after": "26", "difference": "26"}


def _world(ladder, movers: int) -> list:
    rebate_rule(ladder.program, [("0", None, "2")], name="Gold rebate", min_tier=ladder.gold)
    spif_rule(ladder.program, name="Gold SPIF", min_tier=ladder.gold, budget="100000")
    spif_rule(
        ladder.program,
        name="First line SPIF",
        trigger=SpifTrigger.FIRST_DEAL_IN_LINE,
        min_tier=ladder.gold,
    )
    spif_rule(ladder.program, name="Cert SPIF", trigger=SpifTrigger.CERTIFICATION, min_tier=ladder.gold)
    points_rule(ladder.program, name="Gold points", min_tier=ladder.gold)
    margin_rule(ladder.program, {ladder.silver: "10", ladder.gold: "15"}, name="Tier margin")
    moves = []
    for index in range(movers):
        partner = PartnerFactory()
        set_tier(partner, ladder.silver, datetime.date(2024, 12, 1))
        won_deal(partner, "1000.00", closed_on=datetime.date(2025, 4, 3 + index))
        ladder.sell(partner, "500.00", datetime.date(2025, 4, 4))
        EngagementActivityFactory(partner=partner, points=10, occurred_on=datetime.date(2025, 4, 5))
        CertificationFactory(person=PersonFactory(partner=partner), issued_on=datetime.date(2025, 4, 6))
        moves.append(_up(partner, ladder))
    return moves


# The rules with their rates, bands and activity types (5), the deals with their sales and
# activations (3), first sales (2), sales, activities, certifications, the tiers and tier
# history (2), the exchange rates.
QUERIES = 16


@pytest.mark.parametrize("movers", [1, 6])
def test_pricing_every_kind_takes_the_same_queries_whatever_the_movers(
    ladder, movers, django_assert_num_queries
):
    moves = _world(ladder, movers)
    with django_assert_num_queries(QUERIES):
        cost = tier_moves_cost(moves, AS_OF)
    rows = {row["name"]: row for row in cost["rules"]}
    assert set(rows) == {
        "Gold rebate",
        "Gold SPIF",
        "First line SPIF",
        "Cert SPIF",
        "Gold points",
        "Tier margin",
    }
    assert rows["Gold SPIF"]["count"] == movers
    # 2 % of each mover's won deal (1,000.00) and sale (500.00), from Gold.
    assert Decimal(rows["Gold rebate"]["difference"]) == Decimal("30.00") * movers
