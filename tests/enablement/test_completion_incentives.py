"""Completions earn engagement points and pay activity SPIFs, through the one incentives engine.

A course names the activity type its completion records (and, optionally, the points); the
completion records one engagement activity (``enablement``, ``completion:<id>``), which the points
rules and the activity SPIFs price after commit like any other activity. A person's completions of
one course earn once; a revoked completion reverses what it earned.
"""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import AuditEntry
from enablement.models import Completion, CompletionSource
from enablement.services import completion_record, completion_revoke
from enablement.xapi import statements_ingest
from incentives.models import EntryType, LedgerEntry, SpifTrigger
from incentives.services import calculate
from partners.models import EngagementActivity
from tests.factories import ActivityTypeFactory, PersonFactory, ProgramFactory
from tests.incentives.helpers import points_rule, spif_rule

pytestmark = pytest.mark.django_db

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
DAY = datetime.date(2025, 3, 10)


def _at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


@pytest.fixture
def priced(catalogue):
    """Platform basics records a "course completed" activity worth 25 points; a points rule doubles
    points of that type, and a SPIF pays USD 150 per completion from 1 Jan to 30 Jun 2025 (budget 400)."""
    program = ProgramFactory()
    completed = ActivityTypeFactory(code="course-completed", name="Course completed", default_points=5)
    other = ActivityTypeFactory(code="webinar", name="Webinar", default_points=10)
    catalogue.basics.completion_activity_type = completed
    catalogue.basics.completion_points = 25
    catalogue.basics.save()
    catalogue.demo.completion_activity_type = completed  # the type's default: 5 points
    catalogue.demo.save()
    points = points_rule(program, multiplier="2", name="Learning points")
    points.activity_types.set([completed])
    spif = spif_rule(program, trigger=SpifTrigger.ACTIVITY, amount="150", budget="400", name="Train to earn")
    spif.activity_types.set([completed])
    return {"points": points, "spif": spif, "completed": completed, "other": other}


def _ledger(rule) -> list[tuple[str, str, Decimal, str]]:
    return sorted(
        (entry.source_type, entry.entry_type, entry.amount, entry.currency)
        for entry in LedgerEntry.objects.filter(rule=rule)
    )


def test_a_completion_earns_points_and_the_spif_after_commit(
    catalogue, priced, superuser, django_capture_on_commit_callbacks
):
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        completion, _ = completion_record(
            actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY)
        )
    activity = EngagementActivity.objects.get(source="enablement")
    assert activity.external_id == f"completion:{completion.pk}"
    assert (activity.partner_id, activity.points, activity.occurred_on) == (person.partner_id, 25, DAY)
    assert not LedgerEntry.objects.exists()  # nothing before the commit

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()

    # 25 activity points × 2 = 50 points; the SPIF's bonus, USD 150.00.
    assert _ledger(priced["points"]) == [("activity", EntryType.EARNING, Decimal("50"), "PTS")]
    assert _ledger(priced["spif"]) == [("activity", EntryType.EARNING, Decimal("150.00"), "USD")]
    spif_entry = LedgerEntry.objects.get(rule=priced["spif"])
    assert (spif_entry.partner_id, spif_entry.source_id, spif_entry.event_on) == (
        person.partner_id,
        str(activity.pk),
        DAY,
    )


