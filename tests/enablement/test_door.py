"""The catalogue a partner's people see, and whose learning each user reads."""

import pytest
from django.utils import timezone

from enablement.models import Completion, Course, Enrolment, LearningPath, Module
from tests.factories import PersonFactory, ProgramFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def test_partners_see_the_courses_open_to_all_or_to_a_program_they_see(
    catalogue, partner, partner_admin, channel_manager
):
    hidden_program = ProgramFactory(segment=SegmentFactory(name="Service providers only"))
    open_program = ProgramFactory()
    targeted = Course.objects.create(title="For the open program", track="sales", duration_minutes=30)
    targeted.programs.set([open_program])
    secret = Course.objects.create(title="For service providers", track="sales", duration_minutes=30)
    secret.programs.set([hidden_program])
    retired = Course.objects.create(title="Retired", track="sales", duration_minutes=30, is_active=False)
    Module.objects.create(course=secret, title="Secret module")

    seen = set(Course.objects.visible_to(partner_admin))
    assert {catalogue.basics, catalogue.demo, targeted} <= seen
    assert secret not in seen and retired not in seen
    assert not Module.objects.visible_to(partner_admin).filter(course=secret).exists()
    # Staff see the whole catalogue.
    assert {secret, retired} <= set(Course.objects.visible_to(channel_manager))


def test_a_path_with_a_hidden_course_is_hidden(catalogue, partner_admin):
    program = ProgramFactory(segment=SegmentFactory(name="Nobody"))
    catalogue.demo.programs.set([program])
    assert catalogue.path not in LearningPath.objects.visible_to(partner_admin)
    assert catalogue.renewal in LearningPath.objects.visible_to(partner_admin)


def test_nobody_signed_out_sees_the_catalogue(catalogue):
    from django.contrib.auth.models import AnonymousUser

    assert not Course.objects.visible_to(AnonymousUser()).exists()


def test_an_admin_reads_the_teams_learning_and_a_seller_only_their_own(
    catalogue, partner, partner_admin, partner_sales, other_partner
):
    own = PersonFactory(partner=partner, user=partner_sales)
    colleague = PersonFactory(partner=partner)
    stranger = PersonFactory(partner=other_partner)
    for person in (own, colleague, stranger):
        Enrolment.objects.create(person=person, course=catalogue.basics)
        Completion.objects.create(person=person, course=catalogue.basics, completed_at=timezone.now())

    assert {e.person for e in Enrolment.objects.visible_to(partner_admin)} == {own, colleague}
    assert {c.person for c in Completion.objects.visible_to(partner_sales)} == {own}
    # Each acts on their own learning only.
    assert {e.person for e in Enrolment.objects.actionable_by(partner_sales, "learn")} == {own}
    assert not Enrolment.objects.actionable_by(partner_admin, "learn").exists()
