"""Announcements in a real headless Chromium: a partner in the announcement's segment sees it on
the dashboard's banner and the list, and marks it read; a partner outside it sees nothing of it.
Screenshots go to test-results/e2e/announcements-*.png."""

import pytest
from django.utils import timezone

from gates.models import SegmentMembership
from inbox.models import Announcement, InboxItem
from partners.models import MembershipRole
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in
from tests.factories import MembershipFactory, PartnerFactory, SegmentFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def aimed():
    inside = PartnerFactory(name="Acme Cloud")
    outside = PartnerFactory(name="Globex")
    segment = SegmentFactory(name="UK resellers")
    SegmentMembership.objects.create(segment=segment, partner=inside)
    MembershipFactory(user=UserFactory(username="insider"), partner=inside, role=MembershipRole.ADMIN)
    MembershipFactory(user=UserFactory(username="outsider"), partner=outside, role=MembershipRole.ADMIN)
    announcement = Announcement.objects.create(
        title="Rebates rise to 4%",
        body="From next quarter, on every cloud deal.",
        published_at=timezone.now(),
    )
    announcement.segments.set([segment])
    return announcement


def test_a_partner_in_the_segment_sees_it_and_one_outside_does_not(page, aimed):
    from playwright.sync_api import expect

    log_in(page, "insider")
    banner = page.get_by_role("region", name="New announcements")
    expect(banner.get_by_role("heading", name="Rebates rise to 4%")).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "announcements-01-banner.png"), full_page=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Announcements").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Announcements")
    page.get_by_role("button", name="Mark “Rebates rise to 4%” read").click()
    expect(page.get_by_role("button", name="Mark “Rebates rise to 4%” read")).to_have_count(0)
    expect(page.get_by_text("read ", exact=False).first).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "announcements-02-read.png"), full_page=True)
    assert InboxItem.objects.filter(user__username="insider", read_at__isnull=False).count() == 1

    page.context.clear_cookies()
    log_in(page, "outsider")
    expect(page.get_by_role("region", name="New announcements")).to_have_count(0)
    page.goto("/portal/announcements/")
    expect(page.get_by_text("No announcements for your organisation yet.")).to_be_visible()
    expect(page.get_by_text("Rebates rise to 4%")).to_have_count(0)
