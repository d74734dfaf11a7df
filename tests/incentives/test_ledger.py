"""The ledger is append-only: entries never change or disappear, keys are unique, races pay once."""

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from incentives import services
from incentives.ledger import PeriodAssigner, move, settle
from incentives.models import EntryState, ImmutableEntryError, LedgerEntry, LedgerTransition
from tests.incentives.helpers import commission_rule, won_deal

pytestmark = pytest.mark.django_db
CLOSE = datetime.date(2025, 2, 10)
AS_OF = datetime.date(2025, 2, 20)


@pytest.fixture
def entry(partner, program, cloud):
    commission_rule(program)
    deal = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)
    return LedgerEntry.objects.get()


def test_an_entry_cannot_be_saved_again_updated_or_deleted(entry):
    entry.amount = Decimal("1.00")
    with pytest.raises(ImmutableEntryError):
        entry.save()
    with pytest.raises(ImmutableEntryError):
        entry.save(update_fields=["amount"])
    with pytest.raises(ImmutableEntryError, match="amount"):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1.00"))
    with pytest.raises(ImmutableEntryError):
        entry.delete()
    with pytest.raises(ImmutableEntryError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get().amount == Decimal("200.00")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("amount", "1"),
        ("currency", "'EUR'"),
        ("partner_id", "partner_id"),
        ("source_id", "'999'"),
        ("period", "'2030-Q1'"),
    ],
)
def test_the_database_refuses_to_change_what_an_entry_says(entry, column, value):
    if column == "partner_id":
        from tests.factories import PartnerFactory

        value = str(PartnerFactory().pk)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE incentives_ledgerentry SET {column} = {value} WHERE id = %s", [entry.pk])  # noqa: S608
    assert LedgerEntry.objects.get().amount == Decimal("200.00")


def test_the_database_lets_the_state_move(entry):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE incentives_ledgerentry SET state = 'payable' WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get().state == EntryState.PAYABLE


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no DELETE trigger (test teardown deletes rows)"
)
def test_postgresql_refuses_to_delete_an_entry(entry):
    with (
        pytest.raises(DatabaseError, match="never deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM incentives_ledgerentry WHERE id = %s", [entry.pk])


def test_a_key_and_revision_is_written_once(entry):
    duplicate = LedgerEntry(
        partner_id=entry.partner_id,
        rule_id=entry.rule_id,
        source_type=entry.source_type,
        source_id=entry.source_id,
        component=entry.component,
        revision=0,
        amount=Decimal("200.00"),
        currency="USD",
        event_on=entry.event_on,
        period=entry.period,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_states_move_forward_only_and_every_move_is_recorded(entry, superuser):
    assert move([entry.pk], to_state=EntryState.PAID, actor=superuser) == 0  # accrued cannot jump to paid
    assert move([entry.pk], to_state=EntryState.PAYABLE, actor=superuser, reason="test") == 1
    assert move([entry.pk], to_state=EntryState.PAYABLE) == 0
    assert move([entry.pk], to_state=EntryState.PAID) == 1
    assert move([entry.pk], to_state=EntryState.REVERSED) == 0
    assert move([entry.pk], to_state=EntryState.ACCRUED) == 0
    history = list(LedgerTransition.objects.order_by("id").values_list("from_state", "to_state", "actor"))
    assert history == [("accrued", "payable", superuser.pk), ("payable", "paid", None)]


def test_two_calculations_planned_together_write_one_set_of_entries(partner, program, cloud):
    """The race, step by step: both read an empty ledger, both write; the second finds the key taken."""
    commission_rule(program)
    deal = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud)
    context = services.load_context(as_of=AS_OF)
    scope = services.Scope(deal_ids=frozenset({deal.pk}))
    first_plan, _ = services.plan_partners(context, scope, None)
    second_plan, _ = services.plan_partners(context, scope, None)
    assign = PeriodAssigner(set(), AS_OF)

    first = settle(first_plan, assign_period=assign)
    second = settle(second_plan, assign_period=assign)

    assert (first.entries, second.entries, second.retries) == (1, 0, 1)
    assert list(LedgerEntry.objects.values_list("revision", "amount")) == [(0, Decimal("200.00"))]


def test_a_stale_correction_loses_to_the_one_already_written(partner, program, cloud):
    from deals.models import DealStatus

    commission_rule(program)
    deal = won_deal(partner, "1000.00", closed_on=CLOSE, line=cloud)
    services.calculate_deal(deal_id=deal.pk, as_of=AS_OF)
    deal.status = DealStatus.LOST
    deal.save()
    context = services.load_context(as_of=AS_OF)
    scope = services.Scope(deal_ids=frozenset({deal.pk}))
    plans = [services.plan_partners(context, scope, None)[0] for _ in range(2)]
    assign = PeriodAssigner(set(), AS_OF)

    written = [settle(plan, assign_period=assign).entries for plan in plans]

    assert written == [1, 0]
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0
