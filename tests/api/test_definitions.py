"""Programs, tiers and benefits written through the API: the admin's validation, its services
(audited, recorded in the history), the program rights, and 409 for a delete still in use."""

import re
from decimal import Decimal

import pytest

from core.models import AuditEntry
from history.selectors import object_history
from programs.models import Benefit, BenefitKind, Program, Segment, Tier, programs_managed_by
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def manager(client_for, channel_manager, world):
    return client_for(channel_manager)


class TestPrograms:
    def test_a_channel_manager_creates_a_program_and_manages_it(self, manager, channel_manager, world):
        response = manager.post(
            f"{V1}/programs/",
            {"name": "Co-selling", "slug": "co-selling", "kind": "co_selling", "parent": world.program.pk},
            format="json",
        )

        assert response.status_code == 201, response.content
        program = Program.objects.get(slug="co-selling")
        assert response.json() == {
            "id": program.pk,
            "name": "Co-selling",
            "slug": "co-selling",
            "kind": "co_selling",
            "parent": world.program.pk,
            "description": "",
            "base_currency": "USD",
            "segment": None,
            "is_active": True,
            "created_at": response.json()["created_at"],
        }
        assert programs_managed_by(channel_manager).filter(pk=program.pk).exists()
        entry = AuditEntry.objects.get(action="program.created")
        assert entry.target_id == str(program.pk)
        assert AuditEntry.objects.filter(action="program.manager_granted", target_id=str(program.pk)).exists()
        change = object_history(program)[0]
        assert (change.action, change.actor, change.door) == ("created", "morgan", "api")

    def test_a_program_its_own_parent_is_refused_with_the_admins_message(self, manager, world):
        response = manager.patch(
            f"{V1}/programs/{world.program.pk}/", {"parent": world.program.pk}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["errors"] == {"parent": ["A program cannot be its own parent."]}
        assert Program.objects.get(pk=world.program.pk).parent_id is None

    def test_a_loop_of_parents_is_refused(self, manager, world):
        Program.objects.filter(pk=world.specialisation.pk).update(parent=world.program)
        response = manager.patch(
            f"{V1}/programs/{world.program.pk}/", {"parent": world.specialisation.pk}, format="json"
        )

        assert response.status_code == 400
        assert "loop" in response.json()["errors"]["parent"][0]
        assert Program.objects.get(pk=world.program.pk).parent_id is None

    def test_a_slug_taken_is_a_conflict(self, manager, world):
        response = manager.post(f"{V1}/programs/", {"name": "Again", "slug": "main"}, format="json")

        assert response.status_code == 409
        assert response.json()["code"] == "conflict"
        assert list(response.json()["errors"]) == ["slug"]

    def test_a_change_is_audited_with_the_fields_and_recorded_before_and_after(self, manager, world):
        response = manager.patch(
            f"{V1}/programs/{world.program.pk}/",
            {"name": "Main program", "description": "The partner program"},
            format="json",
        )

        assert response.status_code == 200, response.content
        assert AuditEntry.objects.get(action="program.changed").data["fields"] == ["description"]
        change = object_history(world.program)[0]
        assert (change.action, change.door) == ("changed", "api")
        assert change.changed_fields == ["description"]

    def test_a_program_with_gates_is_not_deleted_and_the_answer_says_why(self, manager, world):
        response = manager.delete(f"{V1}/programs/{world.program.pk}/")

        assert response.status_code == 409
        body = response.json()
        assert (body["status"], body["code"]) == (409, "protected")
        assert "2 gates" in body["detail"]
        assert Program.objects.filter(pk=world.program.pk).exists()
        assert not AuditEntry.objects.filter(action="program.deleted").exists()

    def test_an_unused_program_is_deleted_audited_and_recorded(self, manager, world):
        created = manager.post(f"{V1}/programs/", {"name": "Trial", "slug": "trial"}, format="json").json()

        response = manager.delete(f"{V1}/programs/{created['id']}/")

        assert response.status_code == 204
        assert not Program.objects.filter(pk=created["id"]).exists()
        assert AuditEntry.objects.filter(action="program.deleted", target_id=str(created["id"])).exists()
        assert object_history(Program(pk=created["id"]))[0].action == "deleted"

    def test_a_staff_member_who_does_not_manage_the_program_reads_it_and_may_not_change_it(
        self, client_for, world
    ):
        from partners.roles import ensure_channel_manager_group

        other = UserFactory(username="nina", is_staff=True)
        other.groups.add(ensure_channel_manager_group())
        client = client_for(other)

        assert client.get(f"{V1}/programs/{world.program.pk}/").status_code == 200
        response = client.patch(f"{V1}/programs/{world.program.pk}/", {"description": "x"}, format="json")

        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert Program.objects.get(pk=world.program.pk).description == ""

    def test_partners_and_read_only_tokens_are_refused(
        self, client_for, token_client, issue_token, partner_admin, channel_manager, world
    ):
        from api.models import TokenScope

        read_only = token_client(issue_token(channel_manager, scope=TokenScope.READ)[1])
        for client in (client_for(partner_admin), read_only):
            response = client.post(f"{V1}/programs/", {"name": "Mine", "slug": "mine"}, format="json")
            assert response.status_code == 403
            assert response.json()["status"] == 403
        assert not Program.objects.filter(slug="mine").exists()


class TestTiers:
    def test_a_manager_adds_a_tier(self, manager, world):
        response = manager.post(
            f"{V1}/tiers/", {"program": world.program.pk, "name": "Platinum", "rank": 3}, format="json"
        )

        assert response.status_code == 201, response.content
        tier = Tier.objects.get(program=world.program, name="Platinum")
        assert response.json() == {
            "id": tier.pk,
            "program": world.program.pk,
            "name": "Platinum",
            "rank": 3,
            "grace_days": 90,
            "description": "",
        }
        assert object_history(tier)[0].door == "api"
        assert AuditEntry.objects.filter(action="tier.created", target_id=str(tier.pk)).exists()

    def test_a_rank_taken_is_a_conflict_with_the_models_message(self, manager, world):
        response = manager.post(
            f"{V1}/tiers/", {"program": world.program.pk, "name": "Bronze", "rank": 1}, format="json"
        )

        assert response.status_code == 409
        assert response.json()["errors"] == {
            "non_field_errors": ["Another tier of this program already has this rank."]
        }

    def test_bad_values_are_field_errors(self, manager, world):
        response = manager.post(
            f"{V1}/tiers/", {"program": world.program.pk, "name": "", "rank": -1}, format="json"
        )

        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"name", "rank"}

    def test_a_tier_partners_hold_is_not_deleted(self, manager, world):
        response = manager.delete(f"{V1}/tiers/{world.silver.pk}/")

        assert response.status_code == 409
        assert response.json()["code"] == "protected"
        assert Tier.objects.filter(pk=world.silver.pk).exists()

    def test_an_unused_tier_is_deleted(self, manager, world):
        response = manager.delete(f"{V1}/tiers/{world.gold.pk}/")

        assert response.status_code == 204
        assert not Tier.objects.filter(pk=world.gold.pk).exists()
        assert object_history(Tier(pk=world.gold.pk))[0].action == "deleted"

    def test_moving_a_tier_takes_the_right_to_manage_the_program_it_moves_to(self, client_for, world):
        from partners.roles import ensure_channel_manager_group
        from tests.factories import grant_program_manager

        specialist = UserFactory(username="sam", is_staff=True)
        specialist.groups.add(ensure_channel_manager_group())
        grant_program_manager(specialist, world.specialisation)
        client = client_for(specialist)

        response = client.patch(
            f"{V1}/tiers/{world.specialist_tier.pk}/", {"program": world.program.pk, "rank": 5}, format="json"
        )

        assert response.status_code == 403
        assert Tier.objects.get(pk=world.specialist_tier.pk).program_id == world.specialisation.pk


