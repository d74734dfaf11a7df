"""What an evaluation decides: the gates and segments in effect, tiers and benefits, loaded once."""

import datetime
import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache

from criteria.tree import Criteria, CriteriaError
from gates.engine import compile_decider
from gates.metrics import References, load_references
from gates.models import Gate
from gates.validation import parse_criteria
from programs.models import Segment, Tier


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
    # The version its memberships are decided under.
    version: int = 1


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
    # Identifies every definition a decision reads (see ``definitions_signature``):
    # partners' stored digests only match under the same ones.
    signature: str = ""

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


# Definitions read by evaluations, kept per process and dropped as soon as any
# definition changes anywhere (the generation lives in the shared cache).
_GENERATION_KEY = "gates:definitions-generation"
_cached: dict[tuple, tuple[int, Subjects]] = {}


def bump_generation() -> None:
    """Make every process reload the definitions at its next evaluation."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:
        _new_generation()


def _new_generation() -> int:
    """A fresh random generation: a cache that lost its key (restart, eviction) never matches an old one."""
    cache.add(_GENERATION_KEY, secrets.randbits(48), timeout=None)
    return cache.get(_GENERATION_KEY)


def cached_subjects(
    *, as_of: datetime.date, gate_ids: Sequence[int] | None = None, with_segments: bool = True
) -> Subjects:
    """``load_subjects`` for the frequent one-partner evaluations: one cache read when nothing changed."""
    generation = cache.get(_GENERATION_KEY)
    if generation is None:
        generation = _new_generation()
    key = (as_of, tuple(gate_ids) if gate_ids is not None else None, with_segments)
    hit = _cached.get(key)
    if hit is not None and hit[0] == generation:
        return hit[1]
    subjects = load_subjects(as_of=as_of, gate_ids=gate_ids, with_segments=with_segments)
    if len(_cached) > 16:
        _cached.clear()
    _cached[key] = (generation, subjects)
    return subjects


def load_subjects(
    *, as_of: datetime.date, gate_ids: Sequence[int] | None = None, with_segments: bool = True
) -> Subjects:
    """Everything an evaluation needs, in a fixed number of queries.

    ``gate_ids`` narrows which gates are re-measured; the others' stored
    statuses still count for prerequisites, tiers and benefits.
    """
    subjects = Subjects(as_of=as_of, references=load_references())
    signature_parts: list[Any] = []
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
        signature_parts.append(
            [
                "gate",
                gate.id,
                gate.version,
                gate.program_id,
                gate.money_currency,
                gate.criteria,
                sorted(p.id for p in gate.prerequisites.all()),
                gate.unlocks_tier_id,
                sorted(benefit_ids),
            ]
        )
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
    for tier in Tier.objects.order_by("id"):
        subjects.tiers[tier.id] = TierInfo(
            tier.id, tier.program_id, tier.name, tier.rank, tier.grace_days, benefits_by_tier[tier.id]
        )
        signature_parts.append(
            ["tier", tier.id, tier.program_id, tier.rank, tier.grace_days, sorted(benefits_by_tier[tier.id])]
        )
    for gate in in_effect:
        if gate.unlocks_tier_id is not None:
            unlocked = subjects.tiers[gate.unlocks_tier_id]
            subjects.tier_gates.setdefault(unlocked.program_id, []).append((unlocked, gate.id))

    if with_segments:
        for segment in Segment.objects.order_by("id"):
            signature_parts.append(["segment", segment.id, segment.currency, segment.criteria])
            try:
                criteria = parse_criteria(
                    segment.criteria, default_currency=segment.currency, references=subjects.references
                )
            except CriteriaError as exc:
                subjects.skipped.append(f"segment {segment.name!r}: {exc}")
                continue
            subjects.segments.append(
                SegmentSubject(segment.id, segment.name, criteria, compile_decider(criteria), segment.version)
            )
    subjects.signature = definitions_signature(signature_parts, subjects.references)
    return subjects


def definitions_signature(parts: list[Any], references: References) -> str:
    """A digest of every definition a decision reads, the same in every process for the same ones.

    ``parts`` are the gates in effect (version, currency, criteria,
    prerequisites, what they unlock), the tiers (rank, grace, benefits) and the
    segments (currency, criteria); ``references`` are the codes the criteria
    are written in and what each means (certification tracks, advanced
    certifications, validity). ``Measurer.measure_chunk`` hashes it with
    each partner's attributes and raw aggregates as measured on the
    evaluation day: those carry the exchange rates (sales are converted in
    the measuring query) and the as-of day wherever a decision depends on it
    (each window's facts, months since joining, certifications valid on the
    day), so a new day changes the digest only of partners whose measures
    moved with it.
    """
    payload = json.dumps(
        {"definitions": parts, "references": references.signature_parts()},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()
