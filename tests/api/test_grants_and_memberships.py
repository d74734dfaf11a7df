"""Segment memberships and benefit grants, read-only: who is in which segment, who holds what."""

import pytest
from django.utils import timezone

from gates.models import BenefitGrant, SegmentMembership
from tests.factories import BenefitFactory, ProgramFactory, SegmentFactory

pytestmark = pytest.mark.django_db

MEMBERSHIPS = "/api/v1/segment-memberships/"
GRANTS = "/api/v1/benefit-grants/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def globex_membership(world):
    return SegmentMembership.objects.create(
        segment=SegmentFactory(name="Globex's segment"), partner=world.globex
    )


class TestSegmentMemberships:
    def test_staff_read_the_memberships_of_the_partners_they_see(
        self, client_for, channel_manager, superuser, world, globex_membership
    ):
        acme_membership = SegmentMembership.objects.get(partner=world.acme, segment=world.segment)

        manager = client_for(channel_manager)
        assert ids(manager.get(MEMBERSHIPS)) == {acme_membership.pk}
        assert manager.get(f"{MEMBERSHIPS}{globex_membership.pk}/").status_code == 404
        assert ids(client_for(superuser).get(MEMBERSHIPS)) == {acme_membership.pk, globex_membership.pk}

        body = manager.get(f"{MEMBERSHIPS}{acme_membership.pk}/").json()
        assert body == {
            "id": acme_membership.pk,
            "partner": world.acme.pk,
            "segment": world.segment.pk,
            "segment_name": "Acme's segment",
            "since": body["since"],
            "segment_version": acme_membership.segment_version,
        }

    def test_partners_and_distributors_see_no_segments(
        self, client_for, partner_admin, distributor_user, world
    ):
        acme_membership = SegmentMembership.objects.get(partner=world.acme)
        for user in (partner_admin, distributor_user):
            client = client_for(user)
            assert ids(client.get(MEMBERSHIPS)) == set()
            assert client.get(f"{MEMBERSHIPS}{acme_membership.pk}/").status_code == 404

    def test_filters(self, client_for, superuser, world, globex_membership):
        client = client_for(superuser)
        acme_membership = SegmentMembership.objects.get(partner=world.acme)

        assert ids(client.get(MEMBERSHIPS, {"partner": world.globex.pk})) == {globex_membership.pk}
        assert ids(client.get(MEMBERSHIPS, {"segment": world.segment.pk})) == {acme_membership.pk}
        tomorrow = (timezone.now() + timezone.timedelta(days=1)).isoformat().replace("+00:00", "Z")
        assert ids(client.get(MEMBERSHIPS, {"since_after": tomorrow})) == set()
        assert ids(client.get(MEMBERSHIPS, {"since_before": tomorrow})) == {
            acme_membership.pk,
            globex_membership.pk,
        }

    def test_memberships_are_not_written_here(self, client_for, superuser, world):
        response = client_for(superuser).post(MEMBERSHIPS, {}, format="json")
        assert response.status_code == 405


class TestBenefitGrants:
    def test_a_partner_reads_its_own_grants_in_the_programs_open_to_it(
        self, client_for, partner_admin, channel_manager, world
    ):
        acme_discount = BenefitGrant.objects.get(partner=world.acme, benefit=world.discount)
        globex_discount = BenefitGrant.objects.get(partner=world.globex, benefit=world.discount)
        # A program outside Acme's segments: its grant to Acme stays out of Acme's sight.
        hidden_program = ProgramFactory(segment=SegmentFactory(name="Elsewhere"))
        hidden = BenefitGrant.objects.create(
            partner=world.acme, benefit=BenefitFactory(program=hidden_program)
        )

        client = client_for(partner_admin)
        assert ids(client.get(GRANTS)) == {acme_discount.pk}
        assert client.get(f"{GRANTS}{globex_discount.pk}/").status_code == 404
        assert client.get(f"{GRANTS}{hidden.pk}/").status_code == 404
        # Staff see every grant of the partners they cover.
        assert ids(client_for(channel_manager).get(GRANTS)) == {acme_discount.pk, hidden.pk}

        body = client.get(f"{GRANTS}{acme_discount.pk}/").json()
        assert body == {
            "id": acme_discount.pk,
            "partner": world.acme.pk,
            "benefit": world.discount.pk,
            "benefit_name": "Silver discount",
            "program": world.program.pk,
            "kind": "discount",
            "via_tier": world.silver.pk,
            "via_gate": None,
            "granted_at": body["granted_at"],
            "revoked_at": None,
            "active": True,
        }

    def test_filters(self, client_for, superuser, world):
        client = client_for(superuser)
        acme_discount = BenefitGrant.objects.get(partner=world.acme, benefit=world.discount)
        globex_discount = BenefitGrant.objects.get(partner=world.globex, benefit=world.discount)
        content = BenefitGrant.objects.create(
            partner=world.acme, benefit=world.specialist_benefit, revoked_at=timezone.now()
        )

        assert ids(client.get(GRANTS, {"partner": world.globex.pk})) == {globex_discount.pk}
        assert ids(client.get(GRANTS, {"program": world.specialisation.pk})) == {content.pk}
        assert ids(client.get(GRANTS, {"benefit": world.discount.pk})) == {
            acme_discount.pk,
            globex_discount.pk,
        }
        assert ids(client.get(GRANTS, {"kind": "content"})) == {content.pk}
        assert ids(client.get(GRANTS, {"via_tier": world.silver.pk})) == {
            acme_discount.pk,
            globex_discount.pk,
        }
        assert ids(client.get(GRANTS, {"active": "false"})) == {content.pk}
        assert ids(client.get(GRANTS, {"active": "true", "partner": world.acme.pk})) == {acme_discount.pk}
        tomorrow = (timezone.now() + timezone.timedelta(days=1)).isoformat().replace("+00:00", "Z")
        assert ids(client.get(GRANTS, {"granted_after": tomorrow})) == set()
        assert ids(client.get(GRANTS, {"revoked_after": "2000-01-01T00:00:00Z"})) == {content.pk}

    def test_a_bad_filter_is_named(self, client_for, superuser, world):
        response = client_for(superuser).get(GRANTS, {"active": "yes", "kind": "cash"})

        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"active", "kind"}
