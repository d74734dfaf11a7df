"""The enablement funnel: for each learning path, how many people of the manager's coverage are
enrolled, in progress, completed and certified, and the median days each step takes.

A person's stages in a path, each counted once and cumulative:

- **enrolled**: enrolled in one of its courses, or completed one (an LMS may report a completion
  without an enrolment here); since the earliest of those;
- **in progress**: ticked a module of one of its courses or completed one; since the first
  completion of one of its courses (module ticks carry no date, so the step's median counts
  the people with a completion);
- **completed**: completed every one of its courses; since the last of those first completions;
- **certified**: holds the certification the path issues, issued on or after the day it was
  completed (a path issuing none has no such stage).

Every read goes through the one door (``visible_to``) and the analytics filters narrow the
partners; six queries whatever the number of people or paths.
"""

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Min, Q
from django.utils import timezone

from analytics.filters import Filters
from enablement.models import Completion, Enrolment, LearningPath, PathStep
from partners.models import Certification

STAGES = ("enrolled", "in_progress", "completed", "certified")
STAGE_LABELS = {
    "enrolled": "Enrolled",
    "in_progress": "In progress",
    "completed": "Completed",
    "certified": "Certified",
}
# The steps whose time is measured: (from stage, to stage).
STEPS = (("enrolled", "in_progress"), ("in_progress", "completed"), ("completed", "certified"))


@dataclass
class PathFunnel:
    path: LearningPath
    counts: dict[str, int] = field(default_factory=dict)
    # (from, to) -> median days, None when no one has made the step
    median_days: dict[tuple[str, str], Decimal | None] = field(default_factory=dict)
    median_days_to_complete: Decimal | None = None

    @property
    def issues_certification(self) -> bool:
        return self.path.certification_type_id is not None

    def rows(self) -> list[tuple[str, int, Decimal | None]]:
        """(stage label, people, median days from the stage before) for the table and the CSV."""
        stages = STAGES if self.issues_certification else STAGES[:-1]
        previous = dict(zip(STAGES[1:], STAGES[:-1], strict=True))
        return [
            (
                STAGE_LABELS[stage],
                self.counts.get(stage, 0),
                self.median_days.get((previous[stage], stage)) if stage in previous else None,
            )
            for stage in stages
        ]


def _days(start: datetime.datetime | datetime.date, end: datetime.datetime | datetime.date) -> float:
    if isinstance(start, datetime.datetime) and isinstance(end, datetime.datetime):
        return (end - start).total_seconds() / 86400
    start_day = timezone.localdate(start) if isinstance(start, datetime.datetime) else start
    end_day = timezone.localdate(end) if isinstance(end, datetime.datetime) else end
    return float((end_day - start_day).days)


def _median(values: list[float]) -> Decimal | None:
    if not values:
        return None
    return Decimal(str(statistics.median(values))).quantize(Decimal("0.1"))


def enablement_funnel(principal, filters: Filters) -> list[PathFunnel]:
    """The funnel of each learning path the principal sees, over the people of the filtered partners.

    ``filters.start`` and ``filters.end`` keep the people who enrolled in the path in that window
    (inclusive); a program keeps the paths open to every program or limited to it.
    Queries: paths and their steps (2), enrolments (1), completions (1), certifications (1),
    and the partners' subquery inside each.
    """
    paths_query = LearningPath.objects.visible_to(principal).filter(is_active=True).order_by("title", "pk")
    if filters.program is not None:
        paths_query = paths_query.filter(Q(programs=None) | Q(programs=filters.program)).distinct()
    paths = list(paths_query.select_related("certification_type"))
    if not paths:
        return []
    steps = list(
        # door: the steps of the paths read through LearningPath.objects.visible_to above.
        PathStep.objects.filter(path__in=[path.pk for path in paths]).values_list("path_id", "course_id")
    )
    courses_of: dict[int, set[int]] = defaultdict(set)
    for path_id, course_id in steps:
        courses_of[path_id].add(course_id)
    all_courses = {course_id for _, course_id in steps}
    partners = filters.partners(principal)
    enrolled: dict[tuple[int, int], tuple[datetime.datetime, int]] = {}
    for person_id, course_id, first, modules in (
        Enrolment.objects.visible_to(principal)
        .filter(person__partner__in=partners, course_id__in=all_courses)
        .values("person_id", "course_id")
        .annotate(first=Min("enrolled_at"), modules=Count("modules_done"))
        .values_list("person_id", "course_id", "first", "modules")
        .order_by()
    ):
        enrolled[(person_id, course_id)] = (first, modules)
    completed: dict[tuple[int, int], datetime.datetime] = {
        (person_id, course_id): first
        for person_id, course_id, first in Completion.objects.visible_to(principal)
        .filter(person__partner__in=partners, course_id__in=all_courses)
        .values("person_id", "course_id")
        .annotate(first=Min("completed_at"))
        .values_list("person_id", "course_id", "first")
        .order_by()
    }
    certification_types = {path.certification_type_id for path in paths if path.certification_type_id}
    issued: dict[tuple[int, int], list[datetime.date]] = defaultdict(list)
    if certification_types:
        for person_id, type_id, issued_on in (
            Certification.objects.visible_to(principal)
            .filter(person__partner__in=partners, certification_type_id__in=certification_types)
            .values_list("person_id", "certification_type_id", "issued_on")
            .order_by("issued_on")
        ):
            issued[(person_id, type_id)].append(issued_on)
    people = {person_id for person_id, _ in enrolled} | {person_id for person_id, _ in completed}
    return [
        _path_funnel(path, courses_of[path.pk], people, enrolled, completed, issued, filters)
        for path in paths
    ]


def _path_funnel(path, courses, people, enrolled, completed, issued, filters: Filters) -> PathFunnel:
    counts = dict.fromkeys(STAGES, 0)
    durations: dict[tuple[str, str], list[float]] = {step: [] for step in STEPS}
    to_complete: list[float] = []
    for person_id in people:
        enrolments = [enrolled[(person_id, course)] for course in courses if (person_id, course) in enrolled]
        completions = [
            completed[(person_id, course)] for course in courses if (person_id, course) in completed
        ]
        if not enrolments and not completions:
            continue
        since = min([first for first, _ in enrolments] + completions)
        day = timezone.localdate(since)
        if (filters.start and day < filters.start) or (filters.end and day > filters.end):
            continue
        counts["enrolled"] += 1
        if not completions and not any(modules for _, modules in enrolments):
            continue
        counts["in_progress"] += 1
        if not completions:
            continue
        started = min(completions)
        durations[("enrolled", "in_progress")].append(_days(since, started))
        if len(completions) < len(courses):
            continue
        counts["completed"] += 1
        done = max(completions)
        durations[("in_progress", "completed")].append(_days(started, done))
        to_complete.append(_days(since, done))
        if path.certification_type_id is None:
            continue
        done_day = timezone.localdate(done)
        later = [on for on in issued.get((person_id, path.certification_type_id), []) if on >= done_day]
        if later:
            counts["certified"] += 1
            durations[("completed", "certified")].append(_days(done_day, later[0]))
    return PathFunnel(
        path=path,
        counts=counts,
        median_days={step: _median(values) for step, values in durations.items()},
        median_days_to_complete=_median(to_complete),
    )
