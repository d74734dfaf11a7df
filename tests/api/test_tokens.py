"""Integration tokens: issued in the admin or through the API, stored hashed, scoped, revocable,
throttled."""

import datetime
import hashlib

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IdempotencyKey, IntegrationToken, TokenScope
from api.services import NOT_AN_ISSUER, TOKENS_BY_PEOPLE, token_issue, token_revoke
from core.models import AuditEntry
from partners.roles import ensure_channel_manager_group
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PARTNERS = "/api/v1/partners/"
TOKENS = "/api/v1/tokens/"


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
                "resource_scopes": [],
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
        colleague.groups.add(ensure_channel_manager_group())
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


def _staff(username: str, *codenames: str):
    """A staff user holding only the permissions named (app_label.codename)."""
    user = UserFactory(username=username, is_staff=True)
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


class TestIssuingThroughTheApi:
    def test_the_answer_carries_the_secret_once_and_only_its_digest_is_stored(
        self, client_for, token_client, channel_manager, partner
    ):
        client = client_for(channel_manager)

        response = client.post(
            TOKENS,
            {"name": "CRM", "scope": "read_write", "partners": [partner.pk], "source": "crm"},
            format="json",
        )

        assert response.status_code == 201, response.json()
        body = response.json()
        token = IntegrationToken.objects.get()
        secret = body.pop("secret")
        assert secret.startswith(f"prm_{token.identifier}_")
        assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str(list(IntegrationToken.objects.values()))
        assert response["Location"] == f"http://testserver{TOKENS}{token.pk}/"
        assert "no-store" in response["Cache-Control"]
        assert body == {
            "id": token.pk,
            "name": "CRM",
            "prefix": f"prm_{token.identifier}_",
            "scope": "read_write",
            "resource_scopes": [],
            "all_partners": False,
            "partners": [partner.pk],
            "source": "crm",
            "created_at": body["created_at"],
            "expires_at": None,
            "last_used_at": None,
            "revoked_at": None,
            "revoked_by": None,
            "issued_by": channel_manager.pk,
        }
        # The secret works, and is never shown again.
        assert token_client(secret).get(ME).json()["token"]["name"] == "CRM"
        for url in (TOKENS, f"{TOKENS}{token.pk}/"):
            read = client.get(url)
            assert read.status_code == 200
            assert secret not in read.content.decode() and "secret" not in read.content.decode()
        entry = AuditEntry.objects.get(action="integration_token.issued")
        assert entry.target_id == str(token.pk) and secret not in str(entry.data)

    def test_an_idempotency_key_issues_once_and_its_replay_has_no_secret(self, client_for, channel_manager):
        client = client_for(channel_manager)
        payload = {"name": "Billing", "all_partners": True}

        first = client.post(TOKENS, payload, format="json", HTTP_IDEMPOTENCY_KEY="issue-1")
        again = client.post(TOKENS, payload, format="json", HTTP_IDEMPOTENCY_KEY="issue-1")

        assert first.status_code == again.status_code == 201
        assert IntegrationToken.objects.count() == 1
        assert again["Idempotent-Replayed"] == "true"
        assert again["Location"] == first["Location"]
        secret = first.json()["secret"]
        assert again.json() == {**first.json(), "secret": None}
        stored = IdempotencyKey.objects.get(key="issue-1")
        assert secret.encode() not in bytes(stored.content)

    def test_staff_without_the_permission_and_other_users_get_403(
        self, client_for, partner_admin, distributor_user
    ):
        viewer = _staff("vera", "partners.view_partner")
        for user in (viewer, partner_admin, distributor_user):
            response = client_for(user).post(TOKENS, {"name": "Mine", "all_partners": True}, format="json")
            assert response.status_code == 403, user
            assert response.json()["detail"] == NOT_AN_ISSUER
        assert not IntegrationToken.objects.exists()
        with pytest.raises(PermissionDenied):
            token_issue(actor=viewer, name="Direct", all_partners=True)

    def test_partners_outside_the_issuers_view_are_refused_with_400(
        self, client_for, channel_manager, partner, other_partner
    ):
        response = client_for(channel_manager).post(
            TOKENS, {"name": "Sneaky", "partners": [partner.pk, other_partner.pk]}, format="json"
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["partners"]
        assert not IntegrationToken.objects.exists()
        # The service refuses them too, whatever door calls it.
        with pytest.raises(DjangoValidationError) as refused:
            token_issue(actor=channel_manager, name="Sneaky", partners=[other_partner])
        assert "Not among the partners the issuer sees" in refused.value.message_dict["partners"][0]

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"name": "Nothing"}, "partners"),
            ({"name": "Both", "all_partners": True, "partners": "acme"}, "partners"),
            ({"name": "Late", "all_partners": True, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
            (
                {"name": "Writes facts", "all_partners": True, "resource_scopes": ["facts:write"]},
                "resource_scopes",
            ),
            ({"name": "Odd", "all_partners": True, "resource_scopes": ["facts:delete"]}, "resource_scopes"),
            (
                {"name": "Twice", "all_partners": True, "resource_scopes": ["gates:read", "gates:read"]},
                "resource_scopes",
            ),
            ({"name": "No way", "all_partners": True, "scope": "admin"}, "scope"),
            ({"name": "", "all_partners": True}, "name"),
        ],
    )
    def test_bad_requests_answer_400_naming_the_field(
        self, client_for, channel_manager, partner, payload, field
    ):
        if payload.get("partners") == "acme":
            payload = {**payload, "partners": [partner.pk]}

        response = client_for(channel_manager).post(TOKENS, payload, format="json")

        assert response.status_code == 400, response.json()
        assert response.json()["code"] == "invalid"
        assert field in response.json()["errors"]
        assert not IntegrationToken.objects.exists()

    def test_a_read_write_token_needs_an_issuer_who_may_write(self, client_for):
        reader = _staff(
            "rita", "api.add_integrationtoken", "partners.view_partner", "partners.view_all_partners"
        )
        client = client_for(reader)

        read_write = client.post(
            TOKENS, {"name": "RW", "all_partners": True, "scope": "read_write"}, format="json"
        )
        write_scope = client.post(
            TOKENS,
            {"name": "RW", "all_partners": True, "scope": "read_write", "resource_scopes": ["facts:write"]},
            format="json",
        )
        read = client.post(
            TOKENS, {"name": "R", "all_partners": True, "resource_scopes": ["gates:read"]}, format="json"
        )

        assert read_write.status_code == write_scope.status_code == 400
        assert read_write.json()["errors"] == {
            "scope": ["The issuer may change no data: issue a read-only token."]
        }
        assert "scope" in write_scope.json()["errors"]
        assert read.status_code == 201
        assert IntegrationToken.objects.get().resource_scopes == ["gates:read"]

    def test_resource_scopes_are_stored_sorted(self, client_for, channel_manager):
        response = client_for(channel_manager).post(
            TOKENS,
            {
                "name": "LMS",
                "all_partners": True,
                "scope": "read_write",
                "resource_scopes": ["facts:write", "definitions:read"],
            },
            format="json",
        )

        assert response.status_code == 201
        assert response.json()["resource_scopes"] == ["definitions:read", "facts:write"]


