"""The events incentives record in the outbox: ledger entries written, statements closed."""

import datetime
from collections.abc import Iterable, Sequence

from django.db.models import Count

from events.outbox import NewEvent, emit_many
from incentives.models import IncentiveRule, LedgerEntry
from partners.models import Partner


def ledger_entries_created(entries: Sequence[LedgerEntry]) -> None:
    """``ledger.entry_created`` for each new entry: two reads of names and one bulk insert."""
    entries = [entry for entry in entries if entry.pk is not None]
    if not entries:
        return
    names = dict(Partner.objects.filter(pk__in={e.partner_id for e in entries}).values_list("id", "name"))
    programs = dict(
        IncentiveRule.objects.filter(pk__in={e.rule_id for e in entries}).values_list("id", "program_id")
    )
    emit_many(
        NewEvent(
            "ledger.entry_created",
            {
                "partner_id": entry.partner_id,
                "partner_name": names.get(entry.partner_id, ""),
                "entry_id": entry.pk,
                "rule_id": entry.rule_id,
                "program_id": programs.get(entry.rule_id),
                "entry_type": entry.entry_type,
                "component": entry.component,
                "amount": str(entry.amount),
                "currency": entry.currency,
                "period": entry.period,
                "event_on": entry.event_on,
                "state": entry.state,
            },
            partner_id=entry.partner_id,
            program_id=programs.get(entry.rule_id),
        )
        for entry in entries
    )


def statements_closed(period_code: str, closed_at: datetime.datetime) -> None:
    """``statement.closed`` for every partner with entries in the quarter just closed: one read."""
    rows: Iterable = (
        LedgerEntry.objects.filter(period=period_code)
        .values("partner_id", "partner__name")
        .annotate(entries=Count("id"))
        .order_by("partner_id")
    )
    emit_many(
        NewEvent(
            "statement.closed",
            {
                "partner_id": row["partner_id"],
                "partner_name": row["partner__name"],
                "period": period_code,
                "closed_at": closed_at,
                "entries": row["entries"],
            },
            partner_id=row["partner_id"],
        )
        for row in rows
    )
