"""Planning and writing one chunk of an evaluation.

``plan_chunk`` measures every leaf for a range of partners, decides every gate
and segment, moves tiers and works out benefits, and returns what would
change, writing nothing. ``write_plan`` applies it. The nightly run goes
through here for every partner, so the loop is written for speed: measures
are lists indexed by column, and a gate's measures are compared with the
stored ones as JSON text, which spares decoding every stored row every night.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from django.db import connection, models, transaction

from core.background import task
from core.bulk import insert_rows, upsert_rows
from gates import events as gate_events
from gates.engine import Measurer, compile_decider, json_list, json_token
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    GateOutcome,
    GateStatus,
    GateStatusChange,
    MeasureDigest,
    PartnerTier,
    SegmentMembership,
    TierChange,
    TierChangeReason,
)
from gates.subjects import Subjects
from gates.tiers import TierMove, TierState, next_tier_state

# Rows per INSERT where COPY is not available: large batches stall under PostgreSQL's JIT.
WRITE_BATCH = 1000
HISTORY_COLUMNS = (
    "partner_id",
    "gate_id",
    "from_status",
    "to_status",
    "measures",
    "changed_at",
    "run_id",
    "gate_version",
)
TIER_COLUMNS = (
    "partner_id",
    "program_id",
    "tier_id",
    "since",
    "earned_tier_id",
    "qualified_tier_id",
    "grace_until",
    "override_tier_id",
    "override_expires_on",
    "override_reason",
    "override_by_id",
    "updated_at",
    "grace_started_on",
)
TIER_CHANGE_COLUMNS = (
    "partner_id",
    "program_id",
    "from_tier_id",
    "to_tier_id",
    "reason",
    "effective_on",
    "changed_at",
    "note",
    "run_id",
)
GRANT_COLUMNS = ("partner_id", "benefit_id", "via_tier_id", "via_gate_id", "granted_at")
SEGMENT_COLUMNS = ("segment_id", "partner_id", "since", "segment_version")
STATUS_COLUMNS = ("partner_id", "gate_id", "status", "measures", "gate_version", "since", "updated_at")
PASSED, FAILED, BLOCKED = GateOutcome.PASSED.value, GateOutcome.FAILED.value, GateOutcome.BLOCKED.value


@dataclass(frozen=True, slots=True)
class StatusRow:
    partner_id: int
    gate_id: int
    status: str
    measures: str  # JSON text
    version: int
    status_changed: bool  # True: a new row or a new status; ``since`` moves to now
    is_new: bool  # no row yet: inserted directly (the chunk's partners are locked)


@dataclass
class ChunkPlan:
    partners: int = 0
    # Rows as tuples in the column order of the *_COLUMNS below.
    status_rows: list[StatusRow] = field(default_factory=list)
    history: list[tuple] = field(default_factory=list)
    tier_rows: list[tuple] = field(default_factory=list)
    new_tier_rows: list[tuple] = field(default_factory=list)
    tier_changes: list[tuple] = field(default_factory=list)
    grants_new: list[tuple] = field(default_factory=list)
    grants_revoked: list[int] = field(default_factory=list)
    segment_joins: list[tuple] = field(default_factory=list)
    segment_leaves: list[tuple[int, int]] = field(default_factory=list)
    # Members still inside, now decided under another version of the segment: (segment, partner, version).
    segment_revised: list[tuple[int, int, int]] = field(default_factory=list)
    digests: list[tuple] = field(default_factory=list)
    events: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    # The tier each partner holds per program after this plan: (partner, program) -> tier.
    held_tiers: dict[tuple[int, int], int | None] = field(default_factory=dict)
    # What was stored before this plan: (partner, gate) -> (status, gate version).
    stored: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)

    @property
    def statuses_changed(self) -> int:
        return len(self.history)

    @property
    def tiers_changed(self) -> int:
        return len(self.tier_changes)


def _status_sql(*names: str) -> list[str]:
    """The quoted table ("db_table") and columns of ``GateStatus``, named from its ``_meta``."""
    quoted = []
    for name in names:
        if name == "db_table":
            quoted.append(connection.ops.quote_name(GateStatus._meta.db_table))
            continue
        field = GateStatus._meta.get_field(name)
        assert isinstance(field, models.Field) and field.column
        quoted.append(connection.ops.quote_name(field.column))
    return quoted


def _stored_statuses(
    first_id: int, last_id: int, only: Sequence[int] | None
) -> dict[tuple[int, int], tuple[str, int]]:
    """(partner, gate) -> (status, gate version) for a range of partners (or only some of them)."""
    table, partner, gate, status, version = _status_sql(
        "db_table", "partner", "gate", "status", "gate_version"
    )
    condition, params = f"{partner} >= %s AND {partner} <= %s", [first_id, last_id]
    if only is not None:
        condition = f"{partner} IN ({', '.join(['%s'] * len(only))})"
        params = list(only)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {partner}, {gate}, {status}, {version} FROM {table} WHERE {condition}", params
        )
        return {(row[0], row[1]): (row[2], row[3]) for row in cursor.fetchall()}


def _stored_measures(partner_ids: list[int]) -> dict[tuple[int, int], str]:
    """(partner, gate) -> measures as JSON text, read without decoding, for the partners being decided."""
    table, partner, gate, measures = _status_sql("db_table", "partner", "gate", "measures")
    if connection.vendor == "postgresql":
        measures += "::text"
    found: dict[tuple[int, int], str] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(partner_ids), WRITE_BATCH):
            batch = partner_ids[start : start + WRITE_BATCH]
            # The range lets the planner walk the index even on stale statistics.
            cursor.execute(
                f"SELECT {partner}, {gate}, {measures} FROM {table} "
                f"WHERE {partner} >= %s AND {partner} <= %s AND {partner} IN ({', '.join(['%s'] * len(batch))})",
                [min(batch), max(batch), *batch],
            )
            found.update({(row[0], row[1]): row[2] for row in cursor.fetchall()})
    return found


def _same_json(stored: str, rendered: str) -> bool:
    return stored == rendered or json.loads(stored) == json.loads(rendered)


def plan_chunk(
    subjects: Subjects,
    measurer: Measurer,
    first_id: int,
    last_id: int,
    now,
    *,
    sources: dict[str, dict[int, tuple]] | None = None,
    skip: set[int] | frozenset[int] = frozenset(),
    use_digests: bool = False,
    only: Sequence[int] | None = None,
    mark_evaluated: bool = False,
    outcomes_only: bool = False,
) -> ChunkPlan:
    """Decide everything for partners with ids in [first_id, last_id] (but ``skip``), writing nothing.

    With ``use_digests`` (evaluations of every gate in effect), a partner
    whose inputs have the digest stored at its last evaluation keeps its gate
    results without deciding them again; tiers, grace and benefits are still
    checked for everyone, since they move with the calendar too.

    ``only`` narrows the range to some partners (on-change evaluations).
    ``mark_evaluated`` records every evaluated partner's digest with the time,
    so that a nightly run that read the facts earlier leaves them alone.

    ``outcomes_only`` (a simulation, never written) decides statuses, tiers and
    benefits alone: a status row only where the status or the version would
    change, without its measures, and no history. It spares reading and
    rendering every partner's measures, which only a write compares.
    """
    chunk = measurer.measure_chunk(first_id, last_id, sources, subjects.signature, only, digests=use_digests)
    for partner_id in skip:
        chunk.inputs.pop(partner_id, None)
        chunk.digests.pop(partner_id, None)
    partner_ids = chunk.partner_ids()
    plan = ChunkPlan(partners=len(partner_ids))
    if not partner_ids:
        return plan
    stored = plan.stored = _stored_statuses(first_id, last_id, only)
    passed: dict[int, set[int]] = defaultdict(set)
    results_held: dict[int, int] = defaultdict(int)
    evaluated_gates = {gate.id for gate in subjects.gates}
    for (partner_id, gate_id), (status, _version) in stored.items():
        if status == PASSED:
            passed[partner_id].add(gate_id)
        if gate_id in evaluated_gates:
            results_held[partner_id] += 1
    known = (
        dict(
            MeasureDigest.objects.filter(**_in_range(first_id, last_id, only)).values_list(
                "partner_id", "digest"
            )
        )
        if use_digests
        else {}
    )

    # Per gate: its measures picked from a partner's row, and its tree compiled over the row.
    gates = [
        (
            gate,
            itemgetter(*indices) if len(indices) > 1 else (lambda row, i=indices[0]: (row[i],)),
            compile_decider(gate.criteria, indices),
        )
        for gate, indices in ((gate, measurer.keys_for(gate.criteria)) for gate in subjects.gates)
    ]
    changed: list[int] = []
    for partner_id in partner_ids:
        digest = chunk.digests[partner_id] if use_digests else ""
        if mark_evaluated or (use_digests and known.get(partner_id) != digest):
            plan.digests.append((partner_id, digest, now))
        if use_digests and known.get(partner_id) == digest and results_held[partner_id] == len(gates):
            continue  # same inputs as when its results were decided
        changed.append(partner_id)
    decide = _decide_outcomes if outcomes_only else _decide_recording
    decide(plan, gates, chunk, changed, stored, passed, now)
    in_range = _in_range(first_id, last_id, only)
    _plan_tiers(subjects, plan, partner_ids, passed, in_range, now)
    _plan_benefits(subjects, plan, partner_ids, passed, in_range, now)
    # Segments move with the measures, or with a tier this plan moved.
    moved_tiers = {row[0] for row in plan.tier_rows + plan.new_tier_rows}
    segment_partners = changed if not use_digests else sorted(set(changed) | moved_tiers)
    _plan_segments(subjects, plan, chunk, segment_partners, measurer, in_range, now, full=not use_digests)
    return plan


def _status(gate, meets: bool, partner_passed: set[int]) -> str:
    """A gate's outcome for a partner whose measures ``meets`` its tree, keeping ``partner_passed``
    (the gates it passes so far) up to date."""
    if gate.prerequisites and not all(p in partner_passed for p in gate.prerequisites):
        status = BLOCKED
    else:
        status = PASSED if meets else FAILED
    if status == PASSED:
        partner_passed.add(gate.id)
    else:
        partner_passed.discard(gate.id)
    return status


def _decide_recording(plan: ChunkPlan, gates, chunk, changed, stored, passed, now) -> None:
    """``plan_chunk``'s deciding for a write: a row where the status, version or measures moved, and history."""
    stored_measures = _stored_measures(changed)
    for partner_id in changed:
        values = chunk.values(partner_id)
        partner_passed = passed[partner_id]
        tokens = [json_token(value) for value in values]
        for gate, pick, decide in gates:
            status = _status(gate, decide(values), partner_passed)
            rendered = json_list(pick(tokens))
            old = stored.get((partner_id, gate.id))
            if (
                old is not None
                and old[0] == status
                and old[1] == gate.version
                and _same_json(stored_measures[(partner_id, gate.id)], rendered)
            ):
                continue
            status_changed = old is None or old[0] != status
            plan.status_rows.append(
                StatusRow(partner_id, gate.id, status, rendered, gate.version, status_changed, old is None)
            )
            # A first result is history only when it is a pass: "not yet" is
            # where every partner starts.
            if status_changed and (old is not None or status == PASSED):
                # The run's id is filled in when the plan is written.
                plan.history.append(
                    (partner_id, gate.id, old[0] if old else "", status, rendered, now, gate.version)
                )
                if status == PASSED:
                    plan.events[partner_id].append(f"Passed the gate “{gate.name}”.")
                elif old is not None and old[0] == PASSED:
                    plan.events[partner_id].append(f"No longer meets the gate “{gate.name}”.")


