"""Volume rebates at band boundaries, SPIFs with a budget cap, engagement points and rewards."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incentives import services
from incentives.models import BandMethod, LedgerEntry, RebatePeriod, Reward, SpifTrigger
from incentives.periods import parse_period
from tests.factories import (
    ActivityTypeFactory,
    CertificationFactory,
    CertificationTypeFactory,
    EngagementActivityFactory,
    PersonFactory,
    SaleFactory,
)
from tests.incentives.helpers import points_rule, rebate_rule, set_tier, spif_rule, won_deal

pytestmark = pytest.mark.django_db
Q1_CLOSED = datetime.date(2025, 4, 2)
BANDS = [("0", "100000", "0"), ("100000", "250000", "2"), ("250000", None, "3")]


def sell(partner, amount, day=datetime.date(2025, 2, 1), **values):
    return SaleFactory(partner=partner, amount=Decimal(amount), closed_on=day, **values)


def close_q1():
    services.period_close(period=parse_period("2025-Q1"), as_of=Q1_CLOSED)


def rebate_of(partner) -> Decimal | None:
    entry = LedgerEntry.objects.filter(partner=partner, source_type="period").first()
    return entry.amount if entry else None


@pytest.mark.parametrize(
    ("volume", "marginal", "whole"),
    [
        ("99999.99", None, None),  # below the first threshold: nothing
        ("100000.00", None, "2000.00"),  # exactly on it: the band starts there (2 % on all of it)
        ("100000.50", "0.01", "2000.01"),  # 2 % of the 0.50 above; whole: 2 % of everything
        ("249999.99", "3000.00", "5000.00"),  # 2 % of 149,999.99 = 2999.9998 → 3000.00
        ("250000.00", "3000.00", "7500.00"),  # the next band starts exactly here
        ("300000.00", "4500.00", "9000.00"),
    ],
)
def test_rebate_bands_at_their_boundaries(partner, other_partner, program, volume, marginal, whole):
    rebate_rule(program, BANDS, method=BandMethod.MARGINAL, name="Marginal")
    sell(partner, volume)
    close_q1()
    assert rebate_of(partner) == (Decimal(marginal) if marginal else None)

    # The same volume for another partner under the "whole" method.
    rebate_rule(program, BANDS, method=BandMethod.WHOLE, name="Whole")
    sell(other_partner, volume)
    services.calculate(scope=services.Scope(partner_ids=frozenset({other_partner.pk})), as_of=Q1_CLOSED)
    whole_entry = LedgerEntry.objects.filter(partner=other_partner, rule__name="Whole").first()
    assert (whole_entry.amount if whole_entry else None) == (Decimal(whole) if whole else None)


def test_rebates_wait_for_the_period_to_close_and_count_only_its_sales(partner, program, cloud, security):
    rebate_rule(program, [("0", None, "1")], product_line=cloud)
    sell(partner, "50000.00", datetime.date(2025, 1, 1), product_line=cloud)
    sell(partner, "50000.00", datetime.date(2025, 3, 31), product_line=cloud)
    sell(partner, "70000.00", datetime.date(2025, 2, 1), product_line=security)  # another line
    sell(partner, "90000.00", datetime.date(2025, 4, 1), product_line=cloud)  # next quarter

    services.calculate(as_of=datetime.date(2025, 4, 1))
    assert rebate_of(partner) is None

    close_q1()
    entry = LedgerEntry.objects.get(source_type="period")
    assert (entry.amount, entry.source_id, entry.event_on, entry.period, entry.state) == (
        Decimal("1000.00"),
        "2025-Q1",
        datetime.date(2025, 3, 31),
        "2025-Q1",
        "payable",
    )
    assert Decimal(entry.basis["volume"]) == Decimal("100000")


def test_sales_in_other_currencies_count_at_the_rate_of_their_day(partner, program):
    from tests.factories import ExchangeRateFactory

    ExchangeRateFactory(currency="GBP", valid_from=datetime.date(2025, 1, 1), rate=Decimal("1.25"))
    ExchangeRateFactory(currency="GBP", valid_from=datetime.date(2025, 3, 1), rate=Decimal("1.5"))
    rebate_rule(program, [("0", None, "10")])
    sell(partner, "100.00", datetime.date(2025, 2, 1), currency="GBP")  # 125 USD
    sell(partner, "100.00", datetime.date(2025, 3, 1), currency="GBP")  # 150 USD

    close_q1()

    assert rebate_of(partner) == Decimal("27.50")


def test_a_yearly_rebate_settles_when_the_fourth_quarter_closes(partner, program):
    rebate_rule(program, [("0", None, "1")], period=RebatePeriod.YEAR)
    sell(partner, "10000.00", datetime.date(2025, 2, 1))
    sell(partner, "30000.00", datetime.date(2025, 11, 1))
    for code in ("2025-Q1", "2025-Q2", "2025-Q3"):
        services.period_close(period=parse_period(code), as_of=datetime.date(2026, 1, 10))
    assert rebate_of(partner) is None

    services.period_close(period=parse_period("2025-Q4"), as_of=datetime.date(2026, 1, 10))

    entry = LedgerEntry.objects.get(source_type="period")
    assert (entry.source_id, entry.amount, entry.period) == ("2025", Decimal("400.00"), "2025-Q4")


def test_rebate_needs_the_minimum_tier_on_the_periods_last_day(partner, program, tiers):
    rebate_rule(program, [("0", None, "1")], min_tier=tiers["Gold"])
    set_tier(partner, tiers["Gold"], datetime.date(2025, 1, 1))
    set_tier(partner, tiers["Silver"], datetime.date(2025, 3, 31))
    sell(partner, "10000.00")

    close_q1()

    assert rebate_of(partner) is None


def test_a_spif_pays_each_qualifying_deal_until_its_budget_runs_out(partner, other_partner, program, cloud):
    spif_rule(program, amount="500", budget="1200", product_line=cloud)
    days = [
        datetime.date(2025, 2, 1),
        datetime.date(2025, 2, 2),
        datetime.date(2025, 2, 3),
        datetime.date(2025, 2, 4),
    ]
    deals = [
        won_deal(p, closed_on=d, line=cloud, customer=f"C{i}")
        for i, (p, d) in enumerate(zip([partner, other_partner, partner, other_partner], days, strict=True))
    ]

    # Calculated in reverse order of closing: the budget still goes by date.
    for deal in reversed(deals):
        services.calculate_deal(deal_id=deal.pk, as_of=datetime.date(2025, 2, 10))

    paid = dict(LedgerEntry.objects.values_list("source_id", "amount"))
    assert paid == {
        str(deals[0].pk): Decimal("500.00"),
        str(deals[1].pk): Decimal("500.00"),
        str(deals[2].pk): Decimal("200.00"),
    }
    assert sum(paid.values()) == Decimal("1200.00")
    assert LedgerEntry.objects.get(source_id=str(deals[2].pk)).basis["capped"] is True


def test_a_backdated_deal_takes_its_place_in_the_spif_queue(partner, other_partner, program, cloud):
    spif_rule(program, amount="500", budget="1000")
    late = won_deal(other_partner, closed_on=datetime.date(2025, 2, 5), line=cloud, customer="Late")
    later = won_deal(partner, closed_on=datetime.date(2025, 2, 6), line=cloud, customer="Later")
    services.calculate(as_of=datetime.date(2025, 2, 10))
    early = won_deal(partner, closed_on=datetime.date(2025, 2, 1), line=cloud, customer="Early")

    services.calculate_deal(deal_id=early.pk, as_of=datetime.date(2025, 2, 10))

    nets: dict[str, Decimal] = {}
    for source_id, amount in LedgerEntry.objects.values_list("source_id", "amount"):
        nets[source_id] = nets.get(source_id, Decimal(0)) + amount
    assert nets == {str(early.pk): Decimal(500), str(late.pk): Decimal(500), str(later.pk): Decimal(0)}
    assert sum(nets.values()) == Decimal(1000)


def test_a_first_deal_in_a_new_product_line_earns_a_spif(partner, program, cloud, security):
    spif_rule(program, trigger=SpifTrigger.FIRST_DEAL_IN_LINE, amount="750")
    sell(partner, "100.00", datetime.date(2024, 5, 1), product_line=cloud)  # already sells cloud
    repeat = won_deal(partner, closed_on=datetime.date(2025, 2, 1), line=cloud, customer="Repeat")
    first = won_deal(partner, closed_on=datetime.date(2025, 2, 2), line=security, customer="New line")
    second = won_deal(partner, closed_on=datetime.date(2025, 2, 3), line=security, customer="Second")

    services.calculate(as_of=datetime.date(2025, 2, 10))

    assert list(LedgerEntry.objects.values_list("source_id", "amount")) == [
        (str(first.pk), Decimal("750.00"))
    ]
    assert repeat.pk and second.pk


def test_a_certification_spif_for_one_certification_type(partner, program):
    spif_rule(
        program,
        trigger=SpifTrigger.CERTIFICATION,
        amount="250",
        certification_type=CertificationTypeFactory(code="security-specialist"),
    )
    person = PersonFactory(partner=partner)
    wanted = CertificationFactory(
        person=person,
        certification_type=CertificationTypeFactory(code="security-specialist"),
        issued_on=datetime.date(2025, 3, 1),
    )
    CertificationFactory(
        person=person,
        certification_type=CertificationTypeFactory(code="sales-engineer"),
        issued_on=datetime.date(2025, 3, 1),
    )
    CertificationFactory(
        person=person,
        certification_type=CertificationTypeFactory(code="security-specialist"),
        issued_on=datetime.date(2025, 7, 1),
    )

    services.calculate(as_of=datetime.date(2025, 7, 10))

    entry = LedgerEntry.objects.get()
    assert (entry.source_type, entry.source_id, entry.amount) == (
        "certification",
        str(wanted.pk),
        Decimal("250.00"),
    )
    assert entry.description.startswith("Security Specialist – Sam ")


def test_activities_earn_points_and_points_buy_rewards(partner, partner_admin, program):
    training = ActivityTypeFactory(code="training")
    webinar = ActivityTypeFactory(code="webinar")
    rule = points_rule(program, multiplier="1.5", rewards=[("Training voucher", 50, "250.00")])
    rule.activity_types.set([training])
    EngagementActivityFactory(
        partner=partner, activity_type=training, points=21, occurred_on=datetime.date(2025, 2, 1)
    )
    EngagementActivityFactory(
        partner=partner, activity_type=training, points=20, occurred_on=datetime.date(2025, 2, 2)
    )
    EngagementActivityFactory(
        partner=partner, activity_type=webinar, points=100, occurred_on=datetime.date(2025, 2, 3)
    )
    services.calculate(as_of=datetime.date(2025, 2, 10))
    # 21 × 1.5 = 31.5 → 32 points (half up), 20 × 1.5 = 30; webinars do not count.
    assert services.points_balance(partner.pk) == 62

    reward = Reward.objects.get()
    redemption = services.reward_redeem(
        actor=partner_admin, partner=partner, reward=reward, today=datetime.date(2025, 2, 11)
    )

    assert services.points_balance(partner.pk) == 12
    money = LedgerEntry.objects.get(source_type="redemption", currency="USD")
    assert (money.amount, money.source_id, money.component) == (
        Decimal("250.00"),
        str(redemption.pk),
        "reward",
    )
    with pytest.raises(ValidationError, match="has 12 points; Training voucher needs 50"):
        services.reward_redeem(
            actor=partner_admin, partner=partner, reward=reward, today=datetime.date(2025, 2, 11)
        )
    assert services.calculate(as_of=datetime.date(2025, 2, 12)).entries == 0


def test_only_the_partners_admins_redeem_its_points(partner, partner_sales, other_partner_admin, program):
    points_rule(program, rewards=[("Voucher", 1, "10.00")])
    reward = Reward.objects.get()
    for user in (partner_sales, other_partner_admin):
        with pytest.raises(PermissionDenied):
            services.reward_redeem(actor=user, partner=partner, reward=reward)
