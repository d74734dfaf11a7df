"""Logins and memberships through the API: invitations, roles, removal, deactivation.

The rules are the admin's: staff holding the membership permissions (channel managers) manage
the teams of the partners they cover; administrators deactivate logins; partner users read their
own organisation's memberships and change nothing (the portal manages no team either).
"""

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import connection

from api.models import TokenScope
from core.models import AuditEntry
from partners.models import Membership, MembershipRole
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

MEMBERSHIPS = "/api/v1/memberships/"
USERS = "/api/v1/users/"
User = get_user_model()


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["code"] and body["detail"]
    return body


@pytest.fixture
def acme_admin(partner_admin):
    return Membership.objects.get(user=partner_admin)


@pytest.fixture
def globex_admin(other_partner_admin):
    return Membership.objects.get(user=other_partner_admin)


def invite(client, partner, email="new.colleague@acme.example.com", role="sales", **extra):
    return client.post(
        MEMBERSHIPS, {"partner": partner.pk, "email": email, "role": role, **extra}, format="json"
    )


class TestReadingMemberships:
    def test_each_caller_sees_the_memberships_of_the_organisations_it_covers(
        self,
        client_for,
        channel_manager,
        superuser,
        partner_admin,
        acme_admin,
        globex_admin,
        distributor_user,
    ):
        dana = Membership.objects.get(user=distributor_user)
        # The channel manager covers EMEA: Acme and its distributor Northwind, not Globex.
        assert ids(client_for(channel_manager).get(MEMBERSHIPS)) == {acme_admin.pk, dana.pk}
        assert ids(client_for(superuser).get(MEMBERSHIPS)) == {acme_admin.pk, globex_admin.pk, dana.pk}
        # A partner user: its own organisation's only; a distributor user never its partners' logins.
        assert ids(client_for(partner_admin).get(MEMBERSHIPS)) == {acme_admin.pk}
        assert ids(client_for(distributor_user).get(MEMBERSHIPS)) == {dana.pk}
        assert client_for(partner_admin).get(f"{MEMBERSHIPS}{globex_admin.pk}/").status_code == 404
        assert client_for(channel_manager).get(f"{MEMBERSHIPS}{globex_admin.pk}/").status_code == 404

    def test_a_membership_reads_its_login_without_any_secret(self, client_for, channel_manager, acme_admin):
        acme_admin.user.first_name, acme_admin.user.last_name = "Pat", "Lee"
        acme_admin.user.save()
        response = client_for(channel_manager).get(f"{MEMBERSHIPS}{acme_admin.pk}/")
        assert response.status_code == 200
        assert response["ETag"]
        assert response.json() == {
            "id": acme_admin.pk,
            "user": acme_admin.user_id,
            "email": "pat@example.com",
            "name": "Pat Lee",
            "is_active": True,
            "partner": acme_admin.partner_id,
            "distributor": None,
            "role": "admin",
            "updated_at": acme_admin.updated_at.isoformat().replace("+00:00", "Z"),
        }

    def test_filters(self, client_for, superuser, partner, acme_admin, globex_admin, partner_sales):
        client = client_for(superuser)
        sally = Membership.objects.get(user=partner_sales)
        assert ids(client.get(MEMBERSHIPS, {"partner": partner.pk})) == {acme_admin.pk, sally.pk}
        assert ids(client.get(MEMBERSHIPS, {"role": "sales"})) == {sally.pk}
        assert ids(client.get(MEMBERSHIPS, {"email": "PAT@example.com"})) == {acme_admin.pk}
        assert ids(client.get(MEMBERSHIPS, {"user": globex_admin.user_id})) == {globex_admin.pk}
        error(client.get(MEMBERSHIPS, {"role": "owner"}), 400)
        error(client.get(MEMBERSHIPS, {"parnter": partner.pk}), 400)

    def test_a_partner_filter_on_another_organisation_is_an_empty_list(
        self, client_for, partner_admin, other_partner, globex_admin
    ):
        assert ids(client_for(partner_admin).get(MEMBERSHIPS, {"partner": other_partner.pk})) == set()


