"""Property: whatever happens to deals, tiers and activities, and however often or partially the
calculation runs, the ledger ends up holding exactly what the rules say, never changes an entry it
wrote, and a further run writes nothing.

The expected figures are worked out here, independently of the engine, from the rules' plain
statements (percentages of deal values at the tier held on the close date, half held until
activation, a SPIF budget spent by date, marginal rebate bands, points times 1.5).
"""

import datetime
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deals.models import DealStatus, SalesRole
from gates.models import TierChange, TierChangeReason
from incentives import services
from incentives.models import BandMethod, CustomerActivation, LedgerEntry
from incentives.periods import parse_period
from incentives.reconcile import reconcile
from partners.models import EngagementActivity, Sale
from tests.factories import ActivityTypeFactory, ExchangeRateFactory, PartnerFactory
from tests.incentives.helpers import (
    commission_rule,
    margin_rule,
    points_rule,
    rebate_rule,
    spif_rule,
    won_deal,
)

pytestmark = pytest.mark.django_db

JAN_1 = datetime.date(2025, 1, 1)
EUR_IN_USD = Decimal("1.1")
CENT = Decimal("0.01")
MARGIN = {"Silver": Decimal(10), "Gold": Decimal(15)}
COMMISSION = {
    (SalesRole.VENDOR, SalesRole.VENDOR): Decimal(3),
    (SalesRole.VENDOR, SalesRole.PARTNER): Decimal(8),
    (SalesRole.PARTNER, SalesRole.VENDOR): Decimal(10),
    (SalesRole.PARTNER, SalesRole.PARTNER): Decimal(20),
}
ACTIVATION_DAYS = 30
SPIF_BONUS, SPIF_BUDGET = Decimal(100), Decimal(250)
SPIF_FROM, SPIF_TO = datetime.date(2025, 2, 1), datetime.date(2025, 3, 31)
REBATE_THRESHOLD, REBATE_PERCENT = Decimal(20000), Decimal(2)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture
def world(program, tiers, cloud):
    ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2024, 1, 1), rate=EUR_IN_USD)
    partners = [PartnerFactory(name="Alpha"), PartnerFactory(name="Beta")]
    margin_rule(program, {tiers["Silver"]: MARGIN["Silver"], tiers["Gold"]: MARGIN["Gold"]}, name="Margin")
    commission_rule(
        program,
        {roles: str(percent) for roles, percent in COMMISSION.items()},
        name="Commission",
        paid_on_signing_percent=Decimal(50),
        activation_days=ACTIVATION_DAYS,
    )
    spif_rule(
        program,
        amount=str(SPIF_BONUS),
        budget=str(SPIF_BUDGET),
        effective_from=SPIF_FROM,
        effective_to=SPIF_TO,
        name="SPIF",
    )
    rebate_rule(
        program,
        [("0", str(REBATE_THRESHOLD), "0"), (str(REBATE_THRESHOLD), None, str(REBATE_PERCENT))],
        method=BandMethod.MARGINAL,
        name="Rebate",
    )
    points_rule(program, multiplier="1.5", name="Points")
    return {
        "partners": partners,
        "tiers": tiers,
        "line": cloud,
        "activity_type": ActivityTypeFactory(code="training"),
    }


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("40000"), places=2)
# A few days of the first quarter of 2025, so that deals, tier changes and the SPIF's window meet
# on the same days often: 1 Jan, 31 Jan (the day before the SPIF), 1 Feb, 10 Feb, 1 Mar, 31 Mar.
days = st.sampled_from([0, 30, 31, 40, 59, 89])
who = st.integers(min_value=0, max_value=1)
pick = st.integers(min_value=0, max_value=50)

win = st.tuples(
    st.just("win"),
    who,
    amounts,
    st.sampled_from(["USD", "EUR"]),
    st.sampled_from(list(SalesRole)),
    st.sampled_from(list(SalesRole)),
    days,
)
tier = st.tuples(
    st.just("tier"),
    who,
    st.sampled_from(["Silver", "Gold", None]),
    st.sampled_from([-30, 0, 30, 31, 40, 59, 89]),
)
# Wins and tier changes come more often than the rest, so that they meet on the same days.
operations = st.one_of(
    win,
    win,
    win,
    tier,
    tier,
    st.tuples(st.just("lose"), pick),
    st.tuples(st.just("rewin"), pick),
    st.tuples(st.just("amount"), pick, amounts),
    st.tuples(st.just("activate"), pick, st.sampled_from([0, 29, 30, 31])),  # around the 30-day window
    st.tuples(st.just("activity"), who, st.integers(min_value=1, max_value=99), days),
    st.tuples(st.just("calculate_deal"), pick),
    st.tuples(st.just("calculate_partner"), who),
    st.tuples(st.just("calculate_all")),
    st.tuples(st.just("advance"), st.sampled_from([1, 10, 30, 60])),
    st.tuples(st.just("close_q1")),
)