def test_the_spif_stops_at_its_budget_and_the_course_without_points_uses_the_types(
    catalogue, priced, superuser, django_capture_on_commit_callbacks
):
    people = [PersonFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for index, person in enumerate(people):
            completion_record(
                actor=superuser,
                person=person,
                course=catalogue.demo,
                completed_at=_at(DAY + datetime.timedelta(days=index)),
            )
    # The demo course has no points of its own: the type's 5, doubled, for each of the three.
    assert [amount for _, _, amount, _ in _ledger(priced["points"])] == [Decimal("10")] * 3
    # 150 + 150 + the 100 left of the 400 budget, in the order of the completions.
    by_partner = dict(LedgerEntry.objects.filter(rule=priced["spif"]).values_list("partner_id", "amount"))
    assert [by_partner[person.partner_id] for person in people] == [
        Decimal("150.00"),
        Decimal("150.00"),
        Decimal("100.00"),
    ]


def test_an_xapi_batch_sent_again_pays_nothing_twice(
    catalogue, priced, partner, channel_manager, django_capture_on_commit_callbacks
):
    PersonFactory(partner=partner, email="sam@acme.example")
    batch = [
        {
            "id": str(uuid.uuid4()),
            "actor": {"mbox": "mailto:sam@acme.example"},
            "verb": {"id": COMPLETED},
            "object": {"id": catalogue.basics.xapi_activity_id},
            "timestamp": "2025-03-10T09:00:00Z",
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        first = statements_ingest(principal=channel_manager, statements=batch)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = statements_ingest(principal=channel_manager, statements=batch)

    assert (first["created"], again["unchanged"]) == (1, 1)
    assert callbacks == []  # nothing new to price
    assert EngagementActivity.objects.filter(source="enablement").count() == 1
    assert _ledger(priced["points"]) == [("activity", EntryType.EARNING, Decimal("50"), "PTS")]
    assert _ledger(priced["spif"]) == [("activity", EntryType.EARNING, Decimal("150.00"), "USD")]
    # The daily run (every partner, all time) finds nothing to change either.
    assert calculate().entries == 0


def test_completing_a_course_again_earns_nothing_more(
    catalogue, priced, superuser, django_capture_on_commit_callbacks
):
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=True):
        completion_record(actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY))
        completion_record(
            actor=superuser,
            person=person,
            course=catalogue.basics,
            completed_at=_at(DAY + datetime.timedelta(days=30)),
            source=CompletionSource.PORTAL,
        )
    assert Completion.objects.filter(person=person).count() == 2
    assert EngagementActivity.objects.filter(source="enablement").count() == 1
    assert LedgerEntry.objects.filter(rule=priced["points"]).count() == 1
    assert LedgerEntry.objects.filter(rule=priced["spif"]).count() == 1


def test_a_revoked_completion_reverses_its_points_and_spif(
    catalogue, priced, superuser, django_capture_on_commit_callbacks
):
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=True):
        completion, _ = completion_record(
            actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY)
        )
    with django_capture_on_commit_callbacks(execute=True):
        completion_revoke(actor=superuser, completion=completion)

    assert not Completion.objects.filter(pk=completion.pk).exists()
    assert not EngagementActivity.objects.filter(source="enablement").exists()
    assert _ledger(priced["points"]) == [
        ("activity", EntryType.EARNING, Decimal("50"), "PTS"),
        ("activity", EntryType.REVERSAL, Decimal("-50"), "PTS"),
    ]
    assert sum(entry.amount for entry in LedgerEntry.objects.filter(rule=priced["spif"])) == 0
    assert AuditEntry.objects.filter(action="completion.revoked", target_id=str(completion.pk)).exists()


def test_revoking_the_first_of_two_completions_moves_the_earning_to_the_second(
    catalogue, priced, superuser, django_capture_on_commit_callbacks
):
    person = PersonFactory()
    later = DAY + datetime.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = completion_record(
            actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY)
        )
        second, _ = completion_record(
            actor=superuser, person=person, course=catalogue.basics, completed_at=_at(later)
        )
        completion_revoke(actor=superuser, completion=first)

    activity = EngagementActivity.objects.get(source="enablement")
    assert (activity.external_id, activity.occurred_on) == (f"completion:{second.pk}", later)
    assert sum(entry.amount for entry in LedgerEntry.objects.filter(rule=priced["points"])) == 50
    assert sum(entry.amount for entry in LedgerEntry.objects.filter(rule=priced["spif"])) == Decimal("150.00")


