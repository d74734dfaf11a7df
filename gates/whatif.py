"""What-if simulations in the background: drafts decided by the nightly run's planner, nothing written.

A channel manager asks what one or more gates would do (their drafts, or
criteria not saved yet); ``whatif_queue`` records a ``WhatIfRun`` and queues
``gates.tasks.whatif_run_task``, which calls ``whatif_run``. That builds the
nightly run's definitions with the simulated gates in place of their current
versions and hands every chunk of the requester's partners to
``gates.planning.plan_chunk``, the planner of the nightly run, without
writing its plan. So the simulation measures through the same engine, decides
prerequisites, tiers, grace and benefits by the same rules, and measures all
the simulated gates in one pass (one ``Measurer`` over all their trees).

The report compares each plan with what is stored today: per gate the
partners that would pass, newly pass and newly fail, with the criterion that
decided each mover; the tiers moved (from → to, per program); and the
benefits that would be unlocked and lost, per tier or gate, with the MDF
allowance they carry.

Incentive cost: tier margins are incentive rules, a layer above the gates, so
the incentives price the report's tier moves themselves
(``incentives.whatif.tier_moves_cost``, registered with
``register_tier_cost``): the change in what the rules whose earning depends on
the tier (margins, rebates, SPIFs, points and commissions from a minimum tier)
would pay on the movers' facts of the period.
"""

import csv
import datetime
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.background import task
from criteria.tree import Criteria, CriteriaError, Leaf
from criteria.tree import evaluate as evaluate_tree
from gates.engine import MeasuredChunk, Measurer, compile_decider, serialise
from gates.metrics import METRICS
from gates.models import (
    BenefitGrant,
    Gate,
    GateOutcome,
    GateVersion,
    PartnerTier,
    TierChangeReason,
    WhatIfRun,
)
from gates.planning import ChunkPlan, describe_move, plan_chunk
from gates.subjects import GateSubject, Subjects, _topological, load_subjects
from gates.tiers import TierMove
from gates.validation import parse_criteria
from partners.models import Partner, sees_every_partner
from programs.models import Benefit, BenefitKind, Program, Tier

logger = logging.getLogger(__name__)

PASSED, FAILED, BLOCKED = GateOutcome.PASSED.value, GateOutcome.FAILED.value, GateOutcome.BLOCKED.value
NO_TIER = "No tier"
# The movers a result page lists; the CSV has them all.
MOVERS_SHOWN = 200
INCENTIVE_COST_NOTE = (
    "Incentive cost is not derived: tier margins and tier-limited rules are incentive rules, "
    "priced on each partner's deals; the tier moves above are what they would read."
)

# What prices tier moves in incentives: (moves, day) -> the cost figures. Registered by the
# incentives (a layer above) in their ``AppConfig.ready``; the gates never import them.
TierCost = Callable[[list[tuple[int, int, int | None, int | None]], datetime.date], dict[str, Any]]
_tier_costs: list[TierCost] = []


def register_tier_cost(estimator: TierCost) -> None:
    """Called once by the app that prices tiers; a repeated registration is ignored."""
    if estimator not in _tier_costs:
        _tier_costs.append(estimator)


class WhatIfError(Exception):
    """A simulation cannot be queued as asked; ``errors`` are messages naming the gate and the place."""

    def __init__(self, errors: list[str]):
        super().__init__(errors)
        self.errors = errors


# --- asking -----------------------------------------------------------------------------------


