"""Completions issue the certifications of the paths they finish, and the gates re-decide at once."""

import datetime
import uuid

import pytest
from django.utils import timezone

from core.models import AuditEntry
from enablement.models import Completion, CompletionSource
from enablement.services import completion_record
from gates.models import Gate, GateState, GateStatus
from partners.models import Certification
from tests.factories import CertificationFactory, PersonFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def _at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def test_completing_every_course_of_a_path_issues_its_certification_with_its_expiry(catalogue, superuser):
    person = PersonFactory()
    day = datetime.date(2026, 3, 15)

    _, issued = completion_record(
        actor=superuser, person=person, course=catalogue.basics, completed_at=_at(day)
    )
    assert issued == []  # one course of two
    _, issued = completion_record(
        actor=superuser, person=person, course=catalogue.demo, completed_at=_at(day)
    )

    (certification,) = issued
    assert certification.person == person
    assert certification.certification_type == catalogue.certification_type
    assert certification.issued_on == day
    # The path's own validity (12 months) wins over the type's (24).
    assert certification.expires_on == datetime.date(2027, 3, 14)
    assert AuditEntry.objects.filter(action="certification.issued", target_id=str(certification.pk)).exists()


def test_a_path_without_its_own_validity_uses_the_certification_types(catalogue, superuser):
    catalogue.path.validity_months = None
    catalogue.path.save()
    person = PersonFactory()
    day = datetime.date(2026, 1, 1)
    for course in (catalogue.basics, catalogue.demo):
        _, issued = completion_record(actor=superuser, person=person, course=course, completed_at=_at(day))
    assert issued[0].expires_on == datetime.date(2027, 12, 31)


def test_a_valid_certification_is_not_issued_twice(catalogue, superuser):
    person = PersonFactory()
    day = datetime.date(2026, 3, 15)
    for course in (catalogue.basics, catalogue.demo, catalogue.demo):
        completion_record(actor=superuser, person=person, course=course, completed_at=_at(day))
    assert Certification.objects.filter(person=person).count() == 1


def test_the_renewal_path_renews_a_lapsed_certification_only(catalogue, superuser):
    newcomer = PersonFactory()
    _, issued = completion_record(
        actor=superuser,
        person=newcomer,
        course=catalogue.refresher,
        completed_at=_at(datetime.date(2026, 5, 1)),
    )
    assert issued == []  # never certified: the renewal path issues nothing

    lapsed = PersonFactory()
    CertificationFactory(
        person=lapsed,
        certification_type=catalogue.certification_type,
        issued_on=datetime.date(2024, 1, 1),
        expires_on=datetime.date(2025, 12, 31),
    )
    _, issued = completion_record(
        actor=superuser,
        person=lapsed,
        course=catalogue.refresher,
        completed_at=_at(datetime.date(2026, 5, 1)),
    )
    (renewed,) = issued
    assert renewed.issued_on == datetime.date(2026, 5, 1)
    assert renewed.expires_on == datetime.date(2028, 4, 30)  # the type's 24 months


def test_a_statement_recorded_twice_counts_once(catalogue, superuser):
    person = PersonFactory()
    statement = uuid.uuid4()
    first, _ = completion_record(
        actor=superuser,
        person=person,
        course=catalogue.basics,
        source=CompletionSource.XAPI,
        statement_id=statement,
    )
    again, issued = completion_record(
        actor=superuser,
        person=person,
        course=catalogue.basics,
        source=CompletionSource.XAPI,
        statement_id=statement,
    )
    assert again == first
    assert issued == []
    assert Completion.objects.filter(person=person).count() == 1


def test_finishing_a_path_flips_the_partners_gate_after_commit(
    catalogue, superuser, django_capture_on_commit_callbacks
):
    program = ProgramFactory()
    gate = Gate.objects.create(
        program=program,
        name="Five certified sales engineers",
        state=GateState.ACTIVE,
        criteria={
            "metric": "certified_people",
            "certification_types": ["sales-engineer"],
            "op": ">=",
            "target": 1,
        },
    )
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=True):
        completion_record(actor=superuser, person=person, course=catalogue.basics)
    assert GateStatus.objects.get(partner=person.partner, gate=gate).status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        completion_record(actor=superuser, person=person, course=catalogue.demo)

    assert GateStatus.objects.get(partner=person.partner, gate=gate).status == "passed"
