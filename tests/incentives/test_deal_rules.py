"""Margins and commissions on won deals: the tier held on the close date, conversion, rounding, corrections."""

import datetime
from decimal import Decimal

import pytest

from deals.models import DealStatus, SalesRole
from incentives import services
from incentives.models import Component, EntryState, EntryType, LedgerEntry
from partners.models import Sale
from tests.factories import ExchangeRateFactory
from tests.incentives.helpers import commission_rule, margin_rule, set_tier, won_deal

pytestmark = pytest.mark.django_db
CLOSE = datetime.date(2025, 2, 10)
AS_OF = datetime.date(2025, 2, 20)


def amounts(**filters) -> list[tuple]:
    return list(
        LedgerEntry.objects.filter(**filters)
        .order_by("id")
        .values_list("component", "entry_type", "amount", "currency", "state")
    )


def test_a_deal_is_paid_at_the_tier_held_on_its_close_date_not_today(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Silver"]: "10", tiers["Gold"]: "15"})
    set_tier(partner, tiers["Silver"], datetime.date(2024, 6, 1))
    set_tier(partner, tiers["Gold"], CLOSE + datetime.timedelta(days=1))  # promoted the day after
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)

    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    entry = LedgerEntry.objects.get()
    assert (entry.amount, entry.currency, entry.tier, entry.state) == (
        Decimal("1000.00"),
        "USD",
        tiers["Silver"],
        EntryState.ACCRUED,
    )
    assert entry.basis["tier"] == "Silver" and entry.basis["rate_percent"] == "10"
    assert entry.period == "2025-Q1" and entry.event_on == CLOSE


def test_a_tier_change_effective_on_the_close_date_applies_to_the_deal(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Silver"]: "10", tiers["Gold"]: "15"})
    set_tier(partner, tiers["Silver"], datetime.date(2024, 6, 1))
    set_tier(partner, tiers["Gold"], CLOSE)
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)

    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    assert amounts() == [("earning", "earning", Decimal("1500.00"), "USD", "accrued")]


def test_two_tier_changes_on_the_close_date_the_latest_recorded_wins(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Silver"]: "10", tiers["Gold"]: "15"})
    first = datetime.datetime(2025, 2, 10, 9, tzinfo=datetime.UTC)
    set_tier(partner, tiers["Gold"], CLOSE, changed_at=first)
    set_tier(partner, tiers["Silver"], CLOSE, changed_at=first + datetime.timedelta(hours=2))
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)

    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    assert LedgerEntry.objects.get().tier == tiers["Silver"]


def test_no_tier_on_the_close_date_earns_no_margin(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Silver"]: "10"})
    set_tier(partner, tiers["Silver"], CLOSE + datetime.timedelta(days=1))
    deal = won_deal(partner, closed_on=CLOSE, line=cloud)

    summary = services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    assert summary.entries == 0 and not LedgerEntry.objects.exists()


def test_a_product_line_rate_overrides_the_tier_default(partner, program, tiers, cloud, security):
    margin_rule(program, {tiers["Gold"]: "15", (tiers["Gold"], security): "18"})
    set_tier(partner, tiers["Gold"], datetime.date(2024, 1, 1))
    on_cloud = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud, customer="A")
    on_security = won_deal(partner, "1000.00", closed_on=CLOSE, line=security, customer="B")

    services.calculate(scope=services.Scope(deal_ids=frozenset({on_cloud.pk, on_security.pk})), as_of=AS_OF)

    assert LedgerEntry.objects.get(source_id=str(on_cloud.pk)).amount == Decimal("150.00")
    assert LedgerEntry.objects.get(source_id=str(on_security.pk)).amount == Decimal("180.00")


def test_deal_value_is_converted_at_the_close_date_rate_and_rounded_once(partner, program, tiers, cloud):
    # 1 EUR = 1.1 USD until the close date, 1.3 USD from the day after.
    ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2024, 1, 1), rate=Decimal("1.1"))
    ExchangeRateFactory(currency="EUR", valid_from=CLOSE + datetime.timedelta(days=1), rate=Decimal("1.3"))
    margin_rule(program, {tiers["Gold"]: "12.345"})
    set_tier(partner, tiers["Gold"], datetime.date(2024, 1, 1))
    deal = won_deal(partner, "1234.57", currency="EUR", closed_on=CLOSE, line=cloud)

    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    # 1234.57 EUR × 1.1 = 1358.027 USD; × 12.345 % = 167.6484331… → 167.65 (rounded once, half up).
    entry = LedgerEntry.objects.get()
    assert entry.amount == Decimal("167.65")
    assert Decimal(entry.basis["value_in_rule_currency"]) == Decimal("1358.027")


def test_running_again_writes_nothing(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Gold"]: "15"})
    set_tier(partner, tiers["Gold"], datetime.date(2024, 1, 1))
    deal = won_deal(partner, closed_on=CLOSE, line=cloud)

    first = services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)
    second = services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)
    third = services.calculate(as_of=AS_OF)

    assert (first.entries, second.entries, third.entries) == (1, 0, 0)
    assert LedgerEntry.objects.count() == 1


