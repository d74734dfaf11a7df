"""Partners through the API: created and changed by staff, moved along their lifecycle by commands."""

import pytest
from django.test import override_settings

from api.models import TokenScope
from core.models import AuditEntry
from partners.models import LifecycleStatus, Partner, Region
from tests.factories import DistributorFactory, PartnerFactory

pytestmark = pytest.mark.django_db

PARTNERS = "/api/v1/partners/"
S = LifecycleStatus


def new_partner(**overrides):
    body = {
        "name": "Initech",
        "partner_type": "msp",
        "business_model": "managed",
        "country": "DE",
        "region": "emea",
        "website": "https://initech.example",
    }
    body.update(overrides)
    return body


class TestCreate:
    def test_a_channel_manager_creates_a_prospect_in_his_region(self, client_for, channel_manager):
        response = client_for(channel_manager).post(PARTNERS, new_partner(), format="json")

        assert response.status_code == 201, response.content
        partner = Partner.objects.get(name="Initech")
        body = response.json()
        assert body["id"] == partner.pk
        assert (body["status"], body["country"], body["region"]) == ("prospect", "DE", "emea")
        assert (partner.status, partner.country.code, partner.website) == (
            S.PROSPECT,
            "DE",
            "https://initech.example",
        )
        entry = AuditEntry.objects.get(action="partner.created")
        assert entry.actor == channel_manager

    def test_the_status_is_not_written_on_create(self, client_for, superuser):
        response = client_for(superuser).post(PARTNERS, new_partner(status="active"), format="json")

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["status"]
        assert not Partner.objects.filter(name="Initech").exists()

    def test_bad_fields_are_named(self, client_for, superuser):
        body = new_partner(name="", partner_type="wizard", country="XX", region="mars", website="nope")

        response = client_for(superuser).post(PARTNERS, body, format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid"
        assert set(body["errors"]) == {"name", "partner_type", "country", "region", "website"}

    def test_required_fields_are_named(self, client_for, superuser):
        response = client_for(superuser).post(PARTNERS, {}, format="json")

        assert response.status_code == 400
        assert set(response.json()["errors"]) == {
            "name",
            "partner_type",
            "business_model",
            "country",
            "region",
        }

    def test_a_partner_outside_the_managers_coverage_is_refused(self, client_for, channel_manager):
        response = client_for(channel_manager).post(PARTNERS, new_partner(region="apac"), format="json")

        assert response.status_code == 400
        assert "outside what you cover" in response.json()["errors"]["non_field_errors"][0]
        assert not Partner.objects.filter(name="Initech").exists()
        assert not AuditEntry.objects.filter(action="partner.created").exists()

    def test_a_distributor_out_of_sight_does_not_exist(self, client_for, channel_manager):
        hidden = DistributorFactory(region=Region.APAC, country="JP")

        response = client_for(channel_manager).post(
            PARTNERS, new_partner(distributor=hidden.pk), format="json"
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["distributor"]

    def test_the_superuser_assigns_a_channel_manager_and_a_distributor(
        self, client_for, superuser, channel_manager, distributor
    ):
        body = new_partner(channel_manager=channel_manager.pk, distributor=distributor.pk)

        response = client_for(superuser).post(PARTNERS, body, format="json")

        assert response.status_code == 201, response.content
        partner = Partner.objects.get(name="Initech")
        assert (partner.channel_manager, partner.distributor) == (channel_manager, distributor)
        assert (response.json()["channel_manager"], response.json()["distributor"]) == (
            channel_manager.pk,
            distributor.pk,
        )

    def test_a_manager_takes_on_a_partner_outside_his_regions(self, client_for, channel_manager):
        body = new_partner(region="apac", country="JP", channel_manager=channel_manager.pk)

        response = client_for(channel_manager).post(PARTNERS, body, format="json")

        assert response.status_code == 201, response.content
        assert Partner.objects.get(name="Initech").channel_manager == channel_manager

    def test_a_manager_assigns_no_staff_he_does_not_see(self, client_for, channel_manager, superuser):
        response = client_for(channel_manager).post(
            PARTNERS, new_partner(channel_manager=superuser.pk), format="json"
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["channel_manager"]

    def test_partner_users_and_distributors_may_not_create(self, client_for, partner_admin, distributor_user):
        for user in (partner_admin, distributor_user):
            response = client_for(user).post(PARTNERS, new_partner(), format="json")
            assert response.status_code == 403
        assert not Partner.objects.filter(name="Initech").exists()

    def test_a_token_for_some_partners_may_not_create(
        self, token_client, issue_token, superuser, other_partner
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[other_partner])

        response = token_client(secret).post(PARTNERS, new_partner(), format="json")

        assert response.status_code == 403
        assert not Partner.objects.filter(name="Initech").exists()

    def test_a_token_for_every_partner_creates(self, token_client, issue_token, channel_manager):
        _, secret = issue_token(channel_manager)

        response = token_client(secret).post(PARTNERS, new_partner(), format="json")

        assert response.status_code == 201, response.content


class TestUpdate:
    def test_a_manager_renames_a_partner_he_covers(self, client_for, channel_manager, partner):
        response = client_for(channel_manager).patch(
            f"{PARTNERS}{partner.pk}/", {"name": "Acme Europe"}, format="json"
        )

        assert response.status_code == 200, response.content
        assert response.json()["name"] == "Acme Europe"
        partner.refresh_from_db()
        assert partner.name == "Acme Europe"
        assert AuditEntry.objects.filter(action="partner.changed", target_id=str(partner.pk)).exists()

    def test_replacing_a_partner_takes_every_field(self, client_for, superuser, partner):
        response = client_for(superuser).put(f"{PARTNERS}{partner.pk}/", new_partner(), format="json")

        assert response.status_code == 200, response.content
        partner.refresh_from_db()
        assert (partner.name, partner.partner_type, partner.status) == ("Initech", "msp", S.ACTIVE)

    def test_the_status_is_not_written_on_update(self, client_for, superuser, partner):
        response = client_for(superuser).patch(
            f"{PARTNERS}{partner.pk}/", {"status": "terminated"}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["errors"]["status"][0].startswith("The status changes only through")
        partner.refresh_from_db()
        assert partner.status == S.ACTIVE

    def test_moving_a_partner_out_of_coverage_is_refused(self, client_for, channel_manager, partner):
        response = client_for(channel_manager).patch(
            f"{PARTNERS}{partner.pk}/", {"region": "apac"}, format="json"
        )

        assert response.status_code == 400
        partner.refresh_from_db()
        assert partner.region == Region.EMEA

    def test_another_regions_partner_is_not_found(self, client_for, channel_manager, other_partner):
        response = client_for(channel_manager).patch(
            f"{PARTNERS}{other_partner.pk}/", {"name": "Mine"}, format="json"
        )

        assert response.status_code == 404

    def test_a_partner_admin_reads_its_own_partner_and_changes_nothing(
        self, client_for, partner_admin, partner, other_partner
    ):
        client = client_for(partner_admin)
        assert client.get(f"{PARTNERS}{partner.pk}/").status_code == 200
        assert client.get(f"{PARTNERS}{other_partner.pk}/").status_code == 404
        response = client.patch(f"{PARTNERS}{partner.pk}/", {"name": "Ours"}, format="json")
        assert response.status_code == 403
        partner.refresh_from_db()
        assert partner.name == "Acme"


class TestLifecycle:
    def move(self, client, partner, command, body=None):
        return client.post(f"{PARTNERS}{partner.pk}/{command}/", body or {}, format="json")

    def test_a_prospect_is_onboarded_activated_suspended_reinstated_and_terminated(
        self, client_for, channel_manager
    ):
        partner = PartnerFactory(status=S.PROSPECT)
        client = client_for(channel_manager)
        steps = [
            ("onboard", {}, S.ONBOARDING),
            ("activate", {}, S.ACTIVE),
            ("suspend", {"reason": "Unpaid invoices"}, S.SUSPENDED),
            ("reinstate", {"reason": "Paid"}, S.ACTIVE),
            ("terminate", {"reason": "Left the program"}, S.TERMINATED),
        ]
        for command, body, status in steps:
            response = self.move(client, partner, command, body)
            assert response.status_code == 200, (command, response.content)
            assert response.json()["id"] == partner.pk
            assert response.json()["status"] == status
            partner.refresh_from_db()
            assert partner.status == status
        entries = AuditEntry.objects.filter(action="partner.status_changed").order_by("id")
        assert [(e.data["after"], e.data["reason"]) for e in entries] == [
            ("onboarding", ""),
            ("active", ""),
            ("suspended", "Unpaid invoices"),
            ("active", "Paid"),
            ("terminated", "Left the program"),
        ]

    @pytest.mark.parametrize(
        ("status", "command", "message"),
        [
            (S.TERMINATED, "activate", "Only a prospect or onboarding partner is activated"),
            (S.ACTIVE, "onboard", "An active partner can only become suspended or terminated."),
            (S.SUSPENDED, "activate", "Only a prospect or onboarding partner is activated"),
            (S.ACTIVE, "reinstate", "Only a suspended partner is reinstated."),
            (S.TERMINATED, "terminate", "A terminated partner stays terminated"),
        ],
    )
    def test_an_illegal_move_is_a_conflict(self, client_for, superuser, status, command, message):
        partner = PartnerFactory(status=status)

        response = self.move(client_for(superuser), partner, command, {"reason": "Because"})

        assert response.status_code == 409
        body = response.json()
        assert (body["status"], body["code"]) == (409, "conflict")
        assert body["errors"]["non_field_errors"][0].startswith(message)
        partner.refresh_from_db()
        assert partner.status == status
        assert not AuditEntry.objects.filter(action="partner.status_changed").exists()

    @pytest.mark.parametrize("command", ["suspend", "terminate"])
    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
    def test_suspending_and_terminating_need_a_reason(self, client_for, superuser, partner, command, body):
        response = self.move(client_for(superuser), partner, command, body)

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["reason"]
        partner.refresh_from_db()
        assert partner.status == S.ACTIVE

    def test_a_reason_must_be_text(self, client_for, superuser, partner):
        response = self.move(client_for(superuser), partner, "suspend", {"reason": 5})

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["reason"]

    def test_partner_users_and_distributors_may_not_move_a_partner(
        self, client_for, partner_admin, distributor_user, partner
    ):
        for user in (partner_admin, distributor_user):
            response = self.move(client_for(user), partner, "suspend", {"reason": "No"})
            assert response.status_code == 403
        partner.refresh_from_db()
        assert partner.status == S.ACTIVE

    def test_a_read_only_token_may_not_move_a_partner(
        self, token_client, issue_token, channel_manager, partner
    ):
        _, secret = issue_token(channel_manager, scope=TokenScope.READ)

        response = self.move(token_client(secret), partner, "suspend", {"reason": "No"})

        assert response.status_code == 403

    def test_a_token_limited_to_a_partner_moves_that_partner_only(
        self, token_client, issue_token, superuser, partner, other_partner
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[other_partner])
        client = token_client(secret)

        assert self.move(client, partner, "suspend", {"reason": "No"}).status_code == 404
        assert self.move(client, other_partner, "suspend", {"reason": "Yes"}).status_code == 200
        other_partner.refresh_from_db()
        assert other_partner.status == S.SUSPENDED

    @override_settings(CELERY_TASK_ALWAYS_EAGER=True)
    def test_the_partner_is_re_evaluated_after_the_move(
        self, client_for, superuser, partner, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            response = self.move(client_for(superuser), partner, "suspend", {"reason": "Audit"})

        assert response.status_code == 200
        assert callbacks, "the re-evaluation is queued after commit"
