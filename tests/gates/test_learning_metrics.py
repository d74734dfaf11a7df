"""Courses completed and learning hours, measured by the engine and by the naive reference."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from criteria.tree import CriteriaError
from enablement.models import Completion, Course
from gates.criteria_schema import criteria_json_schema
from gates.describe import describe_criteria
from gates.engine import Measurer
from gates.metrics import load_references
from gates.validation import parse_criteria
from partners.models import CertificationTrack
from tests.factories import PartnerFactory, PersonFactory, ProductLineFactory
from tests.gates.helpers import measure

pytestmark = pytest.mark.django_db
D = datetime.date
END_OF_Q1 = D(2026, 3, 31)
UTC = datetime.UTC


def _course(code, minutes, track=CertificationTrack.PRESALES, product_lines=()):
    course = Course.objects.create(title=code.title(), code=code, track=track, duration_minutes=minutes)
    course.product_lines.set(product_lines)
    return course


def _completed(person, course, at):
    return Completion.objects.create(person=person, course=course, completed_at=at)


@pytest.fixture
def learning():
    """A partner whose people completed three courses, one of them twice, and one who left."""
    cloud = ProductLineFactory(code="cloud")
    partner = PartnerFactory()
    basics = _course("basics", 90, product_lines=[cloud])
    demo = _course("demo", 150)
    security = _course("security", 60, track=CertificationTrack.TECHNICAL, product_lines=[cloud])
    alice, bob = PersonFactory(partner=partner), PersonFactory(partner=partner)
    leaver = PersonFactory(partner=partner, is_active=False)
    _completed(alice, basics, datetime.datetime(2025, 11, 5, 10, tzinfo=UTC))
    _completed(alice, basics, datetime.datetime(2026, 2, 5, 10, tzinfo=UTC))  # again: counts once
    _completed(alice, demo, datetime.datetime(2026, 3, 31, 23, 30, tzinfo=UTC))  # the last evening
    _completed(bob, security, datetime.datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # after the quarter
    _completed(leaver, demo, datetime.datetime(2026, 1, 10, tzinfo=UTC))
    other = PersonFactory(partner=PartnerFactory())
    _completed(other, demo, datetime.datetime(2026, 1, 10, tzinfo=UTC))
    return partner


COMPLETIONS = {"metric": "course_completions", "op": ">=", "target": 3}
HOURS = {"metric": "learning_hours", "op": ">=", "target": 4}


class TestCourseCompletions:
    def test_counts_each_person_and_course_once_for_active_people(self, learning):
        assert measure(COMPLETIONS, learning, END_OF_Q1) == 2  # alice: basics and demo
        assert measure(COMPLETIONS, learning, D(2026, 4, 1)) == 3  # bob's security course

    def test_by_course_track_and_product_line(self, learning):
        assert measure({**COMPLETIONS, "courses": ["demo"]}, learning, D(2026, 4, 1)) == 1
        assert measure({**COMPLETIONS, "tracks": ["technical"]}, learning, D(2026, 4, 1)) == 1
        assert measure({**COMPLETIONS, "product_lines": ["cloud"]}, learning, D(2026, 4, 1)) == 2
        both = {**COMPLETIONS, "product_lines": ["cloud"], "tracks": ["presales"]}
        assert measure(both, learning, D(2026, 4, 1)) == 1

    def test_in_a_window(self, learning):
        this_quarter = {**COMPLETIONS, "window": {"kind": "quarter_to_date"}}
        assert measure(this_quarter, learning, END_OF_Q1) == 2  # basics again in February, demo
        last_quarter = {**COMPLETIONS, "window": {"kind": "last_quarter"}}
        assert measure(last_quarter, learning, END_OF_Q1) == 1  # basics in November
        assert measure(last_quarter, learning, D(2026, 4, 1)) == 2

    def test_a_completion_counts_on_its_day_in_the_vendors_time_zone(self, learning):
        with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
            # 23:30 UTC on 31 March is 1:30 on 1 April in Paris; midnight UTC is 2:00 there.
            assert measure(COMPLETIONS, learning, END_OF_Q1) == 1
            assert measure(COMPLETIONS, learning, D(2026, 4, 1)) == 3

    def test_a_partner_without_completions_measures_zero(self):
        partner = PartnerFactory()
        assert measure({"all": [COMPLETIONS, HOURS]}, partner, END_OF_Q1) == [0, 0]

    def test_unknown_course_codes_are_refused(self):
        with pytest.raises(CriteriaError, match="no course has the code 'nothing'"):
            parse_criteria({**COMPLETIONS, "courses": ["nothing"]}, default_currency="USD")


class TestLearningHours:
    def test_sums_whole_hours_of_the_courses_completed(self, learning):
        # basics (90 min, once though twice completed) + demo (150 min) = 4 hours.
        assert measure(HOURS, learning, END_OF_Q1) == 4
        assert measure(HOURS, learning, D(2026, 4, 1)) == 5
        assert measure({**HOURS, "tracks": ["technical"]}, learning, D(2026, 4, 1)) == 1
        recent = {**HOURS, "window": {"kind": "rolling_days", "days": 60}}
        assert measure(recent, learning, END_OF_Q1) == 4  # basics in February, demo on the 31st


def test_many_partners_are_measured_in_one_query(learning):
    """One aggregate query for every completion leaf, whatever the number of partners."""
    for _ in range(5):
        person = PersonFactory(partner=PartnerFactory())
        _completed(person, Course.objects.get(code="demo"), datetime.datetime(2026, 2, 1, tzinfo=UTC))
    refs = load_references()
    tree = parse_criteria(
        {"all": [COMPLETIONS, HOURS, {**COMPLETIONS, "courses": ["demo"]}]},
        default_currency="USD",
        references=refs,
    )
    measurer = Measurer([tree], as_of=END_OF_Q1, references=refs)
    with CaptureQueriesContext(connection) as queries:
        sources = measurer.fetch_sources()
    assert len(queries) == 1
    assert len(sources["completions"]) == 7  # the fixture's two partners and five more


def test_the_schema_and_the_sentence_know_the_metrics(learning):
    schema = criteria_json_schema()
    text = str(schema)
    assert "course_completions" in text and "learning_hours" in text
    tree = parse_criteria(
        {
            "all": [
                {**COMPLETIONS, "tracks": ["presales"], "window": {"kind": "year_to_date"}},
                {**HOURS, "target": 20, "product_lines": ["cloud"]},
            ]
        },
        default_currency="USD",
    )
    assert describe_criteria(tree, load_references()) == (
        "At least 3 courses completed by the partner's people in the presales track this year"
        " and at least 20 learning hours of completed courses on cloud."
    )
