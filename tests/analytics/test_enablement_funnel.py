"""The enablement funnel: enrolled → in progress → completed → certified per learning path, with
the median days of each step, over the people of the manager's coverage only."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.enablement import enablement_funnel
from analytics.filters import parse_filters
from enablement.models import Enrolment
from enablement.services import completion_record
from tests.enablement.helpers import Catalogue
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

START = timezone.now() - datetime.timedelta(days=30)


def _enrol(person, course, at=START) -> Enrolment:
    enrolment = Enrolment.objects.create(person=person, course=course)
    Enrolment.objects.filter(pk=enrolment.pk).update(enrolled_at=at)
    return enrolment


def _finish(catalogue, person, *, actor, first_after: int, last_after: int) -> None:
    _enrol(person, catalogue.basics)
    completion_record(
        actor=actor,
        person=person,
        course=catalogue.basics,
        completed_at=START + datetime.timedelta(days=first_after),
    )
    completion_record(
        actor=actor,
        person=person,
        course=catalogue.demo,
        completed_at=START + datetime.timedelta(days=last_after),
    )


@pytest.fixture
def learners(partner, other_partner, superuser):
    """At Acme (covered): one enrolled, one with a module ticked, two certified (after 2 then 4 days,
    and after 4 then 10). At Globex (not covered): one certified."""
    catalogue = Catalogue()
    _enrol(PersonFactory(partner=partner), catalogue.basics)
    ticking = _enrol(PersonFactory(partner=partner), catalogue.basics)
    ticking.modules_done.add(catalogue.basics_modules[0])
    _finish(catalogue, PersonFactory(partner=partner), actor=superuser, first_after=2, last_after=6)
    _finish(catalogue, PersonFactory(partner=partner), actor=superuser, first_after=4, last_after=14)
    _finish(catalogue, PersonFactory(partner=other_partner), actor=superuser, first_after=1, last_after=1)
    return catalogue


def _funnel(user, **params):
    return {funnel.path.title: funnel for funnel in enablement_funnel(user, parse_filters(params, user))}


def test_each_stage_counts_the_people_of_the_managers_coverage(learners, channel_manager):
    funnel = _funnel(channel_manager)["Sales Engineer"]
    assert funnel.counts == {"enrolled": 4, "in_progress": 3, "completed": 2, "certified": 2}
    assert funnel.rows() == [
        ("Enrolled", 4, None),
        ("In progress", 3, Decimal("3.0")),  # 2 and 4 days to a first course completed
        ("Completed", 2, Decimal("7.0")),  # 4 and 10 days more
        ("Certified", 2, Decimal("0.0")),  # issued on completion
    ]
    assert funnel.median_days_to_complete == Decimal("10.0")  # 6 and 14
    renewal = _funnel(channel_manager)["Sales Engineer renewal"]
    assert renewal.counts == {"enrolled": 0, "in_progress": 0, "completed": 0, "certified": 0}


def test_a_manager_seeing_every_partner_counts_them_all(learners, superuser):
    assert _funnel(superuser)["Sales Engineer"].counts["certified"] == 3


def test_the_filters_narrow_the_partners_and_the_enrolment_window(learners, channel_manager):
    assert _funnel(channel_manager, region="latam")["Sales Engineer"].counts["enrolled"] == 0
    later = (timezone.localdate(START) + datetime.timedelta(days=1)).isoformat()
    assert _funnel(channel_manager, start=later)["Sales Engineer"].counts["enrolled"] == 0
    assert _funnel(channel_manager, end=later)["Sales Engineer"].counts["enrolled"] == 4


def test_a_path_issuing_no_certification_has_no_certified_stage(learners, channel_manager):
    learners.path.certification_type = None
    learners.path.validity_months = None
    learners.path.save()
    assert [label for label, _, _ in _funnel(channel_manager)["Sales Engineer"].rows()] == [
        "Enrolled",
        "In progress",
        "Completed",
    ]


def test_the_page_and_its_csv(client, learners, channel_manager):
    client.force_login(channel_manager)
    page = client.get(reverse("portal:analytics_enablement"))
    assert page.status_code == 200
    assert "Sales Engineer" in page.content.decode()
    csv = client.get(reverse("portal:analytics_enablement_csv")).content.decode().splitlines()
    assert csv[0] == "learning path,figure,label,value"
    assert "Sales Engineer,people,Certified,2" in csv
    assert "Sales Engineer,median days,Enrolled → Completed,10.0" in csv
    assert client.get(reverse("portal:analytics_enablement"), {"region": "mars"}).status_code == 400


def test_the_page_reads_a_flat_number_of_queries_as_learners_grow(
    client, learners, partner, channel_manager, superuser
):
    client.force_login(channel_manager)
    url = reverse("portal:analytics_enablement")
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for _ in range(5):
        _finish(learners, PersonFactory(partner=partner), actor=superuser, first_after=1, last_after=3)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    # Session, user, groups' permissions, regions, programs of the filter; paths, steps,
    # enrolments, completions, certifications.
    assert len(large) == len(small)
    assert len(large) <= 14, [query["sql"] for query in large.captured_queries]
