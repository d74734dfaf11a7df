"""Writes to the catalogue and to people's learning.

A completion may finish learning paths: each finished path that issues a certification issues it
(with its expiry) in the same transaction, and the partner's facts are announced as changed, so the
gates re-decide it after commit like any ingested fact.
"""

import datetime
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.audit import audit
from enablement.models import (
    Choice,
    Completion,
    CompletionSource,
    Course,
    Enrolment,
    LearningPath,
    Module,
    Quiz,
    QuizAttempt,
    QuizAttemptGrant,
)
from partners.models import Certification, EngagementActivity, Person
from partners.signals import activities_changed, facts_changed

CERTIFICATION_SOURCE = "learning_path"
# The engagement activity a completion records: source and external id ``completion:<id>``.
ACTIVITY_SOURCE = "enablement"


def completion_activity_id(completion_id: int) -> str:
    return f"completion:{completion_id}"


def _completion_activity_sync(
    *, person: Person, course: Course, revoked: Completion | None = None
) -> list[int]:
    """Keep one engagement activity for ``person``'s completions of ``course``; the ids it touched.

    A person's completions of one course earn once: the first standing completion records an
    activity of the course's type (its points, or the type's default), later ones (a re-completion,
    a new version) record none. A revoked completion's activity is deleted, and the next standing
    completion, if any, takes its place. The caller sends ``activities_changed`` with the ids, so
    the incentives engine prices or reverses them after commit.
    """
    if revoked is None and course.completion_activity_type_id is None:
        return []  # nothing to record, nothing to remove
    standing = list(Completion.objects.filter(person=person, course=course).order_by("completed_at", "pk"))
    keys = [completion_activity_id(completion.pk) for completion in standing]
    if revoked is not None:
        keys.append(completion_activity_id(revoked.pk))
    activities = {
        activity.external_id: activity
        for activity in EngagementActivity.objects.filter(source=ACTIVITY_SOURCE, external_id__in=keys)
    }
    touched = []
    if revoked is not None and (gone := activities.pop(completion_activity_id(revoked.pk), None)):
        touched.append(gone.pk)
        gone.delete()
    activity_type = course.completion_activity_type
    if activities or not standing or activity_type is None:
        return touched
    first = standing[0]
    name = f"{person.first_name} {person.last_name}".strip()
    activity = EngagementActivity.objects.create(
        partner_id=person.partner_id,
        activity_type=activity_type,
        points=course.completion_points
        if course.completion_points is not None
        else activity_type.default_points,
        occurred_on=timezone.localdate(first.completed_at),
        description=f"Completed {course.title} – {name}"[:300],
        source=ACTIVITY_SOURCE,
        external_id=completion_activity_id(first.pk),
    )
    touched.append(activity.pk)
    return touched


def path_activity_id(path_id: int, person_id: int) -> str:
    return f"path:{path_id}:person:{person_id}"


def _path_activity_sync(*, person: Person, course: Course, on: datetime.date) -> list[int]:
    """Keep one engagement activity per learning path ``person`` has completed; the ids it touched.

    Each active path containing ``course`` whose ``completion_activity_type`` is set records an
    activity of that type (``enablement``, ``path:<path>:person:<person>``) once every one of its
    courses is completed, dated ``on``; a person earns once per path. When a revoked completion
    leaves the path unfinished, its activity is deleted, so the incentives engine reverses it.
    """
    paths = list(
        LearningPath.objects.filter(
            is_active=True, completion_activity_type__isnull=False, steps__course=course
        )
        .select_related("completion_activity_type")
        .prefetch_related("steps")
        .distinct()
    )
    if not paths:
        return []
    done = set(Completion.objects.filter(person=person).values_list("course_id", flat=True))
    keys = {path.pk: path_activity_id(path.pk, person.pk) for path in paths}
    existing = {
        activity.external_id: activity
        for activity in EngagementActivity.objects.filter(
            source=ACTIVITY_SOURCE, external_id__in=keys.values()
        )
    }
    touched = []
    name = f"{person.first_name} {person.last_name}".strip()
    for path in paths:
        finished = {step.course_id for step in path.steps.all()} <= done
        activity = existing.get(keys[path.pk])
        if finished and activity is None:
            activity_type = path.completion_activity_type
            assert activity_type is not None  # the query keeps paths naming one
            created = EngagementActivity.objects.create(
                partner_id=person.partner_id,
                activity_type=activity_type,
                points=path.completion_points
                if path.completion_points is not None
                else activity_type.default_points,
                occurred_on=on,
                description=f"Completed the {path.title} path – {name}"[:300],
                source=ACTIVITY_SOURCE,
                external_id=keys[path.pk],
            )
            touched.append(created.pk)
        elif not finished and activity is not None:
            touched.append(activity.pk)
            activity.delete()
    return touched


