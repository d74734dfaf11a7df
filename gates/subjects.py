"""What an evaluation decides: the gates and segments in effect, tiers and benefits, loaded once."""

import datetime
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gates.criteria import Criteria, CriteriaError
from gates.engine import compile_decider
from gates.metrics import References
from gates.validation import parse_criteria


@dataclass
class GateSubject:
    id: int
    name: str
    program_id: int
    version: int
    criteria: Criteria
    decide: Callable[[Sequence[Any]], bool]
    prerequisites: list[int]
    unlocks_tier_id: int | None
    benefit_ids: set[int]


@dataclass
class SegmentSubject:
    id: int
    name: str
    criteria: Criteria
    decide: Callable[[Sequence[Any]], bool]


@dataclass
class TierInfo:
    id: int
    program_id: int
    name: str
    rank: int
    grace_days: int
    benefit_ids: set[int]


@dataclass
class Subjects:
    as_of: datetime.date
    references: References
    gates: list[GateSubject] = field(default_factory=list)
    segments: list[SegmentSubject] = field(default_factory=list)
    tiers: dict[int, TierInfo] = field(default_factory=dict)
    # Gates in effect that unlock a tier, by program: (tier, gate id).
    tier_gates: dict[int, list[tuple[TierInfo, int]]] = field(default_factory=dict)
    # Benefits unlocked by any gate in effect, including those not evaluated now.
    gate_benefits: dict[int, set[int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def trees(self) -> list[Criteria]:
        return [g.criteria for g in self.gates] + [s.criteria for s in self.segments]

    @property
    def gate_ids(self) -> list[int]:
        return [g.id for g in self.gates]


def _topological(gates: list[GateSubject]) -> list[GateSubject]:
    """Prerequisites first, so a gate is decided after the gates it waits on."""
    by_id = {gate.id: gate for gate in gates}
    ordered: list[GateSubject] = []
    state: dict[int, int] = {}

    def visit(gate: GateSubject) -> None:
        mark = state.get(gate.id)
        if mark == 2:
            return
        if mark == 1:
            raise CriteriaError([f"gate {gate.name!r}: its prerequisites form a cycle."])
        state[gate.id] = 1
        for prerequisite in gate.prerequisites:
            if prerequisite in by_id:
                visit(by_id[prerequisite])
        state[gate.id] = 2
        ordered.append(gate)

    for gate in gates:
        visit(gate)
    return ordered


def load_subjects(
    *, as_of: datetime.date, gate_ids: Sequence[int] | None = None, with_segments: bool = True
) -> Subjects:
    """Everything an evaluation needs, in a fixed number of queries.

    ``gate_ids`` narrows which gates are re-measured; the others' stored
    statuses still count for prerequisites, tiers and benefits.
    """
    from gates.models import Gate
    from programs.models import Segment, Tier

    subjects = Subjects(as_of=as_of, references=References.load())
    in_effect = list(
        Gate.objects.in_effect(as_of)
        .select_related("program")
        .prefetch_related("prerequisites", "unlocks_benefits")
        .order_by("id")
    )
    for gate in in_effect:
        benefit_ids = {b.id for b in gate.unlocks_benefits.all()}
        if benefit_ids:
            subjects.gate_benefits[gate.id] = benefit_ids
        if gate_ids is not None and gate.id not in gate_ids:
            continue
        try:
            criteria = parse_criteria(
                gate.criteria, default_currency=gate.money_currency, references=subjects.references
            )
        except CriteriaError as exc:
            # Criteria are validated on save; a tree that no longer validates
            # (a product line deleted since) is reported and left alone.
            subjects.skipped.append(f"gate {gate.name!r}: {exc}")
            continue
        subjects.gates.append(
            GateSubject(
                id=gate.id,
                name=gate.name,
                program_id=gate.program_id,
                version=gate.version,
                criteria=criteria,
                decide=compile_decider(criteria),
                prerequisites=[p.id for p in gate.prerequisites.all()],
                unlocks_tier_id=gate.unlocks_tier_id,
                benefit_ids=benefit_ids,
            )
        )
    subjects.gates = _topological(subjects.gates)

    benefits_by_tier: dict[int, set[int]] = defaultdict(set)
    for tier_id, benefit_id in Tier.benefits.through.objects.values_list("tier_id", "benefit_id"):
        benefits_by_tier[tier_id].add(benefit_id)
    for tier in Tier.objects.all():
        subjects.tiers[tier.id] = TierInfo(
            tier.id, tier.program_id, tier.name, tier.rank, tier.grace_days, benefits_by_tier[tier.id]
        )
    for gate in in_effect:
        if gate.unlocks_tier_id is not None:
            tier = subjects.tiers[gate.unlocks_tier_id]
            subjects.tier_gates.setdefault(tier.program_id, []).append((tier, gate.id))

    if with_segments:
        for segment in Segment.objects.order_by("id"):
            try:
                criteria = parse_criteria(
                    segment.criteria, default_currency=segment.currency, references=subjects.references
                )
            except CriteriaError as exc:
                subjects.skipped.append(f"segment {segment.name!r}: {exc}")
                continue
            subjects.segments.append(
                SegmentSubject(segment.id, segment.name, criteria, compile_decider(criteria))
            )
    return subjects