def _decide_outcomes(plan: ChunkPlan, gates, chunk, partner_ids, stored, passed, now) -> None:
    """``plan_chunk``'s deciding without the measures: a row per status or version that would change."""
    rows = plan.status_rows
    for partner_id in partner_ids:
        values = chunk.values(partner_id)
        partner_passed = passed[partner_id]
        for gate, _pick, decide in gates:
            status = _status(gate, decide(values), partner_passed)
            old = stored.get((partner_id, gate.id))
            if old is None or old[0] != status or old[1] != gate.version:
                changed = old is None or old[0] != status
                rows.append(StatusRow(partner_id, gate.id, status, "", gate.version, changed, old is None))


def _in_range(first_id: int, last_id: int, only: Sequence[int] | None = None) -> dict[str, Any]:
    if only is not None:
        return {"partner_id__in": list(only)}
    return {"partner_id__gte": first_id, "partner_id__lte": last_id}


_TIER_FIELDS = (
    "id",
    "partner_id",
    "program_id",
    "tier_id",
    "since",
    "earned_tier_id",
    "qualified_tier_id",
    "grace_until",
    "override_tier_id",
    "override_expires_on",
    "override_reason",
    "override_by_id",
    "grace_started_on",
)


def _plan_tiers(subjects: Subjects, plan: ChunkPlan, partner_ids, passed, in_range, now) -> None:
    as_of = subjects.as_of
    current_rows = {
        (row[1], row[2]): row for row in PartnerTier.objects.filter(**in_range).values_list(*_TIER_FIELDS)
    }
    ranks = {tier_id: tier.rank for tier_id, tier in subjects.tiers.items()}
    grace = {tier_id: tier.grace_days for tier_id, tier in subjects.tiers.items()}
    ladders = {
        program_id: sorted(tier_gates, key=lambda item: item[0].rank, reverse=True)
        for program_id, tier_gates in subjects.tier_gates.items()
    }
    programs = set(ladders) | {program_id for _, program_id in current_rows}
    for partner_id in partner_ids:
        partner_passed = passed[partner_id]
        for program_id in programs:
            qualified = next(
                (tier.id for tier, gate_id in ladders.get(program_id, ()) if gate_id in partner_passed), None
            )
            row = current_rows.get((partner_id, program_id))
            if row is None and qualified is None:
                continue
            if (
                row is not None
                and row[6] == qualified  # qualifies for what it qualified for
                and row[7] is None  # no grace running
                and row[8] is None  # no override
                and row[5] == row[3]  # holds what it earned
                and (ranks.get(qualified, 0) if qualified else 0) == (ranks.get(row[5], 0) if row[5] else 0)
            ):
                plan.held_tiers[(partner_id, program_id)] = row[3]
                continue
            current = (
                TierState(row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[12])
                if row is not None
                else None
            )
            state, moves = next_tier_state(
                current, qualified_tier_id=qualified, ranks=ranks, grace_days=grace, as_of=as_of
            )
            if state is None:
                continue
            plan.held_tiers[(partner_id, program_id)] = state.tier_id
            if state == current:
                continue
            overridden = row is not None and state.override_tier_id is not None
            (plan.tier_rows if row is not None else plan.new_tier_rows).append(
                (
                    partner_id,
                    program_id,
                    state.tier_id,
                    state.since,
                    state.earned_tier_id,
                    state.qualified_tier_id,
                    state.grace_until,
                    state.override_tier_id,
                    state.override_expires_on,
                    row[10] if overridden and row is not None else "",
                    row[11] if overridden and row is not None else None,
                    now,
                    state.grace_started_on,
                )
            )
            for move in moves:
                plan.tier_changes.append(
                    (
                        partner_id,
                        program_id,
                        move.from_tier_id,
                        move.to_tier_id,
                        move.reason,
                        as_of,
                        now,
                        move.note,
                    )
                )
                plan.events[partner_id].append(describe_move(subjects, move))