def test_a_course_without_an_activity_type_records_no_activity(catalogue, priced, superuser):
    completion_record(actor=superuser, person=PersonFactory(), course=catalogue.refresher)
    assert not EngagementActivity.objects.exists()


def test_an_activity_spif_pays_only_its_types(
    catalogue, priced, superuser, django_capture_on_commit_callbacks
):
    partner = PersonFactory().partner
    with django_capture_on_commit_callbacks(execute=True):
        EngagementActivity.objects.create(
            partner=partner, activity_type=priced["other"], points=10, occurred_on=DAY
        )
    assert calculate().entries == 0  # a webinar is neither a points type here nor the SPIF's


def test_points_need_an_activity_type(catalogue):
    from django.core.exceptions import ValidationError

    catalogue.refresher.completion_points = 10
    with pytest.raises(ValidationError) as refused:
        catalogue.refresher.full_clean()
    assert "completion_points" in refused.value.message_dict


# --- a learning path completed: its own activity type --------------------------------------------


@pytest.fixture
def path_priced(catalogue):
    """The Sales Engineer path records "path completed" (40 points) once both its courses are done;
    a SPIF pays USD 300 on that type alone, so a rule can tell a path from a course."""
    program = ProgramFactory()
    path_completed = ActivityTypeFactory(code="path-completed", name="Path completed", default_points=10)
    catalogue.path.completion_activity_type = path_completed
    catalogue.path.completion_points = 40
    catalogue.path.save()
    spif = spif_rule(program, trigger=SpifTrigger.ACTIVITY, amount="300", name="Certify to earn")
    spif.activity_types.set([path_completed])
    return {"spif": spif, "type": path_completed}


def test_completing_a_path_records_its_own_activity_once_and_pays_the_spif(
    catalogue, path_priced, superuser, django_capture_on_commit_callbacks
):
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=True):
        completion_record(actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY))
        assert not EngagementActivity.objects.filter(activity_type=path_priced["type"]).exists()
        later = DAY + datetime.timedelta(days=4)
        completion_record(actor=superuser, person=person, course=catalogue.demo, completed_at=_at(later))
        # Completing a course of the path again earns the path nothing more.
        completion_record(
            actor=superuser,
            person=person,
            course=catalogue.basics,
            completed_at=_at(later + datetime.timedelta(1)),
        )
    activity = EngagementActivity.objects.get(activity_type=path_priced["type"])
    assert (activity.partner_id, activity.points, activity.occurred_on) == (person.partner_id, 40, later)
    assert activity.external_id == f"path:{catalogue.path.pk}:person:{person.pk}"
    assert _ledger(path_priced["spif"]) == [("activity", EntryType.EARNING, Decimal("300.00"), "USD")]


def test_a_revoked_completion_that_unfinishes_the_path_reverses_its_activity(
    catalogue, path_priced, superuser, django_capture_on_commit_callbacks
):
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=True):
        completion_record(actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY))
        demo, _ = completion_record(
            actor=superuser, person=person, course=catalogue.demo, completed_at=_at(DAY)
        )
    assert EngagementActivity.objects.filter(activity_type=path_priced["type"]).exists()
    with django_capture_on_commit_callbacks(execute=True):
        completion_revoke(actor=superuser, completion=demo)
    assert not EngagementActivity.objects.filter(activity_type=path_priced["type"]).exists()
    assert sum(entry.amount for entry in LedgerEntry.objects.filter(rule=path_priced["spif"])) == 0


def test_a_path_without_an_activity_type_records_none(catalogue, superuser):
    person = PersonFactory()
    completion_record(actor=superuser, person=person, course=catalogue.basics, completed_at=_at(DAY))
    completion_record(actor=superuser, person=person, course=catalogue.demo, completed_at=_at(DAY))
    assert not EngagementActivity.objects.exists()


def test_path_points_need_an_activity_type(catalogue):
    catalogue.path.completion_points = 10
    with pytest.raises(ValidationError) as caught:
        catalogue.path.full_clean()
    assert "completion_points" in caught.value.message_dict