def catalogue_save(
    *, actor, definition: models.Model, created: bool, fields: Iterable[str] = ()
) -> models.Model:
    """Save a validated course, module, quiz, question, choice or learning path, with an audit entry.

    Precondition: the definition passed ``full_clean`` (the admin's forms do it).
    """
    name = definition._meta.model_name
    with transaction.atomic():
        definition.save()
        audit(
            actor=actor,
            action=f"{name}.created" if created else f"{name}.changed",
            target=definition,
            fields=sorted(fields),
        )
    return definition


def catalogue_delete(*, actor, definition: models.Model) -> None:
    """Delete a definition of the catalogue (the database refuses a course someone completed)."""
    name = definition._meta.model_name
    with transaction.atomic():
        audit(actor=actor, action=f"{name}.deleted", target=definition, name=str(definition))
        definition.delete()


def _expiry(path: LearningPath, issued_on: datetime.date) -> datetime.date | None:
    months = path.months_valid
    return issued_on + relativedelta(months=months) - datetime.timedelta(days=1) if months else None


def _paths_finished(person: Person, course: Course) -> list[LearningPath]:
    """Active paths issuing a certification that contain ``course`` and whose every course the
    person has now completed."""
    done = set(Completion.objects.filter(person=person).values_list("course_id", flat=True))
    paths = (
        LearningPath.objects.filter(is_active=True, certification_type__isnull=False, steps__course=course)
        .select_related("certification_type")
        .prefetch_related("steps")
        .distinct()
    )
    return [path for path in paths if {step.course_id for step in path.steps.all()} <= done]


def certifications_issue(*, actor, person: Person, course: Course, on: datetime.date) -> list[Certification]:
    """Issue the certification of each path ``course`` finishes for ``person``.

    A path issues its certification once while one it issued is still valid; a renewal path
    issues only to someone who held the certification before (typically a lapsed one).
    Side effect: the partner's facts are announced as changed (the gates re-decide it after commit).
    """
    issued = []
    for path in _paths_finished(person, course):
        certification_type = path.certification_type
        assert certification_type is not None  # _paths_finished keeps paths that issue one
        held = Certification.objects.filter(person=person, certification_type=certification_type)
        if path.is_renewal and not held.exists():
            continue
        if held.valid_on(on).exists():
            continue
        certification = Certification.objects.create(
            person=person,
            certification_type=certification_type,
            issued_on=on,
            expires_on=_expiry(path, on),
            source=CERTIFICATION_SOURCE,
        )
        audit(
            actor=actor,
            action="certification.issued",
            target=certification,
            learning_path=path.pk,
            renewal=path.is_renewal,
        )
        issued.append(certification)
    return issued


def completion_record(
    *,
    actor,
    person: Person,
    course: Course,
    completed_at: datetime.datetime | None = None,
    score_percent=None,
    source: str = CompletionSource.MANUAL,
    statement_id=None,
) -> tuple[Completion, list[Certification]]:
    """Record that ``person`` completed ``course`` and issue what it finishes.

    Idempotent by ``statement_id``: a statement already recorded returns its completion and
    issues nothing. The caller has checked the door (the person's partner takes facts from it).
    Side effects: an audit entry; certifications of finished paths; ``facts_changed`` for the partner.
    """
    completed_at = completed_at or timezone.now()
    with transaction.atomic():
        if statement_id is not None:
            existing = Completion.objects.filter(statement_id=statement_id).first()
            if existing is not None:
                return existing, []
        completion = Completion.objects.create(
            person=person,
            course=course,
            completed_at=completed_at,
            score_percent=score_percent,
            source=source,
            statement_id=statement_id,
        )
        audit(actor=actor, action="completion.recorded", target=completion, source=source)
        issued = certifications_issue(
            actor=actor, person=person, course=course, on=timezone.localdate(completed_at)
        )
        activity_ids = _completion_activity_sync(person=person, course=course)
        activity_ids += _path_activity_sync(person=person, course=course, on=timezone.localdate(completed_at))
        facts_changed.send(sender=Completion, partner_ids={person.partner_id})
        if activity_ids:
            activities_changed.send(sender=Completion, activity_ids=activity_ids)
    return completion, issued


