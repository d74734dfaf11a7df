"""Extra quiz attempts: a partner admin (for the team) or a channel manager (for the partners he
covers) grants a person more attempts, through ``actionable_by``, recorded in the history."""

import pytest
from django.contrib.admin.sites import site
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.urls import reverse

from core.models import AuditEntry
from enablement.admin import EnrolmentAdmin
from enablement.models import Enrolment, QuizAttempt, QuizAttemptGrant
from enablement.services import (
    LearningRefused,
    enrolment_create,
    quiz_allowance,
    quiz_attempts_grant,
    quiz_submit,
)
from history.fallback import event_model_for
from tests.enablement.helpers import Catalogue
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


class World:
    def __init__(self, *, partner, other_partner, partner_admin, partner_sales, other_partner_admin):
        self.catalogue = Catalogue()
        self.admin = PersonFactory(partner=partner, user=partner_admin, first_name="Pat")
        self.seller = PersonFactory(partner=partner, user=partner_sales, first_name="Sally")
        self.other = PersonFactory(partner=other_partner, user=other_partner_admin, first_name="Oscar")
        self.enrolment = enrolment_create(actor=partner_sales, person=self.seller, course=self.catalogue.demo)
        self.other_enrolment = enrolment_create(
            actor=other_partner_admin, person=self.other, course=self.catalogue.demo
        )

    def fail(self, user, enrolment, times=1):
        wrong = {self.catalogue.first_question.pk: [self.catalogue.wrong.pk]}
        for _ in range(times):
            quiz_submit(actor=user, enrolment=enrolment, answers=wrong)


@pytest.fixture
def world(partner, other_partner, partner_admin, partner_sales, other_partner_admin):
    return World(
        partner=partner,
        other_partner=other_partner,
        partner_admin=partner_admin,
        partner_sales=partner_sales,
        other_partner_admin=other_partner_admin,
    )


def test_a_grant_gives_one_more_attempt_and_is_recorded(world, partner_admin, partner_sales):
    world.fail(partner_sales, world.enrolment, times=2)
    with pytest.raises(LearningRefused, match=r"used all 2 attempts.*can grant you another"):
        world.fail(partner_sales, world.enrolment)

    grant = quiz_attempts_grant(actor=partner_admin, enrolment=world.enrolment, reason="Was interrupted")

    allowance = quiz_allowance(person_id=world.seller.pk, quiz=world.catalogue.quiz)
    assert (allowance.allowed, allowance.granted, allowance.used, allowance.left) == (2, 1, 2, 1)
    result = quiz_submit(
        actor=partner_sales, enrolment=world.enrolment, answers=world.catalogue.right_answers()
    )
    assert result.attempt.passed and result.attempts_left == 0
    assert (grant.granted_by, grant.reason, grant.extra_attempts) == (partner_admin, "Was interrupted", 1)
    assert AuditEntry.objects.filter(action="quiz.attempts_granted", target_id=str(grant.pk)).exists()
    assert event_model_for(QuizAttemptGrant).objects.filter(pgh_obj_id=grant.pk, pgh_label="insert").exists()


def test_a_passed_quiz_or_a_course_without_one_takes_no_grant(world, partner_admin, partner_sales):
    quiz_submit(actor=partner_sales, enrolment=world.enrolment, answers=world.catalogue.right_answers())
    with pytest.raises(LearningRefused, match="passed this quiz already"):
        quiz_attempts_grant(actor=partner_admin, enrolment=world.enrolment)
    basics = enrolment_create(actor=partner_sales, person=world.seller, course=world.catalogue.basics)
    with pytest.raises(LearningRefused, match="no quiz"):
        quiz_attempts_grant(actor=partner_admin, enrolment=basics)
    with pytest.raises(LearningRefused) as refused:
        quiz_attempts_grant(actor=partner_admin, enrolment=world.enrolment, extra_attempts=11)
    assert "extra_attempts" in refused.value.message_dict
    assert not QuizAttemptGrant.objects.exists()


@pytest.mark.parametrize(
    ("persona", "own", "other"),
    [
        ("partner_admin", True, False),
        ("partner_sales", False, False),
        ("other_partner_admin", False, True),
        ("distributor_user", False, False),
        ("channel_manager", True, False),  # covers EMEA (the partner), not the other partner's region
        ("superuser", True, True),
    ],
)
def test_who_may_grant_attempts(request, world, persona, own, other):
    user = request.getfixturevalue(persona)
    allowed = set(Enrolment.objects.actionable_by(user, "grant_attempts").values_list("pk", flat=True))
    assert (world.enrolment.pk in allowed, world.other_enrolment.pk in allowed) == (own, other)


# --- the portal ------------------------------------------------------------------------------------

PERSONAS = ["anonymous", "partner_admin", "partner_sales", "other_partner_admin", "distributor_user"]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("anonymous", "login"), ("partner_admin", 302), ("partner_sales", 404), ("other_partner_admin", 404)],
)
def test_the_portal_grant_matrix(client, request, world, persona, expected):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    response = client.post(
        reverse("portal:learning_grant_attempt", args=[world.enrolment.pk]), {"reason": ""}
    )
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert not QuizAttemptGrant.objects.exists()
    else:
        assert response.status_code == expected
        assert QuizAttemptGrant.objects.exists() == (expected == 302)


def test_the_portal_grant_needs_a_post_with_csrf(world, partner_admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_admin)
    url = reverse("portal:learning_grant_attempt", args=[world.enrolment.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert not QuizAttemptGrant.objects.exists()


def test_the_team_page_offers_a_grant_once_attempts_are_used_up(client, world, partner_admin, partner_sales):
    client.force_login(partner_admin)
    assert "Grant another attempt" not in client.get(reverse("portal:learning_team")).content.decode()
    world.fail(partner_sales, world.enrolment, times=2)
    page = client.get(reverse("portal:learning_team")).content.decode()
    assert "quiz attempts used up" in page and "Grant another attempt" in page

    response = client.post(
        reverse("portal:learning_grant_attempt", args=[world.enrolment.pk]),
        {"reason": "Network failure"},
        follow=True,
    )
    text = response.content.decode()
    assert "Sally" in text and "has one more attempt" in text
    assert "Grant another attempt" not in text
    assert QuizAttemptGrant.objects.get().reason == "Network failure"


def test_a_too_long_reason_is_refused_by_the_field(client, world, partner_admin):
    client.force_login(partner_admin)
    response = client.post(
        reverse("portal:learning_grant_attempt", args=[world.enrolment.pk]),
        {"reason": "x" * 301},
        follow=True,
    )
    assert response.status_code == 200
    assert "at most 300 characters" in response.content.decode()
    assert not QuizAttemptGrant.objects.exists()


# --- the admin -------------------------------------------------------------------------------------


def _admin_request(user):
    request = RequestFactory().post("/admin/enablement/enrolment/")
    request.user = user
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def test_the_admin_action_grants_only_through_the_door(world, channel_manager):
    model_admin = EnrolmentAdmin(Enrolment, site)
    request = _admin_request(channel_manager)
    # The other partner is outside his regions: only the covered enrolment is granted.
    model_admin.grant_one_attempt(request, Enrolment.objects.all())
    grant = QuizAttemptGrant.objects.get()
    assert (grant.person, grant.granted_by) == (world.seller, channel_manager)
    assert quiz_allowance(person_id=world.seller.pk, quiz=world.catalogue.quiz).left == 3
    assert QuizAttempt.objects.count() == 0
