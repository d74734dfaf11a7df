"""Who sees which items, and how they are delivered: in the portal, an email at once, a daily digest."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from api.models import TokenScope
from api.services import token_issue
from inbox import services
from inbox.models import Delivery, InboxDigest, InboxItem, InboxKind, InboxPreference
from inbox.sources import NewItem
from partners.models import Membership

pytestmark = pytest.mark.django_db


def _item(user, partner=None, kind=InboxKind.TIER_CHANGE, key="k1", **fields):
    services.items_create(
        [
            NewItem(
                user_id=user.pk,
                kind=kind,
                title=fields.pop("title", f"Item {key}"),
                dedupe_key=key,
                partner_id=partner.pk if partner else None,
                **fields,
            )
        ]
    )
    return InboxItem.objects.get(user=user, dedupe_key=key)


# --- the door ---------------------------------------------------------------------------------


def test_a_partner_user_never_sees_another_partners_items(
    partner, other_partner, partner_admin, other_partner_admin
):
    own = _item(partner_admin, partner, key="own")
    theirs = _item(other_partner_admin, other_partner, key="theirs")

    assert list(InboxItem.objects.visible_to(partner_admin)) == [own]
    assert list(InboxItem.objects.visible_to(other_partner_admin)) == [theirs]
    assert not services.item_mark_read(actor=partner_admin, item_id=theirs.pk)
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_an_item_about_a_partner_one_no_longer_sees_is_hidden(partner, other_partner, partner_admin):
    item = _item(partner_admin, partner)
    Membership.objects.filter(user=partner_admin).update(partner=other_partner)
    partner_admin.refresh_from_db()
    partner_admin.__dict__.pop("_prm_membership", None)

    assert item not in InboxItem.objects.visible_to(partner_admin)


def test_a_manager_sees_own_items_about_covered_partners_only(
    partner, other_partner, channel_manager, superuser
):
    covered = _item(channel_manager, partner, key="covered")
    _item(channel_manager, other_partner, key="uncovered")  # coverage changed since
    _item(superuser, partner, key="someone else's")

    assert list(InboxItem.objects.visible_to(channel_manager)) == [covered]


def test_tokens_have_no_inbox(partner, channel_manager):
    _item(channel_manager, partner)
    token, _ = token_issue(actor=channel_manager, name="All", scope=TokenScope.READ_WRITE, all_partners=True)

    assert not InboxItem.objects.visible_to(token).exists()
    assert not InboxItem.objects.actionable_by(token, "read").exists()


def test_an_announcement_is_shown_through_the_door(
    partner, partner_admin, other_partner_admin, channel_manager
):
    from gates.models import SegmentMembership
    from inbox.models import Announcement
    from tests.factories import SegmentFactory

    segment = SegmentFactory(name="Acme only")
    SegmentMembership.objects.create(segment=segment, partner=partner)
    aimed = Announcement.objects.create(title="Aimed", body="…", published_at=timezone.now())
    aimed.segments.set([segment])
    draft = Announcement.objects.create(title="Draft", body="…")

    assert list(Announcement.objects.visible_to(partner_admin)) == [aimed]
    assert list(Announcement.objects.visible_to(other_partner_admin)) == []
    assert set(Announcement.objects.visible_to(channel_manager)) == {aimed, draft}


# --- preferences ------------------------------------------------------------------------------


def test_in_app_is_the_default_and_sends_nothing(partner, partner_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _item(partner_admin, partner)

    assert mail.outbox == []


def test_an_immediate_kind_is_emailed_once_after_commit(
    partner, partner_admin, django_capture_on_commit_callbacks
):
    services.preferences_set(actor=partner_admin, deliveries={InboxKind.TIER_CHANGE: Delivery.IMMEDIATE})

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        item = _item(partner_admin, partner, title="You reached Gold", body="Well done.", link="/portal/")
    assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    [message] = mail.outbox
    assert message.to == [partner_admin.email] and message.subject == "You reached Gold"
    assert "In the portal: /portal/" in message.body
    item.refresh_from_db()
    assert item.emailed_at is not None
    # The same task delivered twice sends nothing more.
    services.immediate_items_send([[partner_admin.pk, item.dedupe_key]])
    assert len(mail.outbox) == 1


def test_other_kinds_of_an_immediate_user_stay_in_app(
    partner, partner_admin, django_capture_on_commit_callbacks
):
    services.preferences_set(actor=partner_admin, deliveries={InboxKind.TIER_CHANGE: Delivery.IMMEDIATE})

    with django_capture_on_commit_callbacks(execute=True):
        _item(partner_admin, partner, kind=InboxKind.ANNOUNCEMENT)

    assert mail.outbox == []


def test_the_digest_sends_one_email_of_the_unread_digest_items_once(
    partner, partner_admin, partner_sales, django_capture_on_commit_callbacks
):
    services.preferences_set(
        actor=partner_admin,
        deliveries={InboxKind.TIER_CHANGE: Delivery.DIGEST, InboxKind.AT_RISK: Delivery.DIGEST},
    )
    with django_capture_on_commit_callbacks(execute=True):
        _item(partner_admin, partner, key="a", title="First")
        _item(partner_admin, partner, key="b", kind=InboxKind.AT_RISK, title="Second")
        read = _item(partner_admin, partner, key="c", title="Already read")
        _item(partner_admin, partner, key="d", kind=InboxKind.ANNOUNCEMENT, title="Not a digest kind")
        _item(partner_sales, partner, key="e", title="Sally's, in-app")
    services.item_mark_read(actor=partner_admin, item_id=read.pk)
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert services.digests_send() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digests_send() == 0  # twice the same day: once

    [digest] = mail.outbox
    assert digest.to == [partner_admin.email]
    assert digest.subject == "Your PRM digest: 2 new items"
    assert "First" in digest.body and "Second" in digest.body
    assert "Already read" not in digest.body and "Not a digest kind" not in digest.body
    assert InboxDigest.objects.get(user=partner_admin).items == 2


def test_the_next_digest_holds_only_what_came_since(
    partner, partner_admin, django_capture_on_commit_callbacks
):
    services.preferences_set(actor=partner_admin, deliveries={InboxKind.TIER_CHANGE: Delivery.DIGEST})
    today = timezone.localdate()
    _item(partner_admin, partner, key="a", title="Monday's")
    with django_capture_on_commit_callbacks(execute=True):
        services.digests_send(today=today)
    _item(partner_admin, partner, key="b", title="Tuesday's")
    with django_capture_on_commit_callbacks(execute=True):
        services.digests_send(today=today + datetime.timedelta(days=1))

    assert [m.subject for m in mail.outbox] == ["Your PRM digest: 1 new item"] * 2
    assert "Tuesday's" in mail.outbox[1].body and "Monday's" not in mail.outbox[1].body


def test_unknown_preferences_are_refused(partner_admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.preferences_set(actor=partner_admin, deliveries={"gossip": Delivery.DIGEST})
    assert not InboxPreference.objects.exists()


def test_an_item_read_again_after_choosing_immediate_is_not_mailed(
    partner, partner_admin, django_capture_on_commit_callbacks
):
    _item(partner_admin, partner, title="Before the choice")
    services.preferences_set(actor=partner_admin, deliveries={InboxKind.TIER_CHANGE: Delivery.IMMEDIATE})

    with django_capture_on_commit_callbacks(execute=True):
        _item(partner_admin, partner, title="Before the choice")  # the same key, read again

    assert mail.outbox == []


def test_a_login_without_an_organisation_has_an_empty_inbox(client):
    from django.urls import reverse

    from tests.factories import UserFactory

    loner = UserFactory()
    client.force_login(loner)
    response = client.get(reverse("portal:inbox"))

    assert response.status_code == 200
    assert 'data-testid="bell-count">0<' in response.content.decode()
