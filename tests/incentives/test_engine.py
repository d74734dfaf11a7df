"""The engine's arithmetic without a database, and its readers against the project's own.

The bulk tier history and exchange-rate readers must answer exactly what
``gates.selectors.tier_on`` and ``core.exchange.convert`` answer.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentives import engine
from incentives.facts import ExchangeRateBook, HistoryTierBook
from incentives.periods import PeriodError, parse_period, quarter_of, quarters_between

BANDS = [engine.Band(Decimal(0), Decimal(100), Decimal(0)), engine.Band(Decimal(100), None, Decimal(10))]


def test_rounding_is_half_up_to_the_minor_unit():
    assert engine.round_amount(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert engine.round_amount(Decimal("-2.345"), "EUR") == Decimal("-2.35")
    assert engine.round_amount(Decimal("1234.5"), "JPY") == Decimal(1235)
    assert engine.round_amount(Decimal("1.2345"), "BHD") == Decimal("1.235")
    assert engine.round_amount(Decimal("31.5"), engine.POINTS) == Decimal(32)


@pytest.mark.parametrize(
    ("volume", "marginal", "whole"),
    [("99.99", "0", "0"), ("100", "0", "10"), ("150", "5", "15")],
)
def test_band_rebate_methods(volume, marginal, whole):
    assert engine.band_rebate(Decimal(volume), BANDS, "marginal")[0] == Decimal(marginal)
    assert engine.band_rebate(Decimal(volume), BANDS, "whole")[0] == Decimal(whole)


def test_a_volume_in_a_gap_earns_nothing_under_the_whole_method():
    bands = [engine.Band(Decimal(0), Decimal(100), Decimal(1)), engine.Band(Decimal(200), None, Decimal(2))]
    assert engine.band_rebate(Decimal(150), bands, "whole") == (Decimal(0), [])
    assert engine.band_rebate(Decimal(250), bands, "marginal")[0] == Decimal(2)  # 1 % of 100 + 2 % of 50


def test_periods():
    assert parse_period(" 2025-q2 ").code == "2025-Q2"
    assert parse_period("2025-Q2").end == datetime.date(2025, 6, 30)
    assert parse_period("2025").quarters()[3].code == "2025-Q4"
    assert quarter_of(datetime.date(2024, 12, 31)).next().code == "2025-Q1"
    assert [p.code for p in quarters_between(datetime.date(2024, 11, 5), datetime.date(2025, 4, 1))] == [
        "2024-Q4",
        "2025-Q1",
        "2025-Q2",
    ]
    for bad in ("2025-Q0", "25-Q1", "1999", "Q1 2025", ""):
        with pytest.raises(PeriodError, match="is not a period"):
            parse_period(bad)


def spif(budget) -> engine.RuleSpec:
    return engine.RuleSpec(
        id=1,
        name="SPIF",
        kind=engine.SPIF,
        program_id=1,
        currency="USD",
        effective_from=datetime.date(2025, 1, 1),
        effective_to=datetime.date(2025, 3, 31),
        spif_trigger=engine.SPIF_DEAL,
        spif_amount=Decimal("100"),
        budget=budget,
    )


class NoTiers:
    def tier_on(self, partner_id, program_id, day):
        return None

    def rank(self, tier_id):
        return None

    def name(self, tier_id):
        return ""


def deals(count):
    return [
        engine.DealFact(
            id=number,
            partner_id=1,
            won=True,
            closed_on=datetime.date(2025, 2, 1) + datetime.timedelta(days=number % 5),
            amount=Decimal(1000),
            currency="USD",
            product_line_id=1,
            sourced_by="partner",
            closed_by="partner",
        )
        for number in range(count)
    ]


@given(
    count=st.integers(min_value=0, max_value=30), budget=st.decimals(min_value=0, max_value=5000, places=4)
)
def test_a_spif_never_pays_beyond_its_budget_and_pays_it_out_in_full_when_it_can(count, budget):
    items = engine.spif_allocation(
        spif(budget), engine.Facts(as_of=datetime.date(2025, 4, 1), deals=deals(count)), NoTiers()
    )
    total = sum((item.amount for item in items), Decimal(0))
    cap = budget.quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    assert total <= cap
    assert total == min(cap, Decimal(100) * count)
    assert all(item.amount >= 0 for item in items)
    dates = [item.event_on for item in items]
    assert dates == sorted(dates)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=3), st.integers(0, 5)
        ),
        max_size=8,
    ),
    day=st.integers(min_value=-2, max_value=22),
)
def test_the_bulk_tier_history_reads_like_tier_on(partner, program, tiers, changes, day):
    from gates.models import TierChange, TierChangeReason
    from gates.selectors import tier_on

    names = ["Registered", "Silver", "Gold", "Platinum"]
    start = datetime.date(2025, 1, 1)
    with transaction.atomic():
        for offset, tier_index, seconds in changes:
            TierChange.objects.create(
                partner=partner,
                program=program,
                to_tier=tiers[names[tier_index]],
                reason=TierChangeReason.PROMOTED,
                effective_on=start + datetime.timedelta(days=offset),
                changed_at=timezone.now() + datetime.timedelta(seconds=seconds),
            )
        book = HistoryTierBook([partner.pk], [program.pk])
        when = start + datetime.timedelta(days=day)
        assert book.tier_on(partner.pk, program.pk, when) == tier_on(
            partner_id=partner.pk, program_id=program.pk, day=when
        )
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_rate_book_converts_like_the_exchange_module():
    from core.exchange import convert
    from tests.factories import ExchangeRateFactory

    ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2025, 1, 1), rate=Decimal("1.1"))
    ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2025, 2, 1), rate=Decimal("1.2"))
    ExchangeRateFactory(currency="GBP", valid_from=datetime.date(2025, 1, 15), rate=Decimal("1.27"))
    book = ExchangeRateBook()
    for day in (
        datetime.date(2025, 1, 15),
        datetime.date(2025, 1, 31),
        datetime.date(2025, 2, 1),
        datetime.date(2026, 1, 1),
    ):
        for pair in (("EUR", "USD"), ("USD", "EUR"), ("EUR", "GBP"), ("GBP", "GBP")):
            assert book.convert(Decimal("123.45"), *pair, day) == convert(Decimal("123.45"), *pair, day)
    with pytest.raises(LookupError, match="no GBP exchange rate on or before 14 Jan 2025"):
        book.convert(Decimal(1), "EUR", "GBP", datetime.date(2025, 1, 14))
