"""The bell, the inbox page and the preferences page, for every role."""

import pytest
from django.urls import reverse

from inbox import services
from inbox.models import Delivery, InboxItem, InboxKind, InboxPreference
from inbox.selectors import unread_count
from inbox.sources import NewItem
from partners.models import Membership

pytestmark = pytest.mark.django_db


def _items(user, partner, count, start=0):
    services.items_create(
        [
            NewItem(
                user_id=user.pk,
                kind=InboxKind.TIER_CHANGE,
                title=f"Item {n}",
                dedupe_key=f"k{n}",
                partner_id=partner.pk if partner else None,
                link="/portal/programs/",
            )
            for n in range(start, start + count)
        ]
    )


def test_the_bell_count_is_one_query(partner, partner_admin, django_assert_num_queries):
    _items(partner_admin, partner, 30)
    Membership.for_user(partner_admin)  # loaded once per request by the portal's viewer

    with django_assert_num_queries(1):  # COUNT of the user's unread items through the door's subqueries
        assert unread_count(partner_admin) == 30


@pytest.mark.parametrize("persona", ["partner_admin", "distributor_user", "channel_manager"])
def test_the_header_costs_the_same_whatever_the_number_of_items(
    request, client, partner, persona, django_assert_max_num_queries
):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    _items(user, partner, 1)
    client.get(reverse("portal:inbox"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("portal:inbox"))
    assert 'data-testid="bell-count">1<' in response.content.decode()
    _items(user, partner, 60, start=1)
    # session, user, membership, (staff: profile, permissions), the bell's count, the page's count and rows
    with django_assert_max_num_queries(len(few)):
        response = client.get(reverse("portal:inbox"))
    assert 'data-testid="bell-count">61<' in response.content.decode()


def test_the_inbox_lists_newest_first_paginated_and_links_to_where_one_acts(client, partner, partner_admin):
    _items(partner_admin, partner, 30)
    client.force_login(partner_admin)

    first = client.get(reverse("portal:inbox")).content.decode()
    second = client.get(reverse("portal:inbox") + "?page=2").content.decode()

    assert first.index("Item 29") < first.index("Item 28")
    assert "Item 4" not in first and "Item 4<" in second
    assert 'href="/portal/programs/">Item 29</a>' in first
    assert "Page 1 of 2" in first


def test_marking_one_read_and_all_read(client, partner, partner_admin):
    _items(partner_admin, partner, 3)
    client.force_login(partner_admin)
    item = InboxItem.objects.get(dedupe_key="k1")

    response = client.post(reverse("portal:inbox_read", args=[item.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("portal:inbox")
    assert unread_count(partner_admin) == 2
    assert (
        client.post(reverse("portal:inbox_read_all"), {"page": "2"})["Location"]
        == reverse("portal:inbox") + "?page=2"
    )
    assert unread_count(partner_admin) == 0


def test_marking_read_is_post_only_and_needs_the_csrf_token(partner, partner_admin):
    from django.test import Client

    _items(partner_admin, partner, 1)
    item = InboxItem.objects.get()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(partner_admin)

    assert strict.get(reverse("portal:inbox_read", args=[item.pk])).status_code == 405
    assert strict.post(reverse("portal:inbox_read", args=[item.pk])).status_code == 403
    item.refresh_from_db()
    assert item.read_at is None


def test_another_users_item_answers_404(
    client, partner, other_partner, partner_admin, other_partner_admin, partner_sales
):
    _items(other_partner_admin, other_partner, 1)
    theirs = InboxItem.objects.get()
    for user in (partner_admin, partner_sales):
        client.force_login(user)
        assert client.post(reverse("portal:inbox_read", args=[theirs.pk])).status_code == 404
        assert "Item 0" not in client.get(reverse("portal:inbox")).content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_signed_out_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("portal:inbox"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _offered(client, user) -> set[str]:
    """The kinds the preferences form asks the user about (one radio group per kind)."""
    client.force_login(user)
    response = client.get(reverse("portal:inbox_preferences"))
    assert response.status_code == 200
    return set(response.context["form"].fields)


def test_a_partner_user_is_asked_only_about_the_kinds_that_reach_a_partner_user(
    client, partner_admin, partner_sales
):
    partner_kinds = {
        InboxKind.TIER_CHANGE,
        InboxKind.AT_RISK,
        InboxKind.CERTIFICATION_EXPIRING,
        InboxKind.ANNOUNCEMENT,
    }
    # Only the partner's admins hear of MDF claims due; approvals go to distributors and managers.
    assert _offered(client, partner_admin) == partner_kinds | {InboxKind.MDF_CLAIM_DUE}
    assert _offered(client, partner_sales) == partner_kinds
    page = client.get(reverse("portal:inbox_preferences")).content.decode()
    assert "Awaiting your approval" not in page
    assert "in your coverage" not in page
    assert "At-risk warnings and grace periods" in page


def test_a_channel_manager_is_asked_only_about_his_coverage_and_his_approvals(client, channel_manager):
    assert _offered(client, channel_manager) == {InboxKind.AT_RISK, InboxKind.APPROVAL, InboxKind.APPLICATION}
    page = client.get(reverse("portal:inbox_preferences")).content.decode()
    assert "Partners at risk or in grace in your coverage" in page
    assert "Awaiting your approval" in page
    assert "Applications to become a partner in your coverage" in page
    for partner_only in ("Tier changes", "MDF claims due", "Certifications expiring", "Announcements"):
        assert partner_only not in page


def test_a_distributor_user_is_asked_about_approvals_and_announcements(client, distributor_user):
    assert _offered(client, distributor_user) == {InboxKind.APPROVAL, InboxKind.ANNOUNCEMENT}


def test_a_kind_that_does_not_reach_the_user_takes_no_preference(client, partner_sales, channel_manager):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="do not reach you: MDF claims due"):
        services.preferences_set(actor=partner_sales, deliveries={InboxKind.MDF_CLAIM_DUE: Delivery.DIGEST})
    with pytest.raises(ValidationError, match="Tier changes"):
        services.preferences_set(
            actor=channel_manager, deliveries={InboxKind.TIER_CHANGE: Delivery.IMMEDIATE}
        )
    # Posted anyway to the page, a foreign kind is no field of the form: it is ignored, not saved.
    client.force_login(channel_manager)
    response = client.post(
        reverse("portal:inbox_preferences"),
        {
            InboxKind.AT_RISK: Delivery.DIGEST,
            InboxKind.APPROVAL: Delivery.IN_APP,
            InboxKind.APPLICATION: Delivery.IMMEDIATE,
            InboxKind.TIER_CHANGE: Delivery.IMMEDIATE,
        },
    )
    assert response.status_code == 302
    assert dict(InboxPreference.objects.values_list("kind", "delivery")) == {
        InboxKind.AT_RISK: Delivery.DIGEST,
        InboxKind.APPROVAL: Delivery.IN_APP,
        InboxKind.APPLICATION: Delivery.IMMEDIATE,
    }


def test_the_preferences_page_saves_a_choice_per_kind(client, partner_admin):
    client.force_login(partner_admin)
    page = client.get(reverse("portal:inbox_preferences")).content.decode()
    assert "Tier changes" in page and 'value="in_app"' in page

    data = dict.fromkeys(_offered(client, partner_admin), Delivery.IN_APP)
    data[InboxKind.AT_RISK] = Delivery.IMMEDIATE
    data[InboxKind.ANNOUNCEMENT] = Delivery.DIGEST
    response = client.post(reverse("portal:inbox_preferences"), data)

    assert response.status_code == 302
    assert (
        dict(InboxPreference.objects.filter(user=partner_admin).values_list("kind", "delivery"))[
            InboxKind.AT_RISK
        ]
        == Delivery.IMMEDIATE
    )


def test_a_bad_choice_is_shown_next_to_its_field(client, partner_admin):
    data = dict.fromkeys(_offered(client, partner_admin), Delivery.IN_APP)
    data[InboxKind.AT_RISK] = "carrier pigeon"

    response = client.post(reverse("portal:inbox_preferences"), data)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not InboxPreference.objects.exists()
