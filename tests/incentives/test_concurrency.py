"""Concurrent calculations on PostgreSQL: threads, each with its own connection, pay a deal once."""

import datetime
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from incentives import services
from incentives.models import LedgerEntry
from incentives.reconcile import reconcile
from incentives.services import calculation
from tests.factories import PartnerFactory, ProductLineFactory, ProgramFactory, TierFactory
from tests.incentives.helpers import commission_rule, margin_rule, set_tier, spif_rule, won_deal

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite's in-memory test database refuses a second writer outright; CI runs this on PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]
CLOSE = datetime.date(2025, 2, 10)
AS_OF = datetime.date(2025, 2, 20)


def world():
    program = ProgramFactory()
    gold = TierFactory(program=program, name="Gold", rank=3)
    line = ProductLineFactory(code="cloud")
    margin_rule(program, {gold: "15"})
    commission_rule(program, paid_on_signing_percent=Decimal(50), activation_days=90)
    spif_rule(program, amount="500", budget="1000")
    partners = [PartnerFactory(name=f"Partner {i}") for i in range(3)]
    for partner in partners:
        set_tier(partner, gold, datetime.date(2024, 1, 1))
    return partners, line


def in_threads(count: int, target) -> list:
    results: list = []
    errors: list = []

    def run() -> None:
        try:
            results.append(target())
        except Exception as exc:  # reported below, with the thread's traceback in the message
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == count
    return results


def test_two_calculators_on_the_same_deal_write_one_set_of_entries(monkeypatch):
    partners, line = world()
    deal = won_deal(partners[0], "10000.00", closed_on=CLOSE, line=line)
    # Both calculators read the empty ledger before either writes: a real race, not a queue.
    barrier = threading.Barrier(2, timeout=30)
    first_call = threading.local()
    real_settle = calculation.settle

    def settle_together(plan, **kwargs):
        if not getattr(first_call, "done", False):
            first_call.done = True
            barrier.wait()
        return real_settle(plan, **kwargs)

    monkeypatch.setattr(calculation, "settle", settle_together)

    summaries = in_threads(2, lambda: services.calculate_deal(deal_id=deal.pk, as_of=AS_OF))

    keys = Counter(LedgerEntry.objects.values_list("rule_id", "component", "revision"))
    assert len(keys) == 4 and set(keys.values()) == {1}  # margin, signing, held, SPIF: once each
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [
        Decimal("500.00"),  # the SPIF
        Decimal("1000.00"),  # commission held until activation
        Decimal("1000.00"),  # commission paid on signing
        Decimal("1500.00"),  # the Gold margin
    ]
    assert sorted(summary.entries for summary in summaries) == [0, 4]
    assert sum(summary.retries for summary in summaries) >= 1  # the loser hit the unique key
    assert reconcile(as_of=AS_OF).ok


def test_four_full_runs_at_once_pay_every_deal_once_and_keep_the_spif_within_budget():
    partners, line = world()
    for number in range(6):
        won_deal(
            partners[number % 3],
            "1000.00",
            closed_on=CLOSE + datetime.timedelta(days=number % 3),
            line=line,
            customer=f"Customer {number}",
        )

    in_threads(4, lambda: services.calculate(as_of=AS_OF))

    per_key = Counter(
        LedgerEntry.objects.values_list("partner_id", "rule_id", "source_type", "source_id", "component")
    )
    assert set(per_key.values()) == {1}
    assert len(per_key) == 6 * 3 + 2  # margin, signing, held per deal; the SPIF budget pays two deals
    spif_total = sum(LedgerEntry.objects.filter(rule__kind="spif").values_list("amount", flat=True))
    assert spif_total == Decimal("1000.00")
    assert reconcile(as_of=AS_OF).ok
