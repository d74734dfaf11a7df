"""Reading the history: the admin's per-object page and log, and the staff API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.services import token_issue
from history.context import history_context
from tests.factories import PartnerFactory, ProgramFactory, SaleFactory, SegmentFactory, TierFactory

pytestmark = pytest.mark.django_db

HISTORY = "/api/v1/history/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def edits(superuser, channel_manager):
    """A program created and renamed in the admin by the superuser, a tier changed through the API by the manager."""
    with history_context(door="admin", user=superuser.pk):
        program = ProgramFactory(name="Resellers")
        program.name = "Resellers EMEA"
        program.save()
    with history_context(door="api", user=channel_manager.pk):
        tier = TierFactory(program=program, grace_days=90)
        tier.grace_days = 60
        tier.save()
    return program, tier


class TestApi:
    def test_lists_changes_newest_first_with_before_and_after(self, auditor, edits):
        program, _ = edits

        response = api(auditor).get(HISTORY)

        assert response.status_code == 200
        # The manager's coverage, created with him, is in the history too.
        results = [r for r in response.json()["results"] if r["model"].startswith("programs.")]
        assert [(r["model"], r["action"]) for r in results] == [
            ("programs.tier", "changed"),
            ("programs.tier", "created"),
            ("programs.program", "changed"),
            ("programs.program", "created"),
        ]
        renamed = results[2]
        assert renamed["object"] == str(program.pk)
        assert (renamed["actor_username"], renamed["door"]) == ("root", "admin")
        assert (renamed["before"]["name"], renamed["after"]["name"]) == ("Resellers", "Resellers EMEA")
        assert renamed["changed"] == ["name"]
        assert results[3]["before"] is None

    def test_filters_by_model_object_actor_and_door(self, auditor, superuser, channel_manager, edits):
        _, tier = edits
        client = api(auditor)

        def actions(**query):
            response = client.get(HISTORY, query)
            assert response.status_code == 200, response.content
            return [(r["model"], r["action"]) for r in response.json()["results"]]

        assert actions(model="programs.program") == [
            ("programs.program", "changed"),
            ("programs.program", "created"),
        ]
        assert actions(model="programs.tier", object=tier.pk) == [
            ("programs.tier", "changed"),
            ("programs.tier", "created"),
        ]
        assert actions(model="programs.tier", object=tier.pk + 1000) == []
        assert actions(actor=channel_manager.pk, model="programs.tier") == [
            ("programs.tier", "changed"),
            ("programs.tier", "created"),
        ]
        assert actions(door="admin") == [("programs.program", "changed"), ("programs.program", "created")]

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"model": "programs.nothing"}, "model"),
            ({"object": "3"}, "object"),
            ({"model": "programs.tier", "object": "x"}, "object"),
            ({"actor": "-1"}, "actor"),
            ({"door": "window"}, "door"),
        ],
    )
    def test_bad_filters_are_refused_with_the_field_named(self, auditor, query, field):
        response = api(auditor).get(HISTORY, query)

        assert response.status_code == 400
        assert field in response.json()["errors"] if "errors" in response.json() else field in response.json()

    def test_a_filter_given_twice_is_refused(self, auditor):
        response = api(auditor).get(f"{HISTORY}?door=admin&door=api")

        assert response.status_code == 400

    @pytest.mark.parametrize("persona", ["partner_admin", "distributor_user", "channel_manager"])
    def test_only_staff_allowed_to_read_the_whole_log_read_it(self, request, persona, edits):
        response = api(request.getfixturevalue(persona)).get(HISTORY)

        assert response.status_code == 403

    def test_anonymous_callers_are_asked_to_authenticate(self, edits):
        assert APIClient().get(HISTORY).status_code == 401

    def test_a_token_never_reads_the_log_even_a_superusers(self, superuser, edits):
        _, secret = token_issue(actor=superuser, name="CRM", scope="read", all_partners=True)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

        assert client.get(HISTORY).status_code == 403

    def test_superusers_read_it(self, superuser, edits):
        assert api(superuser).get(HISTORY).status_code == 200

    def test_the_query_count_depends_on_the_tables_on_the_page_not_on_its_rows(
        self, auditor, superuser, edits
    ):
        client = api(auditor)
        client.get(HISTORY)  # the session is warm
        with history_context(door="admin", user=superuser.pk):
            for _ in range(5):
                SaleFactory(partner=PartnerFactory())
                SegmentFactory()
        with CaptureQueriesContext(connection) as after:
            response = client.get(HISTORY)

        assert response.json()["count"] > 4
        # session, user, permissions of the user and its groups; count and page (one UNION ALL);
        # then per event table on the page its rows and their previous rows, the contexts, the users.
        results = response.json()["results"]
        tables = len({r["model"] for r in results})
        tables_with_previous = len({r["model"] for r in results if r["action"] != "created"})
        assert len(after) == 4 + 2 + tables + tables_with_previous + 2

    def test_the_endpoint_is_in_the_schema(self, superuser):
        schema = api(superuser).get("/api/schema/?format=json").json()

        operation = schema["paths"]["/api/v1/history/"]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {"model", "object", "actor", "door", "page"}


class TestAdmin:
    def test_the_history_page_of_an_object_shows_its_changes(self, client, superuser, edits):
        program, _ = edits
        client.force_login(superuser)

        response = client.get(f"/admin/programs/program/{program.pk}/history/")

        assert response.status_code == 200
        body = response.content.decode()
        assert "Resellers EMEA" in body and "changed" in body and "root" in body
        assert response.context["changes"][0].changed_fields == ["name"]

    def test_the_change_page_has_the_history_button(self, client, superuser, edits):
        program, _ = edits
        client.force_login(superuser)

        response = client.get(f"/admin/programs/program/{program.pk}/change/")

        assert f"/admin/programs/program/{program.pk}/history/" in response.content.decode()

    def test_a_manager_reads_the_history_of_what_he_covers_only(self, client, channel_manager):
        covered = SaleFactory(partner=PartnerFactory(region="emea"))
        other = SaleFactory(partner=PartnerFactory(region="na"))
        client.force_login(channel_manager)

        assert client.get(f"/admin/partners/sale/{covered.pk}/history/").status_code == 200
        assert client.get(f"/admin/partners/sale/{other.pk}/history/").status_code == 302

    def test_the_log_filters_by_actor_and_model(self, client, auditor, channel_manager, edits):
        client.force_login(auditor)

        by_actor = client.get("/admin/history/", {"actor": channel_manager.pk})
        by_model = client.get("/admin/history/", {"model": "programs.program"})

        assert {c.model for c in by_actor.context["changes"]} == {"programs.tier"}
        assert {c.model for c in by_model.context["changes"]} == {"programs.program"}
        assert [c.action for c in by_model.context["changes"]] == ["changed", "created"]

    def test_the_log_refuses_staff_without_the_permission(self, client, channel_manager, edits):
        client.force_login(channel_manager)

        assert client.get("/admin/history/").status_code == 403

    def test_the_admin_index_links_to_the_log_for_those_who_may_read_it(
        self, client, auditor, channel_manager
    ):
        client.force_login(auditor)
        assert "/admin/history/" in client.get("/admin/").content.decode()

        client.force_login(channel_manager)
        assert "/admin/history/" not in client.get("/admin/").content.decode()
