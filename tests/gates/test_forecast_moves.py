"""The forecast's moving sums: on every day of the horizon, today's sums less the facts that left
their windows plus those that entered equal a full measuring on that day, to the cent."""

import datetime
import random
from decimal import Decimal

import pytest

from core.exchange import daily_rates_extend
from gates.engine import Measurer
from gates.forecast_moves import WindowMoves
from gates.metrics import load_references
from gates.validation import parse_criteria
from tests.factories import (
    ActivityTypeFactory,
    EngagementActivityFactory,
    ExchangeRateFactory,
    PartnerFactory,
    ProductLineFactory,
    SaleFactory,
)

pytestmark = pytest.mark.django_db
D = datetime.date
TODAY = D(2026, 3, 20)  # the quarter turns, a year and a month turn within the horizon
UNTIL = TODAY + datetime.timedelta(days=120)

WINDOWS = [
    {"kind": "all_time"},
    {"kind": "rolling_days", "days": 30},
    {"kind": "rolling_days", "days": 365},
    {"kind": "rolling_months", "months": 1},
    {"kind": "rolling_months", "months": 12},
    {"kind": "quarter_to_date"},
    {"kind": "last_quarter"},
    {"kind": "year_to_date"},
    {"kind": "last_year"},
    {"kind": "quarter_to_date", "fiscal_year_start_month": 2},
]


def criteria(cloud_code: str) -> dict:
    leaves = []
    for window in WINDOWS:
        leaves.append({"metric": "sales_amount", "window": window, "op": ">=", "target": "1"})
        leaves.append(
            {"metric": "sales_amount", "window": window, "op": ">=", "target": "1", "currency": "EUR"}
        )
        leaves.append(
            {
                "metric": "sales_amount",
                "window": window,
                "op": ">=",
                "target": "1",
                "product_lines": [cloud_code],
            }
        )
        leaves.append({"metric": "won_deals", "window": window, "op": ">=", "target": 1})
        leaves.append({"metric": "engagement_points", "window": window, "op": ">=", "target": 1})
    return {"all": leaves}


def world(seed: int):
    rng = random.Random(seed)
    ExchangeRateFactory(currency="EUR", valid_from=D(2024, 1, 1), rate=Decimal("1.0833"))
    ExchangeRateFactory(currency="EUR", valid_from=D(2025, 7, 1), rate=Decimal("1.1711"))
    ExchangeRateFactory(currency="GBP", valid_from=D(2024, 1, 1), rate=Decimal("1.2719"))
    cloud, security = ProductLineFactory(code="cloud"), ProductLineFactory(code="security")
    training = ActivityTypeFactory(code="training")
    partners = [PartnerFactory() for _ in range(4)]
    for partner in partners:
        for _ in range(rng.randint(0, 40)):
            # Mostly past facts, a few dated in the future (a deal closing later, entered early).
            closed_on = TODAY - datetime.timedelta(days=rng.randint(-40, 800))
            SaleFactory(
                partner=partner,
                amount=Decimal(rng.randint(1, 999_999)) / 100,
                currency=rng.choice(["USD", "EUR", "GBP"]),
                product_line=rng.choice([cloud, security]),
                closed_on=closed_on,
            )
        for _ in range(rng.randint(0, 20)):
            EngagementActivityFactory(
                partner=partner,
                activity_type=training,
                points=rng.randint(1, 50),
                occurred_on=TODAY - datetime.timedelta(days=rng.randint(-30, 800)),
            )
    return partners


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_moved_sums_equal_a_full_measuring_on_every_day_of_the_horizon(seed):
    partners = world(seed)
    daily_rates_extend(UNTIL)
    refs = load_references()
    tree = parse_criteria(criteria("cloud"), default_currency="USD", references=refs)
    ids = sorted(partner.pk for partner in partners)
    today = Measurer([tree], as_of=TODAY, references=refs)
    raw = today.fetch_sources(ids[0], ids[-1])
    current = today.measure(ids[0], ids[-1], sources=raw)
    moves = {
        source: WindowMoves(today, source, [tree], until=UNTIL, partner_ids=ids, raw_today=raw[source])
        for source in ("sales", "activities")
    }
    checked = 0
    day = TODAY
    while day < UNTIL:
        day += datetime.timedelta(days=1)
        for source_moves in moves.values():
            source_moves.apply(ids, current, day)
        expected = Measurer([tree], as_of=day, references=refs).measure(ids[0], ids[-1])
        for partner_id in ids:
            assert current[partner_id] == expected[partner_id], (day, partner_id)
            checked += sum(1 for value in expected[partner_id] if value)
    assert checked > 1000  # the worlds are not empty: most measures are non-zero on most days


def test_a_partner_with_nothing_leaving_or_entering_keeps_todays_sums():
    partner = PartnerFactory()
    SaleFactory(partner=partner, amount=Decimal("100.00"), closed_on=TODAY - datetime.timedelta(days=3))
    daily_rates_extend(UNTIL)
    refs = load_references()
    tree = parse_criteria(
        {"metric": "sales_amount", "op": ">=", "target": "1"}, default_currency="USD", references=refs
    )
    today = Measurer([tree], as_of=TODAY, references=refs)
    raw = today.fetch_sources(partner.pk, partner.pk)
    current = today.measure(partner.pk, partner.pk, sources=raw)
    moves = WindowMoves(today, "sales", [tree], until=UNTIL, partner_ids=[partner.pk], raw_today=raw["sales"])
    moves.apply([partner.pk], current, UNTIL)
    assert current[partner.pk] == [Decimal("100.00")]
    assert moves.moves == {}  # all time: nothing leaves, and nothing is dated after today
