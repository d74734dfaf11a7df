"""Who sees whose certifications: one rule, in ``Certification.objects.visible_to``, for the portal
and the API alike. A partner admin sees every colleague's, with expiry; sales and technical users
their own; distributors and channel managers those of the partners they see."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from partners.models import Certification, MembershipRole
from tests.factories import CertificationFactory, CertificationTypeFactory, MembershipFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def certifications(partner, partner_admin, partner_sales, other_partner):
    own = PersonFactory(partner=partner, user=partner_sales, email="sally@acme.example")
    colleague = PersonFactory(partner=partner, email="cole@acme.example")
    admin_person = PersonFactory(partner=partner, user=partner_admin, email="pat@acme.example")
    stranger = PersonFactory(partner=other_partner, email="oz@globex.example")
    kind = CertificationTypeFactory(code="se", name="Sales engineer")
    return {
        "own": CertificationFactory(person=own, certification_type=kind),
        "colleague": CertificationFactory(person=colleague, certification_type=kind),
        "admin": CertificationFactory(person=admin_person, certification_type=kind),
        "stranger": CertificationFactory(person=stranger, certification_type=kind),
    }


@pytest.fixture
def technical_user(partner):
    return MembershipFactory(partner=partner, role=MembershipRole.TECHNICAL, user__username="tess").user


def _api_ids(user) -> set[int]:
    client = APIClient()
    client.force_login(user)
    response = client.get("/api/v1/certifications/")
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def _ids(certifications, *names) -> set[int]:
    return {certifications[name].pk for name in names}


def test_the_rule(
    certifications, partner_admin, partner_sales, technical_user, distributor_user, channel_manager
):
    def visible(user):
        return set(Certification.objects.visible_to(user).values_list("pk", flat=True))

    assert visible(partner_admin) == _ids(certifications, "own", "colleague", "admin")
    assert visible(partner_sales) == _ids(certifications, "own")
    assert visible(technical_user) == set()  # no person record of their own yet
    assert visible(distributor_user) == _ids(certifications, "own", "colleague", "admin")
    assert visible(channel_manager) == _ids(certifications, "own", "colleague", "admin")


@pytest.mark.parametrize("persona", ["partner_admin", "partner_sales", "distributor_user", "channel_manager"])
def test_the_api_lists_what_the_rule_allows(request, certifications, persona):
    user = request.getfixturevalue(persona)

    assert _api_ids(user) == set(Certification.objects.visible_to(user).values_list("pk", flat=True))


def test_a_sales_user_cannot_read_a_colleagues_certification_by_id(certifications, partner_sales):
    client = APIClient()
    client.force_login(partner_sales)

    assert client.get(f"/api/v1/certifications/{certifications['own'].pk}/").status_code == 200
    assert client.get(f"/api/v1/certifications/{certifications['colleague'].pk}/").status_code == 404


def test_the_team_page_shows_what_the_api_shows(client, certifications, partner_sales, partner_admin):
    for user in (partner_sales, partner_admin):
        client.force_login(user)
        people = [row.record for row in client.get(reverse("portal:team")).context["listing"].table.rows]
        shown = {cert.pk for person in people for cert in person.certifications.all()}

        assert shown == _api_ids(user)