def _tier_name(subjects: Subjects, tier_id: int | None) -> str:
    return subjects.tiers[tier_id].name if tier_id in subjects.tiers else "no tier"


def describe_move(subjects: Subjects, move: TierMove) -> str:
    to_name = _tier_name(subjects, move.to_tier_id)
    if move.reason == TierChangeReason.PROMOTED:
        return f"Promoted to {to_name}."
    if move.reason == TierChangeReason.GRACE_STARTED:
        return f"No longer qualifies for {to_name}: the tier is kept during a grace period ({move.note})."
    if move.reason == TierChangeReason.GRACE_CHANGED:
        return f"The grace period for {to_name} changed ({move.note})."
    if move.reason == TierChangeReason.GRACE_RECOVERED:
        return f"Qualifies again for {to_name}: the grace period is over."
    if move.reason == TierChangeReason.DEMOTED:
        return f"Moved from {_tier_name(subjects, move.from_tier_id)} to {to_name}."
    if move.reason == TierChangeReason.OVERRIDE_ENDED:
        return f"The tier override ended: the tier is now {to_name}."
    return f"Tier: {to_name}."


def _plan_benefits(subjects: Subjects, plan: ChunkPlan, partner_ids, passed, in_range, now) -> None:
    """Grant what the held tiers and passed gates unlock; revoke what they no longer do."""
    active: dict[int, dict[int, int]] = defaultdict(dict)
    for grant_id, partner_id, benefit_id in BenefitGrant.objects.filter(
        revoked_at__isnull=True, **in_range
    ).values_list("id", "partner_id", "benefit_id"):
        active[partner_id][benefit_id] = grant_id
    held_by_partner: dict[int, list[int]] = defaultdict(list)
    for (partner_id, _program), tier_id in plan.held_tiers.items():
        if tier_id is not None:
            held_by_partner[partner_id].append(tier_id)
    benefit_gates = set(subjects.gate_benefits)
    # Many partners hold the same tiers and gates: work out each combination once.
    wanted_for: dict[tuple, dict[int, tuple[int | None, int | None]]] = {}
    for partner_id in partner_ids:
        tiers = tuple(sorted(held_by_partner.get(partner_id, ())))
        gates = tuple(sorted(passed[partner_id] & benefit_gates))
        combination = (tiers, gates)
        wanted = wanted_for.get(combination)
        if wanted is None:
            wanted = {}
            for tier_id in tiers:
                for benefit_id in subjects.tiers[tier_id].benefit_ids:
                    wanted.setdefault(benefit_id, (tier_id, None))
            for gate_id in gates:
                for benefit_id in subjects.gate_benefits[gate_id]:
                    wanted.setdefault(benefit_id, (None, gate_id))
            wanted_for[combination] = wanted
        holding = active.get(partner_id, {})
        for benefit_id, (tier_id, gate_id) in wanted.items():
            if benefit_id not in holding:
                plan.grants_new.append((partner_id, benefit_id, tier_id, gate_id, now))
        for benefit_id, grant_id in holding.items():
            if benefit_id not in wanted:
                plan.grants_revoked.append(grant_id)


