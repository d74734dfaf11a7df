"""Integration tokens: issued in the admin, stored hashed, scoped, revocable, throttled."""

import datetime
import hashlib

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IntegrationToken, TokenScope
from api.services import token_revoke
from core.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PARTNERS = "/api/v1/partners/"


class TestAuthentication:
    def test_a_token_acts_for_its_issuer_and_is_stored_as_a_digest(
        self, channel_manager, issue_token, token_client, partner, other_partner
    ):
        token, secret = issue_token(channel_manager, scope=TokenScope.READ, name="CRM sync")

        response = token_client(secret).get(ME)

        assert response.status_code == 200
        assert response.json() == {
            "username": "morgan",
            "is_staff": True,
            "partner": None,
            "distributor": None,
            "token": {
                "name": "CRM sync",
                "identifier": token.identifier,
                "scope": "read",
                "all_partners": True,
                "partners": [],
                "source": "",
                "expires_at": None,
            },
        }
        stored = IntegrationToken.objects.get()
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str(list(IntegrationToken.objects.values()))
        assert secret.startswith(f"prm_{token.identifier}_")

    def test_the_token_sees_what_its_issuer_sees(
        self, channel_manager, issue_token, token_client, partner, other_partner
    ):
        _, secret = issue_token(channel_manager)

        names = [row["name"] for row in token_client(secret).get(PARTNERS).json()["results"]]

        assert names == ["Acme"]  # the manager covers EMEA; Globex is in North America

    def test_a_token_for_named_partners_sees_only_those(
        self, superuser, issue_token, token_client, partner, other_partner
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[other_partner])
        client = token_client(secret)

        assert [row["name"] for row in client.get(PARTNERS).json()["results"]] == ["Globex"]
        assert client.get(f"{PARTNERS}{partner.pk}/").status_code == 404

    @pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
    def test_both_keywords_are_accepted(self, channel_manager, issue_token, keyword, client_for):
        _, secret = issue_token(channel_manager)
        client = client_for()
        client.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")

        assert client.get(ME).status_code == 200

    @pytest.mark.parametrize(
        ("header", "detail"),
        [
            ("Bearer prm_unknown_secret", "This token is not valid."),
            ("Bearer not-even-ours", "This token is not valid."),
            ("Bearer", "Send the token after the keyword: “Authorization: Bearer <token>”."),
            ("Bearer a b", "Send the token after the keyword: “Authorization: Bearer <token>”."),
        ],
    )
    def test_bad_credentials_answer_401(self, client_for, header, detail, db):
        client = client_for()
        client.credentials(HTTP_AUTHORIZATION=header)

        response = client.get(ME)

        assert response.status_code == 401
        assert response.json() == {"status": 401, "code": "authentication_failed", "detail": detail}
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_no_credentials_answer_401_with_the_scheme(self, client_for, db):
        response = client_for().get(PARTNERS)

        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_a_revoked_token_stops_at_once(self, channel_manager, issue_token, token_client):
        token, secret = issue_token(channel_manager)
        client = token_client(secret)
        assert client.get(ME).status_code == 200

        assert token_revoke(actor=channel_manager, token=token) is True
        response = client.get(ME)

        assert response.status_code == 401
        assert response.json()["detail"] == "This token has been revoked."
        assert token_revoke(actor=channel_manager, token=token) is False  # twice changes nothing
        assert AuditEntry.objects.filter(action="integration_token.revoked").count() == 1

    def test_an_expired_token_is_refused(self, channel_manager, issue_token, token_client):
        token, secret = issue_token(channel_manager)
        IntegrationToken.objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )

        response = token_client(secret).get(ME)

        assert response.status_code == 401
        assert response.json()["detail"] == "This token has expired."

    def test_the_token_of_a_deactivated_manager_is_refused(self, channel_manager, issue_token, token_client):
        _, secret = issue_token(channel_manager)
        channel_manager.is_active = False
        channel_manager.save()

        response = token_client(secret).get(ME)

        assert response.status_code == 401
        assert response.json()["detail"] == "The account that issued this token is no longer active."

    def test_last_use_is_recorded_at_most_once_a_minute(
        self, channel_manager, issue_token, token_client, django_assert_num_queries
    ):
        token, secret = issue_token(channel_manager)
        client = token_client(secret)

        client.get(ME)
        first = IntegrationToken.objects.get().last_used_at
        # Queries: the token with its issuer, the membership; no write of last use this time.
        with django_assert_num_queries(2):
            client.get(ME)

        assert first is not None
        assert IntegrationToken.objects.get().last_used_at == first
        IntegrationToken.objects.filter(pk=token.pk).update(
            last_used_at=first - datetime.timedelta(minutes=2)
        )
        client.get(ME)
        assert IntegrationToken.objects.get().last_used_at > first