class TestBenefits:
    def test_a_manager_adds_an_mdf_allowance_granted_by_a_tier(self, manager, world):
        response = manager.post(
            f"{V1}/benefits/",
            {
                "program": world.program.pk,
                "name": "Gold MDF",
                "kind": "mdf_allowance",
                "amount": "25000.00",
                "currency": "EUR",
                "period": "quarter",
                "tiers": [world.gold.pk],
            },
            format="json",
        )

        assert response.status_code == 201, response.content
        benefit = Benefit.objects.get(name="Gold MDF")
        assert (benefit.amount, benefit.currency) == (Decimal("25000.00"), "EUR")
        assert list(benefit.tiers.all()) == [world.gold]
        body = response.json()
        assert (body["amount"], body["tiers"], body["product_line"]) == ("25000.0000", [world.gold.pk], None)
        assert AuditEntry.objects.get(action="benefit.created").data["fields"] == sorted(
            ["program", "name", "kind", "amount", "currency", "period", "tiers"]
        )
        assert object_history(benefit)[0].door == "api"

    def test_the_admins_rules_are_field_errors(self, manager, world):
        response = manager.post(
            f"{V1}/benefits/",
            {"program": world.program.pk, "name": "MDF", "kind": "mdf_allowance", "percent": "5"},
            format="json",
        )

        assert response.status_code == 400
        assert response.json()["errors"] == {
            "percent": ["An MDF allowance has no percentage: only a discount, rebate or commission does."],
            "amount": ["An MDF allowance needs an amount greater than zero."],
            "currency": ["An MDF allowance needs a currency."],
            "period": ["Say whether the allowance is per quarter or per year."],
        }

    def test_a_percentage_out_of_range_and_an_amount_sent_as_a_number_are_refused(self, manager, world):
        response = manager.patch(f"{V1}/benefits/{world.discount.pk}/", {"percent": "150"}, format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["percent"]

        response = manager.patch(f"{V1}/benefits/{world.discount.pk}/", {"percent": 15.5}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == {"percent": ['Send the amount as a string, e.g. "1234.50".']}

    def test_a_negative_percentage_and_a_zero_allowance_are_field_errors_the_schema_states(
        self, manager, world
    ):
        response = manager.patch(f"{V1}/benefits/{world.discount.pk}/", {"percent": "-1"}, format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["percent"]

        # Once a constraint's message without a field ("benefit_amount_positive is violated").
        response = manager.post(
            f"{V1}/benefits/",
            {
                "program": world.program.pk,
                "name": "Gold MDF",
                "kind": "mdf_allowance",
                "amount": "0",
                "currency": "EUR",
                "period": "quarter",
            },
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["errors"] == {"amount": ["The amount must be greater than zero."]}

        schema = manager.get("/api/schema/?format=json").json()["components"]["schemas"][
            "PatchedBenefitRequest"
        ]
        percent, amount = (
            re.compile(schema["properties"][name]["pattern"]) for name in ("percent", "amount")
        )
        assert [bool(percent.match(value)) for value in ("0", "15.5", "100", "100.00", "-1", "100.01")] == [
            True,
            True,
            True,
            True,
            False,
            False,
        ]
        assert [bool(amount.match(value)) for value in ("0.0001", "25000", "0", "0.0000", "-5")] == [
            True,
            True,
            False,
            False,
            False,
        ]

    def test_tiers_of_another_program_are_refused(self, manager, world):
        response = manager.patch(
            f"{V1}/benefits/{world.discount.pk}/", {"tiers": [world.specialist_tier.pk]}, format="json"
        )

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["tiers"]
        assert list(world.discount.tiers.all()) == [world.silver]

    def test_a_change_of_product_line_by_code_and_tiers(self, manager, world):
        response = manager.patch(
            f"{V1}/benefits/{world.discount.pk}/",
            {"product_line": "cloud", "tiers": [world.gold.pk, world.silver.pk]},
            format="json",
        )

        assert response.status_code == 200, response.content
        assert response.json()["product_line"] == "cloud"
        assert response.json()["tiers"] == sorted([world.silver.pk, world.gold.pk])
        world.discount.refresh_from_db()
        assert world.discount.product_line == world.product_line

    def test_a_benefit_is_deleted(self, manager, world):
        response = manager.delete(f"{V1}/benefits/{world.discount.pk}/")

        assert response.status_code == 204
        assert not Benefit.objects.filter(pk=world.discount.pk).exists()
        assert AuditEntry.objects.filter(action="benefit.deleted").exists()

    def test_a_benefit_of_a_program_one_does_not_manage_is_refused(self, client_for, world):
        from partners.roles import ensure_channel_manager_group

        other = UserFactory(username="nina", is_staff=True)
        other.groups.add(ensure_channel_manager_group())
        response = client_for(other).post(
            f"{V1}/benefits/",
            {"program": world.program.pk, "name": "Co-sell", "kind": BenefitKind.CO_SELLING},
            format="json",
        )

        assert response.status_code == 403
        assert not Benefit.objects.filter(name="Co-sell").exists()


UK = {"all": [{"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB"]}]}


class TestSegments:
    def test_a_manager_creates_a_segment_validated_and_recorded(self, manager, world):
        response = manager.post(
            f"{V1}/segments/", {"name": "UK partners", "criteria": UK, "currency": "GBP"}, format="json"
        )

        assert response.status_code == 201, response.content
        segment = Segment.objects.get(name="UK partners")
        body = response.json()
        assert {key: body[key] for key in ("id", "name", "criteria", "currency", "description")} == {
            "id": segment.pk,
            "name": "UK partners",
            "criteria": UK,
            "currency": "GBP",
            "description": "",
        }
        assert AuditEntry.objects.filter(action="segment.created", target_id=str(segment.pk)).exists()
        assert (object_history(segment)[0].action, object_history(segment)[0].door) == ("created", "api")

    def test_criteria_the_admin_refuses_are_refused_with_their_place_in_the_tree(self, manager, world):
        from programs.hooks import criteria_errors

        bad = {"all": [UK["all"][0], {"metric": "no_such_metric", "op": ">=", "target": 1}]}

        response = manager.post(f"{V1}/segments/", {"name": "Broken", "criteria": bad}, format="json")

        assert response.status_code == 400
        assert response.json()["errors"] == {"criteria": criteria_errors(bad, default_currency="USD")}
        assert "all[1]" in response.json()["errors"]["criteria"][0]
        assert not Segment.objects.filter(name="Broken").exists()

    def test_a_name_taken_is_a_conflict(self, manager, world):
        response = manager.post(
            f"{V1}/segments/", {"name": world.segment.name, "criteria": UK}, format="json"
        )

        assert response.status_code == 409
        assert list(response.json()["errors"]) == ["name"]

    def test_the_criteria_of_a_segment_in_use_are_changed_by_a_manager_of_its_programs(
        self, client_for, world
    ):
        from partners.roles import ensure_channel_manager_group
        from tests.factories import grant_program_manager

        specialist = UserFactory(username="sam", is_staff=True)
        specialist.groups.add(ensure_channel_manager_group())
        grant_program_manager(specialist, world.specialisation)

        client = client_for(specialist)
        # In use, the segment is not edited in place: a draft, then its publishing.
        response = client.patch(f"{V1}/segments/{world.segment.pk}/", {"criteria": UK}, format="json")
        assert response.status_code == 409, response.content
        assert "draft" in response.json()["errors"]["criteria"][0]
        response = client.post(f"{V1}/segments/{world.segment.pk}/draft/", {"criteria": UK}, format="json")
        assert response.status_code == 200, response.content
        response = client.post(f"{V1}/segments/{world.segment.pk}/publish/", {}, format="json")
        assert response.status_code == 200, response.content

        world.segment.refresh_from_db()
        assert (world.segment.criteria, world.segment.version) == (UK, 2)
        assert "criteria" in object_history(world.segment)[0].changed_fields

    def test_a_manager_of_no_program_may_neither_create_nor_change_a_segment(self, client_for, world):
        from partners.roles import ensure_channel_manager_group

        other = UserFactory(username="nina", is_staff=True)
        other.groups.add(ensure_channel_manager_group())
        client = client_for(other)

        assert client.get(f"{V1}/segments/{world.segment.pk}/").status_code == 200
        assert (
            client.post(f"{V1}/segments/", {"name": "Mine", "criteria": UK}, format="json").status_code == 403
        )
        assert (
            client.patch(f"{V1}/segments/{world.segment.pk}/", {"criteria": UK}, format="json").status_code
            == 403
        )
        assert client.delete(f"{V1}/segments/{world.segment.pk}/").status_code == 403

    def test_a_segment_a_program_uses_is_not_deleted_and_an_unused_one_is(self, manager, world):
        in_use = manager.delete(f"{V1}/segments/{world.segment.pk}/")
        assert in_use.status_code == 409
        assert in_use.json()["code"] == "protected"
        assert "1 program" in in_use.json()["detail"]

        unused = Segment.objects.create(name="Unused", criteria=UK)
        response = manager.delete(f"{V1}/segments/{unused.pk}/")
        assert response.status_code == 204
        assert not Segment.objects.filter(pk=unused.pk).exists()
        assert AuditEntry.objects.filter(action="segment.deleted", target_id=str(unused.pk)).exists()

    def test_partners_never_see_segments_nor_change_them(self, client_for, partner_admin, world):
        client = client_for(partner_admin)

        listed = client.get(f"{V1}/segments/")
        assert (listed.status_code, listed.json()["results"]) == (200, [])
        assert client.get(f"{V1}/segments/{world.segment.pk}/").status_code == 404
        assert (
            client.post(f"{V1}/segments/", {"name": "Ours", "criteria": UK}, format="json").status_code == 403
        )


def test_the_schema_documents_the_bodies_and_the_refusals_of_every_new_write():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = [
        "programs",
        "tiers",
        "benefits",
        "segments",
        "exchange-rates",
        "product-lines",
        "certification-types",
        "activity-types",
        "service-offerings",
    ]
    for route in routes:
        listed, detail = schema["paths"][f"/api/v1/{route}/"], schema["paths"][f"/api/v1/{route}/{{id}}/"]
        assert {"400", "403", "409"} <= set(listed["post"]["responses"]), route
        assert "requestBody" in listed["post"] and "201" in listed["post"]["responses"], route
        for method in ("put", "patch"):
            assert {"400", "403", "404", "409"} <= set(detail[method]["responses"]), (route, method)
        assert {"204", "403", "404"} <= set(detail["delete"]["responses"]), route
        # Rates are referred to by nothing the database protects: their delete never conflicts.
        assert ("409" in detail["delete"]["responses"]) == (route != "exchange-rates"), route


def test_a_segment_whose_comparison_is_not_text_is_refused_not_a_server_error(
    client_for, channel_manager, world
):
    criteria = {"metric": "won_deals", "op": {}, "target": 0, "window": {"days": 1, "kind": "rolling_days"}}

    response = client_for(channel_manager).post(
        f"{V1}/segments/", {"name": "Odd", "criteria": criteria}, format="json"
    )

    assert response.status_code == 400
    assert "is not a comparison" in response.json()["errors"]["criteria"][0]
    assert not Segment.objects.filter(name="Odd").exists()
