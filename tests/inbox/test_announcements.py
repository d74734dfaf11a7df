"""Announcements for one or more segments or programs: shown in the portal to exactly those
partners (the list and the dashboard's banner, through ``visible_to``), optionally e-mailed, and
read receipts the channel manager sees in the admin."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gates.models import SegmentMembership
from inbox import services
from inbox.models import Announcement, Delivery, InboxItem, InboxPreference
from partners.models import MembershipRole, Region
from tests.factories import (
    MembershipFactory,
    PartnerFactory,
    ProgramFactory,
    SegmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


class World:
    """Acme (the ``partner``) is in the "UK resellers" segment; Initech in "Cloud MSPs"; Globex
    sees the "MSP program" (its segment); the other partner none of them."""

    def __init__(self, partner, other_partner):
        self.uk = SegmentFactory(name="UK resellers")
        self.msps = SegmentFactory(name="Cloud MSPs")
        self.program_segment = SegmentFactory(name="MSP program members")
        SegmentMembership.objects.create(segment=self.uk, partner=partner)
        self.initech = PartnerFactory(name="Initech")
        SegmentMembership.objects.create(segment=self.msps, partner=self.initech)
        self.globex = PartnerFactory(name="Globex")
        SegmentMembership.objects.create(segment=self.program_segment, partner=self.globex)
        self.program = ProgramFactory(name="MSP program", segment=self.program_segment)
        self.news = Announcement.objects.create(
            title="Rebates rise to 4%",
            body="From next quarter.\n\nAsk your channel manager.",
            published_at=timezone.now() - datetime.timedelta(hours=1),
        )
        self.news.segments.set([self.uk, self.msps])
        self.news.programs.set([self.program])
        self.draft = Announcement.objects.create(title="Not yet", body="…")
        self.draft.segments.set([self.uk])

    def user_of(self, partner, username, email=None):
        user = UserFactory(username=username, email=email or f"{username}@example.com")
        MembershipFactory(user=user, partner=partner, role=MembershipRole.ADMIN)
        return user


@pytest.fixture
def world(partner, other_partner):
    return World(partner, other_partner)


def test_it_reaches_the_partners_of_any_of_its_segments_or_programs(
    world, partner, other_partner, partner_admin, other_partner_admin, channel_manager
):
    initech_user = world.user_of(world.initech, "ina")
    globex_user = world.user_of(world.globex, "gus")

    assert list(Announcement.objects.visible_to(partner_admin)) == [world.news]
    assert list(Announcement.objects.visible_to(initech_user)) == [world.news]
    assert list(Announcement.objects.visible_to(globex_user)) == [world.news]
    assert list(Announcement.objects.visible_to(other_partner_admin)) == []  # outside all three
    assert set(Announcement.objects.visible_to(channel_manager)) == {world.news, world.draft}
    assert set(services.audience_partners(world.news)) == {partner, world.initech, world.globex}


def test_without_segments_or_programs_it_reaches_every_partner(world, partner_admin, other_partner_admin):
    everyone = Announcement.objects.create(title="Portal upgrade", body="…", published_at=timezone.now())
    assert everyone in Announcement.objects.visible_to(other_partner_admin)
    assert everyone in Announcement.objects.visible_to(partner_admin)


# --- the portal ------------------------------------------------------------------------------


LIST = [
    ("anonymous", "login"),
    ("partner_admin", 200),
    ("other_partner_admin", 200),
    ("distributor_user", 404),
    ("channel_manager", 404),
]


@pytest.mark.parametrize(("persona", "expected"), LIST)
def test_the_list_matrix(client, request, world, persona, expected):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("portal:announcements"))
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        return
    assert response.status_code == expected
    if expected == 200:
        text = response.content.decode()
        assert ("Rebates rise to 4%" in text) == (persona == "partner_admin")
        assert "Not yet" not in text  # a draft


READ = [
    ("anonymous", "login", None),
    ("partner_admin", 302, "news"),
    ("partner_admin", 404, "draft"),
    ("other_partner_admin", 404, "news"),
    ("distributor_user", 404, "news"),
    ("channel_manager", 404, "news"),
]


@pytest.mark.parametrize(("persona", "expected", "target"), READ)
def test_the_mark_read_matrix(client, request, world, persona, expected, target):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    announcement = world.draft if target == "draft" else world.news
    response = client.post(reverse("portal:announcement_read", args=[announcement.pk]))
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected
    assert InboxItem.objects.filter(read_at__isnull=False).exists() == (expected == 302)


def test_marking_read_is_post_only_with_csrf_and_keeps_the_first_time(world, partner_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_admin)
    url = reverse("portal:announcement_read", args=[world.news.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert not InboxItem.objects.exists()

    plain = Client()
    plain.force_login(partner_admin)
    plain.post(url)
    first = InboxItem.objects.get(user=partner_admin).read_at
    plain.post(url)
    assert InboxItem.objects.get(user=partner_admin).read_at == first


def test_the_dashboard_banner_shows_what_is_unread_until_it_is_read(client, world, partner_admin):
    client.force_login(partner_admin)
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert "New announcements" in page and "Rebates rise to 4%" in page
    response = client.post(
        reverse("portal:announcement_read", args=[world.news.pk]), {"next": "dashboard"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard")
    assert "New announcements" not in response.content.decode()
    listed = client.get(reverse("portal:announcements")).content.decode()
    assert "Rebates rise to 4%" in listed and "read " in listed


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_pages_cost_the_same_whatever_the_number_of_announcements(
    client, world, partner_admin, django_assert_max_num_queries
):
    client.force_login(partner_admin)
    url = reverse("portal:announcements")
    few = _count(client, url)
    dashboard = _count(client, reverse("portal:dashboard"))
    for number in range(30):
        more = Announcement.objects.create(title=f"News {number}", body="…", published_at=timezone.now())
        more.segments.set([world.uk])
        if number % 2:
            services.announcement_mark_read(actor=partner_admin, announcement=more)
    # session, user, membership, viewer's person, the page's count and rows (read time in the same
    # query), the bell's count
    with django_assert_max_num_queries(7):
        assert client.get(url).status_code == 200
    assert _count(client, url) == few
    assert _count(client, reverse("portal:dashboard")) == dashboard


# --- e-mail and read receipts ----------------------------------------------------------------------


def test_publishing_with_email_mails_each_recipient_once(
    world, partner, partner_admin, channel_manager, django_capture_on_commit_callbacks
):
    world.news.send_email = True
    world.news.save()
    # Acme's admin wants announcements at once anyway: still one e-mail.
    InboxPreference.objects.create(user=partner_admin, kind="announcement", delivery=Delivery.IMMEDIATE)
    initech_user = world.user_of(world.initech, "ina")
    manager = get_user_model().objects.get(pk=channel_manager.pk)

    with django_capture_on_commit_callbacks(execute=True):
        services.announcement_publish(actor=manager, announcement=world.news)
    with django_capture_on_commit_callbacks(execute=True):
        services.announcement_publish(actor=manager, announcement=world.news)

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([partner_admin.email, initech_user.email])
    assert {message.subject for message in mail.outbox} == {"Rebates rise to 4%"}


def test_without_email_nothing_is_mailed(world, channel_manager, django_capture_on_commit_callbacks):
    manager = get_user_model().objects.get(pk=channel_manager.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.announcement_publish(actor=manager, announcement=world.news)
    assert mail.outbox == []


def test_the_admin_shows_the_manager_who_read_it_among_the_partners_he_covers(
    client, world, partner_admin, channel_manager
):
    # A reader in another region (outside the EMEA manager's coverage) is not his to see.
    far = PartnerFactory(name="Far away", country="BR", region=Region.LATIN_AMERICA)
    SegmentMembership.objects.create(segment=world.uk, partner=far)
    far_user = world.user_of(far, "fernanda")
    services.announcement_mark_read(actor=partner_admin, announcement=world.news)
    services.announcement_mark_read(actor=far_user, announcement=world.news)

    client.force_login(channel_manager)
    listing = client.get(reverse("admin:inbox_announcement_changelist")).content.decode()
    assert '<td class="field-read_count">1</td>' in listing
    page = client.get(reverse("admin:inbox_announcement_change", args=[world.news.pk])).content.decode()
    assert partner_admin.username in page
    assert "fernanda" not in page and "Far away" not in page


def test_the_admin_form_takes_segments_and_programs_and_publishes_at_once(
    client, world, channel_manager, partner_admin, django_capture_on_commit_callbacks
):
    client.force_login(channel_manager)
    now = timezone.localtime()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:inbox_announcement_add"),
            {
                "title": "Summit",
                "body": "Join us.",
                "segments": [world.uk.pk],
                "programs": [world.program.pk],
                "published_at_0": now.strftime("%Y-%m-%d"),
                "published_at_1": now.strftime("%H:%M:%S"),
                "send_email": "on",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    summit = Announcement.objects.get(title="Summit")
    assert set(summit.segments.all()) == {world.uk} and set(summit.programs.all()) == {world.program}
    assert summit.delivered_at is not None
    assert InboxItem.objects.filter(user=partner_admin, dedupe_key=f"announcement:{summit.pk}").exists()
    assert [message.to for message in mail.outbox] == [[partner_admin.email]]
