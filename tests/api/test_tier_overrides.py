"""Tier overrides through the API: a channel manager pins a partner's tier with a reason and an expiry,
and ends it, through the services the admin uses (the tier history, benefits and re-evaluation follow)."""

import datetime

import pytest
from django.utils import timezone

from api.models import TokenScope
from core.models import AuditEntry
from gates.models import BenefitGrant, PartnerTier, TierChange, TierChangeReason
from tests.factories import PartnerFactory, TierFactory

pytestmark = pytest.mark.django_db

OVERRIDE = "/api/v1/partner-tiers/override/"


def end_url(row: PartnerTier) -> str:
    return f"/api/v1/partner-tiers/{row.pk}/end-override/"


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["code"] and body["detail"]
    return body


def pin(client, world, partner=None, tier=None, **extra):
    body = {
        "partner": (partner or world.acme).pk,
        "program": world.program.pk,
        "tier": (tier or world.gold).pk,
        "reason": "Strategic account, reviewed quarterly",
    }
    body.update(extra)
    return client.post(OVERRIDE, body, format="json")


def acme_row(world) -> PartnerTier:
    return PartnerTier.objects.get(partner=world.acme, program=world.program)


class TestPinningATier:
    def test_a_channel_manager_pins_a_tier_which_the_evaluation_keeps(
        self, client_for, channel_manager, world, django_capture_on_commit_callbacks
    ):
        assert acme_row(world).tier == world.silver
        until = timezone.localdate() + datetime.timedelta(days=90)
        with django_capture_on_commit_callbacks(execute=True):
            response = pin(client_for(channel_manager), world, expires_on=until.isoformat())
        assert response.status_code == 200, response.content
        body = response.json()
        row = acme_row(world)
        assert body["id"] == row.pk and body["tier"] == world.gold.pk
        assert body["override_tier"] == world.gold.pk
        assert body["override_reason"] == "Strategic account, reviewed quarterly"
        assert body["override_expires_on"] == until.isoformat()
        assert (row.tier, row.earned_tier, row.override_by) == (world.gold, world.silver, channel_manager)
        change = TierChange.objects.filter(partner=world.acme, reason=TierChangeReason.OVERRIDE_SET).get()
        assert (change.from_tier, change.to_tier, change.actor) == (world.silver, world.gold, channel_manager)
        assert AuditEntry.objects.filter(action="tier.override_set", actor=channel_manager).exists()
        # The benefits follow the tier held: the Silver discount is no longer Acme's.
        assert not BenefitGrant.objects.filter(
            partner=world.acme, benefit=world.discount, revoked_at__isnull=True
        ).exists()

    def test_sending_the_override_in_force_again_changes_nothing(self, client_for, channel_manager, world):
        client = client_for(channel_manager)
        assert pin(client, world).status_code == 200
        assert pin(client, world).status_code == 200
        assert (
            TierChange.objects.filter(partner=world.acme, reason=TierChangeReason.OVERRIDE_SET).count() == 1
        )

    def test_a_partner_with_no_tier_yet_gets_its_row(self, client_for, channel_manager, world):
        newcomer = PartnerFactory(name="Newcomer")
        assert not PartnerTier.objects.filter(partner=newcomer).exists()
        response = pin(client_for(channel_manager), world, partner=newcomer, tier=world.silver)
        assert response.status_code == 200, response.content
        assert PartnerTier.objects.get(partner=newcomer, program=world.program).tier == world.silver

    def test_the_override_is_listed_and_filtered(self, client_for, channel_manager, world):
        client = client_for(channel_manager)
        before = timezone.now().isoformat().replace("+00:00", "Z")
        pin(client, world)
        rows = client.get("/api/v1/partner-tiers/", {"overridden": "true"}).json()["results"]
        assert [row["id"] for row in rows] == [acme_row(world).pk]
        assert acme_row(world).pk not in {
            row["id"]
            for row in client.get("/api/v1/partner-tiers/", {"overridden": "false"}).json()["results"]
        }
        changed = client.get("/api/v1/partner-tiers/", {"updated_since": before}).json()["results"]
        assert acme_row(world).pk in {row["id"] for row in changed}

    @pytest.mark.parametrize(
        ("extra", "field"),
        [
            ({"reason": "   "}, "reason"),
            ({"reason": ""}, "reason"),
            ({"expires_on": "2000-01-01"}, "expires_on"),
            ({"expires_on": "soon"}, "expires_on"),
            ({"program": "main"}, "program"),
        ],
    )
    def test_bad_input_is_refused(self, client_for, channel_manager, world, extra, field):
        body = error(pin(client_for(channel_manager), world, **extra), 400)
        assert field in body["errors"]
        assert acme_row(world).override_tier is None

    def test_a_tier_of_another_program_is_refused(self, client_for, channel_manager, world):
        body = error(pin(client_for(channel_manager), world, tier=world.specialist_tier), 400)
        assert body["errors"] == {"tier": ["This tier belongs to another program."]}

    def test_another_regions_partner_is_unknown(self, client_for, channel_manager, world):
        body = error(pin(client_for(channel_manager), world, partner=world.globex), 400)
        assert body["errors"] == {"partner": ["No partner with this id among those you can see."]}
        assert PartnerTier.objects.get(partner=world.globex, program=world.program).override_tier is None

    def test_partner_users_and_read_only_tokens_pin_nothing(
        self, client_for, token_client, issue_token, partner_admin, channel_manager, world
    ):
        error(pin(client_for(partner_admin), world), 403)
        _, secret = issue_token(channel_manager, scope=TokenScope.READ)
        error(pin(token_client(secret), world), 403)
        assert acme_row(world).override_tier is None

    def test_an_integrator_pins_a_tier_with_a_write_token(
        self, token_client, issue_token, channel_manager, world
    ):
        _, secret = issue_token(channel_manager)
        response = pin(token_client(secret), world)
        assert response.status_code == 200
        assert acme_row(world).tier == world.gold

    def test_a_token_for_another_partner_cannot_pin_acmes(self, token_client, issue_token, superuser, world):
        _, secret = issue_token(superuser, all_partners=False, partners=[world.globex])
        error(pin(token_client(secret), world), 400)
        assert pin(token_client(secret), world, partner=world.globex).status_code == 200

    def test_staff_without_the_permission_pin_nothing(self, client_for, world):
        from tests.factories import UserFactory

        viewer = UserFactory(username="viewer", is_staff=True, is_superuser=False)
        from django.contrib.auth.models import Permission

        viewer.user_permissions.add(Permission.objects.get(codename="view_all_partners"))
        error(pin(client_for(viewer), world), 403)


