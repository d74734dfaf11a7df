"""What-if: how many partners a gate's criteria would pass, measured as the nightly run measures; writes nothing."""

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from criteria.tree import evaluate as evaluate_tree
from gates.describe import leaf_sentence
from gates.engine import Measurer
from gates.metrics import load_references
from gates.models import GateOutcome, GateStatus
from gates.services.runs import partner_chunks
from gates.validation import parse_criteria
from partners.models import Partner


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
    partners: QuerySet[Partner] | None = None,
    as_of: datetime.date | None = None,
    chunk_size: int | None = None,
    examples: int = 10,
) -> Simulation:
    """How many partners a gate would pass, newly pass and newly fail; writes nothing.

    ``gate_id`` compares with that gate's current results (an edited gate);
    without it every pass is new (a draft). ``partners`` limits every count
    and example to those partners: callers pass what their user may see
    (``Partner.objects.visible_to``), so a channel manager learns nothing of
    partners outside his coverage; None means every partner. Raises
    ``CriteriaError`` for an invalid tree.
    """
    as_of = as_of or timezone.localdate()
    references = load_references()
    tree = parse_criteria(criteria, default_currency=currency, references=references)
    measurer = Measurer([tree], as_of=as_of, references=references)
    keys = measurer.keys_for(tree)
    result = Simulation()
    leaf_counts = [0] * len(tree.leaves)
    scope: list[int] | None = None
    statuses = GateStatus.objects.filter(status=GateOutcome.PASSED)
    if partners is not None:
        scope = list(partners.values_list("pk", flat=True))
        statuses = statuses.filter(partner_id__in=partners.values("pk"))
    passing_now: set[int] = set()
    if gate_id is not None:
        passing_now = set(statuses.filter(gate_id=gate_id).values_list("partner_id", flat=True))
    prerequisites_passed: dict[int, int] = defaultdict(int)
    if prerequisite_ids:
        for partner_id in statuses.filter(gate_id__in=prerequisite_ids).values_list("partner_id", flat=True):
            prerequisites_passed[partner_id] += 1
    newly_pass_ids: list[int] = []
    newly_fail_ids: list[int] = []
    required = len(set(prerequisite_ids))
    for first_id, last_id, only in partner_chunks(chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE, scope):
        for partner_id, values_by_key in measurer.measure(first_id, last_id, only=only).items():
            result.evaluated += 1
            outcome = evaluate_tree(tree, [values_by_key[key] for key in keys])
            for index, leaf_outcome in enumerate(outcome.leaves):
                leaf_counts[index] += leaf_outcome.passed
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
        result.leaf_passes.append((leaf.path, leaf_sentence(leaf, references), count))
    return result
