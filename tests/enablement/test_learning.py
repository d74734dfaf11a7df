"""Working through a course in the portal: enrol, mark modules done, take the quiz, complete."""

import pytest

from core.models import AuditEntry
from enablement.models import Completion, CompletionSource, Course, Enrolment, QuizAttempt
from enablement.services import LearningRefused, enrolment_create, module_mark_done, quiz_submit
from partners.models import Certification
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(partner, partner_sales):
    return PersonFactory(partner=partner, user=partner_sales)


def test_enrolling_twice_keeps_one_enrolment(catalogue, learner, partner_sales):
    first = enrolment_create(actor=partner_sales, person=learner, course=catalogue.basics)
    again = enrolment_create(actor=partner_sales, person=learner, course=catalogue.basics)
    assert first == again
    assert Enrolment.objects.filter(person=learner).count() == 1
    assert AuditEntry.objects.filter(action="enrolment.created").count() == 1


def test_the_last_module_of_a_course_without_quiz_completes_it(catalogue, learner, partner_sales):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.basics)
    first, second = catalogue.basics_modules
    assert module_mark_done(actor=partner_sales, enrolment=enrolment, module=first) is None
    assert module_mark_done(actor=partner_sales, enrolment=enrolment, module=first) is None  # again
    completion = module_mark_done(actor=partner_sales, enrolment=enrolment, module=second)
    assert completion is not None and completion.source == CompletionSource.PORTAL
    # Marking a module again does not complete the course twice.
    assert module_mark_done(actor=partner_sales, enrolment=enrolment, module=second) is None
    assert Completion.objects.filter(person=learner).count() == 1


def test_a_module_of_another_course_is_refused(catalogue, learner, partner_sales):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.basics)
    with pytest.raises(LearningRefused):
        module_mark_done(actor=partner_sales, enrolment=enrolment, module=catalogue.demo_module)


def test_the_quiz_is_scored_on_the_server_and_passing_it_completes_the_path(
    catalogue, learner, partner_sales
):
    for module in catalogue.basics_modules:
        module_mark_done(
            actor=partner_sales,
            enrolment=enrolment_create(actor=partner_sales, person=learner, course=catalogue.basics),
            module=module,
        )
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.demo)
    module_mark_done(actor=partner_sales, enrolment=enrolment, module=catalogue.demo_module)

    failed = quiz_submit(actor=partner_sales, enrolment=enrolment, answers=catalogue.half_right_answers())
    assert (failed.correct, failed.questions, failed.attempt.score_percent) == (1, 2, 50)
    assert not failed.attempt.passed and failed.attempts_left == 1 and failed.completion is None

    passed = quiz_submit(actor=partner_sales, enrolment=enrolment, answers=catalogue.right_answers())
    assert passed.attempt.passed and passed.attempt.score_percent == 100
    assert passed.completion is not None and passed.completion.score_percent == 100
    # The path's two courses are done: its certification is issued.
    assert Certification.objects.filter(
        person=learner, certification_type=catalogue.certification_type
    ).exists()


def test_passing_before_the_modules_are_done_completes_with_the_last_module(
    catalogue, learner, partner_sales
):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.demo)
    assert (
        quiz_submit(actor=partner_sales, enrolment=enrolment, answers=catalogue.right_answers()).completion
        is None
    )
    completion = module_mark_done(actor=partner_sales, enrolment=enrolment, module=catalogue.demo_module)
    assert completion is not None and completion.score_percent == 100


def test_retries_are_limited_with_a_clear_message(catalogue, learner, partner_sales):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.demo)
    for _ in range(2):
        quiz_submit(actor=partner_sales, enrolment=enrolment, answers={})
    with pytest.raises(LearningRefused, match="used all 2 attempts"):
        quiz_submit(actor=partner_sales, enrolment=enrolment, answers=catalogue.right_answers())
    assert QuizAttempt.objects.filter(person=learner).count() == 2


def test_a_passed_quiz_is_not_taken_again(catalogue, learner, partner_sales):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.demo)
    quiz_submit(actor=partner_sales, enrolment=enrolment, answers=catalogue.right_answers())
    with pytest.raises(LearningRefused, match="passed this quiz already"):
        quiz_submit(actor=partner_sales, enrolment=enrolment, answers=catalogue.right_answers())


def test_answers_naming_choices_of_other_questions_score_nothing(catalogue, learner, partner_sales):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.demo)
    swapped = {
        catalogue.first_question.pk: [choice.pk for choice in catalogue.add_ons],
        catalogue.second_question.pk: [catalogue.right.pk],
    }
    assert quiz_submit(actor=partner_sales, enrolment=enrolment, answers=swapped).correct == 0


def test_a_course_without_quiz_refuses_an_attempt(catalogue, learner, partner_sales):
    enrolment = enrolment_create(actor=partner_sales, person=learner, course=catalogue.basics)
    with pytest.raises(LearningRefused, match="no quiz"):
        quiz_submit(actor=partner_sales, enrolment=enrolment, answers={})


def test_only_an_active_person_of_the_users_partner_may_enrol(
    catalogue, partner, partner_sales, partner_admin
):
    assert not Course.objects.actionable_by(partner_admin, "enrol").exists()  # no person record
    PersonFactory(partner=partner, user=partner_sales)
    assert catalogue.basics in Course.objects.actionable_by(partner_sales, "enrol")
    PersonFactory(partner=partner, user=partner_admin, is_active=False)
    assert not Course.objects.actionable_by(partner_admin, "enrol").exists()
    assert not Course.objects.actionable_by(UserFactory(is_staff=True), "enrol").exists()
