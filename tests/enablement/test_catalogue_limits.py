"""A course or path limited to programs, tiers or segments: only the partners they allow see it.

Every limit is read through the one door (``Course.objects.visible_to``), so the catalogue page,
the course page and its quiz all answer 404 to a partner the limits leave out.
"""

import pytest
from django.urls import reverse

from enablement.models import Course, LearningPath, Module
from gates.models import PartnerTier, SegmentMembership
from tests.factories import PersonFactory, ProgramFactory, SegmentFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ladder(db):
    """A program whose tiers are Silver (1) < Gold (2) < Platinum (3)."""
    program = ProgramFactory(name="Main")
    return program, {
        name: TierFactory(program=program, name=name, rank=rank)
        for rank, name in enumerate(["Silver", "Gold", "Platinum"], start=1)
    }


def _hold(partner, program, tier):
    PartnerTier.objects.update_or_create(partner=partner, program=program, defaults={"tier": tier})


def test_a_course_for_gold_is_seen_from_gold_up(catalogue, ladder, partner, partner_admin):
    program, tiers = ladder
    catalogue.basics.tiers.set([tiers["Gold"]])
    assert catalogue.basics not in Course.objects.visible_to(partner_admin)  # no tier held
    _hold(partner, program, tiers["Silver"])
    assert catalogue.basics not in Course.objects.visible_to(partner_admin)
    _hold(partner, program, tiers["Gold"])
    assert catalogue.basics in Course.objects.visible_to(partner_admin)
    _hold(partner, program, tiers["Platinum"])
    assert catalogue.basics in Course.objects.visible_to(partner_admin)
    # Its modules follow the course; a path with it follows its courses.
    assert Module.objects.visible_to(partner_admin).filter(course=catalogue.basics).count() == 2
    assert catalogue.path in LearningPath.objects.visible_to(partner_admin)


def test_a_tier_of_another_program_does_not_count(catalogue, ladder, partner, partner_admin):
    _program, tiers = ladder
    other = ProgramFactory(name="Services")
    other_platinum = TierFactory(program=other, name="Platinum", rank=3)
    catalogue.basics.tiers.set([tiers["Gold"]])
    _hold(partner, other, other_platinum)
    assert catalogue.basics not in Course.objects.visible_to(partner_admin)


def test_a_tier_of_a_program_the_partner_cannot_see_does_not_count(catalogue, ladder, partner, partner_admin):
    program, tiers = ladder
    program.segment = SegmentFactory(name="Nobody")
    program.save()
    catalogue.basics.tiers.set([tiers["Gold"]])
    _hold(partner, program, tiers["Gold"])
    assert catalogue.basics not in Course.objects.visible_to(partner_admin)


def test_a_course_for_a_segment_is_seen_by_its_members_only(
    catalogue, partner, other_partner, partner_admin, other_partner_admin
):
    segment = SegmentFactory(name="UK cloud")
    SegmentMembership.objects.create(segment=segment, partner=partner)
    catalogue.refresher.segments.set([segment])
    assert catalogue.refresher in Course.objects.visible_to(partner_admin)
    assert catalogue.refresher not in Course.objects.visible_to(other_partner_admin)


def test_every_kind_of_limit_must_be_met_and_any_one_of_a_kind(catalogue, ladder, partner, partner_admin):
    program, tiers = ladder
    member_of, not_member_of = SegmentFactory(name="UK cloud"), SegmentFactory(name="US")
    SegmentMembership.objects.create(segment=member_of, partner=partner)
    _hold(partner, program, tiers["Gold"])
    course = catalogue.refresher
    course.segments.set([not_member_of, member_of])  # one of the segments is enough
    course.tiers.set([tiers["Platinum"]])  # but the tier is not met
    assert course not in Course.objects.visible_to(partner_admin)
    course.tiers.set([tiers["Platinum"], tiers["Gold"]])
    assert course in Course.objects.visible_to(partner_admin)
    course.programs.set([ProgramFactory(segment=not_member_of)])  # a program it does not see
    assert course not in Course.objects.visible_to(partner_admin)


def test_a_path_has_limits_of_its_own(catalogue, ladder, partner, partner_admin, channel_manager):
    program, tiers = ladder
    catalogue.path.tiers.set([tiers["Gold"]])
    assert catalogue.path not in LearningPath.objects.visible_to(partner_admin)
    # Its courses stay open on their own.
    assert catalogue.basics in Course.objects.visible_to(partner_admin)
    _hold(partner, program, tiers["Gold"])
    assert catalogue.path in LearningPath.objects.visible_to(partner_admin)
    segment = SegmentFactory(name="UK cloud")
    catalogue.renewal.segments.set([segment])
    assert catalogue.renewal not in LearningPath.objects.visible_to(partner_admin)
    # Staff see every path whatever its limits.
    assert {catalogue.path, catalogue.renewal} <= set(LearningPath.objects.visible_to(channel_manager))


def test_pages_answer_404_to_partners_the_limits_leave_out(
    client, catalogue, ladder, partner, partner_sales, other_partner, other_partner_admin
):
    program, tiers = ladder
    PersonFactory(partner=partner, user=partner_sales)
    PersonFactory(partner=other_partner, user=other_partner_admin)
    catalogue.demo.tiers.set([tiers["Gold"]])
    _hold(partner, program, tiers["Gold"])
    _hold(other_partner, program, tiers["Silver"])
    urls = [
        reverse("portal:course_detail", args=[catalogue.demo.pk]),
        reverse("portal:course_quiz", args=[catalogue.demo.pk]),
    ]
    client.force_login(other_partner_admin)
    for url in urls:
        assert client.get(url).status_code == 404
    assert client.post(reverse("portal:course_enrol", args=[catalogue.demo.pk])).status_code == 404
    page = client.get(reverse("portal:learning")).content.decode()
    # Neither the course nor the path holding it (the renewal path stays).
    assert "Demonstrating the platform" not in page and "Sales Engineer renewal" in page
    assert "Platform basics" in page and f'id="path-{catalogue.path.pk}"' not in page

    client.force_login(partner_sales)
    for url in urls:
        assert client.get(url).status_code == 200
    assert "Demonstrating the platform" in client.get(reverse("portal:learning")).content.decode()


def test_the_catalogue_page_stays_flat_as_limits_grow(
    client, catalogue, ladder, partner, partner_sales, django_assert_max_num_queries
):
    program, tiers = ladder
    PersonFactory(partner=partner, user=partner_sales)
    _hold(partner, program, tiers["Gold"])
    segment = SegmentFactory(name="UK cloud")
    SegmentMembership.objects.create(segment=segment, partner=partner)
    client.force_login(partner_sales)
    url = reverse("portal:learning")
    with django_assert_max_num_queries(60) as baseline:
        client.get(url)
    for number in range(6):
        course = Course.objects.create(title=f"Limited {number}", track="sales", duration_minutes=30)
        course.tiers.set([tiers["Silver"], tiers["Gold"]])
        course.segments.set([segment])
        course.programs.set([program])
        path = LearningPath.objects.create(title=f"Limited path {number}")
        path.tiers.set([tiers["Gold"]])
        path.segments.set([segment])
    # The limits are subqueries of the catalogue's one query: as many queries with six more.
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count("Limited ") >= 6
