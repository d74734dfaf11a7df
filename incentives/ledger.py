"""The ledger's write path: compare what the rules say with what is written, and write the difference.

For each key (partner, rule, source, component) the ledger's net (the sum of
its entries) must equal what the engine expects. When it does not, one new
entry makes it so: an *earning* when the key has no entry yet, a *reversal*
when nothing is due any more, an *adjustment* otherwise. Entries are never
changed; the new one takes the next ``revision`` of the key, and the key plus
revision is unique in the database. Two calculations racing on the same key
both try to write revision n: one wins, the other's insert fails, it re-reads
the key (now settled) and writes nothing. Running the calculation again
writes nothing at all.
"""

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from incentives import events as ledger_events
from incentives.engine import Expected, Key
from incentives.models import (
    STATE_MOVES,
    EntryState,
    EntryType,
    LedgerEntry,
    LedgerTransition,
)
from incentives.periods import quarter_of

logger = logging.getLogger(__name__)

# How many times a key is re-read and re-settled after losing a race before giving up.
MAX_ATTEMPTS = 5
UNPAID = (EntryState.ACCRUED, EntryState.PAYABLE)


@dataclass
class EntryRow:
    id: int
    amount: Decimal
    currency: str
    revision: int
    state: str
    event_on: datetime.date
    entry_type: str
    deal_id: int | None = None
    tier_id: int | None = None