def _plan_segments(
    subjects: Subjects, plan: ChunkPlan, chunk, partner_ids, measurer: Measurer, in_range, now, *, full: bool
) -> None:
    if not subjects.segments or not partner_ids:
        return
    segment_ids = [segment.id for segment in subjects.segments]
    members_query = SegmentMembership.objects.filter(segment_id__in=segment_ids, **in_range)
    if not full:
        members_query = members_query.filter(partner_id__in=partner_ids)
    members = {
        (segment_id, partner_id): version
        for segment_id, partner_id, version in members_query.values_list(
            "segment_id", "partner_id", "segment_version"
        )
    }
    picks = {}
    for segment in subjects.segments:
        indices = measurer.keys_for(segment.criteria)
        picks[segment.id] = (
            itemgetter(*indices) if len(indices) > 1 else (lambda row, i=indices[0]: (row[i],))
        )
    # Segments on tiers see the tier this evaluation just decided.
    tier_columns: list[tuple[int, int]] = []
    for segment in subjects.segments:
        for index, leaf in zip(measurer.keys_for(segment.criteria), segment.criteria.leaves, strict=True):
            if leaf.metric != "current_tier":
                continue
            program_id = subjects.references.programs.get(leaf.params["program"])
            if program_id is not None:
                tier_columns.append((index, program_id))
    ranks = {tier_id: tier.rank for tier_id, tier in subjects.tiers.items()}
    for partner_id in partner_ids:
        values = chunk.values(partner_id)
        for index, program_id in tier_columns:
            if (partner_id, program_id) in plan.held_tiers:
                held = plan.held_tiers[(partner_id, program_id)]
                values[index] = ranks.get(held, 0) if held is not None else 0
        for segment in subjects.segments:
            inside = segment.decide(picks[segment.id](values))
            was_inside = (segment.id, partner_id) in members
            if inside and not was_inside:
                plan.segment_joins.append((segment.id, partner_id, now, segment.version))
            elif was_inside and not inside:
                plan.segment_leaves.append((segment.id, partner_id))
            elif inside and members[(segment.id, partner_id)] != segment.version:
                plan.segment_revised.append((segment.id, partner_id, segment.version))


