"""Split payouts held until customer activation, period close, release, payouts."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from incentives import services
from incentives.models import (
    Component,
    CustomerActivation,
    EntryState,
    EntryType,
    IncentivePeriod,
    LedgerEntry,
    Payout,
)
from incentives.periods import parse_period
from tests.incentives.helpers import commission_rule, won_deal

pytestmark = pytest.mark.django_db
CLOSE = datetime.date(2025, 2, 10)
DEADLINE = CLOSE + datetime.timedelta(days=90)  # 11 May 2025


@pytest.fixture
def split_rule(program):
    # 20 % on a deal the partner ran end to end, half on signing, half on activation within 90 days.
    return commission_rule(program, paid_on_signing_percent=Decimal(50), activation_days=90)


def by_component(deal) -> dict[str, Decimal]:
    nets: dict[str, Decimal] = {}
    for component, amount in LedgerEntry.objects.filter(source_id=str(deal.pk)).values_list(
        "component", "amount"
    ):
        nets[component] = nets.get(component, Decimal(0)) + amount
    return nets


def activate(deal, day):
    return CustomerActivation.objects.create(deal=deal, activated_on=day)


def test_half_is_paid_on_signing_and_half_held_until_the_deadline(partner, split_rule, cloud):
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)

    services.calculate_deal(deal_id=deal.pk, as_of=CLOSE)

    held = LedgerEntry.objects.get(component=Component.HELD)
    assert by_component(deal) == {"signing": Decimal("1000.00"), "held": Decimal("1000.00")}
    assert held.held_until == DEADLINE and held.basis["activation_deadline"] == "2025-05-11"


def test_split_parts_always_add_up_to_the_rounded_whole(partner, program, cloud):
    commission_rule(program, paid_on_signing_percent=Decimal("33.333"), activation_days=30)
    deal = won_deal(partner, "100.01", closed_on=CLOSE, line=cloud)

    services.calculate_deal(deal_id=deal.pk, as_of=CLOSE)

    # 20 % of 100.01 = 20.002 → 20.00; signing 33.333 % of 20.002 = 6.667 → 6.67; held 13.33.
    assert by_component(deal) == {"signing": Decimal("6.67"), "held": Decimal("13.33")}


def test_activation_on_the_last_day_of_the_window_releases_the_held_part(partner, split_rule, cloud):
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=CLOSE)
    activate(deal, DEADLINE)

    services.calculate_deal(deal_id=deal.pk, as_of=DEADLINE + datetime.timedelta(days=30))
    services.forfeit_due(as_of=DEADLINE + datetime.timedelta(days=30))

    assert by_component(deal) == {"signing": Decimal("1000.00"), "held": Decimal("1000.00")}
    assert not LedgerEntry.objects.filter(entry_type=EntryType.REVERSAL).exists()


def test_activation_the_day_after_the_window_forfeits_the_held_part(partner, split_rule, cloud):
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=CLOSE)
    activate(deal, DEADLINE + datetime.timedelta(days=1))

    summary = services.forfeit_due(as_of=DEADLINE + datetime.timedelta(days=1))

    assert summary.reversals == 1
    assert by_component(deal) == {"signing": Decimal("1000.00"), "held": Decimal("0")}
    reversal = LedgerEntry.objects.get(entry_type=EntryType.REVERSAL)
    assert reversal.basis["reason"] == "Forfeited: the customer did not activate by 11 May 2025."
    assert set(LedgerEntry.objects.filter(component=Component.HELD).values_list("state", flat=True)) == {
        EntryState.REVERSED
    }


def test_nothing_is_forfeited_on_the_deadline_itself(partner, split_rule, cloud):
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=CLOSE)

    assert services.forfeit_due(as_of=DEADLINE).entries == 0
    assert services.forfeit_due(as_of=DEADLINE + datetime.timedelta(days=1)).reversals == 1
    assert services.forfeit_due(as_of=DEADLINE + datetime.timedelta(days=2)).entries == 0


def test_closing_a_quarter_makes_its_entries_payable_but_keeps_held_parts(partner, split_rule, cloud):
    deal = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=CLOSE)

    result = services.period_close(period=parse_period("2025-Q1"), as_of=datetime.date(2025, 4, 2))

    assert result.closed_now and result.released == 1
    states = dict(LedgerEntry.objects.values_list("component", "state"))
    assert states == {"signing": EntryState.PAYABLE, "held": EntryState.ACCRUED}
    assert IncentivePeriod.objects.get(code="2025-Q1").is_closed

    # The customer activates in time: the held part becomes payable too.
    activate(deal, datetime.date(2025, 4, 20))
    assert services.release_payable() == 1
    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {EntryState.PAYABLE}


def test_closing_twice_changes_nothing_and_an_open_quarter_cannot_close(partner, split_rule, cloud):
    won_deal(partner, closed_on=CLOSE, line=cloud)
    services.period_close(period=parse_period("2025-Q1"), as_of=datetime.date(2025, 4, 2))
    count = LedgerEntry.objects.count()

    again = services.period_close(period=parse_period("2025-Q1"), as_of=datetime.date(2025, 4, 3))

    assert not again.closed_now and again.calculation.entries == 0 and again.released == 0
    assert LedgerEntry.objects.count() == count
    with pytest.raises(ValidationError, match="runs until 30 Jun 2025"):
        services.period_close(period=parse_period("2025-Q2"), as_of=datetime.date(2025, 6, 30))


def test_a_late_fact_for_a_closed_quarter_lands_in_the_current_one(partner, program, cloud):
    commission_rule(program)
    services.period_close(period=parse_period("2025-Q1"), as_of=datetime.date(2025, 4, 2))
    late = won_deal(partner, "1000.00", closed_on=datetime.date(2025, 3, 28), line=cloud)

    services.calculate_deal(deal_id=late.pk, as_of=datetime.date(2025, 4, 10))

    entry = LedgerEntry.objects.get()
    assert (entry.event_on, entry.period) == (datetime.date(2025, 3, 28), "2025-Q2")


def test_a_payout_pays_everything_payable_and_nets_clawbacks(partner, program, cloud, superuser):
    commission_rule(program)
    kept = won_deal(partner, "10000.00", closed_on=CLOSE, line=cloud, customer="Kept")
    lost = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud, customer="Lost later")
    services.period_close(period=parse_period("2025-Q1"), as_of=datetime.date(2025, 4, 2))
    first = services.payout_record(actor=superuser, partner=partner, currency="USD", reference="PAY-1")
    assert first.amount == Decimal("2200.00")

    lost.status = "lost"
    lost.save()
    services.calculate_deal(deal_id=lost.pk, as_of=datetime.date(2025, 4, 10))
    clawback = LedgerEntry.objects.get(entry_type=EntryType.REVERSAL)
    assert (clawback.amount, clawback.state, clawback.period) == (Decimal("-200.00"), "accrued", "2025-Q2")

    with pytest.raises(ValidationError, match="Nothing is payable"):
        services.payout_record(actor=superuser, partner=partner, currency="USD", reference="PAY-2")
    bigger = won_deal(partner, "5000.00", closed_on=datetime.date(2025, 5, 5), line=cloud, customer="New")
    services.calculate_deal(deal_id=bigger.pk, as_of=datetime.date(2025, 5, 6))
    services.period_close(period=parse_period("2025-Q2"), as_of=datetime.date(2025, 7, 2))
    second = services.payout_record(actor=superuser, partner=partner, currency="USD", reference="PAY-2")

    assert second.amount == Decimal("800.00")  # 1,000 earned less the 200 clawed back
    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {EntryState.PAID}
    assert kept.pk and Payout.objects.count() == 2


def test_a_payout_refuses_a_negative_balance_points_and_a_reused_reference(
    partner, program, cloud, superuser
):
    commission_rule(program)
    deal = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud)
    services.period_close(period=parse_period("2025-Q1"), as_of=datetime.date(2025, 4, 2))
    services.payout_record(actor=superuser, partner=partner, currency="USD", reference="PAY-1")
    deal.status = "lost"
    deal.save()
    services.calculate_deal(deal_id=deal.pk, as_of=datetime.date(2025, 4, 10))
    services.period_close(period=parse_period("2025-Q2"), as_of=datetime.date(2025, 7, 2))

    with pytest.raises(ValidationError, match=r"payable balance in USD is -200\.00"):
        services.payout_record(actor=superuser, partner=partner, currency="USD", reference="PAY-2")
    with pytest.raises(ValidationError, match="already recorded"):
        services.payout_record(actor=superuser, partner=partner, currency="USD", reference="PAY-1")
    with pytest.raises(ValidationError, match="redeemed for rewards"):
        services.payout_record(actor=superuser, partner=partner, currency="PTS", reference="PAY-3")
