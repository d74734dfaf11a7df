"""Partners in the admin: a new partner is created together with its first logins."""

import pytest
from django.urls import reverse

from partners.models import Membership, MembershipRole, Partner
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _new_partner(**extra):
    return {
        "name": "Initech",
        "partner_type": "reseller",
        "business_model": "resell",
        "country": "GB",
        "region": "emea",
        "status": "active",
        "distributor": "",
        "channel_manager": "",
        "joined_on": "2025-01-06",
        "website": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "people-TOTAL_FORMS": "0",
        "people-INITIAL_FORMS": "0",
        "proficiencies-TOTAL_FORMS": "0",
        "proficiencies-INITIAL_FORMS": "0",
        **extra,
    }


def test_a_partner_is_added_with_its_first_login_in_the_memberships_inline(client, superuser):
    login = UserFactory(username="peter")
    client.force_login(superuser)
    response = client.post(
        reverse("admin:partners_partner_add"),
        _new_partner(
            **{
                "memberships-TOTAL_FORMS": "1",
                "memberships-0-user": login.pk,
                "memberships-0-role": MembershipRole.ADMIN,
            }
        ),
    )
    assert response.status_code == 302, response.context["errors"] if response.context else response
    partner = Partner.objects.get(name="Initech")
    membership = Membership.objects.get(user=login)
    assert membership.partner == partner and membership.distributor is None
    assert membership.role == MembershipRole.ADMIN


def test_the_inline_still_refuses_the_distributor_role_for_a_partner_login(client, superuser):
    login = UserFactory(username="peter")
    client.force_login(superuser)
    response = client.post(
        reverse("admin:partners_partner_add"),
        _new_partner(
            **{
                "memberships-TOTAL_FORMS": "1",
                "memberships-0-user": login.pk,
                "memberships-0-role": MembershipRole.DISTRIBUTOR,
            }
        ),
    )
    assert response.status_code == 200
    assert "Partner users are admins, sales or technical." in response.content.decode()
    assert not Partner.objects.filter(name="Initech").exists()


def test_a_membership_naming_both_or_neither_organisation_is_refused():
    from django.core.exceptions import ValidationError

    from tests.factories import DistributorFactory, PartnerFactory

    with pytest.raises(ValidationError, match="a partner or to a distributor, not both"):
        Membership(user=UserFactory(), role=MembershipRole.ADMIN).clean()
    with pytest.raises(ValidationError, match="a partner or to a distributor, not both"):
        Membership(
            user=UserFactory(), partner=PartnerFactory(), distributor=DistributorFactory(), role="admin"
        ).clean()
    # An organisation not saved yet counts as named: the inline case.
    Membership(user=UserFactory(), partner=Partner(name="New"), role=MembershipRole.SALES).clean()