def completion_revoke(*, actor, completion: Completion) -> None:
    """Delete a completion recorded in error, and what it earned.

    The engagement activity it recorded is deleted (the next standing completion of the course,
    if any, records one instead), so the incentives engine reverses its points and SPIFs after
    commit as it reverses any removed fact. Certifications it issued stay: revoke them apart.
    Side effects: an audit entry; ``facts_changed`` and ``activities_changed``.
    """
    with transaction.atomic():
        completion = (
            Completion.objects.select_for_update().select_related("person", "course").get(pk=completion.pk)
        )
        person, course = completion.person, completion.course
        audit(
            actor=actor,
            action="completion.revoked",
            target=completion,
            person=person.pk,
            course=course.pk,
            completed_at=completion.completed_at.isoformat(),
        )
        revoked = Completion(pk=completion.pk)
        completion.delete()
        activity_ids = _completion_activity_sync(person=person, course=course, revoked=revoked)
        activity_ids += _path_activity_sync(person=person, course=course, on=timezone.localdate())
        facts_changed.send(sender=Completion, partner_ids={person.partner_id})
        if activity_ids:
            activities_changed.send(sender=Completion, activity_ids=activity_ids)


class LearningRefused(ValidationError):
    """A learning step the person may not take now (no attempts left, a quiz not ready...)."""


def enrolment_create(*, actor, person: Person, course: Course) -> Enrolment:
    """Enrol ``person`` in ``course``; enrolling again returns the existing enrolment.

    The caller has checked the door (``Course.objects.actionable_by(user, "enrol")``).
    """
    with transaction.atomic():
        enrolment, created = Enrolment.objects.get_or_create(person=person, course=course)
        if created:
            audit(actor=actor, action="enrolment.created", target=enrolment)
    return enrolment


def _completed_since_enrolment(enrolment: Enrolment) -> bool:
    return Completion.objects.filter(
        person_id=enrolment.person_id, course_id=enrolment.course_id, completed_at__gte=enrolment.enrolled_at
    ).exists()


def _complete_if_done(*, actor, enrolment: Enrolment) -> Completion | None:
    """Record the completion once every module is done and the quiz (if any) is passed."""
    course = enrolment.course
    modules = set(course.modules.values_list("pk", flat=True))
    if not modules <= set(enrolment.modules_done.values_list("pk", flat=True)):
        return None
    quiz = Quiz.objects.filter(course=course).first()
    score = None
    if quiz is not None:
        best = (
            QuizAttempt.objects.filter(person_id=enrolment.person_id, quiz=quiz, passed=True)
            .order_by("-score_percent")
            .first()
        )
        if best is None:
            return None
        score = best.score_percent
    if _completed_since_enrolment(enrolment):
        return None
    completion, _issued = completion_record(
        actor=actor,
        person=enrolment.person,
        course=course,
        score_percent=score,
        source=CompletionSource.PORTAL,
    )
    return completion


def module_mark_done(*, actor, enrolment: Enrolment, module: Module) -> Completion | None:
    """Mark one module of the enrolment's course done; returns the completion if that finished it.

    The caller has checked the door (``Enrolment.objects.actionable_by(user, "learn")``).
    Side effects: an audit entry; the completion (and certifications) when the course is done.
    """
    if module.course_id != enrolment.course_id:
        raise LearningRefused({"module": "This module belongs to another course."})
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update().select_related("course", "person").get(pk=enrolment.pk)
        )
        if not enrolment.modules_done.filter(pk=module.pk).exists():
            enrolment.modules_done.add(module)
            audit(actor=actor, action="enrolment.module_done", target=enrolment, module=module.pk)
        return _complete_if_done(actor=actor, enrolment=enrolment)


@dataclass(frozen=True)
class QuizResult:
    attempt: QuizAttempt
    correct: int
    questions: int
    attempts_left: int
    completion: Completion | None


@dataclass(frozen=True)
class QuizAllowance:
    """A person's attempts at a quiz: the quiz's own, those granted since, and those used."""

    allowed: int
    granted: int
    used: int

    @property
    def left(self) -> int:
        return max(0, self.allowed + self.granted - self.used)

    @property
    def total(self) -> int:
        return self.allowed + self.granted