class TestThrottling:
    def test_tokens_are_throttled_per_token(self, channel_manager, issue_token, token_client, settings):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token": "3/min", "user": "100/min", "anon": "100/min"},
        }
        _, first = issue_token(channel_manager)
        _, second = issue_token(channel_manager)

        statuses = [token_client(first).get(ME).status_code for _ in range(4)]

        assert statuses == [200, 200, 200, 429]
        limited = token_client(first).get(ME)
        assert limited.json()["code"] == "throttled"
        assert int(limited["Retry-After"]) > 0
        assert token_client(second).get(ME).status_code == 200

    def test_anonymous_calls_are_throttled_even_when_refused(self, client_for, settings, db):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token": "100/min", "user": "100/min", "anon": "2/min"},
        }
        client = client_for()

        statuses = [client.get(PARTNERS).status_code for _ in range(3)]

        assert statuses == [401, 401, 429]

    def test_anonymous_calls_count_by_address_not_by_a_header_the_client_writes(self, settings, db):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token": "100/min", "user": "100/min", "anon": "2/min"},
        }
        client = APIClient()

        statuses = [
            client.get(
                PARTNERS, REMOTE_ADDR="203.0.113.10", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}"
            ).status_code
            for number in range(3)
        ]

        assert statuses == [401, 401, 429]
        assert client.get(PARTNERS, REMOTE_ADDR="198.51.100.20").status_code == 401

    def test_session_users_are_throttled_per_user(self, client_for, partner_admin, settings):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token": "100/min", "user": "2/min", "anon": "100/min"},
        }
        client = client_for(partner_admin)

        assert [client.get(ME).status_code for _ in range(3)] == [200, 200, 429]


class TestFailedTokens:
    """Wrong tokens are counted per address (10 a minute by default); past that, 429 for any token."""

    HERE = "203.0.113.10"
    ELSEWHERE = "198.51.100.20"

    @pytest.fixture
    def clock(self):
        with time_machine.travel(
            datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), tick=False
        ) as clock:
            yield clock

    def call(self, secret: str, *, address: str = HERE):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client.get(ME, REMOTE_ADDR=address)

    def test_wrong_tokens_from_one_address_are_answered_429_with_retry_after(
        self, clock, channel_manager, issue_token
    ):
        revoked, revoked_secret = issue_token(channel_manager)
        token_revoke(actor=channel_manager, token=revoked)
        wrong = ["prm_nothing_here", "not-even-a-prefix", revoked_secret] * 3 + ["prm_x_y"]

        assert [self.call(secret).status_code for secret in wrong] == [401] * 10
        limited = self.call("prm_one_more")

        assert limited.status_code == 429
        assert limited.json()["code"] == "throttled"
        assert 0 < int(limited["Retry-After"]) <= 120

    def test_while_held_back_a_right_token_gets_the_same_answer_as_a_wrong_one(
        self, clock, channel_manager, issue_token
    ):
        _, secret = issue_token(channel_manager)
        for _ in range(10):
            self.call("prm_guess_guess")

        right, wrong = self.call(secret), self.call("prm_guess_again")

        assert right.status_code == wrong.status_code == 429
        assert right.json() == wrong.json()
        assert right["Retry-After"] == wrong["Retry-After"]
        assert self.call(secret, address=self.ELSEWHERE).status_code == 200

    def test_the_hold_ends(self, clock, channel_manager, issue_token):
        _, secret = issue_token(channel_manager)
        for _ in range(10):
            self.call("prm_guess_guess")
        wait = int(self.call(secret)["Retry-After"])

        clock.shift(wait)

        assert self.call(secret).status_code == 200

    def test_right_tokens_are_not_failures(self, clock, channel_manager, issue_token):
        _, secret = issue_token(channel_manager)

        assert {self.call(secret).status_code for _ in range(15)} == {200}
        assert self.call("prm_guess_guess").status_code == 401

    def test_the_rate_follows_the_setting(self, clock, settings, db):
        settings.PRM_API_TOKEN_FAILURE_RATE = (2, 60)

        assert [self.call("prm_guess_guess").status_code for _ in range(3)] == [401, 401, 429]