class Simulation:
    def __init__(self, world):
        self.world = world
        self.deals: list = []
        self.as_of = datetime.date(2025, 1, 15)
        self.closed_q1 = False
        self.tier_changes: list[tuple[int, datetime.date, int, str | None]] = []
        self.sequence = 0
        self.written: dict[int, tuple] = {}

    def run(self, operation) -> None:
        name, *args = operation
        getattr(self, f"do_{name}")(*args)
        self.check_nothing_rewritten()

    def deal(self, index):
        return self.deals[index % len(self.deals)] if self.deals else None

    def do_win(self, index, amount, currency, sourced_by, closed_by, day):
        partner = self.world["partners"][index]
        self.deals.append(
            won_deal(
                partner,
                amount,
                currency=currency,
                sourced_by=sourced_by,
                closed_by=closed_by,
                closed_on=JAN_1 + datetime.timedelta(days=day),
                line=self.world["line"],
                customer=f"Customer {len(self.deals)}",
            )
        )

    def do_lose(self, index):
        if deal := self.deal(index):
            deal.status = DealStatus.LOST
            deal.save(update_fields=["status"])

    def do_rewin(self, index):
        if deal := self.deal(index):
            deal.status = DealStatus.WON
            deal.save(update_fields=["status"])

    def do_amount(self, index, amount):
        if deal := self.deal(index):
            Sale.objects.filter(deal=deal).update(amount=amount)

    def do_activate(self, index, after):
        if deal := self.deal(index):
            CustomerActivation.objects.update_or_create(
                deal=deal, defaults={"activated_on": deal.closed_on + datetime.timedelta(days=after)}
            )

    def do_tier(self, index, tier_name, day):
        self.sequence += 1
        partner = self.world["partners"][index]
        effective_on = JAN_1 + datetime.timedelta(days=day)
        tier = self.world["tiers"][tier_name] if tier_name else None
        TierChange.objects.create(
            partner=partner,
            program=self.world["tiers"]["Gold"].program,
            to_tier=tier,
            reason=TierChangeReason.PROMOTED,
            effective_on=effective_on,
            changed_at=timezone.now() + datetime.timedelta(seconds=self.sequence),
        )
        self.tier_changes.append((partner.pk, effective_on, self.sequence, tier_name))

    def do_activity(self, index, points, day):
        EngagementActivity.objects.create(
            partner=self.world["partners"][index],
            activity_type=self.world["activity_type"],
            points=points,
            occurred_on=JAN_1 + datetime.timedelta(days=day),
        )

    def do_calculate_deal(self, index):
        if deal := self.deal(index):
            services.calculate_deal(deal_id=deal.pk, as_of=self.as_of)

    def do_calculate_partner(self, index):
        partner = self.world["partners"][index]
        services.calculate(scope=services.Scope(partner_ids=frozenset({partner.pk})), as_of=self.as_of)

    def do_calculate_all(self):
        services.calculate(as_of=self.as_of)

    def do_advance(self, days_ahead):
        self.as_of += datetime.timedelta(days=days_ahead)

    def do_close_q1(self):
        self.as_of = max(self.as_of, datetime.date(2025, 4, 2))
        services.period_close(period=parse_period("2025-Q1"), as_of=self.as_of)
        self.closed_q1 = True

    def check_nothing_rewritten(self):
        for row in LedgerEntry.objects.values_list(
            "id",
            "partner_id",
            "rule_id",
            "source_id",
            "component",
            "revision",
            "amount",
            "currency",
            "event_on",
        ):
            if row[0] in self.written:
                assert self.written[row[0]] == row, "a ledger entry changed"
            self.written[row[0]] = row
        assert len(self.written) == LedgerEntry.objects.count(), "a ledger entry disappeared"

    # --- what the rules say, worked out by hand -------------------------------------------

    def tier_on(self, partner_id, day):
        held = [
            (effective_on, sequence, name)
            for pid, effective_on, sequence, name in self.tier_changes
            if pid == partner_id and effective_on <= day
        ]
        return max(held)[2] if held else None

    def expected(self) -> dict[tuple[int, str, str], Decimal]:
        totals: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
        spif_queue = []
        sales_q1: dict[int, Decimal] = defaultdict(Decimal)
        for deal in self.deals:
            deal.refresh_from_db()
            sale = Sale.objects.get(deal=deal)
            value = sale.amount * (EUR_IN_USD if sale.currency == "EUR" else 1)
            sales_q1[deal.partner_id] += value
            if deal.status != DealStatus.WON:
                continue
            tier = self.tier_on(deal.partner_id, deal.closed_on)
            if tier in MARGIN:
                totals[(deal.partner_id, "Margin", "USD")] += cents(value * MARGIN[tier] / 100)
            commission = value * COMMISSION[(deal.sourced_by, deal.closed_by)] / 100
            whole, signing = cents(commission), cents(commission / 2)
            deadline = deal.closed_on + datetime.timedelta(days=ACTIVATION_DAYS)
            activation = CustomerActivation.objects.filter(deal=deal).first()
            in_time = activation is not None and activation.activated_on <= deadline
            keeps_held = in_time or self.as_of <= deadline
            totals[(deal.partner_id, "Commission", "USD")] += whole if keeps_held else signing
            if SPIF_FROM <= deal.closed_on <= SPIF_TO:
                spif_queue.append((deal.closed_on, deal.pk, deal.partner_id))
        remaining = SPIF_BUDGET
        for _, _, partner_id in sorted(spif_queue):
            paid = min(SPIF_BONUS, remaining)
            remaining -= paid
            totals[(partner_id, "SPIF", "USD")] += paid
        if self.closed_q1:
            for partner_id, volume in sales_q1.items():
                if volume > REBATE_THRESHOLD:
                    totals[(partner_id, "Rebate", "USD")] += cents(
                        (volume - REBATE_THRESHOLD) * REBATE_PERCENT / 100
                    )
        for partner_id, points in EngagementActivity.objects.values_list("partner_id", "points"):
            totals[(partner_id, "Points", "PTS")] += (Decimal(points) * Decimal("1.5")).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        return {key: amount for key, amount in totals.items() if amount}

    def ledger(self) -> dict[tuple[int, str, str], Decimal]:
        totals: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
        for partner_id, rule, currency, amount in LedgerEntry.objects.values_list(
            "partner_id", "rule__name", "currency", "amount"
        ):
            totals[(partner_id, rule, currency)] += amount
        return {key: amount for key, amount in totals.items() if amount}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=2, max_size=16))