class TestListingAndRevokingThroughTheApi:
    def test_staff_list_their_own_tokens_unless_they_manage_every_token(
        self, client_for, channel_manager, superuser, partner_admin, issue_token
    ):
        colleague = UserFactory(username="casey", is_staff=True)
        colleague.groups.add(ensure_channel_manager_group())
        mine, _ = issue_token(channel_manager, name="Mine")
        theirs, _ = issue_token(colleague, name="Theirs")
        keeper = _staff("kim", "api.change_integrationtoken")

        def names(user) -> list[str]:
            response = client_for(user).get(TOKENS)
            assert response.status_code == 200
            return sorted(row["name"] for row in response.json()["results"])

        assert names(channel_manager) == ["Mine"]
        assert names(colleague) == ["Theirs"]
        assert names(superuser) == names(keeper) == ["Mine", "Theirs"]
        assert names(partner_admin) == []
        assert client_for(channel_manager).get(f"{TOKENS}{theirs.pk}/").status_code == 404
        assert client_for(channel_manager).get(f"{TOKENS}{mine.pk}/").json()["name"] == "Mine"

    def test_the_list_filters_usable_revoked_scope_and_name(self, client_for, channel_manager, issue_token):
        issue_token(channel_manager, name="CRM reader", scope=TokenScope.READ)
        issue_token(channel_manager, name="LMS writer")
        revoked, _ = issue_token(channel_manager, name="Old CRM")
        token_revoke(actor=channel_manager, token=revoked)
        client = client_for(channel_manager)

        def names(query: str) -> list[str]:
            response = client.get(f"{TOKENS}?{query}")
            assert response.status_code == 200, response.content
            return sorted(row["name"] for row in response.json()["results"])

        assert names("usable=true") == ["CRM reader", "LMS writer"]
        assert names("usable=false") == names("revoked=true") == ["Old CRM"]
        assert names("revoked=false&scope=read") == ["CRM reader"]
        assert names("name=crm") == ["CRM reader", "Old CRM"]
        assert client.get(f"{TOKENS}?scope=admin").status_code == 400
        assert client.get(f"{TOKENS}?usable=maybe").status_code == 400

    def test_the_list_costs_the_same_however_many_tokens(
        self, client_for, channel_manager, partner, issue_token
    ):
        client = client_for(channel_manager)
        issue_token(channel_manager, all_partners=False, partners=[partner])

        def count() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(TOKENS).status_code == 200
            return len(captured.captured_queries)

        before = count()
        for n in range(5):
            issue_token(channel_manager, name=f"More {n}", all_partners=False, partners=[partner])

        # session, user, the user's and the group's permissions (does he manage every token?);
        # count, page, the partners prefetched
        assert count() == before == 7

    def test_revoking_stops_the_token_at_once_and_twice_answers_409(
        self, client_for, token_client, channel_manager, issue_token
    ):
        token, secret = issue_token(channel_manager)
        client = client_for(channel_manager)
        assert token_client(secret).get(ME).status_code == 200

        response = client.post(f"{TOKENS}{token.pk}/revoke/")

        assert response.status_code == 200
        assert response.json()["revoked_at"] is not None
        assert response.json()["revoked_by"] == channel_manager.pk
        assert token_client(secret).get(ME).status_code == 401
        again = client.post(f"{TOKENS}{token.pk}/revoke/")
        assert again.status_code == 409
        assert again.json()["code"] == "already_revoked"
        assert "already revoked" in again.json()["detail"]
        assert AuditEntry.objects.filter(action="integration_token.revoked").count() == 1

    def test_only_the_issuer_or_who_manages_every_token_revokes(
        self, client_for, channel_manager, superuser, issue_token
    ):
        token, _ = issue_token(channel_manager)
        colleague = UserFactory(username="casey", is_staff=True)
        colleague.groups.add(ensure_channel_manager_group())

        assert client_for(colleague).post(f"{TOKENS}{token.pk}/revoke/").status_code == 404
        with pytest.raises(PermissionDenied):
            token_revoke(actor=colleague, token=token)
        assert client_for(superuser).post(f"{TOKENS}{token.pk}/revoke/").status_code == 200

    def test_a_token_cannot_manage_tokens(self, token_client, channel_manager, issue_token):
        token, secret = issue_token(channel_manager)
        scoped, scoped_secret = issue_token(channel_manager, name="Scoped", resource_scopes=["facts:write"])

        for client in (token_client(secret), token_client(scoped_secret)):
            for method, url, body in (
                ("get", TOKENS, None),
                ("get", f"{TOKENS}{token.pk}/", None),
                ("post", TOKENS, {"name": "Child", "all_partners": True}),
                ("post", f"{TOKENS}{scoped.pk}/revoke/", None),
            ):
                response = getattr(client, method)(url, body, format="json")
                assert response.status_code == 403, (method, url)
                assert response.json()["detail"] == TOKENS_BY_PEOPLE
        assert IntegrationToken.objects.filter(revoked_at__isnull=True).count() == 2
        with pytest.raises(PermissionDenied):
            token_issue(actor=token, name="Child", all_partners=True)
        with pytest.raises(PermissionDenied):
            token_revoke(actor=token, token=scoped)


class TestAdminShareTheRules:
    URL = "/admin/api/integrationtoken/"

    def test_the_admin_offers_resource_scopes(self, client, channel_manager):
        client.force_login(channel_manager)

        page = client.get(f"{self.URL}add/").content.decode()
        response = client.post(
            f"{self.URL}add/",
            {"name": "LMS", "scope": "read_write", "all_partners": "on", "resource_scopes": ["facts:write"]},
        )

        assert 'value="facts:write"' in page and 'type="checkbox"' in page
        assert response.status_code == 200
        assert IntegrationToken.objects.get().resource_scopes == ["facts:write"]

    def test_the_admin_refuses_a_write_scope_on_a_read_token(self, client, channel_manager):
        client.force_login(channel_manager)

        response = client.post(
            f"{self.URL}add/",
            {"name": "LMS", "scope": "read", "all_partners": "on", "resource_scopes": ["facts:write"]},
        )

        assert "needs a read-write token" in response.content.decode()
        assert not IntegrationToken.objects.exists()

    def test_staff_without_the_permission_cannot_issue_in_the_admin(self, client):
        client.force_login(_staff("vera", "partners.view_partner"))

        assert client.get(f"{self.URL}add/").status_code == 403