class TestAdmin:
    URL = "/admin/api/integrationtoken/"

    def test_a_manager_issues_a_token_and_sees_the_secret_once(self, client, channel_manager, partner):
        client.force_login(channel_manager)

        response = client.post(
            f"{self.URL}add/",
            {"name": "Salesforce", "scope": "read_write", "partners": [partner.pk], "source": "salesforce"},
        )

        assert response.status_code == 200
        token = IntegrationToken.objects.get()
        secret = response.context["secret"]
        assert secret.startswith(f"prm_{token.identifier}_")
        assert secret in response.content.decode()
        assert "no-store" in response["Cache-Control"]
        assert (token.issued_by, token.scope, token.source) == (channel_manager, "read_write", "salesforce")
        assert list(token.partners.all()) == [partner]
        assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        # The change page never shows it again.
        page = client.get(f"{self.URL}{token.pk}/change/").content.decode()
        assert secret not in page and f"prm_{token.identifier}_…" in page

    def test_a_token_covers_partners_or_all_of_them(self, client, channel_manager):
        client.force_login(channel_manager)

        response = client.post(f"{self.URL}add/", {"name": "Nothing", "scope": "read"})

        assert response.status_code == 200
        assert "Choose the partners the token covers" in response.content.decode()
        assert not IntegrationToken.objects.exists()

    def test_a_manager_cannot_name_partners_outside_their_coverage(
        self, client, channel_manager, other_partner
    ):
        client.force_login(channel_manager)

        response = client.post(
            f"{self.URL}add/", {"name": "Sneaky", "scope": "read", "partners": [other_partner.pk]}
        )

        assert "Select a valid choice" in response.content.decode()
        assert not IntegrationToken.objects.exists()

    def test_managers_see_their_own_tokens_and_revoke_them(
        self, client, channel_manager, issue_token, token_client
    ):
        colleague = UserFactory(username="casey", is_staff=True)
        mine, secret = issue_token(channel_manager, name="Mine")
        theirs, _ = issue_token(colleague, name="Theirs")
        client.force_login(channel_manager)

        listing = client.get(self.URL).content.decode()
        assert "Mine" in listing and "Theirs" not in listing
        assert client.get(f"{self.URL}{theirs.pk}/change/").status_code == 302  # not theirs to see

        client.post(self.URL, {"action": "revoke_selected", "_selected_action": [mine.pk, theirs.pk]})

        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert mine.revoked_at is not None and mine.revoked_by == channel_manager
        assert theirs.revoked_at is None
        assert token_client(secret).get(ME).status_code == 401

    def test_superusers_see_every_token(self, client, superuser, channel_manager, issue_token):
        issue_token(channel_manager, name="Manager's")
        client.force_login(superuser)

        assert "Manager&#x27;s" in client.get(self.URL).content.decode()

    def test_issuing_is_audited_without_the_secret(self, channel_manager, issue_token):
        token, secret = issue_token(channel_manager)

        entry = AuditEntry.objects.get(action="integration_token.issued")
        assert entry.target_id == str(token.pk)
        assert secret not in str(entry.data)