class TestInvitations:
    def test_a_channel_manager_invites_a_colleague_who_gets_the_link_to_choose_a_password(
        self, client_for, channel_manager, partner, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = invite(client_for(channel_manager), partner, first_name="Nina", last_name="Ng")
        assert response.status_code == 201, response.content
        body = response.json()
        login = User.objects.get(email="new.colleague@acme.example.com")
        assert body == {
            "id": login.membership.pk,
            "user": login.pk,
            "email": "new.colleague@acme.example.com",
            "name": "Nina Ng",
            "is_active": True,
            "partner": partner.pk,
            "distributor": None,
            "role": "sales",
            "updated_at": body["updated_at"],
        }
        assert (login.username, login.is_staff, login.is_superuser) == (
            "new.colleague@acme.example.com",
            False,
            False,
        )
        # Nobody knows the password: the invitee chooses one through the link.
        assert login.has_usable_password() and not login.check_password("")
        assert [message.to for message in mailoutbox] == [["new.colleague@acme.example.com"]]
        # An invitation, naming who sent it and the organisation, with the one-time link to
        # choose a password that a reset sends.
        (mail,) = mailoutbox
        assert (
            mail.subject
            == f"{channel_manager.get_full_name() or 'morgan'} invited you to the {partner} partner portal"
        )
        assert f"invited you to join {partner} on the partner portal" in mail.body
        assert "Your login is new.colleague@acme.example.com." in mail.body
        assert "/reset/" in mail.body and "reset the password" not in mail.body
        entry = AuditEntry.objects.get(action="membership.invited")
        assert entry.actor == channel_manager and entry.data["role"] == "sales"

    def test_the_same_invitation_sent_again_with_its_key_acts_once(
        self, client_for, channel_manager, partner, mailoutbox, django_capture_on_commit_callbacks
    ):
        client = client_for(channel_manager)
        body = {"partner": partner.pk, "email": "twice@acme.example.com", "role": "technical"}
        with django_capture_on_commit_callbacks(execute=True):
            first = client.post(MEMBERSHIPS, body, format="json", HTTP_IDEMPOTENCY_KEY="invite-1")
            again = client.post(MEMBERSHIPS, body, format="json", HTTP_IDEMPOTENCY_KEY="invite-1")
        assert first.status_code == again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert first.json() == again.json()
        assert User.objects.filter(email="twice@acme.example.com").count() == 1
        assert len(mailoutbox) == 1

    def test_an_address_a_login_already_uses_is_refused(
        self, client_for, channel_manager, partner, partner_admin, other_partner_admin, mailoutbox
    ):
        client = client_for(channel_manager)
        # Already in Acme's team: said so, to whoever sees that login.
        duplicate = error(invite(client, partner, email="PAT@example.com"), 409)
        assert duplicate["errors"] == {"email": ["This login is already a member of this partner."]}
        # Another organisation's login: the same answer as any address taken, naming nobody.
        taken = error(invite(client, partner, email="oscar@example.com"), 409)
        assert taken["errors"]["email"][0].startswith("A login already uses this email address")
        assert Membership.objects.filter(user=other_partner_admin, partner=partner).count() == 0
        assert mailoutbox == []

    def test_bad_input_is_refused_field_by_field(self, client_for, channel_manager, partner):
        client = client_for(channel_manager)
        bad = error(invite(client, partner, email="not-an-address", role="owner"), 400)
        assert set(bad["errors"]) == {"email", "role"}
        # Distributor users belong to distributors: never a partner's role.
        error(invite(client, partner, role="distributor"), 400)
        # The address becomes the login's name, which holds 150 characters.
        long_address = "a" * 140 + "@acme.example.com"
        assert "email" in error(invite(client, partner, email=long_address), 400)["errors"]
        error(client.post(MEMBERSHIPS, {"email": "x@acme.example.com", "role": "sales"}, format="json"), 400)
        assert not User.objects.filter(email__endswith="acme.example.com").exists()

    def test_another_regions_partner_is_unknown_to_a_channel_manager(
        self, client_for, channel_manager, other_partner
    ):
        body = error(invite(client_for(channel_manager), other_partner), 400)
        assert body["errors"] == {"partner": ["No partner with this id among those you can see."]}
        assert not User.objects.filter(email="new.colleague@acme.example.com").exists()

    def test_partner_users_invite_nobody(
        self, client_for, partner_admin, partner_sales, partner, other_partner
    ):
        for user in (partner_admin, partner_sales):
            error(invite(client_for(user), partner), 403)
            error(invite(client_for(user), other_partner), 403)
        assert not User.objects.filter(email="new.colleague@acme.example.com").exists()

    def test_a_read_only_token_invites_nobody_and_a_write_token_does(
        self, token_client, issue_token, channel_manager, partner
    ):
        _, read = issue_token(channel_manager, scope=TokenScope.READ)
        error(invite(token_client(read), partner), 403)
        _, write = issue_token(channel_manager)
        assert invite(token_client(write), partner).status_code == 201

    def test_a_token_limited_to_a_partner_invites_to_that_partner_only(
        self, token_client, issue_token, superuser, partner, other_partner
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[other_partner])
        client = token_client(secret)
        error(invite(client, partner), 400)
        assert invite(client, other_partner, email="new@globex.example.com").status_code == 201


class TestRolesAndRemoval:
    def test_a_channel_manager_changes_a_role_with_the_etag_he_read(
        self, client_for, channel_manager, partner_sales
    ):
        client = client_for(channel_manager)
        sally = Membership.objects.get(user=partner_sales)
        url = f"{MEMBERSHIPS}{sally.pk}/"
        tag = client.get(url)["ETag"]
        changed = client.patch(url, {"role": "admin"}, format="json", HTTP_IF_MATCH=tag)
        assert changed.status_code == 200, changed.content
        assert changed.json()["role"] == "admin" and changed["ETag"] != tag
        sally.refresh_from_db()
        assert sally.role == MembershipRole.ADMIN
        # The tag read before the change no longer matches: nothing is written.
        error(client.patch(url, {"role": "technical"}, format="json", HTTP_IF_MATCH=tag), 412)
        sally.refresh_from_db()
        assert sally.role == MembershipRole.ADMIN
        entry = AuditEntry.objects.get(action="membership.role_changed")
        assert entry.data == {"before": "sales", "after": "admin"}

    def test_a_role_must_suit_the_organisation(
        self, client_for, channel_manager, partner_sales, distributor_user
    ):
        client = client_for(channel_manager)
        sally = Membership.objects.get(user=partner_sales)
        error(client.patch(f"{MEMBERSHIPS}{sally.pk}/", {"role": "distributor"}, format="json"), 400)
        error(client.patch(f"{MEMBERSHIPS}{sally.pk}/", {"role": "owner"}, format="json"), 400)
        dana = Membership.objects.get(user=distributor_user)
        error(client.patch(f"{MEMBERSHIPS}{dana.pk}/", {"role": "admin"}, format="json"), 400)
        sally.refresh_from_db()
        assert sally.role == MembershipRole.SALES

    def test_the_login_and_organisation_are_not_written_here(
        self, client_for, channel_manager, partner_sales, other_partner
    ):
        sally = Membership.objects.get(user=partner_sales)
        response = client_for(channel_manager).patch(
            f"{MEMBERSHIPS}{sally.pk}/", {"partner": other_partner.pk, "role": "technical"}, format="json"
        )
        assert response.status_code == 200
        sally.refresh_from_db()
        assert (sally.partner_id, sally.role) == (
            partner_sales.membership.partner_id,
            MembershipRole.TECHNICAL,
        )
        assert sally.partner_id != other_partner.pk

    def test_removing_a_membership_keeps_the_login(self, client_for, channel_manager, partner_sales):
        sally = Membership.objects.get(user=partner_sales)
        response = client_for(channel_manager).delete(f"{MEMBERSHIPS}{sally.pk}/")
        assert response.status_code == 204
        assert not Membership.objects.filter(pk=sally.pk).exists()
        assert User.objects.filter(pk=partner_sales.pk).exists()
        assert AuditEntry.objects.filter(action="membership.removed").count() == 1

    def test_the_last_admin_is_removed_as_in_the_admin(self, client_for, channel_manager, acme_admin):
        """Neither the admin nor the portal keeps a partner from losing its last admin: nor does the API."""
        client = client_for(channel_manager)
        assert (
            client.patch(f"{MEMBERSHIPS}{acme_admin.pk}/", {"role": "sales"}, format="json").status_code
            == 200
        )
        assert client.delete(f"{MEMBERSHIPS}{acme_admin.pk}/").status_code == 204

    def test_partner_users_change_no_membership(
        self, client_for, partner_admin, acme_admin, partner_sales, globex_admin
    ):
        client = client_for(partner_admin)
        sally = Membership.objects.get(user=partner_sales)
        error(client.patch(f"{MEMBERSHIPS}{sally.pk}/", {"role": "admin"}, format="json"), 403)
        error(client.delete(f"{MEMBERSHIPS}{sally.pk}/"), 403)
        # Another organisation's membership: the permission answers before the object is looked up.
        error(client.delete(f"{MEMBERSHIPS}{globex_admin.pk}/"), 403)
        assert Membership.objects.filter(pk__in=[sally.pk, globex_admin.pk]).count() == 2

    def test_another_organisations_membership_is_not_found(self, client_for, channel_manager, globex_admin):
        client = client_for(channel_manager)
        error(client.patch(f"{MEMBERSHIPS}{globex_admin.pk}/", {"role": "sales"}, format="json"), 404)
        error(client.delete(f"{MEMBERSHIPS}{globex_admin.pk}/"), 404)
        globex_admin.refresh_from_db()
        assert globex_admin.role == MembershipRole.ADMIN

    def test_a_read_only_token_changes_nothing(
        self, token_client, issue_token, channel_manager, partner_sales
    ):
        sally = Membership.objects.get(user=partner_sales)
        _, secret = issue_token(channel_manager, scope=TokenScope.READ)
        client = token_client(secret)
        assert client.get(f"{MEMBERSHIPS}{sally.pk}/").status_code == 200
        error(client.patch(f"{MEMBERSHIPS}{sally.pk}/", {"role": "admin"}, format="json"), 403)
        error(client.delete(f"{MEMBERSHIPS}{sally.pk}/"), 403)


class TestUsers:
    def test_each_caller_sees_the_logins_of_the_organisations_it_covers(
        self, client_for, channel_manager, superuser, partner_admin, other_partner_admin, distributor_user
    ):
        manager = client_for(channel_manager)
        assert ids(manager.get(USERS)) == {partner_admin.pk, distributor_user.pk}
        assert manager.get(f"{USERS}{other_partner_admin.pk}/").status_code == 404
        assert ids(client_for(superuser).get(USERS)) == set(User.objects.values_list("pk", flat=True))
        # The portal shows a partner its team through its people, not through logins.
        assert ids(client_for(partner_admin).get(USERS)) == set()
        assert client_for(partner_admin).get(f"{USERS}{partner_admin.pk}/").status_code == 404

    def test_a_login_reads_without_its_password(self, client_for, channel_manager, partner_admin, partner):
        body = client_for(channel_manager).get(f"{USERS}{partner_admin.pk}/").json()
        assert "password" not in body and "pbkdf2" not in str(body) and "md5" not in str(body)
        assert body["username"] == "pat" and body["email"] == "pat@example.com" and body["is_active"]
        assert body["membership"] == {
            "id": partner_admin.membership.pk,
            "partner": partner.pk,
            "distributor": None,
            "role": "admin",
        }

    def test_filters(self, client_for, superuser, partner, partner_admin, partner_sales, other_partner_admin):
        client = client_for(superuser)
        assert ids(client.get(USERS, {"partner": partner.pk})) == {partner_admin.pk, partner_sales.pk}
        assert ids(client.get(USERS, {"partner": partner.pk, "role": "sales"})) == {partner_sales.pk}
        assert ids(client.get(USERS, {"email": "OSCAR@example.com"})) == {other_partner_admin.pk}
        partner_sales.is_active = False
        partner_sales.save()
        assert partner_sales.pk in ids(client.get(USERS, {"is_active": "false"}))
        error(client.get(USERS, {"is_active": "maybe"}), 400)

    def test_a_token_limited_to_a_partner_sees_its_members_only(
        self, token_client, issue_token, superuser, partner_admin, other_partner_admin
    ):
        _, secret = issue_token(
            superuser, all_partners=False, partners=[other_partner_admin.membership.partner]
        )
        assert ids(token_client(secret).get(USERS)) == {other_partner_admin.pk}
        _, everything = issue_token(superuser)
        # Staff logins are no business of integrations.
        assert superuser.pk not in ids(token_client(everything).get(USERS))

    def test_an_administrator_deactivates_and_reactivates_a_login(self, client_for, superuser, partner_admin):
        client = client_for(superuser)
        response = client.post(f"{USERS}{partner_admin.pk}/deactivate/")
        assert response.status_code == 200 and response.json()["is_active"] is False
        partner_admin.refresh_from_db()
        assert not partner_admin.is_active
        # A deactivated login is refused at once.
        assert client_for(partner_admin).get(MEMBERSHIPS).status_code in (401, 403)
        response = client.post(f"{USERS}{partner_admin.pk}/reactivate/")
        assert response.status_code == 200 and response.json()["is_active"] is True
        assert [e.action for e in AuditEntry.objects.order_by("id")] == [
            "user.deactivated",
            "user.reactivated",
        ]

    def test_staff_holding_the_permission_deactivate_the_logins_they_see(
        self, client_for, channel_manager, partner_admin, other_partner_admin
    ):
        from django.contrib.auth.models import Permission

        error(client_for(channel_manager).post(f"{USERS}{partner_admin.pk}/deactivate/"), 403)
        channel_manager.user_permissions.add(Permission.objects.get(codename="change_user"))
        channel_manager = User.objects.get(pk=channel_manager.pk)
        client = client_for(channel_manager)
        assert client.post(f"{USERS}{partner_admin.pk}/deactivate/").status_code == 200
        error(client.post(f"{USERS}{other_partner_admin.pk}/deactivate/"), 404)

    def test_nobody_deactivates_his_own_login(self, client_for, superuser):
        error(client_for(superuser).post(f"{USERS}{superuser.pk}/deactivate/"), 403)
        superuser.refresh_from_db()
        assert superuser.is_active

    def test_a_superuser_is_deactivated_by_a_superuser_only(self, client_for, superuser):
        from django.contrib.auth.models import Permission

        administrator = UserFactory(username="admin3", is_staff=True)
        administrator.user_permissions.add(Permission.objects.get(codename="change_user"))
        error(client_for(administrator).post(f"{USERS}{superuser.pk}/deactivate/"), 404)  # sees no staff
        # Who grants coverage sees the staff, superusers included, and still may not deactivate one.
        administrator.user_permissions.add(Permission.objects.get(codename="grant_coverage"))
        administrator = User.objects.get(pk=administrator.pk)
        error(client_for(administrator).post(f"{USERS}{superuser.pk}/deactivate/"), 403)
        other_root = UserFactory(username="root2", is_staff=True, is_superuser=True)
        assert client_for(superuser).post(f"{USERS}{other_root.pk}/deactivate/").status_code == 200

    def test_partner_users_and_read_only_tokens_deactivate_nobody(
        self, client_for, token_client, issue_token, superuser, partner_admin, partner_sales
    ):
        error(client_for(partner_admin).post(f"{USERS}{partner_sales.pk}/deactivate/"), 404)
        _, secret = issue_token(superuser, scope=TokenScope.READ)
        error(token_client(secret).post(f"{USERS}{partner_sales.pk}/deactivate/"), 403)
        partner_sales.refresh_from_db()
        assert partner_sales.is_active

    def test_logins_are_not_created_or_edited_here(self, client_for, superuser, partner_admin):
        client = client_for(superuser)
        assert client.post(USERS, {"username": "x", "is_superuser": True}, format="json").status_code == 405
        assert (
            client.patch(f"{USERS}{partner_admin.pk}/", {"is_staff": True}, format="json").status_code == 405
        )
        partner_admin.refresh_from_db()
        assert not partner_admin.is_staff


def test_lists_cost_the_same_however_many_logins(client_for, superuser, django_assert_max_num_queries):
    client = client_for(superuser)

    def grow(count: int) -> None:
        for _ in range(count):
            MembershipFactory(partner=PartnerFactory(), role=MembershipRole.SALES)

    grow(2)
    # session, user; the page of memberships with their logins joined
    with django_assert_max_num_queries(3):
        assert client.get(MEMBERSHIPS).status_code == 200
    # session, user; the page of logins with their memberships joined
    with django_assert_max_num_queries(3):
        assert client.get(USERS).status_code == 200
    grow(8)
    with django_assert_max_num_queries(3):
        assert len(client.get(MEMBERSHIPS).json()["results"]) == 10
    with django_assert_max_num_queries(3):
        assert len(client.get(USERS).json()["results"]) == 11


class TestMembershipsSync:
    def test_a_role_change_moves_the_membership_into_updated_since(
        self, client_for, channel_manager, partner, partner_sales, time_machine
    ):
        time_machine.move_to("2026-11-01T09:00:00Z")
        membership = partner_sales.membership
        membership.save()
        time_machine.move_to("2026-12-01T09:00:00Z")
        client = client_for(channel_manager)

        def changed_since(moment: str) -> list[int]:
            response = client.get(f"/api/v1/memberships/?partner={partner.pk}&updated_since={moment}")
            assert response.status_code == 200, response.content
            return [row["id"] for row in response.json()["results"]]

        assert membership.pk not in changed_since("2026-11-15T00:00:00Z")
        changed = client.patch(f"/api/v1/memberships/{membership.pk}/", {"role": "technical"}, format="json")
        assert changed.status_code == 200, changed.content
        assert changed.json()["updated_at"].startswith("2026-12-01T09:00")
        assert membership.pk in changed_since("2026-11-15T00:00:00Z")
        assert client.get("/api/v1/memberships/?updated_since=yesterday").status_code == 400


def database_now() -> str:
    """The database's clock, which dates a login's changes (its history is written by triggers)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0].isoformat()


class TestUsersSync:
    """A directory sync asks for the logins changed since the greatest updated_at it holds."""

    def changed_since(self, client, moment: str) -> dict[int, str]:
        response = client.get(USERS, {"updated_since": moment})
        assert response.status_code == 200, response.content
        return {row["id"]: row["updated_at"] for row in response.json()["results"]}

    def test_deactivating_a_login_moves_it_into_updated_since(self, client_for, superuser, partner_sales):
        client = client_for(superuser)
        moment = database_now()
        assert partner_sales.pk not in self.changed_since(client, moment)

        deactivated = client.post(f"{USERS}{partner_sales.pk}/deactivate/")

        assert deactivated.status_code == 200, deactivated.content
        assert deactivated.json()["updated_at"] >= moment
        assert self.changed_since(client, moment) == {partner_sales.pk: deactivated.json()["updated_at"]}

    def test_a_change_written_around_the_orm_counts_too(self, client_for, superuser, partner_sales):
        client = client_for(superuser)
        moment = database_now()

        User.objects.filter(pk=partner_sales.pk).update(email="renamed@example.com")

        assert set(self.changed_since(client, moment)) == {partner_sales.pk}

    def test_a_new_role_or_leaving_the_team_counts_as_a_change_of_the_login(
        self, client_for, superuser, channel_manager, partner_sales
    ):
        client = client_for(superuser)
        moment = database_now()
        membership = partner_sales.membership
        manager = client_for(channel_manager)
        response = manager.patch(f"{MEMBERSHIPS}{membership.pk}/", {"role": "technical"}, format="json")
        assert response.status_code == 200, response.content
        assert set(self.changed_since(client, moment)) == {partner_sales.pk}

        moment = database_now()
        assert manager.delete(f"{MEMBERSHIPS}{membership.pk}/").status_code == 204
        assert set(self.changed_since(client, moment)) == {partner_sales.pk}

    def test_signing_in_is_no_change(self, client_for, superuser, partner_sales, rf):
        client = client_for(superuser)
        moment = database_now()

        user_logged_in.send(sender=User, request=rf.get("/"), user=partner_sales)

        partner_sales.refresh_from_db()
        assert partner_sales.last_login is not None
        assert self.changed_since(client, moment) == {}

    def test_a_login_never_changed_since_the_history_began_dates_from_joining(
        self, client_for, superuser, partner_sales
    ):
        LoginEvent = apps.get_model("history", "LoginEvent")
        MembershipEvent = apps.get_model("partners", "MembershipEvent")
        LoginEvent.objects.filter(pgh_obj_id=partner_sales.pk).delete()
        MembershipEvent.objects.filter(user_id=partner_sales.pk).delete()

        listed = client_for(superuser).get(f"{USERS}{partner_sales.pk}/").json()

        joined = partner_sales.date_joined.isoformat().replace("+00:00", "Z")
        assert listed["updated_at"] == joined

    def test_a_moment_that_is_not_one_is_refused(self, client_for, superuser):
        response = client_for(superuser).get(USERS, {"updated_since": "yesterday"})
        assert set(error(response, 400)["errors"]) == {"updated_since"}
