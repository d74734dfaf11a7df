"""Every write of a definition or a fact is recorded: who, when, through which door, before and after."""

import datetime
from decimal import Decimal

import pytest
from celery import shared_task
from django.db import connection, connections
from guardian.shortcuts import assign_perm

from api.services import token_issue
from history.commands import execute_from_command_line
from history.context import door, history_context
from history.selectors import object_history
from partners import ingestion
from programs.models import Program, Tier
from tests.factories import (
    BenefitFactory,
    DealFactory,
    PartnerFactory,
    ProductLineFactory,
    ProgramFactory,
    SegmentFactory,
    TierFactory,
)

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="only PostgreSQL's triggers see writes that bypass the ORM's signals (raw SQL, COPY, update())",
)


def tier_form(tier, **changes):
    data = {
        "program": tier.program_id,
        "name": tier.name,
        "rank": tier.rank,
        "grace_days": tier.grace_days,
        "description": tier.description,
    }
    return {**data, **changes}


@pytest.mark.django_db
class TestAdmin:
    def test_an_admin_edit_records_who_the_door_and_the_values_before_and_after(self, client, superuser):
        tier = TierFactory(grace_days=90)
        client.force_login(superuser)

        response = client.post(f"/admin/programs/tier/{tier.pk}/change/", tier_form(tier, grace_days=30))

        assert response.status_code == 302
        change = object_history(tier)[0]
        assert (change.action, change.actor, change.door) == ("changed", "root", "admin")
        assert change.context["url"] == f"/admin/programs/tier/{tier.pk}/change/"
        assert change.changed_fields == ["grace_days"]
        assert (change.before["grace_days"], change.after["grace_days"]) == (90, 30)

    def test_saving_an_unchanged_form_records_nothing(self, client, superuser):
        tier = TierFactory()
        client.force_login(superuser)

        client.post(f"/admin/programs/tier/{tier.pk}/change/", tier_form(tier))

        assert [c.action for c in object_history(tier)] == ["created"]

    def test_an_admin_delete_records_the_last_values(self, client, superuser):
        tier = TierFactory(name="Gold")
        client.force_login(superuser)

        client.post(f"/admin/programs/tier/{tier.pk}/delete/", {"post": "yes"})

        assert not Tier.objects.filter(pk=tier.pk).exists()
        deleted = object_history(Tier(pk=tier.pk))[0]
        assert (deleted.action, deleted.door, deleted.after) == ("deleted", "admin", None)
        assert deleted.before["name"] == "Gold"

    def test_many_to_many_links_are_recorded_on_both_sides(self, superuser):
        benefit = BenefitFactory()
        tier = TierFactory(program=benefit.program)

        with history_context(door="admin", user=superuser.pk):
            benefit.tiers.add(tier)
            benefit.tiers.remove(tier)

        on_benefit = [(c.model, c.action) for c in object_history(benefit)]
        assert on_benefit[:2] == [
            ("programs.benefit_tiers", "deleted"),
            ("programs.benefit_tiers", "created"),
        ]
        assert [c.action for c in object_history(tier) if c.model == "programs.benefit_tiers"] == [
            "deleted",
            "created",
        ]


