"""Writes to the catalogue and to people's learning.

A completion may finish learning paths: each finished path that issues a certification issues it
(with its expiry) in the same transaction, and the partner's facts are announced as changed, so the
gates re-decide it after commit like any ingested fact.
"""

import datetime
from collections.abc import Iterable

from dateutil.relativedelta import relativedelta
from django.db import models, transaction
from django.utils import timezone

from core.audit import audit
from enablement.models import Completion, CompletionSource, Course, LearningPath
from partners.models import Certification, Person
from partners.signals import facts_changed

CERTIFICATION_SOURCE = "learning_path"


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
        facts_changed.send(sender=Completion, partner_ids={person.partner_id})
    return completion, issued
