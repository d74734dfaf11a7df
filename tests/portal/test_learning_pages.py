"""The portal's learning pages: the catalogue, a course, its quiz and the team's progress.

A permission matrix per page and action (each persona against its own and another organisation's
learning), the flow of a learner through a course, and query counts that stay flat.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enablement.models import Completion, Course, Enrolment, Module, QuizAttempt
from enablement.services import enrolment_create, module_mark_done
from gates.models import Gate, GateOutcome, GateState, GateStatus
from partners.models import Certification, MembershipRole
from tests.enablement.helpers import Catalogue
from tests.factories import MembershipFactory, PersonFactory, ProgramFactory, SegmentFactory, TierFactory

pytestmark = pytest.mark.django_db

PERSONAS = [
    "anonymous",
    "partner_admin",
    "partner_sales",
    "other_partner_admin",
    "distributor_user",
    "channel_manager",
    "superuser",
]
LOGIN = "login"


class Learning:
    def __init__(self, *, partner, other_partner, partner_admin, partner_sales, other_partner_admin):
        self.catalogue = Catalogue()
        self.hidden = Course.objects.create(title="For service providers", track="sales", duration_minutes=30)
        self.hidden.programs.set([ProgramFactory(segment=SegmentFactory(name="Service providers"))])
        self.hidden_module = Module.objects.create(course=self.hidden, title="Secret")
        self.admin = PersonFactory(partner=partner, user=partner_admin, first_name="Pat")
        self.seller = PersonFactory(partner=partner, user=partner_sales, first_name="Sally")
        self.other = PersonFactory(partner=other_partner, user=other_partner_admin, first_name="Oscar")
        # The seller is enrolled in the basics course; the other partner's admin too.
        self.seller_basics = enrolment_create(
            actor=partner_sales, person=self.seller, course=self.catalogue.basics
        )
        enrolment_create(actor=other_partner_admin, person=self.other, course=self.catalogue.basics)
        program = ProgramFactory(name="Partner program")
        gold = TierFactory(program=program, name="Gold", rank=3)
        self.gate = Gate.objects.create(
            program=program,
            name="Gold gate",
            state=GateState.ACTIVE,
            unlocks_tier=gold,
            criteria={
                "all": [
                    {
                        "metric": "certified_people",
                        "certification_types": ["sales-engineer"],
                        "op": ">=",
                        "target": 5,
                    },
                    {"metric": "course_completions", "tracks": ["presales"], "op": ">=", "target": 10},
                ]
            },
        )
        GateStatus.objects.create(partner=partner, gate=self.gate, status=GateOutcome.FAILED, measures=[4, 2])


@pytest.fixture
def learning(partner, other_partner, partner_admin, partner_sales, other_partner_admin, distributor_user):
    return Learning(
        partner=partner,
        other_partner=other_partner,
        partner_admin=partner_admin,
        partner_sales=partner_sales,
        other_partner_admin=other_partner_admin,
    )


def _login(client, request, persona):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))


def _url(learning, name, target):
    if target is None:
        return reverse(f"portal:{name}")
    if target == "basics_module":
        course = learning.catalogue.basics
        return reverse(f"portal:{name}", args=[course.pk, learning.catalogue.basics_modules[0].pk])
    if target == "hidden_module":
        return reverse(f"portal:{name}", args=[learning.hidden.pk, learning.hidden_module.pk])
    course = {"basics": learning.catalogue.basics, "demo": learning.catalogue.demo, "hidden": learning.hidden}
    return reverse(f"portal:{name}", args=[course[target].pk])


GET_MATRIX = [
    ("learning", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("learning_team", None, [LOGIN, 200, 403, 200, 404, 404, 404]),
    ("course_detail", "basics", [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("course_detail", "hidden", [LOGIN, 404, 404, 404, 404, 404, 404]),
    ("course_quiz", "demo", [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("course_quiz", "hidden", [LOGIN, 404, 404, 404, 404, 404, 404]),
]


@pytest.mark.parametrize(("name", "target", "expected"), GET_MATRIX, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_get_matrix(client, request, learning, name, target, expected, index):
    _login(client, request, PERSONAS[index])
    response = client.get(_url(learning, name, target))
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == want, (PERSONAS[index], name, target, response.status_code)


def _state(learning):
    return (
        Enrolment.objects.count(),
        Enrolment.modules_done.through.objects.count(),
        QuizAttempt.objects.count(),
        Completion.objects.count(),
    )


# (url name, target, data, expected status per persona); a 302 changed something, anything else nothing.
POST_MATRIX = [
    ("course_enrol", "demo", {}, [LOGIN, 302, 302, 302, 404, 404, 404]),
    ("course_enrol", "hidden", {}, [LOGIN, 404, 404, 404, 404, 404, 404]),
    # Only the seller and the other partner's admin are enrolled in the basics course.
    ("module_done", "basics_module", {}, [LOGIN, 404, 302, 302, 404, 404, 404]),
    ("module_done", "hidden_module", {}, [LOGIN, 404, 404, 404, 404, 404, 404]),
    # Nobody is enrolled in the demo course: answers are refused without an enrolment.
    ("course_quiz", "demo", {}, [LOGIN, 404, 404, 404, 404, 404, 404]),
]


@pytest.mark.parametrize(("name", "target", "data", "expected"), POST_MATRIX, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_post_matrix(client, request, learning, name, target, data, expected, index):
    _login(client, request, PERSONAS[index])
    before = _state(learning)
    response = client.post(_url(learning, name, target), data)
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert _state(learning) == before
    elif want == 302:
        assert response.status_code == 302, (PERSONAS[index], name, response.status_code)
        assert _state(learning) != before
    else:
        assert response.status_code == want, (PERSONAS[index], name, response.status_code)
        assert _state(learning) == before


@pytest.mark.parametrize("name", ["course_enrol", "module_done"])
def test_actions_refuse_get(client, learning, partner_sales, name):
    client.force_login(partner_sales)
    target = "basics" if name == "course_enrol" else "basics_module"
    assert client.get(_url(learning, name, target)).status_code == 405


def test_a_login_without_a_person_sees_the_catalogue_but_cannot_enrol(client, learning, partner):
    user = MembershipFactory(partner=partner, role=MembershipRole.TECHNICAL).user
    client.force_login(user)
    page = client.get(reverse("portal:learning"))
    assert "not linked to a person" in page.content.decode()
    response = client.post(_url(learning, "course_enrol", "demo"))
    assert response.status_code == 403
    assert not Enrolment.objects.filter(course=learning.catalogue.demo).exists()


def test_the_catalogue_shows_what_the_programs_allow_and_the_viewers_progress(
    client, learning, partner_sales
):
    module_mark_done(
        actor=partner_sales, enrolment=learning.seller_basics, module=learning.catalogue.basics_modules[0]
    )
    client.force_login(partner_sales)
    page = client.get(reverse("portal:learning")).content.decode()
    assert "Platform basics" in page and "Sales Engineer" in page
    assert "For service providers" not in page
    assert "1 of 2 modules" in page
    # The path counts toward the Gold tier's gate, with the partner's standing.
    assert (
        "Counts toward Gold: at least 5 people holding a valid sales-engineer certification (you have 4)"
        in page
    )
    # A presales course counts toward the completions criterion.
    assert "Counts toward Gold: at least 10 courses completed by the partner&#x27;s people" in page


def test_a_learner_enrols_marks_modules_done_and_passes_the_quiz(client, learning, partner_sales):
    catalogue = learning.catalogue
    client.force_login(partner_sales)
    demo = catalogue.demo
    page = client.get(reverse("portal:course_detail", args=[demo.pk])).content.decode()
    assert "Enrol in this course" in page
    assert client.post(reverse("portal:course_enrol", args=[demo.pk])).status_code == 302

    # Marking a module done with htmx answers the module list only.
    response = client.post(
        reverse("portal:module_done", args=[demo.pk, catalogue.demo_module.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "<html" not in response.content.decode() and "Done" in response.content.decode()

    quiz_url = reverse("portal:course_quiz", args=[demo.pk])
    first, second = f"question_{catalogue.first_question.pk}", f"question_{catalogue.second_question.pk}"
    # An unanswered question is an error next to it; nothing is recorded.
    response = client.post(quiz_url, {first: catalogue.right.pk})
    assert response.status_code == 400
    assert f'id="id_{second}_errors"' in response.content.decode()
    assert "Choose at least one answer." in response.content.decode()
    assert not QuizAttempt.objects.exists()
    # A choice of another question is no valid answer either.
    response = client.post(quiz_url, {first: catalogue.not_add_on.pk, second: [catalogue.add_ons[0].pk]})
    assert response.status_code == 400

    response = client.post(quiz_url, {first: catalogue.right.pk, second: [catalogue.add_ons[0].pk]})
    text = response.content.decode()
    assert response.status_code == 200
    assert "Not passed yet" in text and "You scored 50 %" in text and "1 attempt left" in text

    response = client.post(quiz_url, {first: catalogue.right.pk, second: [c.pk for c in catalogue.add_ons]})
    assert "Passed" in response.content.decode()
    assert Completion.objects.filter(person=learning.seller, course=demo).exists()


def test_exhausted_retries_are_explained(client, learning, partner_sales):
    catalogue = learning.catalogue
    enrolment_create(actor=partner_sales, person=learning.seller, course=catalogue.demo)
    client.force_login(partner_sales)
    quiz_url = reverse("portal:course_quiz", args=[catalogue.demo.pk])
    wrong = {
        f"question_{catalogue.first_question.pk}": catalogue.wrong.pk,
        f"question_{catalogue.second_question.pk}": [catalogue.not_add_on.pk],
    }
    client.post(quiz_url, wrong)
    last = client.post(quiz_url, wrong).content.decode()
    assert "used all your attempts" in last
    assert "Submit my answers" not in last
    refused = client.post(quiz_url, wrong)
    assert refused.status_code == 400
    assert "You have used all 2 attempts" in refused.content.decode()
    assert QuizAttempt.objects.filter(person=learning.seller).count() == 2


def test_completing_the_path_in_the_portal_issues_the_certification(client, learning, partner_sales):
    catalogue = learning.catalogue
    client.force_login(partner_sales)
    for module in catalogue.basics_modules:
        client.post(reverse("portal:module_done", args=[catalogue.basics.pk, module.pk]))
    client.post(reverse("portal:course_enrol", args=[catalogue.demo.pk]))
    client.post(reverse("portal:module_done", args=[catalogue.demo.pk, catalogue.demo_module.pk]))
    client.post(
        reverse("portal:course_quiz", args=[catalogue.demo.pk]),
        {
            f"question_{catalogue.first_question.pk}": catalogue.right.pk,
            f"question_{catalogue.second_question.pk}": [c.pk for c in catalogue.add_ons],
        },
    )
    assert Certification.objects.filter(
        person=learning.seller, certification_type=catalogue.certification_type
    ).exists()


def test_a_partner_admin_sees_the_teams_progress_and_the_gates(client, learning, partner_admin):
    client.force_login(partner_admin)
    page = client.get(reverse("portal:learning_team")).content.decode()
    assert "Sally" in page and "Platform basics (0 of 2 modules)" in page
    assert "Oscar" not in page  # another organisation's people
    assert "0 of 2 people completed it." in page
    assert (
        "Counts toward Gold: at least 5 people holding a valid sales-engineer certification (you have 4)"
        in page
    )


def _grow(partner, other_partner, size):
    catalogue_courses = list(Course.objects.filter(is_active=True))
    for number in range(size):
        person = PersonFactory(partner=partner, last_name=f"Grown{size}-{number}")
        course = Course.objects.create(
            title=f"Grown {size}-{number}",
            track="presales",
            duration_minutes=30,
            code=f"grown-{size}-{number}",
        )
        Module.objects.create(course=course, title="Only module")
        for existing in catalogue_courses[:2]:
            Enrolment.objects.create(person=person, course=existing)
        Completion.objects.create(person=person, course=course, completed_at="2026-01-01T10:00:00Z")
        PersonFactory(partner=other_partner, last_name=f"Other{size}-{number}")


def _count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


# Every page: session, user, membership, the viewer's person record, and the header's unread count (BELL).
# Catalogue (13): + courses, their product lines, paths, their steps; the person's enrolments,
# completions and passed quizzes; the gates in effect and the partner's statuses.
# Team (12): the same without the viewer's own learning, + people, their enrolments, completions.
# Course (10): + modules, quiz, enrolment, modules done, attempts, passed, completion.
# Quiz (13): the course's, + the course itself, questions and their choices.
BELL = 1
PAGES = [
    ("partner_sales", "learning", None, 13 + BELL),
    ("partner_admin", "learning_team", None, 12 + BELL),
    ("partner_sales", "course_detail", "basics", 10 + BELL),
    ("partner_sales", "course_quiz", "demo", 13 + BELL),
]


@pytest.mark.parametrize(("persona", "name", "target", "most"), PAGES, ids=lambda v: str(v))
def test_page_queries_are_bounded_and_flat(
    client,
    request,
    learning,
    partner,
    other_partner,
    persona,
    name,
    target,
    most,
    django_assert_max_num_queries,
):
    client.force_login(request.getfixturevalue(persona))
    url = _url(learning, name, target)
    small = _count(client, url)
    _grow(partner, other_partner, 3)
    medium = _count(client, url)
    _grow(partner, other_partner, 12)
    with django_assert_max_num_queries(most):
        assert client.get(url).status_code == 200
    large = _count(client, url)
    assert small == medium == large, (small, medium, large)


def test_the_last_module_through_htmx_reloads_the_completed_course(client, learning, partner_sales):
    catalogue = learning.catalogue
    client.force_login(partner_sales)
    first, second = catalogue.basics_modules
    client.post(reverse("portal:module_done", args=[catalogue.basics.pk, first.pk]), HTTP_HX_REQUEST="true")
    response = client.post(
        reverse("portal:module_done", args=[catalogue.basics.pk, second.pk]), HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == reverse("portal:course_detail", args=[catalogue.basics.pk])
    page = client.get(response["HX-Redirect"]).content.decode()
    assert "You have completed this course." in page


def test_answering_a_passed_quiz_again_says_why_it_is_refused(client, learning, partner_sales):
    catalogue = learning.catalogue
    client.force_login(partner_sales)
    enrolment_create(actor=partner_sales, person=learning.seller, course=catalogue.demo)
    right = {
        f"question_{catalogue.first_question.pk}": catalogue.right.pk,
        f"question_{catalogue.second_question.pk}": [c.pk for c in catalogue.add_ons],
    }
    quiz_url = reverse("portal:course_quiz", args=[catalogue.demo.pk])
    client.post(quiz_url, right)
    again = client.post(quiz_url, right)
    assert again.status_code == 400
    assert "You have passed this quiz already." in again.content.decode()