# --- writing ------------------------------------------------------------------------


def write_plan(plan: ChunkPlan, *, run: EvaluationRun | None, now, notify: bool = True) -> None:
    """Apply a plan; call inside the chunk's transaction."""
    insert_rows(
        GateStatus,
        STATUS_COLUMNS,
        [
            (r.partner_id, r.gate_id, r.status, r.measures, r.version, now, now)
            for r in plan.status_rows
            if r.is_new
        ],
    )
    moved = [row for row in plan.status_rows if row.status_changed and not row.is_new]
    kept = [row for row in plan.status_rows if not row.status_changed]
    for group, update in (
        (moved, ("status", "measures", "gate_version", "since", "updated_at")),
        # Measures moved but not the status: ``since`` stays.
        (kept, ("status", "measures", "gate_version", "updated_at")),
    ):
        upsert_rows(
            GateStatus,
            STATUS_COLUMNS,
            [(r.partner_id, r.gate_id, r.status, r.measures, r.version, now, now) for r in group],
            conflict=("partner_id", "gate_id"),
            update=update,
        )
    run_id = run.pk if run is not None else None
    insert_rows(GateStatusChange, HISTORY_COLUMNS, [(*row[:6], run_id, row[6]) for row in plan.history])
    insert_rows(PartnerTier, TIER_COLUMNS, plan.new_tier_rows)
    upsert_rows(
        PartnerTier,
        TIER_COLUMNS,
        plan.tier_rows,
        conflict=("partner_id", "program_id"),
        update=TIER_COLUMNS[2:],
    )
    insert_rows(TierChange, TIER_CHANGE_COLUMNS, [(*row, run_id) for row in plan.tier_changes])
    gate_events.plan_events(plan.history, plan.tier_changes)
    # Revoke before granting: the one-active-grant constraint holds throughout.
    for start in range(0, len(plan.grants_revoked), WRITE_BATCH):
        BenefitGrant.objects.filter(id__in=plan.grants_revoked[start : start + WRITE_BATCH]).update(
            revoked_at=now
        )
    insert_rows(BenefitGrant, GRANT_COLUMNS, plan.grants_new)
    insert_rows(SegmentMembership, SEGMENT_COLUMNS, plan.segment_joins)
    upsert_rows(
        MeasureDigest,
        ("partner_id", "digest", "updated_at"),
        plan.digests,
        conflict=("partner_id",),
        update=("digest", "updated_at"),
    )
    by_segment: dict[int, list[int]] = defaultdict(list)
    for segment_id, partner_id in plan.segment_leaves:
        by_segment[segment_id].append(partner_id)
    for segment_id, partner_ids in by_segment.items():
        SegmentMembership.objects.filter(segment_id=segment_id, partner_id__in=partner_ids).delete()
    revised: dict[tuple[int, int], list[int]] = defaultdict(list)
    for segment_id, partner_id, version in plan.segment_revised:
        revised[(segment_id, version)].append(partner_id)
    for (segment_id, version), partner_ids in revised.items():
        SegmentMembership.objects.filter(segment_id=segment_id, partner_id__in=partner_ids).update(
            segment_version=version
        )
    if notify and plan.events:
        events = {partner_id: list(lines) for partner_id, lines in plan.events.items() if lines}
        transaction.on_commit(lambda: notify_changes(events))


# Partners per notification task: a first run over 100,000 partners is 200
# broker messages, not 100,000.
NOTIFICATION_BATCH = 500


def notify_changes(events: dict[int, list[str]]) -> None:
    """Queue the mails about these changes, one task per batch of partners."""
    notify_partners_changes = task("gates.tasks.notify_partners_changes")
    changes = [[partner_id, lines] for partner_id, lines in sorted(events.items())]
    for start in range(0, len(changes), NOTIFICATION_BATCH):
        notify_partners_changes.delay(changes[start : start + NOTIFICATION_BATCH])
