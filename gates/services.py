"""Evaluation services: measure, decide, and apply the results.

An evaluation works chunk by chunk over partner ids. For each chunk it
*plans* (measures every leaf, decides every gate and segment, moves tiers,
works out the benefits) and then *writes* only what changed, in one
transaction per chunk with the chunk's partner rows locked, so that

* a dry run is the plan without the write;
* two evaluations of the same partners (the nightly run and an on-change
  one) take turns instead of interleaving;
* a worker killed mid-run leaves whole chunks written and the rest as they
  were, and the next run converges;
* running twice in a row writes nothing the second time.
"""

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from gates.engine import Measurer, serialise
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    GateOutcome,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from gates.subjects import Subjects, load_subjects
from gates.tiers import TierState, next_tier_state
from partners.exchange import daily_rates_extend
from partners.models import Partner

logger = logging.getLogger(__name__)

# A constant key for the advisory lock that keeps full evaluations one at a time.
FULL_RUN_LOCK = 0x5052_4D01
# Rows per INSERT: large batches stall under PostgreSQL's JIT.
WRITE_BATCH = 1000


@dataclass
class ChunkPlan:
    partners: int = 0
    status_rows: list[GateStatus] = field(default_factory=list)
    history: list[GateStatusChange] = field(default_factory=list)
    tier_rows: list[PartnerTier] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)
    grants_new: list[BenefitGrant] = field(default_factory=list)
    grants_revoked: list[int] = field(default_factory=list)
    segment_joins: list[SegmentMembership] = field(default_factory=list)
    segment_leaves: list[tuple[int, int]] = field(default_factory=list)
    events: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    # The tier each partner holds per program after this plan: (partner, program) -> tier.
    held_tiers: dict[tuple[int, int], int | None] = field(default_factory=dict)

    @property
    def statuses_changed(self) -> int:
        return len(self.history)

    @property
    def tiers_changed(self) -> int:
        return len(self.tier_changes)