def whatif_entry(
    gate: Gate,
    *,
    criteria: Any = None,
    currency: str | None = None,
    prerequisite_ids: Sequence[int] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """What to simulate for ``gate``: the criteria given, else its draft, else its current criteria.

    ``gate`` may be unsaved (a new gate from the change form): it is then
    simulated as a gate no partner has passed yet.
    """
    version = None
    if criteria is None and gate.pk:
        draft = GateVersion.objects.filter(gate=gate, state=GateVersion.State.DRAFT).first()
        if draft is not None:
            criteria, currency, version = draft.criteria, draft.currency, draft.version
    if criteria is None:
        criteria = gate.criteria
    if prerequisite_ids is None:
        prerequisite_ids = list(gate.prerequisites.values_list("pk", flat=True)) if gate.pk else []
    return {
        "gate": gate.pk,
        "name": name or gate.name,
        "program": gate.program_id,
        "version": version if version is not None else (gate.version if gate.pk else None),
        "draft": version is not None or gate.pk is None,
        "criteria": criteria,
        "currency": currency or gate.money_currency,
        "prerequisites": sorted(set(prerequisite_ids)),
        "unlocks_tier": gate.unlocks_tier_id,
        "benefits": sorted(gate.unlocks_benefits.values_list("pk", flat=True)) if gate.pk else [],
    }


def whatif_queue(
    *, actor, entries: Sequence[dict[str, Any]], as_of: datetime.date | None = None
) -> WhatIfRun:
    """Record a simulation of ``entries`` (``whatif_entry``) over the partners ``actor`` sees, and queue it.

    Raises ``WhatIfError`` for an invalid tree or nothing to simulate. Side
    effect: ``gates.tasks.whatif_run_task`` is queued once the run is
    committed (run in this process when no broker is configured).
    """
    if not entries:
        raise WhatIfError(["Choose at least one gate to simulate."])
    errors: list[str] = []
    for entry in entries:
        try:
            parse_criteria(entry["criteria"], default_currency=entry["currency"])
        except CriteriaError as exc:
            errors.extend(f"{entry['name']}: {error}" for error in exc.errors)
    if errors:
        raise WhatIfError(errors)
    if sees_every_partner(actor):
        scope = "every partner"
    else:
        covered = Partner.objects.visible_to(actor).count()
        scope = f"the {covered:,} partner{'' if covered == 1 else 's'} you cover"
    with transaction.atomic():
        run = WhatIfRun.objects.create(
            requested_by=actor if getattr(actor, "pk", None) else None,
            gates=list(entries),
            as_of=as_of or timezone.localdate(),
            scope=scope,
        )
        run_id = run.pk
        transaction.on_commit(lambda: task("gates.tasks.whatif_run_task").delay(run_id))
    return run


# --- running ----------------------------------------------------------------------------------


class _KeepingMeasurer(Measurer):
    """The engine's measurer, keeping the chunk it measured last for the report to read."""

    last: MeasuredChunk | None = None

    def measure_chunk(self, *args, **kwargs) -> MeasuredChunk:
        self.last = super().measure_chunk(*args, **kwargs)
        return self.last


def _scope_chunks(ids: list[int], everyone: bool, size: int) -> Iterator[tuple[int, int, list[int] | None]]:
    """(first id, last id, only these ids or None) per chunk of the requester's partners."""
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        yield part[0], part[-1], None if everyone else part


def whatif_run(run_id: int, *, chunk_size: int | None = None) -> WhatIfRun | None:
    """Carry out a queued simulation; None when it was taken up already (a second delivery).

    Writes nothing but the run's own row: its progress after every chunk,
    then its result, or its error if it fails (and the error is raised).
    """
    now = timezone.now()
    claimed = WhatIfRun.objects.filter(pk=run_id, state=WhatIfRun.State.QUEUED).update(
        state=WhatIfRun.State.RUNNING, started_at=now, progress_at=now
    )
    if not claimed:
        return None
    run = WhatIfRun.objects.select_related("requested_by").get(pk=run_id)
    try:
        run.result = _simulate(run, chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE)
    except BaseException as exc:
        WhatIfRun.objects.filter(pk=run_id).update(
            state=WhatIfRun.State.FAILED, finished_at=timezone.now(), error=repr(exc)[:2000]
        )
        raise
    run.state, run.finished_at = WhatIfRun.State.DONE, timezone.now()
    run.save(update_fields=["result", "state", "finished_at"])
    return run


LOST_NOTE = "No worker took the simulation up in time; ask for it again."
STOPPED_NOTE = "The worker stopped before the simulation finished; ask for it again."


def whatif_mark_lost(run: WhatIfRun) -> WhatIfRun:
    """End, as failed, a run that no worker took up or that stopped showing progress; returns it as stored.

    A run waits or goes without progress for ``PRM_EVALUATION_STALE_MINUTES``
    at most (a broker restart lost its task, or its worker was killed), so its
    page stops polling and says what to do. A conditional update: a worker
    that finishes meanwhile wins.
    """
    threshold = timezone.now() - datetime.timedelta(minutes=settings.PRM_EVALUATION_STALE_MINUTES)
    if run.state == WhatIfRun.State.QUEUED and run.created_at < threshold:
        waited, note = Q(state=WhatIfRun.State.QUEUED, created_at__lt=threshold), LOST_NOTE
    elif run.state == WhatIfRun.State.RUNNING and run.progress_at and run.progress_at < threshold:
        waited, note = Q(state=WhatIfRun.State.RUNNING, progress_at__lt=threshold), STOPPED_NOTE
    else:
        return run  # alive or over, as read: no query
    WhatIfRun.objects.filter(waited, pk=run.pk).update(
        state=WhatIfRun.State.FAILED, finished_at=timezone.now(), error=note
    )
    run.refresh_from_db()
    return run


def _simulated_subjects(run: WhatIfRun) -> tuple[Subjects, list[tuple[dict, GateSubject, Criteria | None]]]:
    """The nightly run's definitions with the simulated gates in place of their versions in effect.

    Also, per simulated gate, the tree in effect today (None for a gate not in
    effect), read to say what held back a partner that newly passes.
    """
    saved_ids = [entry["gate"] for entry in run.gates if entry["gate"]]
    subjects = load_subjects(as_of=run.as_of, gate_ids=saved_ids, with_segments=False)
    current = {subject.id: subject.criteria for subject in subjects.gates}
    simulated: list[tuple[dict, GateSubject, Criteria | None]] = []
    for position, entry in enumerate(run.gates):
        criteria = parse_criteria(
            entry["criteria"], default_currency=entry["currency"], references=subjects.references
        )
        # A gate not saved yet stands in with an id no stored result has.
        gate_id = entry["gate"] or -(position + 1)
        subject = GateSubject(
            id=gate_id,
            name=entry["name"],
            program_id=entry["program"],
            version=entry["version"] or 0,
            criteria=criteria,
            decide=compile_decider(criteria),
            prerequisites=list(entry["prerequisites"]),
            unlocks_tier_id=entry["unlocks_tier"],
            benefit_ids=set(entry["benefits"]),
        )
        simulated.append((entry, subject, current.get(gate_id)))
    simulated_ids = {subject.id for _, subject, _ in simulated}
    subjects.gates = _topological(
        [gate for gate in subjects.gates if gate.id not in simulated_ids] + [s for _, s, _ in simulated]
    )
    # What the simulated gates unlock replaces what their versions in effect do.
    for program_id, ladder in list(subjects.tier_gates.items()):
        subjects.tier_gates[program_id] = [item for item in ladder if item[1] not in simulated_ids]
    for _, subject, _ in simulated:
        subjects.gate_benefits.pop(subject.id, None)
        if subject.benefit_ids:
            subjects.gate_benefits[subject.id] = subject.benefit_ids
        if subject.unlocks_tier_id is not None and subject.unlocks_tier_id in subjects.tiers:
            tier = subjects.tiers[subject.unlocks_tier_id]
            subjects.tier_gates.setdefault(tier.program_id, []).append((tier, subject.id))
    return subjects, simulated


def _simulate(run: WhatIfRun, chunk_size: int) -> dict[str, Any]:
    user = run.requested_by
    scope = Partner.objects.visible_to(user) if user is not None else Partner.objects.none()
    ids = list(scope.order_by("pk").values_list("pk", flat=True))
    everyone = sees_every_partner(user)
    subjects, simulated = _simulated_subjects(run)
    trees = [subject.criteria for _, subject, _ in simulated]
    trees += [tree for _, _, tree in simulated if tree is not None]
    measurer = _KeepingMeasurer(trees, as_of=run.as_of, references=subjects.references)
    report = _Report(subjects, simulated, measurer)
    chunks = list(_scope_chunks(ids, everyone, chunk_size))
    WhatIfRun.objects.filter(pk=run.pk).update(partners_total=len(ids), chunks_total=len(chunks))
    # Every partner: one pass over each fact table, as the nightly run reads them.
    sources = measurer.fetch_sources() if everyone and chunks else None
    done = 0
    for index, (first_id, last_id, only) in enumerate(chunks):
        plan = plan_chunk(
            subjects,
            measurer,
            first_id,
            last_id,
            timezone.now(),
            sources=sources,
            only=only,
            outcomes_only=True,
        )
        assert measurer.last is not None
        report.add(plan, measurer.last, first_id, last_id, only)
        done += plan.partners
        WhatIfRun.objects.filter(pk=run.pk).update(
            chunks_done=index + 1, partners_done=done, progress_at=timezone.now()
        )
    return report.result(run)


def _leaf_text(leaf: Leaf) -> str:
    spec = METRICS[leaf.metric].spec
    description = spec.describe(leaf) if spec.describe else spec.label
    return f"{description} {leaf.op} {serialise(leaf.target)}"


def _measured(value: Any) -> str:
    value = serialise(value)
    return "nothing" if value is None else str(value)


class _Report:
    """What the plans of the chunks add up to, against what is stored today."""

    def __init__(self, subjects: Subjects, simulated, measurer: Measurer):
        self.subjects = subjects
        self.simulated = simulated
        self.measurer = measurer
        self.keys = {subject.id: measurer.keys_for(subject.criteria) for _, subject, _ in simulated}
        self.current_keys = {
            subject.id: measurer.keys_for(tree) for _, subject, tree in simulated if tree is not None
        }
        self.counts = {
            subject.id: Counter(evaluated=0, would_pass=0, passing_now=0, newly_pass=0, newly_fail=0)
            for _, subject, _ in simulated
        }
        self.leaf_counts = {subject.id: [0] * len(subject.criteria.leaves) for _, subject, _ in simulated}
        self.programs = sorted(
            {subject.program_id for _, subject, _ in simulated}
            & {tier.program_id for tier in subjects.tiers.values()}
        )
        self.matrix: Counter[tuple[int, int | None, int | None]] = Counter()
        self.tier_reasons: Counter[tuple[int, str]] = Counter()
        self.unlocked: Counter[tuple[int, int | None, int | None]] = Counter()
        self.lost: Counter[tuple[int, int | None, int | None]] = Counter()
        self.movers: list[dict[str, Any]] = []
        self.partners = 0
        # (partner, program, tier held today, tier after), for the incentives to price.
        self.tier_moved: list[tuple[int, int, int | None, int | None]] = []

    def add(self, plan: ChunkPlan, chunk: MeasuredChunk, first_id: int, last_id: int, only) -> None:
        in_range: dict[str, Any] = (
            {"partner_id__in": only}
            if only is not None
            else {"partner_id__gte": first_id, "partner_id__lte": last_id}
        )
        partner_ids = chunk.partner_ids()
        self.partners += len(partner_ids)
        stored = {key: status for key, (status, _version) in plan.stored.items()}
        decided = {
            (row.partner_id, row.gate_id): row.status
            for row in plan.status_rows
            if row.gate_id in self.counts
        }
        tiers_before = {
            (partner_id, program_id): tier_id
            for partner_id, program_id, tier_id in PartnerTier.objects.filter(
                program_id__in=self.programs, **in_range
            ).values_list("partner_id", "program_id", "tier_id")
        }
        moves_by_partner: dict[int, list[str]] = defaultdict(list)
        for change in plan.tier_changes:
            partner_id, program_id, from_tier, to_tier, reason = change[:5]
            if program_id in self.programs:
                self.tier_reasons[(program_id, reason)] += 1
                moves_by_partner[partner_id].append(
                    describe_move(self.subjects, TierMove(reason, from_tier, to_tier, change[7]))
                )
        tiers = self.subjects.tiers
        for benefit_id_partner in plan.grants_new:
            _partner, benefit_id, tier_id, gate_id, _now = benefit_id_partner
            self.unlocked[(benefit_id, tier_id, gate_id)] += 1
        for start in range(0, len(plan.grants_revoked), 1000):
            for benefit_id, tier_id, gate_id in BenefitGrant.objects.filter(
                id__in=plan.grants_revoked[start : start + 1000]
            ).values_list("benefit_id", "via_tier_id", "via_gate_id"):
                self.lost[(benefit_id, tier_id, gate_id)] += 1

        self._count_leaves([chunk.values(partner_id) for partner_id in partner_ids])
        # The plan holds a status row only where a status would change (``outcomes_only``):
        # count what passes today from the stored rows, then walk only the changes.
        simulated_ids = set(self.counts)
        for (_partner, gate_id), status in stored.items():
            if status == PASSED and gate_id in simulated_ids:
                self.counts[gate_id]["passing_now"] += 1
        gate_moves: dict[int, dict[int, str]] = defaultdict(dict)
        for (partner_id, gate_id), new in decided.items():
            if (stored.get((partner_id, gate_id)) == PASSED) != (new == PASSED):
                gate_moves[partner_id][gate_id] = new
        for _, subject, _ in self.simulated:
            counts = self.counts[subject.id]
            counts["evaluated"] += len(partner_ids)
        tier_moves: dict[int, dict[int, tuple[int | None, int | None]]] = defaultdict(dict)
        held = plan.held_tiers
        for program_id in self.programs:
            matrix: Counter[tuple[int | None, int | None]] = Counter()
            for partner_id in partner_ids:
                before = tiers_before.get((partner_id, program_id))
                after = held.get((partner_id, program_id), before)
                matrix[(before, after)] += 1
                if before != after:
                    tier_moves[partner_id][program_id] = (before, after)
            for (before, after), count in matrix.items():
                self.matrix[(program_id, before, after)] += count
        moved: list[dict[str, Any]] = []
        for partner_id in sorted(set(gate_moves) | set(tier_moves)):
            partner_tiers = tier_moves.get(partner_id, {})
            for program_id, (before, after) in partner_tiers.items():
                self.tier_moved.append((partner_id, program_id, before, after))
            partner_gates = gate_moves.get(partner_id)
            if not partner_gates:
                # A tier moved with no simulated gate changing for the partner: a
                # prerequisite or the calendar (grace ending) moved it.
                for before, after in partner_tiers.values():
                    moved.append(
                        {
                            "partner": partner_id,
                            "gate": "",
                            "change": "tier only",
                            "from_tier": tiers[before].name if before in tiers else NO_TIER,
                            "to_tier": tiers[after].name if after in tiers else NO_TIER,
                            "criterion": " ".join(moves_by_partner.get(partner_id, [])),
                        }
                    )
                continue
            values = chunk.values(partner_id)
            for _, subject, current in self.simulated:
                if subject.id not in partner_gates:
                    continue
                new = partner_gates[subject.id]
                passes = new == PASSED
                self.counts[subject.id]["newly_pass" if passes else "newly_fail"] += 1
                picked = [values[key] for key in self.keys[subject.id]]
                before, after = partner_tiers.get(subject.program_id) or (
                    (tiers_before.get((partner_id, subject.program_id)),) * 2
                )
                moved.append(
                    {
                        "partner": partner_id,
                        "gate": subject.name,
                        "change": "newly passes" if passes else "newly fails",
                        "from_tier": tiers[before].name if before in tiers else NO_TIER,
                        "to_tier": tiers[after].name if after in tiers else NO_TIER,
                        "criterion": self._decided(subject, current, new, picked, values),
                    }
                )
        for _, subject, _ in self.simulated:
            counts = self.counts[subject.id]
            counts["would_pass"] = counts["passing_now"] + counts["newly_pass"] - counts["newly_fail"]
        names = dict(
            Partner.objects.filter(pk__in={row["partner"] for row in moved}).values_list("pk", "name")
        )
        for row in moved:
            row["name"] = names.get(row["partner"], "")
        self.movers.extend(moved)

    def _count_leaves(self, rows: list[list[Any]]) -> None:
        """How many partners meet each criterion: each distinct measured value compared once."""
        distinct: dict[int, Counter] = {}
        for _, subject, _ in self.simulated:
            leaf_counts = self.leaf_counts[subject.id]
            for index, (leaf, key) in enumerate(
                zip(subject.criteria.leaves, self.keys[subject.id], strict=True)
            ):
                if key not in distinct:
                    try:
                        distinct[key] = Counter(map(itemgetter(key), rows))
                    except TypeError:  # a measure that is not hashable: compared partner by partner
                        leaf_counts[index] += sum(leaf.compare(row[key]) for row in rows)
                        continue
                leaf_counts[index] += sum(
                    count for value, count in distinct[key].items() if leaf.compare(value)
                )

    def _decided(self, subject: GateSubject, current: Criteria | None, new, picked, values) -> str:
        """The criterion that decided a mover, with what was measured."""
        if new == BLOCKED:
            names = {gate.id: gate.name for gate in self.subjects.gates}
            waiting = ", ".join(names.get(p, str(p)) for p in subject.prerequisites)
            return f"Waits on a prerequisite: {waiting}"
        outcome = evaluate_tree(subject.criteria, picked)
        if not outcome.passed:
            failing = outcome.failing()[0]
            return (
                f"Fails {failing.leaf.path}: {_leaf_text(failing.leaf)} (measured {_measured(failing.value)})"
            )
        if current is not None:
            held_back = evaluate_tree(current, [values[key] for key in self.current_keys[subject.id]])
            if not held_back.passed:
                failing = held_back.failing()[0]
                return (
                    f"Passes without the current {failing.leaf.path}: {_leaf_text(failing.leaf)} "
                    f"(measured {_measured(failing.value)})"
                )
        first = outcome.leaves[0]
        return f"Meets {first.leaf.path}: {_leaf_text(first.leaf)} (measured {_measured(first.value)})"

    def result(self, run: WhatIfRun) -> dict[str, Any]:
        tiers = self.subjects.tiers
        gates = []
        for entry, subject, _ in self.simulated:
            counts = self.counts[subject.id]
            gates.append(
                {
                    "gate": entry["gate"],
                    "name": subject.name,
                    "version": entry["version"],
                    "draft": entry.get("draft", False),
                    **{name: counts[name] for name in ("evaluated", "would_pass", "passing_now")},
                    "newly_pass": counts["newly_pass"],
                    "newly_fail": counts["newly_fail"],
                    "leaves": [
                        [leaf.path, _leaf_text(leaf), count]
                        for leaf, count in zip(
                            subject.criteria.leaves, self.leaf_counts[subject.id], strict=True
                        )
                    ],
                }
            )
        program_names = dict(Program.objects.filter(pk__in=self.programs).values_list("pk", "name"))
        matrices = []
        for program_id in self.programs:
            ladder = sorted((t for t in tiers.values() if t.program_id == program_id), key=lambda t: t.rank)
            order: list[int | None] = [None, *(t.id for t in ladder)]
            labels = [NO_TIER, *(t.name for t in ladder)]
            rows = [
                [label, [self.matrix[(program_id, before, after)] for after in order]]
                for label, before in zip(labels, order, strict=True)
            ]
            moved = sum(
                count
                for (program, before, after), count in self.matrix.items()
                if program == program_id and before != after
            )
            reasons = {
                reason: count
                for (program, reason), count in self.tier_reasons.items()
                if program == program_id
            }
            matrices.append(
                {
                    "program": program_names.get(program_id, ""),
                    "tiers": labels,
                    "rows": rows,
                    "moved": moved,
                    "reasons": reasons,
                    "reason_labels": [
                        [TierChangeReason(reason).label, count] for reason, count in sorted(reasons.items())
                    ],
                }
            )
        return {
            "as_of": run.as_of.isoformat(),
            "partners": self.partners,
            "gates": gates,
            "tiers": matrices,
            **self._benefits(),
            "movers_total": len(self.movers),
            "movers": self.movers,
            "incentive_cost": self._incentive_cost(run.as_of),
        }

    def _incentive_cost(self, as_of: datetime.date) -> dict[str, Any]:
        """The tier moves priced by the registered incentive pricing, or why they are not."""
        if not _tier_costs:
            return {"note": INCENTIVE_COST_NOTE, "rules": [], "totals": [], "problems": []}
        cost: dict[str, Any] = {}
        for estimator in _tier_costs:
            figures = estimator(self.tier_moved, as_of)
            for key, value in figures.items():
                if isinstance(value, list):
                    cost.setdefault(key, []).extend(value)
                else:
                    cost.setdefault(key, value)
        return cost

    def _benefits(self) -> dict[str, Any]:
        keys = set(self.unlocked) | set(self.lost)
        benefits = {b.pk: b for b in Benefit.objects.filter(pk__in={key[0] for key in keys})}
        tier_names = dict(
            Tier.objects.filter(pk__in={key[1] for key in keys if key[1]}).values_list("pk", "name")
        )
        gate_names = {gate.id: gate.name for gate in self.subjects.gates}
        missing = {key[2] for key in keys if key[2] and key[2] not in gate_names}
        gate_names.update(Gate.objects.filter(pk__in=missing).values_list("pk", "name"))
        rows = []
        allowance: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for key in sorted(keys, key=lambda k: (benefits[k[0]].name, k[1] or 0, k[2] or 0)):
            benefit = benefits[key[0]]
            unlocked, lost = self.unlocked[key], self.lost[key]
            rows.append(
                {
                    "benefit": benefit.name,
                    "kind": benefit.get_kind_display(),
                    "value": _benefit_value(benefit),
                    "via": f"tier {tier_names[key[1]]}"
                    if key[1]
                    else f"gate {gate_names.get(key[2] or 0, '')}",
                    "unlocked": unlocked,
                    "lost": lost,
                    "net": unlocked - lost,
                }
            )
            if benefit.kind == BenefitKind.MDF_ALLOWANCE and benefit.amount is not None:
                totals = allowance[(benefit.currency, benefit.get_period_display())]
                totals[0] += benefit.amount * unlocked
                totals[1] += benefit.amount * lost
        return {
            "benefits": rows,
            # Money as text: Decimal amounts with their currency, never floats.
            "allowances": [
                {
                    "currency": currency,
                    "period": period,
                    "unlocked": format(gained, "f"),
                    "lost": format(gone, "f"),
                    "net": format(gained - gone, "f"),
                }
                for (currency, period), (gained, gone) in sorted(allowance.items())
            ],
        }


def _benefit_value(benefit: Benefit) -> str:
    if benefit.percent is not None:
        return f"{format(benefit.percent.normalize(), 'f')} %"
    if benefit.amount is not None:
        period = f" {benefit.get_period_display().lower()}" if benefit.period else ""
        return f"{format(benefit.amount, 'f')} {benefit.currency}{period}"
    return ""


# --- reading ----------------------------------------------------------------------------------

CSV_COLUMNS = ("partner_id", "partner", "gate", "change", "from_tier", "to_tier", "criterion")


def whatif_movers_csv(run: WhatIfRun) -> str:
    """Every mover of a finished run as CSV, one row per partner and gate (the run is the caller's)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in (run.result or {}).get("movers", []):
        writer.writerow(
            [
                row["partner"],
                _spreadsheet_safe(row.get("name", "")),
                _spreadsheet_safe(row["gate"]),
                row["change"],
                _spreadsheet_safe(row["from_tier"]),
                _spreadsheet_safe(row["to_tier"]),
                _spreadsheet_safe(row["criterion"]),
            ]
        )
    return out.getvalue()


def _spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (names are typed by partners)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
