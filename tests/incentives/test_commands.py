"""calculate_incentives and reconcile_ledger, as the finance team runs them."""

import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from incentives.models import EntryType, LedgerEntry
from tests.factories import EngagementActivityFactory
from tests.incentives.helpers import commission_rule, points_rule, won_deal

pytestmark = pytest.mark.django_db
AS_OF = "2025-03-01"


def run(name: str, *args) -> tuple[list[str], int]:
    out = StringIO()
    try:
        call_command(name, *args, "--as-of", AS_OF, stdout=out, stderr=StringIO())
        status = 0
    except SystemExit as exc:
        status = exc.code
    return out.getvalue().splitlines(), status


@pytest.fixture
def world(partner, other_partner, program, cloud):
    commission_rule(program)
    points_rule(program, multiplier="2")
    deals = [
        won_deal(partner, "1000.00", closed_on=datetime.date(2025, 2, 1), line=cloud, customer="Woodgrove"),
        won_deal(
            other_partner, "500.00", closed_on=datetime.date(2025, 2, 2), line=cloud, customer="Contoso"
        ),
    ]
    EngagementActivityFactory(partner=partner, points=20, occurred_on=datetime.date(2025, 2, 3))
    return deals


def test_the_ledger_reconciles_after_the_calculation(world):
    lines, status = run("calculate_incentives")
    assert json.loads(lines[-1])["entries"] == 3

    lines, status = run("reconcile_ledger")

    assert status == 0
    summary = json.loads(lines[-1])
    assert summary["entries"] == 3 and summary["differences"] == 0 and summary["ok"] is True
    assert summary["total"] == {"PTS": "40", "USD": "300.00"}
    assert lines[-2].startswith("3 entries over 3 keys; ledger total 40 PTS, 300.00 USD. 0 differences")


def test_a_missed_calculation_shows_as_a_difference_and_exits_1(world):
    lines, status = run("reconcile_ledger")

    assert status == 1
    differences = [line for line in lines if line.startswith("DIFFERENCE ")]
    assert len(differences) == 3
    assert any(
        line.startswith("DIFFERENCE Acme · commission rule · deal ")
        and line.endswith("earning: ledger 0.00 USD, rules say 200.00 USD (difference +200.00)")
        for line in differences
    )
    summary = json.loads(lines[-1])
    assert (summary["entries"], summary["differences"], summary["total"]) == (0, 3, {})
    assert summary["difference_total"] == {"PTS": "40", "USD": "300.00"}


def test_an_entry_written_by_hand_is_caught(world, partner):
    run("calculate_incentives")
    original = LedgerEntry.objects.get(partner=partner, currency="USD")
    LedgerEntry.objects.create(
        partner=partner,
        rule=original.rule,
        source_type=original.source_type,
        source_id=original.source_id,
        component=original.component,
        revision=1,
        entry_type=EntryType.ADJUSTMENT,
        amount=Decimal("50.00"),
        currency="USD",
        event_on=original.event_on,
        period=original.period,
    )

    lines, status = run("reconcile_ledger")

    assert status == 1
    assert [line for line in lines if line.startswith("DIFFERENCE")] == [
        f"DIFFERENCE Acme · commission rule · deal {original.source_id} · earning: ledger 250.00 USD, "
        "rules say 200.00 USD (difference -50.00)"
    ]
    # The calculation corrects it with an adjusting entry; nothing is rewritten.
    run("calculate_incentives")
    assert run("reconcile_ledger")[1] == 0
    assert LedgerEntry.objects.filter(partner=partner, currency="USD").count() == 3


def test_a_fact_that_cannot_be_valued_is_a_problem(partner, program, cloud):
    commission_rule(program)
    won_deal(partner, "1000.00", closed_on=datetime.date(2025, 2, 1), currency="CHF", line=cloud)

    lines, status = run("reconcile_ledger")

    assert status == 1
    assert any(
        line.startswith("PROBLEM Acme · commission rule · deal ") and "no CHF exchange rate" in line
        for line in lines
    )
    assert json.loads(lines[-1])["problems"] == 1


def test_calculation_for_one_partner_and_one_period(world, partner, other_partner):
    lines, _ = run("calculate_incentives", "--partner", str(partner.pk), "--period", "2025-Q1")
    assert json.loads(lines[-1])["entries"] == 2
    assert set(LedgerEntry.objects.values_list("partner", flat=True)) == {partner.pk}

    lines, _ = run("calculate_incentives", "--period", "2024-Q4")
    assert json.loads(lines[-1])["entries"] == 0

    lines, status = run("reconcile_ledger", "--partner", str(partner.pk))
    assert status == 0 and json.loads(lines[-1])["entries"] == 2


def test_the_commands_refuse_bad_arguments(world):
    with pytest.raises(CommandError, match="not a period"):
        call_command("calculate_incentives", "--period", "2025-Q5", stdout=StringIO())
    with pytest.raises(CommandError, match="No partner with id 999999"):
        call_command("calculate_incentives", "--partner", "999999", stdout=StringIO())
    with pytest.raises(CommandError, match="is not a date"):
        call_command("reconcile_ledger", "--as-of", "yesterday", stdout=StringIO())


def test_the_daily_run_closes_ended_quarters(world, settings):
    settings.PRM_INCENTIVES_CLOSE_DELAY_DAYS = 5
    out = StringIO()
    call_command("calculate_incentives", "--close-due", "--as-of", "2025-04-06", stdout=out)
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["daily"]["closed"] == ["2025-Q1"]
    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {"payable"}