@dataclass
class EvaluationSummary:
    run_id: int | None
    partners: int = 0
    statuses_written: int = 0
    statuses_changed: int = 0
    tiers_changed: int = 0
    benefits_granted: int = 0
    benefits_revoked: int = 0
    segment_changes: int = 0
    events: dict[int, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    locked_out: bool = False

    def add(self, plan: ChunkPlan) -> None:
        self.partners += plan.partners
        self.statuses_written += len(plan.status_rows)
        self.statuses_changed += plan.statuses_changed
        self.tiers_changed += plan.tiers_changed
        self.benefits_granted += len(plan.grants_new)
        self.benefits_revoked += len(plan.grants_revoked)
        self.segment_changes += len(plan.segment_joins) + len(plan.segment_leaves)
        for partner_id, events in plan.events.items():
            self.events.setdefault(partner_id, []).extend(events)


# --- planning -----------------------------------------------------------------------


def plan_chunk(subjects: Subjects, measurer: Measurer, first_id: int, last_id: int, now) -> ChunkPlan:
    """Decide everything for partners with ids in [first_id, last_id], writing nothing."""
    as_of = subjects.as_of
    measures = measurer.measure(first_id, last_id)
    plan = ChunkPlan(partners=len(measures))
    if not measures:
        return plan
    in_range = {"partner_id__gte": first_id, "partner_id__lte": last_id}

    stored: dict[tuple[int, int], tuple[str, Any, Any, int]] = {
        (partner_id, gate_id): (status, stored_measures, since, version)
        for partner_id, gate_id, status, stored_measures, since, version in GateStatus.objects.filter(
            **in_range
        ).values_list("partner_id", "gate_id", "status", "measures", "since", "gate_version")
    }
    passed: dict[int, set[int]] = defaultdict(set)
    for (partner_id, gate_id), (status, *_rest) in stored.items():
        if status == GateOutcome.PASSED:
            passed[partner_id].add(gate_id)

    gate_keys = {gate.id: measurer.keys_for(gate.criteria) for gate in subjects.gates}
    gate_names = {gate.id: gate.name for gate in subjects.gates}
    for partner_id, values_by_key in measures.items():
        partner_passed = passed[partner_id]
        for gate in subjects.gates:
            values = [values_by_key[key] for key in gate_keys[gate.id]]
            if any(p not in partner_passed for p in gate.prerequisites):
                status = GateOutcome.BLOCKED
            else:
                status = GateOutcome.PASSED if gate.decide(values) else GateOutcome.FAILED
            if status == GateOutcome.PASSED:
                partner_passed.add(gate.id)
            else:
                partner_passed.discard(gate.id)
            serial = [serialise(value) for value in values]
            old = stored.get((partner_id, gate.id))
            if old is not None and old[0] == status and old[1] == serial and old[3] == gate.version:
                continue
            status_changed = old is None or old[0] != status
            plan.status_rows.append(
                GateStatus(
                    partner_id=partner_id,
                    gate_id=gate.id,
                    status=status,
                    measures=serial,
                    gate_version=gate.version,
                    since=now if status_changed else old[2],  # type: ignore[index]
                    updated_at=now,
                )
            )
            if not status_changed:
                continue
            # A first result is history only when it is a pass: "not yet" is
            # where every partner starts.
            if old is not None or status == GateOutcome.PASSED:
                plan.history.append(
                    GateStatusChange(
                        partner_id=partner_id,
                        gate_id=gate.id,
                        from_status=old[0] if old else "",
                        to_status=status,
                        measures=serial,
                        changed_at=now,
                    )
                )
                if status == GateOutcome.PASSED:
                    plan.events[partner_id].append(f"Passed the gate “{gate_names[gate.id]}”.")
                elif old is not None and old[0] == GateOutcome.PASSED:
                    plan.events[partner_id].append(f"No longer meets the gate “{gate_names[gate.id]}”.")

    _plan_tiers(subjects, plan, measures.keys(), passed, in_range, as_of, now)
    _plan_benefits(subjects, plan, measures.keys(), passed, in_range, now)
    _plan_segments(subjects, plan, measures, measurer, in_range, now)
    return plan


def _plan_tiers(subjects, plan, partner_ids, passed, in_range, as_of, now) -> None:
    current_rows = {(row.partner_id, row.program_id): row for row in PartnerTier.objects.filter(**in_range)}
    ranks = {tier_id: tier.rank for tier_id, tier in subjects.tiers.items()}
    grace = {tier_id: tier.grace_days for tier_id, tier in subjects.tiers.items()}
    programs = set(subjects.tier_gates) | {program_id for _, program_id in current_rows}
    for partner_id in partner_ids:
        for program_id in programs:
            row = current_rows.get((partner_id, program_id))
            qualified = None
            for tier, gate_id in subjects.tier_gates.get(program_id, []):
                if gate_id in passed[partner_id] and (qualified is None or tier.rank > qualified.rank):
                    qualified = tier
            current = (
                TierState(
                    row.tier_id,
                    row.since,
                    row.earned_tier_id,
                    row.qualified_tier_id,
                    row.grace_until,
                    row.override_tier_id,
                    row.override_expires_on,
                )
                if row
                else None
            )
            state, moves = next_tier_state(
                current,
                qualified_tier_id=qualified.id if qualified else None,
                ranks=ranks,
                grace_days=grace,
                as_of=as_of,
            )
            if state is None:
                continue
            plan.held_tiers[(partner_id, program_id)] = state.tier_id
            if state == current:
                continue
            target = row or PartnerTier(partner_id=partner_id, program_id=program_id)
            target.tier_id = state.tier_id
            target.since = state.since
            target.earned_tier_id = state.earned_tier_id
            target.qualified_tier_id = state.qualified_tier_id
            target.grace_until = state.grace_until
            target.override_tier_id = state.override_tier_id
            target.override_expires_on = state.override_expires_on
            if state.override_tier_id is None:
                target.override_reason = ""
                target.override_by_id = None
            target.updated_at = now
            plan.tier_rows.append(target)
            for move in moves:
                plan.tier_changes.append(
                    TierChange(
                        partner_id=partner_id,
                        program_id=program_id,
                        from_tier_id=move.from_tier_id,
                        to_tier_id=move.to_tier_id,
                        reason=move.reason,
                        effective_on=as_of,
                        changed_at=now,
                        note=move.note,
                    )
                )
                plan.events[partner_id].append(_describe_move(subjects, move))


def _tier_name(subjects: Subjects, tier_id: int | None) -> str:
    return subjects.tiers[tier_id].name if tier_id in subjects.tiers else "no tier"


def _describe_move(subjects: Subjects, move) -> str:
    from gates.models import TierChangeReason

    to_name = _tier_name(subjects, move.to_tier_id)
    if move.reason == TierChangeReason.PROMOTED:
        return f"Promoted to {to_name}."
    if move.reason == TierChangeReason.GRACE_STARTED:
        return f"No longer qualifies for {to_name}: the tier is kept during a grace period ({move.note})."
    if move.reason == TierChangeReason.GRACE_RECOVERED:
        return f"Qualifies again for {to_name}: the grace period is over."
    if move.reason == TierChangeReason.DEMOTED:
        return f"Moved from {_tier_name(subjects, move.from_tier_id)} to {to_name}."
    if move.reason == TierChangeReason.OVERRIDE_ENDED:
        return f"The tier override ended: the tier is now {to_name}."
    return f"Tier: {to_name}."


def _plan_benefits(subjects, plan, partner_ids, passed, in_range, now) -> None:
    """Grant what the held tiers and passed gates unlock; revoke what they no longer do."""
    active = {
        (partner_id, benefit_id): grant_id
        for grant_id, partner_id, benefit_id in BenefitGrant.objects.filter(
            revoked_at__isnull=True, **in_range
        ).values_list("id", "partner_id", "benefit_id")
    }
    held_by_partner: dict[int, list[int]] = defaultdict(list)
    for (partner_id, _program), tier_id in plan.held_tiers.items():
        if tier_id is not None:
            held_by_partner[partner_id].append(tier_id)
    wanted_by_partner: dict[int, set[int]] = {}
    for partner_id in partner_ids:
        wanted: dict[int, tuple[int | None, int | None]] = {}
        for tier_id in held_by_partner.get(partner_id, []):
            for benefit_id in subjects.tiers[tier_id].benefit_ids:
                wanted.setdefault(benefit_id, (tier_id, None))
        for gate_id in passed[partner_id]:
            for benefit_id in subjects.gate_benefits.get(gate_id, ()):
                wanted.setdefault(benefit_id, (None, gate_id))
        wanted_by_partner[partner_id] = set(wanted)
        for benefit_id, (tier_id, gate_id) in wanted.items():
            if (partner_id, benefit_id) not in active:
                plan.grants_new.append(
                    BenefitGrant(
                        partner_id=partner_id,
                        benefit_id=benefit_id,
                        via_tier_id=tier_id,
                        via_gate_id=gate_id,
                        granted_at=now,
                    )
                )
    for (partner_id, benefit_id), grant_id in active.items():
        if benefit_id not in wanted_by_partner.get(partner_id, set()):
            plan.grants_revoked.append(grant_id)


def _plan_segments(subjects, plan, measures, measurer, in_range, now) -> None:
    if not subjects.segments:
        return
    segment_ids = [segment.id for segment in subjects.segments]
    members = set(
        SegmentMembership.objects.filter(segment_id__in=segment_ids, **in_range).values_list(
            "segment_id", "partner_id"
        )
    )
    keys = {segment.id: measurer.keys_for(segment.criteria) for segment in subjects.segments}
    tier_leaves = [
        (key, leaf)
        for segment in subjects.segments
        for key, leaf in zip(keys[segment.id], segment.criteria.leaves, strict=True)
        if leaf.metric == "current_tier"
    ]
    ranks = {tier_id: tier.rank for tier_id, tier in subjects.tiers.items()}
    for partner_id, values_by_key in measures.items():
        # Segments on tiers see the tier this evaluation just decided.
        for key, leaf in tier_leaves:
            program_id = subjects.references.programs.get(leaf.params["program"])
            if (partner_id, program_id) in plan.held_tiers:
                held = plan.held_tiers[(partner_id, program_id)]
                values_by_key[key] = ranks.get(held, 0) if held is not None else 0
        for segment in subjects.segments:
            inside = segment.decide([values_by_key[key] for key in keys[segment.id]])
            was_inside = (segment.id, partner_id) in members
            if inside and not was_inside:
                plan.segment_joins.append(
                    SegmentMembership(segment_id=segment.id, partner_id=partner_id, since=now)
                )
            elif was_inside and not inside:
                plan.segment_leaves.append((segment.id, partner_id))


# --- writing ------------------------------------------------------------------------


def write_plan(plan: ChunkPlan, *, run: EvaluationRun | None, now, notify: bool = True) -> None:
    """Apply a plan; call inside the chunk's transaction."""
    if plan.status_rows:
        GateStatus.objects.bulk_create(
            plan.status_rows,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["partner", "gate"],
            update_fields=["status", "measures", "gate_version", "since", "updated_at"],
        )
    for change in plan.history:
        change.run = run
    GateStatusChange.objects.bulk_create(plan.history, batch_size=WRITE_BATCH)
    if plan.tier_rows:
        PartnerTier.objects.bulk_create(
            plan.tier_rows,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["partner", "program"],
            update_fields=[
                "tier",
                "since",
                "earned_tier",
                "qualified_tier",
                "grace_until",
                "override_tier",
                "override_expires_on",
                "override_reason",
                "override_by",
                "updated_at",
            ],
        )
    for change in plan.tier_changes:
        change.run = run
    TierChange.objects.bulk_create(plan.tier_changes, batch_size=WRITE_BATCH)
    # Revoke before granting: the one-active-grant constraint holds throughout.
    for start in range(0, len(plan.grants_revoked), WRITE_BATCH):
        BenefitGrant.objects.filter(id__in=plan.grants_revoked[start : start + WRITE_BATCH]).update(
            revoked_at=now
        )
    BenefitGrant.objects.bulk_create(plan.grants_new, batch_size=WRITE_BATCH)
    SegmentMembership.objects.bulk_create(plan.segment_joins, batch_size=WRITE_BATCH, ignore_conflicts=True)
    by_segment: dict[int, list[int]] = defaultdict(list)
    for segment_id, partner_id in plan.segment_leaves:
        by_segment[segment_id].append(partner_id)
    for segment_id, partner_ids in by_segment.items():
        SegmentMembership.objects.filter(segment_id=segment_id, partner_id__in=partner_ids).delete()
    if notify and plan.events:
        events = {partner_id: list(lines) for partner_id, lines in plan.events.items() if lines}
        transaction.on_commit(lambda: _notify(events))


def _notify(events: dict[int, list[str]]) -> None:
    from gates.tasks import notify_partner_changes

    for partner_id, lines in events.items():
        notify_partner_changes.delay(partner_id, lines)


# --- runs ---------------------------------------------------------------------------


@contextmanager
def _full_run_lock() -> Iterator[bool]:
    """Keep full evaluations one at a time (PostgreSQL advisory lock); yields False if another holds it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [FULL_RUN_LOCK])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [FULL_RUN_LOCK])


def _chunks(chunk_size: int, partner_ids: Sequence[int] | None) -> Iterator[tuple[int, int]]:
    if partner_ids is not None:
        ordered = sorted(set(partner_ids))
        for start in range(0, len(ordered), chunk_size):
            part = ordered[start : start + chunk_size]
            # A chunk of explicit ids is evaluated id by id when sparse.
            if len(part) == 1 or part[-1] - part[0] + 1 == len(part):
                yield part[0], part[-1]
            else:
                for partner_id in part:
                    yield partner_id, partner_id
        return
    last = 0
    while True:
        ids = list(
            Partner.objects.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:chunk_size]
        )
        if not ids:
            return
        yield ids[0], ids[-1]
        last = ids[-1]


def evaluate(
    *,
    partner_ids: Sequence[int] | None = None,
    gate_ids: Sequence[int] | None = None,
    as_of: datetime.date | None = None,
    dry_run: bool = False,
    chunk_size: int | None = None,
    notify: bool = True,
) -> EvaluationSummary:
    """Evaluate gates (all in effect, or ``gate_ids``) and segments for partners (all, or ``partner_ids``).

    Writes only what changed, chunk by chunk; ``dry_run`` plans and writes
    nothing. Notifications for the changes are queued after each chunk commits.
    A full evaluation while another runs is skipped (``locked_out``).
    """
    as_of = as_of or timezone.localdate()
    chunk_size = chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE
    full = partner_ids is None
    with _full_run_lock() if full and not dry_run else _no_lock() as acquired:
        if not acquired:
            logger.info("a full evaluation is already running; this one is skipped")
            return EvaluationSummary(run_id=None, locked_out=True)
        if not dry_run:
            daily_rates_extend(as_of + datetime.timedelta(days=7))
        subjects = load_subjects(as_of=as_of, gate_ids=gate_ids, with_segments=gate_ids is None)
        measurer = Measurer(subjects.trees, as_of=as_of, references=subjects.references)
        run = None
        if not dry_run:
            kind = EvaluationRun.Kind.FULL if full else EvaluationRun.Kind.PARTNER
            if gate_ids is not None:
                kind = EvaluationRun.Kind.GATE
            run = EvaluationRun.objects.create(kind=kind, as_of=as_of)
        summary = EvaluationSummary(run_id=run.id if run else None, skipped=subjects.skipped)
        try:
            for first_id, last_id in _chunks(chunk_size, partner_ids):
                now = timezone.now()
                if dry_run:
                    plan = plan_chunk(subjects, measurer, first_id, last_id, now)
                else:
                    with transaction.atomic():
                        # Lock the chunk's partners: an on-change evaluation of one of
                        # them waits for this chunk, then sees its result.
                        list(
                            Partner.objects.select_for_update()
                            .filter(id__gte=first_id, id__lte=last_id)
                            .values_list("id", flat=True)
                        )
                        plan = plan_chunk(subjects, measurer, first_id, last_id, now)
                        write_plan(plan, run=run, now=now, notify=notify)
                summary.add(plan)
        except BaseException as exc:
            if run is not None:
                EvaluationRun.objects.filter(pk=run.pk).update(
                    state=EvaluationRun.State.FAILED,
                    finished_at=timezone.now(),
                    error=repr(exc)[:2000],
                    partners_evaluated=summary.partners,
                    statuses_changed=summary.statuses_changed,
                    tiers_changed=summary.tiers_changed,
                )
            raise
        if run is not None:
            EvaluationRun.objects.filter(pk=run.pk).update(
                state=EvaluationRun.State.DONE,
                finished_at=timezone.now(),
                partners_evaluated=summary.partners,
                statuses_changed=summary.statuses_changed,
                tiers_changed=summary.tiers_changed,
            )
        return summary


@contextmanager
def _no_lock() -> Iterator[bool]:
    yield True


def evaluate_partner(partner_id: int, *, as_of: datetime.date | None = None) -> EvaluationSummary:
    """Re-evaluate one partner after its facts changed: the same code as the nightly run."""
    return evaluate(partner_ids=[partner_id], as_of=as_of)


# --- on-change re-evaluation -----------------------------------------------------------


def _debounce_key(partner_id: int) -> str:
    return f"gates:reevaluate:{partner_id}"


def request_reevaluation(partner_ids) -> None:
    """Re-evaluate these partners shortly after the current transaction commits.

    A burst of facts causes one evaluation per partner: the first request
    queues a task ``PRM_FACT_DEBOUNCE_SECONDS`` ahead and marks the partner
    pending in the cache; later requests see the mark and add nothing. The
    task clears the mark before it measures, so a fact that lands while it
    runs queues the next evaluation.
    """
    ids = sorted({int(partner_id) for partner_id in partner_ids})
    if ids:
        transaction.on_commit(lambda: _queue_reevaluation(ids))


def _queue_reevaluation(partner_ids: list[int]) -> None:
    from django.core.cache import cache

    from gates.tasks import evaluate_partner_task

    delay = settings.PRM_FACT_DEBOUNCE_SECONDS
    for partner_id in partner_ids:
        if cache.add(_debounce_key(partner_id), 1, timeout=max(delay * 6, 60)):
            evaluate_partner_task.apply_async(args=[partner_id], countdown=delay)


def clear_reevaluation_request(partner_id: int) -> None:
    from django.core.cache import cache

    cache.delete(_debounce_key(partner_id))


# --- what-if ---------------------------------------------------------------------------------


@dataclass
class Simulation:
    evaluated: int = 0
    would_pass: int = 0
    newly_pass: int = 0
    newly_fail: int = 0
    passing_now: int = 0
    leaf_passes: list[tuple[str, str, int]] = field(default_factory=list)
    newly_pass_examples: list[str] = field(default_factory=list)
    newly_fail_examples: list[str] = field(default_factory=list)


def gate_simulate(
    *,
    criteria: Any,
    currency: str,
    gate_id: int | None = None,
    prerequisite_ids: Sequence[int] = (),
    as_of: datetime.date | None = None,
    chunk_size: int | None = None,
    examples: int = 10,
) -> Simulation:
    """How many partners a gate would pass, newly pass and newly fail; writes nothing.

    ``gate_id`` compares with that gate's current results (an edited gate);
    without it every pass is new (a draft). Raises ``CriteriaError`` for an
    invalid tree.
    """
    from gates.criteria import evaluate as evaluate_tree
    from gates.metrics import METRICS, References
    from gates.validation import parse_criteria

    as_of = as_of or timezone.localdate()
    references = References.load()
    tree = parse_criteria(criteria, default_currency=currency, references=references)
    measurer = Measurer([tree], as_of=as_of, references=references)
    keys = measurer.keys_for(tree)
    result = Simulation()
    leaf_counts = [0] * len(tree.leaves)
    passing_now: set[int] = set()
    if gate_id is not None:
        passing_now = set(
            GateStatus.objects.filter(gate_id=gate_id, status=GateOutcome.PASSED).values_list(
                "partner_id", flat=True
            )
        )
    prerequisites_passed: dict[int, int] = defaultdict(int)
    if prerequisite_ids:
        for partner_id in GateStatus.objects.filter(
            gate_id__in=prerequisite_ids, status=GateOutcome.PASSED
        ).values_list("partner_id", flat=True):
            prerequisites_passed[partner_id] += 1
    newly_pass_ids: list[int] = []
    newly_fail_ids: list[int] = []
    required = len(set(prerequisite_ids))
    for first_id, last_id in _chunks(chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE, None):
        for partner_id, values_by_key in measurer.measure(first_id, last_id).items():
            result.evaluated += 1
            outcome = evaluate_tree(tree, [values_by_key[key] for key in keys])
            for index, leaf in enumerate(outcome.leaves):
                leaf_counts[index] += leaf.passed
            passes = outcome.passed and prerequisites_passed[partner_id] == required
            was = partner_id in passing_now
            result.would_pass += passes
            if passes and not was:
                result.newly_pass += 1
                newly_pass_ids.append(partner_id)
            elif was and not passes:
                result.newly_fail += 1
                newly_fail_ids.append(partner_id)
    result.passing_now = len(passing_now)
    shown = newly_pass_ids[:examples] + newly_fail_ids[:examples]
    labels = dict(Partner.objects.filter(id__in=shown).values_list("id", "name"))
    result.newly_pass_examples = [labels[i] for i in newly_pass_ids[:examples]]
    result.newly_fail_examples = [labels[i] for i in newly_fail_ids[:examples]]
    for leaf, count in zip(tree.leaves, leaf_counts, strict=True):
        spec = METRICS[leaf.metric].spec
        description = spec.describe(leaf) if spec.describe else spec.label
        result.leaf_passes.append((leaf.path, f"{description} {leaf.op} {serialise(leaf.target)}", count))
    return result


# --- overrides ---------------------------------------------------------------------------------


def tier_override_set(
    *, actor, partner: Partner, program, tier, reason: str, expires_on: datetime.date | None
):
    """A channel manager decides the tier a partner holds, with a reason and an optional expiry.

    Records the change in the tier history and the audit log, and brings the
    partner's benefits in line in the same transaction. Raises ``ValueError``
    for a tier of another program, an empty reason or a past expiry.
    """
    from gates.models import TierChangeReason
    from partners.audit import audit

    if tier.program_id != program.id:
        raise ValueError("The tier belongs to another program.")
    if not reason.strip():
        raise ValueError("Give the reason for the override.")
    today = timezone.localdate()
    if expires_on is not None and expires_on < today:
        raise ValueError("The override would already have expired.")
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).exists()
        row, _ = PartnerTier.objects.get_or_create(partner=partner, program=program)
        before = row.tier_id
        row.override_tier = tier
        row.override_reason = reason.strip()
        row.override_expires_on = expires_on
        row.override_by = actor if getattr(actor, "is_authenticated", False) else None
        if row.tier_id != tier.id:
            row.tier = tier
            row.since = today
        row.save()
        until = f" until {expires_on.isoformat()}" if expires_on else ""
        TierChange.objects.create(
            partner=partner,
            program=program,
            from_tier_id=before,
            to_tier=tier,
            reason=TierChangeReason.OVERRIDE_SET,
            effective_on=today,
            actor=row.override_by,
            note=f"{reason.strip()}{until}",
        )
        audit(
            actor=actor,
            action="tier.override_set",
            target=row,
            tier=tier.name,
            reason=reason.strip(),
            expires_on=expires_on.isoformat() if expires_on else None,
        )
        evaluate(partner_ids=[partner.pk], as_of=today)
        message = f"Your tier in {program.name} is set to {tier.name} by your channel manager{until}."
        transaction.on_commit(lambda: _notify({partner.pk: [message]}))
    return row


def tier_override_clear(*, actor, partner_tier: PartnerTier, note: str = "") -> PartnerTier:
    """End an override now; the tier the gates earn applies again, with its benefits."""
    from gates.models import TierChangeReason
    from partners.audit import audit

    today = timezone.localdate()
    with transaction.atomic():
        row = PartnerTier.objects.select_for_update().get(pk=partner_tier.pk)
        if row.override_tier_id is None:
            return row
        before = row.tier_id
        row.override_tier = None
        row.override_reason = ""
        row.override_expires_on = None
        row.override_by = None
        row.tier_id = row.earned_tier_id
        if before != row.tier_id:
            row.since = today
        row.save()
        TierChange.objects.create(
            partner_id=row.partner_id,
            program_id=row.program_id,
            from_tier_id=before,
            to_tier_id=row.tier_id,
            reason=TierChangeReason.OVERRIDE_ENDED,
            effective_on=today,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
        )
        audit(actor=actor, action="tier.override_cleared", target=row, note=note)
        evaluate(partner_ids=[row.partner_id], as_of=today)
    return row


# --- gate definitions ------------------------------------------------------------------------


def gate_saved(*, actor, gate, criteria_changed: bool, created: bool) -> None:
    """After a gate is saved: bump its version when the criteria changed and re-evaluate it."""
    from gates.models import Gate
    from partners.audit import audit

    if criteria_changed and not created:
        Gate.objects.filter(pk=gate.pk).update(version=F("version") + 1)
    audit(
        actor=actor,
        action="gate.created" if created else "gate.changed",
        target=gate,
        state=gate.state,
        criteria=gate.criteria,
    )
    transaction.on_commit(lambda: _queue_full_evaluation())


def gate_retire(*, actor, gate) -> None:
    from gates.models import GateState
    from partners.audit import audit

    with transaction.atomic():
        gate.state = GateState.RETIRED
        gate.save(update_fields=["state", "updated_at"])
        audit(actor=actor, action="gate.retired", target=gate)
        transaction.on_commit(lambda: _queue_full_evaluation())


def _queue_full_evaluation() -> None:
    from gates.tasks import evaluate_all_gates

    evaluate_all_gates.delay()
