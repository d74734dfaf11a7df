"""Which gates a course or a learning path helps a partner with, and how far the partner is.

A path helps with a gate whose criteria count the certification it issues (``certified_people``
or ``certifications`` naming its type, its track, or every type); a course helps with a gate whose
criteria count its completions or learning hours (by its code, track or product line, or any
course). The standing comes from the partner's last evaluation, as on the partner's dashboard:
"Sales Engineer path → counts toward Gold: at least 5 people holding a valid sales-engineer
certification (you have 4)".
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from core.money import is_currency
from criteria.references import References
from criteria.tree import CriteriaError, Leaf, parse
from enablement.models import Course, LearningPath
from gates.describe import leaf_sentence
from gates.metrics import SPECS
from gates.models import Gate
from gates.selectors import LeafProgress, partner_gate_progress
from partners.models import CertificationType

CERTIFICATION_METRICS = {"certified_people", "certifications"}
COMPLETION_METRICS = {"course_completions", "learning_hours"}


@dataclass(frozen=True)
class GateHelp:
    """One criterion of one gate that a course or path counts toward, with the partner's standing."""

    gate: Gate
    criterion: str  # "at least 5 people holding a valid sales-engineer certification"
    progress: LeafProgress

    @property
    def reward(self) -> str:
        """What the gate unlocks, as partners name it: its tier, else the gate's own name."""
        return self.gate.unlocks_tier.name if self.gate.unlocks_tier else self.gate.name

    @property
    def sentence(self) -> str:
        standing = "met" if self.progress.passed else f"you have {self.progress.value_display}"
        return f"counts toward {self.reward}: {self.criterion} ({standing})"


def counts_certification(leaf: Leaf, certification_type: CertificationType) -> bool:
    """Whether a criterion counts certifications of this type."""
    if leaf.metric not in CERTIFICATION_METRICS:
        return False
    params = leaf.params
    if params.get("certification_types") and certification_type.code not in params["certification_types"]:
        return False
    if params.get("tracks") and certification_type.track not in params["tracks"]:
        return False
    return not (params.get("advanced_only") and not certification_type.is_advanced)


def counts_course(leaf: Leaf, course: Course, product_lines: Iterable[str]) -> bool:
    """Whether a criterion counts completions of this course (``product_lines``: the course's codes)."""
    if leaf.metric not in COMPLETION_METRICS:
        return False
    params = leaf.params
    if params.get("courses") and course.code not in params["courses"]:
        return False
    if params.get("tracks") and course.track not in params["tracks"]:
        return False
    return not (params.get("product_lines") and not set(params["product_lines"]) & set(product_lines))


def learning_gate_help(
    user,
    partner,
    *,
    courses: Iterable[Course] = (),
    paths: Iterable[LearningPath] = (),
    as_of: datetime.date | None = None,
) -> tuple[dict[int, list[GateHelp]], dict[int, list[GateHelp]]]:
    """The gates each course and each path helps ``partner`` with, keyed by course and by path id.

    Reads the gates ``user`` sees that are in effect (one query) and the partner's standing on them
    (``partner_gate_progress``: two more); courses need their product lines prefetched and paths
    their certification type selected.
    """
    as_of = as_of or timezone.localdate()
    gates = list(
        Gate.objects.visible_to(user)
        .in_effect(as_of)
        .select_related("program", "unlocks_tier")
        .order_by("program__name", "name")
    )
    if not gates:
        return {}, {}
    leaves: list[tuple[Leaf, GateHelp]] = []
    for progress in partner_gate_progress(partner, gates=gates, as_of=as_of):
        gate = progress.gate
        try:
            tree = parse(
                gate.criteria, metrics=SPECS, default_currency=gate.money_currency, currencies=is_currency
            )
        except CriteriaError:
            continue
        for leaf, leaf_progress in zip(tree.leaves, progress.leaves, strict=True):
            if leaf.metric in CERTIFICATION_METRICS | COMPLETION_METRICS:
                help_ = GateHelp(
                    gate=gate, criterion=leaf_sentence(leaf, References()), progress=leaf_progress
                )
                leaves.append((leaf, help_))
    by_course = {
        course.pk: [
            help_
            for leaf, help_ in leaves
            if counts_course(leaf, course, [line.code for line in course.product_lines.all()])
        ]
        for course in courses
    }
    by_path = {
        path.pk: [
            help_
            for leaf, help_ in leaves
            if path.certification_type is not None and counts_certification(leaf, path.certification_type)
        ]
        for path in paths
    }
    return by_course, by_path