@dataclass
class KeyLedger:
    entries: list[EntryRow] = field(default_factory=list)

    def nets(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for entry in self.entries:
            totals[entry.currency] += entry.amount
        return dict(totals)

    @property
    def next_revision(self) -> int:
        return max((entry.revision for entry in self.entries), default=-1) + 1

    @property
    def first(self) -> EntryRow | None:
        return min(self.entries, key=lambda entry: entry.revision) if self.entries else None

    def touches(self, start: datetime.date | None, end: datetime.date | None) -> bool:
        return any(
            (start is None or entry.event_on >= start) and (end is None or entry.event_on <= end)
            for entry in self.entries
        )


_ROW_FIELDS = (
    "id",
    "partner_id",
    "rule_id",
    "source_type",
    "source_id",
    "component",
    "amount",
    "currency",
    "revision",
    "state",
    "event_on",
    "entry_type",
    "deal_id",
    "tier_id",
)


def load_ledger(entries) -> dict[Key, KeyLedger]:
    """The entries of a queryset grouped by key, in one query."""
    result: dict[Key, KeyLedger] = defaultdict(KeyLedger)
    for row in entries.order_by().values_list(*_ROW_FIELDS).iterator(chunk_size=5000):
        (entry_id, partner_id, rule_id, source_type, source_id, component, amount, currency, revision, state,
         event_on, entry_type, deal_id, tier_id) = row  # fmt: skip
        result[Key(partner_id, rule_id, source_type, source_id, component)].entries.append(
            EntryRow(entry_id, amount, currency, revision, state, event_on, entry_type, deal_id, tier_id)
        )
    return dict(result)


def _key_filter(key: Key) -> Q:
    return Q(
        partner_id=key.partner_id,
        rule_id=key.rule_id,
        source_type=key.source_type,
        source_id=key.source_id,
        component=key.component,
    )


def corrections(expected: Expected | None, ledger: KeyLedger | None) -> list[tuple[str, Decimal]]:
    """The (currency, amount) entries that would bring the key's net to what the rules say."""
    nets = ledger.nets() if ledger else {}
    target_currency = expected.currency if expected else None
    target = expected.amount if expected else Decimal(0)
    result = [
        (currency, -net) for currency, net in sorted(nets.items()) if currency != target_currency and net
    ]
    if target_currency is not None:
        difference = target - nets.get(target_currency, Decimal(0))
        if difference:
            result.append((target_currency, difference))
    return result


@dataclass
class WriteSummary:
    keys: int = 0
    earnings: int = 0
    adjustments: int = 0
    reversals: int = 0
    retries: int = 0
    written_ids: list[int] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return self.earnings + self.adjustments + self.reversals

    def add(self, other: "WriteSummary") -> None:
        self.keys += other.keys
        self.earnings += other.earnings
        self.adjustments += other.adjustments
        self.reversals += other.reversals
        self.retries += other.retries
        self.written_ids += other.written_ids


class PeriodAssigner:
    """The statement quarter of a new entry: its fact's quarter, or the current one if that is closed.

    A closed quarter's statement is final; what arrives late (a backdated
    deal, a correction) appears in the quarter it is written in. The quarter
    being closed still takes its own rebates and late facts.
    """

    def __init__(self, closed_codes: Iterable[str], as_of: datetime.date, closing: str | None = None):
        self.closed = set(closed_codes) - ({closing} if closing else set())
        self.current = quarter_of(as_of).code

    def __call__(self, event_on: datetime.date) -> str:
        code = quarter_of(event_on).code
        return self.current if code in self.closed else code


# Brand-new keys are inserted this many at a time.
BULK_SIZE = 1000


def settle(
    plan: dict[Key, tuple[Expected | None, KeyLedger | None]],
    *,
    assign_period: PeriodAssigner,
    actor=None,
) -> WriteSummary:
    """Write the entries that bring every key of the plan to what the rules say.

    Keys already settled cost nothing. Keys with no entry yet (plain earnings,
    the bulk of a first run) are inserted a thousand at a time; if any of them
    was written meanwhile by another calculation, that batch falls back to the
    key-by-key path, which re-reads a key after losing a race on it.
    """
    summary = WriteSummary(keys=len(plan))
    due = [key for key in sorted(plan) if corrections(*plan[key])]
    fresh = [key for key in due if plan[key][1] is None]
    rest = [key for key in due if plan[key][1] is not None]
    for start in range(0, len(fresh), BULK_SIZE):
        batch = fresh[start : start + BULK_SIZE]
        rows = [row for key in batch for row in _new_rows(key, plan[key][0], None, assign_period, actor)]
        try:
            with transaction.atomic():
                created = LedgerEntry.objects.bulk_create([entry for entry, _ in rows])
                ledger_events.ledger_entries_created(created)
        except IntegrityError:
            rest.extend(batch)
            continue
        summary.earnings += len(created)
        summary.written_ids += [entry.id for entry in created if entry.id is not None]
    for key in sorted(rest):
        _settle_one(key, plan[key], assign_period, actor, summary)
    return summary


def _settle_one(
    key: Key,
    planned: tuple[Expected | None, KeyLedger | None],
    assign_period: PeriodAssigner,
    actor,
    summary: WriteSummary,
) -> None:
    expected, ledger = planned
    for attempt in range(MAX_ATTEMPTS):
        written = WriteSummary()
        try:
            with transaction.atomic():
                _settle_key(key, expected, ledger, assign_period, actor, written)
            summary.add(written)
            return
        except IntegrityError:
            # Another calculation wrote this key's next revision first: read
            # what it wrote and settle again (usually nothing is left to do).
            # If nobody did, the error is not a race: let it through.
            before = ledger.next_revision if ledger else 0
            ledger = load_ledger(LedgerEntry.objects.filter(_key_filter(key))).get(key)
            if (ledger.next_revision if ledger else 0) == before:
                raise
            summary.retries += 1
            logger.info("ledger key %s written concurrently; re-reading (attempt %s)", key, attempt + 1)
    raise RuntimeError(f"could not settle ledger key {key} after {MAX_ATTEMPTS} attempts")


def _new_rows(
    key: Key,
    expected: Expected | None,
    ledger: KeyLedger | None,
    assign_period: PeriodAssigner,
    actor,
) -> list[tuple[LedgerEntry, list[int]]]:
    """The unsaved entries that settle a key, each with the ids of the unpaid entries it cancels."""
    todo = corrections(expected, ledger)
    entries = ledger.entries if ledger else []
    revision = ledger.next_revision if ledger else 0
    first = ledger.first if ledger else None
    nets = ledger.nets() if ledger else {}
    now = timezone.now()
    nothing_due = expected is None or expected.amount == 0
    all_unpaid = bool(entries) and all(
        entry.state in UNPAID or entry.state == EntryState.REVERSED for entry in entries
    )
    event_on = expected.event_on if expected else (first.event_on if first else now.date())
    result = []
    for currency, amount in todo:
        if first is None:
            entry_type, state = EntryType.EARNING, EntryState.ACCRUED
        elif nothing_due or (expected is not None and currency != expected.currency):
            entry_type = EntryType.REVERSAL
            # A reversal of what was never paid cancels it: neither will be paid.
            state = EntryState.REVERSED if all_unpaid else EntryState.ACCRUED
        else:
            entry_type, state = EntryType.ADJUSTMENT, EntryState.ACCRUED
        in_rule_currency = expected is not None and currency == expected.currency
        basis = dict(expected.basis) if expected is not None and in_rule_currency else {}
        if first is not None:
            basis["ledger_before"] = format(nets.get(currency, Decimal(0)), "f")
            basis["rules_say"] = format(
                expected.amount if expected is not None and in_rule_currency else 0, "f"
            )
        reason = (
            expected.reason
            if expected
            else "No longer earned under the rules (the fact or its terms changed)."
        )
        if reason:
            basis["reason"] = reason
        entry = LedgerEntry(
            partner_id=key.partner_id,
            rule_id=key.rule_id,
            source_type=key.source_type,
            source_id=key.source_id,
            component=key.component,
            revision=revision,
            entry_type=entry_type,
            reverses_id=first.id if entry_type == EntryType.REVERSAL and first else None,
            amount=amount,
            currency=currency,
            event_on=event_on,
            period=assign_period(event_on),
            held_until=expected.held_until if expected else None,
            # What the rules no longer pay is reversed under the tier it was earned at,
            # so that a cost by tier nets out instead of piling up under "no tier".
            tier_id=expected.tier_id if expected else (first.tier_id if first else None),
            # A reversal keeps the link its key had (none if the deal was deleted).
            deal_id=expected.deal_id if expected else (first.deal_id if first else None),
            description=(expected.description if expected else "")[:300] or _describe(key),
            basis=basis,
            posted_at=now,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            state=state,
            state_changed_at=now,
        )
        cancels = (
            [row.id for row in entries if row.currency == currency and row.state in UNPAID]
            if state == EntryState.REVERSED
            else []
        )
        result.append((entry, cancels))
        revision += 1
    return result


def _settle_key(
    key: Key,
    expected: Expected | None,
    ledger: KeyLedger | None,
    assign_period: PeriodAssigner,
    actor,
    summary: WriteSummary,
) -> None:
    for entry, cancels in _new_rows(key, expected, ledger, assign_period, actor):
        entry.save()
        ledger_events.ledger_entries_created([entry])
        if entry.entry_type == EntryType.EARNING:
            summary.earnings += 1
        elif entry.entry_type == EntryType.REVERSAL:
            summary.reversals += 1
        else:
            summary.adjustments += 1
        summary.written_ids.append(entry.id)
        move(cancels, to_state=EntryState.REVERSED, actor=actor, reason=f"Reversed by entry {entry.id}")


def _describe(key: Key) -> str:
    return f"{key.source_type} {key.source_id}"


def move(entry_ids: Iterable[int], *, to_state: str, actor=None, reason: str = "", payout=None) -> int:
    """Move entries to ``to_state`` along an allowed path, recording each move. Returns how many moved.

    The rows are locked first, so two moves of the same entries cannot both
    record a transition; entries already elsewhere are left alone.
    """
    ids = list(entry_ids)
    if not ids:
        return 0
    now = timezone.now()
    actor = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        rows = list(
            LedgerEntry.objects.select_for_update()
            .filter(id__in=ids)
            .order_by("id")
            .values_list("id", "state")
        )
        by_state: dict[str, list[int]] = defaultdict(list)
        for entry_id, state in rows:
            if (state, to_state) in STATE_MOVES:
                by_state[state].append(entry_id)
        moved = 0
        for from_state, state_ids in by_state.items():
            changes: dict = {"state": to_state, "state_changed_at": now}
            if payout is not None:
                changes["payout"] = payout
            moved += LedgerEntry.objects.filter(id__in=state_ids, state=from_state).update(**changes)
            LedgerTransition.objects.bulk_create(
                [
                    LedgerTransition(
                        entry_id=entry_id,
                        from_state=from_state,
                        to_state=to_state,
                        at=now,
                        actor=actor,
                        reason=reason,
                    )
                    for entry_id in state_ids
                ]
            )
    return moved