# A promotion effective on the close date counts for the deal.
@example(steps=[("tier", 0, "Gold", 40), ("win", 0, Decimal("1000.00"), "USD", "partner", "partner", 40)])
# The SPIF's budget goes by close date: the third deal gets what is left, a fourth nothing.
@example(
    steps=[
        ("win", 1, Decimal("10.00"), "USD", "vendor", "vendor", 89),
        ("win", 0, Decimal("10.00"), "USD", "vendor", "vendor", 31),
        ("win", 1, Decimal("10.00"), "USD", "vendor", "vendor", 40),
        ("win", 0, Decimal("10.00"), "USD", "vendor", "vendor", 59),
        ("calculate_deal", 0),
    ]
)
# Activation on the last day of the window keeps the held half; the day after forfeits it.
@example(
    steps=[
        ("win", 0, Decimal("1000.00"), "USD", "partner", "partner", 0),
        ("win", 1, Decimal("1000.00"), "EUR", "vendor", "partner", 0),
        ("calculate_all",),
        ("activate", 0, 30),
        ("activate", 1, 31),
        ("advance", 60),
    ]
)
def test_the_ledger_always_adds_up_to_what_the_rules_say(world, steps):
    with transaction.atomic():
        simulation = Simulation(world)
        for step in steps:
            simulation.run(step)

        services.calculate(as_of=simulation.as_of)
        simulation.check_nothing_rewritten()

        assert simulation.ledger() == simulation.expected()
        assert services.calculate(as_of=simulation.as_of).entries == 0
        report = reconcile(as_of=simulation.as_of)
        assert report.ok, [difference.as_dict() for difference in report.differences]
        assert report.entries == LedgerEntry.objects.count()
        transaction.set_rollback(True)
