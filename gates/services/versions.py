"""Gate versions: drafts, publishing from a date (``programs.versioning``, as segments), and two
versions of a gate or a segment compared."""

import datetime
import difflib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from criteria.tree import Leaf
from criteria.tree import evaluate as evaluate_tree
from gates.describe import describe_criteria, leaf_sentence
from gates.engine import Measurer
from gates.metrics import References, load_references
from gates.models import Gate, GateState, GateVersion
from gates.services.queueing import request_full_evaluation
from gates.services.runs import partner_chunks
from gates.validation import parse_criteria
from partners.models import Partner
from programs import versioning
from programs.versioning import Versioned


def _evaluate_if_active(gate) -> None:
    if gate.state == GateState.ACTIVE:
        request_full_evaluation()


GATES = Versioned(
    noun="gate",
    owner_model=Gate,
    version_model=GateVersion,
    owner_field="gate",
    default_currency=lambda gate: gate.program.base_currency,
    # A gate counting in its program's base currency keeps naming none.
    stored_currency=lambda gate, currency: (
        "" if currency == gate.program.base_currency and not gate.currency else currency
    ),
    after_current=_evaluate_if_active,
)


def next_version(gate) -> int:
    return versioning.next_version(GATES, gate)


def gate_draft_save(*, actor, gate, criteria: Any, currency: str | None = None) -> GateVersion:
    """Save the criteria of the gate's next version as its draft (one draft per gate, edited in place).

    The gate itself is left as it is: its partners are measured against the
    current version until the draft is published. Raises ``VersionError``
    for an invalid tree.
    """
    return versioning.draft_save(GATES, actor=actor, owner=gate, criteria=criteria, currency=currency)


def gate_version_publish(
    *, actor, draft: GateVersion, effective_from: datetime.date | None = None
) -> GateVersion:
    """Publish a draft: it becomes the gate's criteria on ``effective_from`` (today or later).

    Published today, the gate changes at once and its partners are
    re-evaluated after commit; published for a later day, the version waits
    as scheduled until ``gate_versions_apply_due`` reaches that day. The
    version before stays, read-only, as what earlier statuses were decided
    under. Audited.
    """
    return versioning.version_publish(GATES, actor=actor, draft=draft, effective_from=effective_from)


def gate_versions_apply_due(day: datetime.date | None = None) -> int:
    """Make current every published gate version whose day has come (the nightly run calls this first)."""
    return versioning.versions_apply_due(GATES, day)


@dataclass(frozen=True)
class CriterionRow:
    """One line of two versions side by side: a criterion of either, or of both unchanged."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Mover:
    """A partner that passes under one version and not the other."""

    partner_id: int
    name: str
    passes_after: bool


@dataclass
class VersionDiff:
    before: Any
    after: Any
    before_lines: list[str]
    after_lines: list[str]
    before_sentence: str = ""
    after_sentence: str = ""
    rows: list[CriterionRow] = field(default_factory=list)
    pass_before: int = 0
    pass_after: int = 0
    movers: list[Mover] = field(default_factory=list)

    @property
    def newly_pass(self) -> list[str]:
        return [mover.name for mover in self.movers if mover.passes_after]

    @property
    def newly_fail(self) -> list[str]:
        return [mover.name for mover in self.movers if not mover.passes_after]

    @property
    def changed(self) -> bool:
        return any(row.changed for row in self.rows)


def criteria_lines(criteria: Any, currency: str, refs: References | None = None) -> list[str]:
    """Each criterion of a tree in words, after its place in the tree (``Leaf.path``)."""
    refs = refs if refs is not None else load_references()
    tree = parse_criteria(criteria, default_currency=currency, references=refs)
    return [f"{leaf.path}: {leaf_sentence(leaf, refs)}" for leaf in tree.leaves]


def _aligned(before_leaves: list[Leaf], after_leaves: list[Leaf], refs: References) -> list[CriterionRow]:
    """The criteria of two trees aligned: the same sentence on one row, the others beside what they replace.

    Sentences are matched without their place in the tree, so a criterion
    added at the front does not mark every one after it as changed.
    """
    words_before = [leaf_sentence(leaf, refs) for leaf in before_leaves]
    words_after = [leaf_sentence(leaf, refs) for leaf in after_leaves]
    rows: list[CriterionRow] = []
    matcher = difflib.SequenceMatcher(a=words_before, b=words_after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                CriterionRow(words_before[i], words_after[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        left, right = words_before[i1:i2], words_after[j1:j2]
        for position in range(max(len(left), len(right))):
            rows.append(
                CriterionRow(
                    left[position] if position < len(left) else None,
                    right[position] if position < len(right) else None,
                )
            )
    return rows


def criteria_diff(
    *, before: Any, after: Any, partners: QuerySet[Partner] | None = None, as_of: datetime.date | None = None
) -> VersionDiff:
    """Two versions (anything with ``criteria`` and ``currency``) side by side in words, and who passes
    under each among ``partners`` (the caller's, through the door; every partner when None).

    Both trees are measured in one pass of the evaluation's own engine (one
    ``Measurer``, one aggregate query per fact table and chunk), so the
    queries do not grow with the partners. Raises ``CriteriaError`` for a
    tree that no longer parses (a code since deleted).
    """
    references = load_references()
    trees = [
        parse_criteria(v.criteria, default_currency=v.currency, references=references)
        for v in (before, after)
    ]
    diff = VersionDiff(
        before=before,
        after=after,
        before_lines=[f"{leaf.path}: {leaf_sentence(leaf, references)}" for leaf in trees[0].leaves],
        after_lines=[f"{leaf.path}: {leaf_sentence(leaf, references)}" for leaf in trees[1].leaves],
        before_sentence=describe_criteria(trees[0], references),
        after_sentence=describe_criteria(trees[1], references),
        rows=_aligned(list(trees[0].leaves), list(trees[1].leaves), references),
    )
    measurer = Measurer(trees, as_of=as_of or timezone.localdate(), references=references)
    keys = [measurer.keys_for(tree) for tree in trees]
    scope = list(partners.values_list("pk", flat=True)) if partners is not None else None
    moved: list[tuple[int, bool]] = []
    for first_id, last_id, only in partner_chunks(settings.PRM_EVALUATION_CHUNK_SIZE, scope):
        for partner_id, values_by_key in measurer.measure(first_id, last_id, only=only).items():
            was, now = (
                evaluate_tree(tree, [values_by_key[key] for key in ks]).passed
                for tree, ks in zip(trees, keys, strict=True)
            )
            diff.pass_before += was
            diff.pass_after += now
            if was != now:
                moved.append((partner_id, now))
    names = dict(Partner.objects.filter(id__in=[i for i, _ in moved]).values_list("id", "name"))
    diff.movers = sorted(
        (Mover(partner_id, names[partner_id], now) for partner_id, now in moved),
        key=lambda mover: (not mover.passes_after, mover.name, mover.partner_id),
    )
    return diff


def gate_versions_diff(
    *, before: GateVersion, after: GateVersion, partners: QuerySet[Partner] | None = None
) -> VersionDiff:
    """Two versions of a gate side by side in words, and who passes under each (among ``partners``)."""
    return criteria_diff(before=before, after=after, partners=partners)