class TestEndingAnOverride:
    def test_ending_it_gives_back_the_earned_tier(self, client_for, channel_manager, world):
        client = client_for(channel_manager)
        pin(client, world)
        row = acme_row(world)
        response = client.post(end_url(row), {"note": "Review done"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["tier"] == world.silver.pk and response.json()["override_tier"] is None
        row.refresh_from_db()
        assert (row.tier, row.override_tier, row.override_reason) == (world.silver, None, "")
        ended = TierChange.objects.get(partner=world.acme, reason=TierChangeReason.OVERRIDE_ENDED)
        assert (ended.note, ended.actor) == ("Review done", channel_manager)
        # Nothing left to end.
        error(client.post(end_url(row), {}, format="json"), 409)

    def test_another_regions_row_is_not_found(self, client_for, channel_manager, world):
        globex_row = PartnerTier.objects.get(partner=world.globex, program=world.program)
        error(client_for(channel_manager).post(end_url(globex_row), {}, format="json"), 404)

    def test_partner_users_end_nothing(self, client_for, partner_admin, channel_manager, world):
        pin(client_for(channel_manager), world)
        error(client_for(partner_admin).post(end_url(acme_row(world)), {}, format="json"), 403)
        assert acme_row(world).override_tier == world.gold

    def test_a_note_that_is_not_text_is_refused(self, client_for, channel_manager, world):
        client = client_for(channel_manager)
        pin(client, world)
        error(client.post(end_url(acme_row(world)), {"note": 5}, format="json"), 400)
        assert acme_row(world).override_tier == world.gold


def test_a_new_tier_in_the_program_can_be_pinned_at_once(client_for, channel_manager, world):
    platinum = TierFactory(program=world.program, name="Platinum", rank=3)
    assert pin(client_for(channel_manager), world, tier=platinum).status_code == 200
    assert acme_row(world).tier == platinum