def test_a_deal_no_longer_won_is_reversed_and_neither_entry_is_paid(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Gold"]: "15"})
    set_tier(partner, tiers["Gold"], datetime.date(2024, 1, 1))
    deal = won_deal(partner, "2000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    deal.status = DealStatus.LOST
    deal.save()
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    assert amounts() == [
        ("earning", "earning", Decimal("300.00"), "USD", "reversed"),
        ("earning", "reversal", Decimal("-300.00"), "USD", "reversed"),
    ]
    original, reversal = LedgerEntry.objects.order_by("id")
    assert reversal.reverses == original and reversal.revision == 1
    assert original.transitions.get().to_state == EntryState.REVERSED
    # Reversed under the tier it was earned at, so that the cost by tier nets out.
    assert original.tier == reversal.tier == tiers["Gold"]


def test_a_corrected_sale_amount_is_adjusted_by_a_new_entry(partner, program, tiers, cloud):
    margin_rule(program, {tiers["Gold"]: "15"})
    set_tier(partner, tiers["Gold"], datetime.date(2024, 1, 1))
    deal = won_deal(partner, "2000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    Sale.objects.filter(deal=deal).update(amount=Decimal("2500.00"))
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    assert amounts() == [
        ("earning", "earning", Decimal("300.00"), "USD", "accrued"),
        ("earning", "adjustment", Decimal("75.00"), "USD", "accrued"),
    ]
    adjustment = LedgerEntry.objects.get(entry_type=EntryType.ADJUSTMENT)
    assert Decimal(adjustment.basis["ledger_before"]) == Decimal(300)
    assert Decimal(adjustment.basis["rules_say"]) == Decimal(375)


@pytest.mark.parametrize(
    ("sourced_by", "closed_by", "expected"),
    [
        (SalesRole.VENDOR, SalesRole.VENDOR, "300.00"),
        (SalesRole.VENDOR, SalesRole.PARTNER, "800.00"),
        (SalesRole.PARTNER, SalesRole.VENDOR, "1000.00"),
        (SalesRole.PARTNER, SalesRole.PARTNER, "2000.00"),
    ],
)
def test_commission_rewards_running_more_of_the_sales_cycle(
    partner, program, tiers, cloud, sourced_by, closed_by, expected
):
    commission_rule(program)
    deal = won_deal(
        partner, "10000.00", closed_on=CLOSE, line=cloud, sourced_by=sourced_by, closed_by=closed_by
    )

    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    entry = LedgerEntry.objects.get()
    assert entry.amount == Decimal(expected)
    assert (entry.basis["sourced_by"], entry.basis["closed_by"]) == (sourced_by, closed_by)


def test_commission_from_a_minimum_tier_only(partner, other_partner, program, tiers, cloud):
    commission_rule(program, min_tier=tiers["Gold"])
    set_tier(partner, tiers["Gold"], datetime.date(2024, 1, 1))
    set_tier(other_partner, tiers["Silver"], datetime.date(2024, 1, 1))
    ours = won_deal(partner, closed_on=CLOSE, line=cloud)
    theirs = won_deal(other_partner, closed_on=CLOSE, line=cloud)

    services.calculate(scope=services.Scope(deal_ids=frozenset({ours.pk, theirs.pk})), as_of=AS_OF)

    assert list(LedgerEntry.objects.values_list("partner", flat=True)) == [partner.pk]


def test_rules_apply_to_deals_closed_within_their_dates(partner, program, tiers, cloud):
    commission_rule(
        program, effective_from=datetime.date(2025, 2, 1), effective_to=datetime.date(2025, 2, 28)
    )
    before = won_deal(partner, closed_on=datetime.date(2025, 1, 31), line=cloud, customer="Before")
    first = won_deal(partner, closed_on=datetime.date(2025, 2, 1), line=cloud, customer="First day")
    last = won_deal(partner, closed_on=datetime.date(2025, 2, 28), line=cloud, customer="Last day")
    after = won_deal(partner, closed_on=datetime.date(2025, 3, 1), line=cloud, customer="After")

    services.calculate(
        scope=services.Scope(deal_ids=frozenset({before.pk, first.pk, last.pk, after.pk})), as_of=AS_OF
    )

    assert set(LedgerEntry.objects.values_list("source_id", flat=True)) == {str(first.pk), str(last.pk)}


def test_a_deal_moved_to_another_partner_is_reversed_for_the_first(
    partner, other_partner, program, tiers, cloud
):
    commission_rule(program)
    deal = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    deal.partner = other_partner
    deal.save()
    Sale.objects.filter(deal=deal).update(partner=other_partner)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)

    nets = {}
    for partner_id, amount in LedgerEntry.objects.values_list("partner", "amount"):
        nets[partner_id] = nets.get(partner_id, 0) + amount
    assert nets == {partner.pk: Decimal("0"), other_partner.pk: Decimal("200.00")}
    assert Component.EARNING in LedgerEntry.objects.values_list("component", flat=True)


def test_a_deleted_deal_is_reversed_and_its_entries_lose_only_the_link(partner, program, tiers, cloud):
    commission_rule(program)
    deal = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)
    deal_id = deal.pk

    deal.delete()
    summary = services.calculate(scope=services.Scope(partner_ids=frozenset({partner.pk})), as_of=AS_OF)

    assert summary.reversals == 1
    rows = list(LedgerEntry.objects.order_by("id").values_list("source_id", "deal", "amount", "state"))
    assert rows == [
        (str(deal_id), None, Decimal("200.00"), "reversed"),
        (str(deal_id), None, Decimal("-200.00"), "reversed"),
    ]