def quiz_allowance(*, person_id: int, quiz: Quiz) -> QuizAllowance:
    """One query: the attempts used and granted beside the quiz's own."""
    used = (
        QuizAttempt.objects.filter(person_id=person_id, quiz_id=OuterRef("pk"))
        .order_by()
        .values("quiz_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    granted = (
        QuizAttemptGrant.objects.filter(person_id=person_id, quiz_id=OuterRef("pk"))
        .order_by()
        .values("quiz_id")
        .annotate(n=Sum("extra_attempts"))
        .values("n")
    )
    row = (
        Quiz.objects.filter(pk=quiz.pk)
        .annotate(used=Coalesce(Subquery(used), 0), granted=Coalesce(Subquery(granted), 0))
        .values_list("max_attempts", "granted", "used")
        .get()
    )
    return QuizAllowance(*row)


def quiz_attempts_left(*, person_id: int, quiz: Quiz) -> int:
    return quiz_allowance(person_id=person_id, quiz=quiz).left


def exhausted_message(allowance: QuizAllowance) -> str:
    return (
        f"You have used all {allowance.total} attempts at this quiz. Your partner admin (or your "
        "channel manager) can grant you another from the team's learning page."
    )


def quiz_attempts_grant(
    *, actor, enrolment: Enrolment, extra_attempts: int = 1, reason: str = ""
) -> QuizAttemptGrant:
    """Grant the enrolled person ``extra_attempts`` more attempts at the course's quiz.

    The caller has checked the door (``Enrolment.objects.actionable_by(user, "grant_attempts")``).
    Refused (``LearningRefused``) when the course has no quiz, the person passed it already, or the
    number is outside 1-10. Side effects: the grant (recorded in the history) and an audit entry.
    """
    if not 1 <= extra_attempts <= 10:
        raise LearningRefused({"extra_attempts": "Grant between 1 and 10 attempts at a time."})
    with transaction.atomic():
        # The same row lock as the attempts, so a grant and an attempt do not interleave.
        enrolment = (
            Enrolment.objects.select_for_update().select_related("person", "course").get(pk=enrolment.pk)
        )
        quiz = Quiz.objects.filter(course_id=enrolment.course_id).first()
        if quiz is None:
            raise LearningRefused("This course has no quiz.")
        if QuizAttempt.objects.filter(person_id=enrolment.person_id, quiz=quiz, passed=True).exists():
            raise LearningRefused(f"{enrolment.person} has passed this quiz already.")
        grant = QuizAttemptGrant.objects.create(
            person=enrolment.person,
            quiz=quiz,
            extra_attempts=extra_attempts,
            reason=reason.strip()[:300],
            granted_by=actor if getattr(actor, "pk", None) else None,
        )
        audit(
            actor=actor,
            action="quiz.attempts_granted",
            target=grant,
            person=enrolment.person_id,
            quiz=quiz.pk,
            extra_attempts=extra_attempts,
        )
    return grant


def quiz_submit(*, actor, enrolment: Enrolment, answers: Mapping[int, Collection[int]]) -> QuizResult:
    """Score one attempt at the course's quiz, checked here against the choices in the database.

    ``answers`` maps each question's id to the ids of the choices picked. A question is right when
    exactly its correct choices are picked. Refused (``LearningRefused``) when the course has no
    quiz or it has no questions, when the person has passed already, or has no attempt left.
    Side effects: the attempt, an audit entry; the completion when the course is done with it.
    """
    with transaction.atomic():
        # The enrolment's row lock serialises a person's attempts, so two at once cannot
        # both take the last one.
        enrolment = (
            Enrolment.objects.select_for_update().select_related("course", "person").get(pk=enrolment.pk)
        )
        quiz = Quiz.objects.filter(course_id=enrolment.course_id).first()
        if quiz is None:
            raise LearningRefused("This course has no quiz.")
        correct_choices: dict[int, set[int]] = {}
        for question_id, choice_id, is_correct in Choice.objects.filter(question__quiz=quiz).values_list(
            "question_id", "pk", "is_correct"
        ):
            choices = correct_choices.setdefault(question_id, set())
            if is_correct:
                choices.add(choice_id)
        question_ids = list(quiz.questions.values_list("pk", flat=True))
        if not question_ids:
            raise LearningRefused("This quiz has no questions yet.")
        attempts = QuizAttempt.objects.filter(person_id=enrolment.person_id, quiz=quiz)
        if attempts.filter(passed=True).exists():
            raise LearningRefused("You have passed this quiz already.")
        allowance = quiz_allowance(person_id=enrolment.person_id, quiz=quiz)
        if allowance.left == 0:
            raise LearningRefused(exhausted_message(allowance))
        correct = sum(
            1
            for question_id in question_ids
            if set(answers.get(question_id, ())) == correct_choices.get(question_id, set())
        )
        score = round(100 * correct / len(question_ids))
        attempt = QuizAttempt.objects.create(
            person=enrolment.person, quiz=quiz, score_percent=score, passed=score >= quiz.pass_mark_percent
        )
        audit(actor=actor, action="quiz.attempted", target=attempt, score=score, passed=attempt.passed)
        completion = _complete_if_done(actor=actor, enrolment=enrolment) if attempt.passed else None
    return QuizResult(
        attempt=attempt,
        correct=correct,
        questions=len(question_ids),
        attempts_left=allowance.left - 1,
        completion=completion,
    )