@pytest.mark.django_db
class TestDoors:
    def test_an_api_write_records_the_user_and_the_api_door(self, client, channel_manager):
        partner = PartnerFactory(region="emea")
        ProductLineFactory(code="cloud")
        client.force_login(channel_manager)

        response = client.post(
            "/api/v1/sales/bulk/",
            {
                "source": "crm",
                "records": [
                    {
                        "external_id": "S-1",
                        "partner": partner.pk,
                        "amount": "100.00",
                        "currency": "USD",
                        "closed_on": "2026-11-05",
                        "product_line": "cloud",
                    }
                ],
            },
            content_type="application/json",
        )

        assert response.status_code == 200, response.content
        sale = partner.sales.get()
        change = object_history(sale)[0]
        assert (change.action, change.actor, change.door) == ("created", "morgan", "api")
        assert Decimal(change.after["amount"]) == Decimal("100.00")

    def test_a_token_write_records_the_token_beside_its_issuer(self, client, channel_manager):
        partner = PartnerFactory(region="emea")
        ProductLineFactory(code="cloud")
        token, secret = token_issue(actor=channel_manager, name="CRM", scope="read_write", all_partners=True)
        records = [
            {
                "external_id": "S-2",
                "partner": partner.pk,
                "amount": "5.00",
                "currency": "USD",
                "closed_on": "2026-11-05",
                "product_line": "cloud",
            }
        ]

        response = client.post(
            "/api/v1/sales/bulk/",
            {"source": "crm", "records": records},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

        assert response.status_code == 200, response.content
        change = object_history(partner.sales.get())[0]
        assert (change.actor, change.door, change.context["token"]) == ("morgan", "api", token.pk)

    def test_a_command_records_its_name_and_the_command_door(self, monkeypatch):
        # A command run from the command line closes the connections when done, the test's too.
        monkeypatch.setattr(connections, "close_all", lambda: None)
        execute_from_command_line(
            [
                "manage.py",
                "shell",
                "-c",
                "from tests.factories import ProgramFactory; ProgramFactory(slug='cmd')",
            ]
        )

        change = object_history(Program.objects.get(slug="cmd"))[0]
        assert (change.door, change.context["command"], change.actor) == ("command", "shell", "")

    def test_a_task_records_its_door_and_gives_the_request_its_door_back(self, superuser):
        with history_context(door="admin", user=superuser.pk):
            program = ProgramFactory()
            _rename_program.delay(program.pk, "Renamed by a task")
            program.refresh_from_db()
            program.description = "after the task"
            program.save()

        by_task, after = object_history(program)[1], object_history(program)[0]
        assert (by_task.door, by_task.context["task"], by_task.actor) == (
            "task",
            "tests.history.test_recording._rename_program",
            "root",
        )
        assert by_task.after["name"] == "Renamed by a task"
        assert (after.door, "task" in after.context) == ("admin", False)

    def test_a_nested_door_restores_the_outer_one(self):
        with history_context(door="portal"):
            with door("task", task="x"):
                inner = ProgramFactory()
            outer = ProgramFactory()

        assert object_history(inner)[0].door == "task"
        assert object_history(outer)[0].door == "portal"
        assert "task" not in object_history(outer)[0].context


@shared_task
def _rename_program(program_id: int, name: str) -> None:
    program = Program.objects.get(pk=program_id)
    program.name = name
    program.save()


@pytest.mark.django_db
class TestWhatIsRecorded:
    def test_a_grant_of_a_program_right_and_its_revocation_are_recorded(self, channel_manager):
        from programs.models import ProgramUserObjectPermission

        program = ProgramFactory()

        with history_context(door="admin"):
            assign_perm("programs.manage_program", channel_manager, program)
        grant = ProgramUserObjectPermission.objects.get(user=channel_manager)
        grant_id = grant.pk
        grant.delete()

        changes = object_history(ProgramUserObjectPermission(pk=grant_id))
        assert [c.action for c in changes] == ["deleted", "created"]
        assert changes[1].after["content_object"] == program.pk
        assert changes[1].door == "admin"

    def test_a_token_history_never_holds_its_secret_nor_each_use(self, channel_manager):
        token, _ = token_issue(actor=channel_manager, name="CRM", scope="read", all_partners=True)
        token.last_used_at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        token.save()

        changes = object_history(token)
        assert [c.action for c in changes] == ["created"]
        assert "secret_hash" not in changes[0].after
        assert changes[0].after["name"] == "CRM"

    def test_an_override_is_recorded_and_the_engine_rewriting_a_tier_is_not(self, superuser):
        from gates.models import PartnerTier

        tier = TierFactory()
        row = PartnerTier.objects.create(partner=PartnerFactory(), program=tier.program, tier=tier)
        row.earned_tier = tier
        row.save()
        with history_context(door="admin", user=superuser.pk):
            row.override_tier = tier
            row.override_reason = "Strategic account"
            row.save()

        changes = object_history(row)
        assert [c.action for c in changes] == ["changed", "created"]
        assert changes[0].after["override_reason"] == "Strategic account"
        assert changes[0].actor == "root"

    def test_a_deal_is_recorded(self):
        deal = DealFactory(expected_value=Decimal("10.00"))
        deal.expected_value = Decimal("12.00")
        deal.save()

        change = object_history(deal)[0]
        assert Decimal(change.before["expected_value"]) == Decimal("10.00")
        assert Decimal(change.after["expected_value"]) == Decimal("12.00")


@postgresql_only
@pytest.mark.django_db
class TestTriggers:
    def test_raw_sql_is_recorded(self):
        program = ProgramFactory(name="Before")

        with history_context(door="command", command="psql"), connection.cursor() as cursor:
            cursor.execute("UPDATE programs_program SET name = %s WHERE id = %s", ["After", program.pk])

        change = object_history(program)[0]
        assert (change.before["name"], change.after["name"], change.door) == ("Before", "After", "command")

    def test_a_queryset_update_from_a_task_is_recorded(self):
        deal = DealFactory(status="approved", protected_until=datetime.date(2020, 1, 1))
        from deals.tasks import expire_deal_registrations

        expire_deal_registrations.delay()

        change = object_history(deal)[0]
        assert (change.before["status"], change.after["status"]) == ("approved", "expired")
        assert change.door == "task"

    def test_the_bulk_ingestion_records_every_row_it_inserts_and_updates(self, channel_manager):
        partner = PartnerFactory(region="emea")
        ProductLineFactory(code="cloud")
        records = [
            {
                "external_id": f"S-{n}",
                "partner": partner.pk,
                "amount": "10.00",
                "currency": "USD",
                "closed_on": "2026-11-05",
                "product_line": "cloud",
            }
            for n in range(3)
        ]
        with history_context(door="api", user=channel_manager.pk):
            ingestion.ingest_sales(actor=channel_manager, source="crm", records=records)
            records[0]["amount"] = "11.00"
            ingestion.ingest_sales(actor=channel_manager, source="crm", records=records)

        sales = {sale.external_id: sale for sale in partner.sales.all()}
        assert [c.action for c in object_history(sales["S-0"])] == ["changed", "created"]
        assert Decimal(object_history(sales["S-0"])[0].before["amount"]) == Decimal("10.00")
        assert [c.action for c in object_history(sales["S-2"])] == ["created"]
        assert object_history(sales["S-1"])[0].actor == "morgan"


@pytest.mark.django_db
class TestDefinitionAdmins:
    def test_program_saves_and_inline_tiers_go_through_the_services_and_are_audited(self, client, superuser):
        from core.models import AuditEntry

        program = ProgramFactory(name="Main")
        tier = TierFactory(program=program, name="Silver", rank=1)
        client.force_login(superuser)
        data = {
            "name": "Main program",
            "slug": program.slug,
            "kind": program.kind,
            "base_currency": "USD",
            "description": "",
            "is_active": "on",
            "tiers-TOTAL_FORMS": "2",
            "tiers-INITIAL_FORMS": "1",
            "tiers-0-id": str(tier.pk),
            "tiers-0-program": str(program.pk),
            "tiers-0-rank": "1",
            "tiers-0-name": "Silver",
            "tiers-0-grace_days": "30",
            "tiers-0-description": "",
            "tiers-1-program": str(program.pk),
            "tiers-1-rank": "2",
            "tiers-1-name": "Gold",
            "tiers-1-grace_days": "90",
            "tiers-1-description": "",
            "benefits-TOTAL_FORMS": "0",
            "benefits-INITIAL_FORMS": "0",
            "user_rights-TOTAL_FORMS": "0",
            "user_rights-INITIAL_FORMS": "0",
        }

        response = client.post(f"/admin/programs/program/{program.pk}/change/", data)

        assert response.status_code == 302, response.content.decode()[:2000]
        actions = set(AuditEntry.objects.values_list("action", flat=True))
        assert {"program.changed", "tier.changed", "tier.created"} <= actions
        assert AuditEntry.objects.get(action="tier.changed").data["fields"] == ["grace_days"]
        gold = program.tiers.get(name="Gold")
        assert (object_history(gold)[0].action, object_history(gold)[0].door) == ("created", "admin")
        assert object_history(program)[0].after["name"] == "Main program"

    def test_deleting_a_segment_in_the_admin_is_audited_and_in_the_history(self, client, superuser):
        from core.models import AuditEntry
        from programs.models import Segment

        segment = SegmentFactory(name="UK cloud")
        client.force_login(superuser)

        client.post(f"/admin/programs/segment/{segment.pk}/delete/", {"post": "yes"})

        assert AuditEntry.objects.filter(action="segment.deleted", target_id=str(segment.pk)).exists()
        assert object_history(Segment(pk=segment.pk))[0].action == "deleted"
