"""Program managers (django-guardian, per program): the owner of a program changes its
program_definitions in the admin and the API; other staff read them; superusers manage all.
Grants are made in the admin's "program managers" panel and audited."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from api.models import TokenScope
from api.services import token_issue
from core.models import AuditEntry
from gates.models import Gate, GateState
from incentives.models import IncentiveRule
from programs.models import Benefit, Program, Segment, Tier, programs_managed_by
from programs.services import program_manager_grant, program_manager_revoke, program_managers
from tests.factories import ProgramFactory, SegmentFactory, grant_program_manager
from tests.programs.helpers import program_manager

pytestmark = pytest.mark.django_db


# --- who manages what -----------------------------------------------------------------------------


def test_a_manager_manages_the_programs_granted_to_him_or_his_groups(
    program_owner, other_program_manager, program_definitions
):
    assert list(programs_managed_by(program_owner)) == [program_definitions.program]
    group = Group.objects.create(name="Reseller team")
    assign_perm("programs.manage_program", group, program_definitions.program)
    other_program_manager.groups.add(group)
    # A fresh object: permission caches live on the user.
    other_program_manager = type(other_program_manager).objects.get(pk=other_program_manager.pk)

    assert set(programs_managed_by(other_program_manager)) == {
        program_definitions.program,
        program_definitions.others,
    }


def test_superusers_and_holders_of_the_global_right_manage_every_program(superuser, program_definitions):
    head_of_channel = program_manager("hana")
    assign_perm("programs.manage_program", head_of_channel)

    assert set(programs_managed_by(superuser)) == {program_definitions.program, program_definitions.others}
    assert set(programs_managed_by(head_of_channel)) == {
        program_definitions.program,
        program_definitions.others,
    }


def test_partner_users_and_tokens_for_some_partners_manage_nothing(
    partner_admin, superuser, partner, program_definitions
):
    limited, _ = token_issue(
        actor=superuser, name="Limited", scope=TokenScope.READ_WRITE, all_partners=False, partners=[partner]
    )
    everything, _ = token_issue(actor=superuser, name="All", scope=TokenScope.READ_WRITE, all_partners=True)
    reading, _ = token_issue(actor=superuser, name="Reads", scope=TokenScope.READ, all_partners=True)

    assert not programs_managed_by(partner_admin).exists()
    assert not programs_managed_by(limited).exists()
    assert not Gate.objects.actionable_by(limited, "manage").exists()
    assert not Gate.objects.actionable_by(reading, "manage").exists()
    assert Gate.objects.actionable_by(everything, "manage").filter(pk=program_definitions.gate.pk).exists()


def test_each_definition_is_manageable_by_its_programs_owner_only(
    program_owner, other_program_manager, program_definitions
):
    for model, obj in (
        (Program, program_definitions.program),
        (Tier, program_definitions.tier),
        (Benefit, program_definitions.benefit),
        (Segment, program_definitions.segment),
        (Gate, program_definitions.gate),
        (IncentiveRule, program_definitions.rule),
    ):
        assert model.objects.allows(program_owner, "manage", obj), model.__name__
        assert not model.objects.allows(other_program_manager, "manage", obj), model.__name__
        # Both see it: definitions are read by every staff member.
        assert model.objects.visible_to(other_program_manager).filter(pk=obj.pk).exists(), model.__name__


def test_a_segment_shared_with_another_managers_program_is_his_to_change_too(
    program_owner, other_program_manager, program_definitions
):
    program_definitions.others.segment = program_definitions.segment
    program_definitions.others.save()

    assert not Segment.objects.allows(program_owner, "manage", program_definitions.segment)
    unused = SegmentFactory(name="Not used yet")
    assert Segment.objects.allows(program_owner, "manage", unused)


def test_listing_what_a_manager_may_change_is_one_flat_query(program_owner, program_definitions):
    for number in range(5):
        program = ProgramFactory()
        grant_program_manager(program_owner, program)
        Gate.objects.create(
            program=program, name=f"Gate {number}", criteria=program_definitions.gate.criteria
        )
    program_owner = type(program_owner).objects.get(pk=program_owner.pk)
    # The group permissions guardian asks once for its global check, then the gates joined to
    # the direct foreign-key grant table in one statement.
    with CaptureQueriesContext(connection) as few:
        list(Gate.objects.actionable_by(program_owner, "manage"))
    for number in range(20):
        program = ProgramFactory()
        grant_program_manager(program_owner, program)
        Gate.objects.create(
            program=program, name=f"More {number}", criteria=program_definitions.gate.criteria
        )
    program_owner = type(program_owner).objects.get(pk=program_owner.pk)
    with CaptureQueriesContext(connection) as many:
        managed = list(Gate.objects.actionable_by(program_owner, "manage"))

    assert len(managed) == 26
    assert len(few) == len(many) <= 3
    assert "guardian_userobjectpermission" not in many.captured_queries[-1]["sql"]
    assert "programs_programuserobjectpermission" in many.captured_queries[-1]["sql"]


# --- grants and revocations -------------------------------------------------------------------------


def test_a_grant_and_a_revocation_are_audited_and_repeat_safely(
    superuser, program_owner, program_definitions
):
    assert program_manager_grant(actor=superuser, program=program_definitions.others, user=program_owner)
    assert not program_manager_grant(actor=superuser, program=program_definitions.others, user=program_owner)
    assert list(program_managers(program_definitions.others).filter(pk=program_owner.pk)) == [program_owner]
    assert program_manager_revoke(actor=superuser, program=program_definitions.others, user=program_owner)
    assert not program_manager_revoke(actor=superuser, program=program_definitions.others, user=program_owner)

    entries = AuditEntry.objects.filter(
        target_type="programs.program", target_id=str(program_definitions.others.pk)
    )
    assert [(e.action, e.actor, e.data["username"]) for e in entries.order_by("id")] == [
        ("program.manager_granted", superuser, "olivia"),
        ("program.manager_revoked", superuser, "olivia"),
    ]


def test_managers_do_not_grant_themselves_programs_and_only_staff_are_granted(
    program_owner, superuser, partner_admin, program_definitions
):
    with pytest.raises(PermissionDenied):
        program_manager_grant(actor=program_owner, program=program_definitions.others, user=program_owner)
    with pytest.raises(PermissionDenied):
        program_manager_revoke(actor=program_owner, program=program_definitions.program, user=program_owner)
    with pytest.raises(ValidationError):
        program_manager_grant(actor=superuser, program=program_definitions.program, user=partner_admin)
    assert not AuditEntry.objects.filter(action__startswith="program.manager").exists()


def _program_form(program, **extra) -> dict:
    data = {
        "name": program.name,
        "slug": program.slug,
        "kind": program.kind,
        "parent": "",
        "description": "",
        "base_currency": program.base_currency,
        "segment": program.segment_id or "",
        "is_active": "on",
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
        "benefits-TOTAL_FORMS": "0",
        "benefits-INITIAL_FORMS": "0",
        "user_rights-TOTAL_FORMS": "0",
        "user_rights-INITIAL_FORMS": "0",
    }
    data.update(extra)
    return data


def test_the_program_managers_panel_grants_and_revokes_through_the_audited_service(
    client, superuser, program_owner, other_program_manager, program_definitions
):
    client.force_login(superuser)
    url = reverse("admin:programs_program_change", args=[program_definitions.program.pk])
    page = client.get(url)
    assert "program managers" in page.content.decode().lower()
    assert "olivia" in page.content.decode()

    response = client.post(
        url,
        _program_form(
            program_definitions.program,
            **{"user_rights-TOTAL_FORMS": "1", "user_rights-0-user": other_program_manager.pk},
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert set(program_managers(program_definitions.program)) == {program_owner, other_program_manager}

    grant = program_definitions.program.user_rights.get(user=other_program_manager)
    response = client.post(
        url,
        _program_form(
            program_definitions.program,
            **{
                "user_rights-TOTAL_FORMS": "2",
                "user_rights-INITIAL_FORMS": "2",
                "user_rights-0-id": program_definitions.program.user_rights.get(user=program_owner).pk,
                "user_rights-0-content_object": program_definitions.program.pk,
                "user_rights-1-id": grant.pk,
                "user_rights-1-content_object": program_definitions.program.pk,
                "user_rights-1-DELETE": "on",
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(program_managers(program_definitions.program)) == [program_owner]
    assert list(
        AuditEntry.objects.filter(action__startswith="program.manager")
        .order_by("id")
        .values_list("action", "actor")
    ) == [("program.manager_granted", superuser.pk), ("program.manager_revoked", superuser.pk)]


def test_a_manager_sees_the_panel_but_cannot_add_to_it(client, program_owner, program_definitions):
    client.force_login(program_owner)
    page = client.get(reverse("admin:programs_program_change", args=[program_definitions.program.pk]))
    formset = next(
        f for f in page.context["inline_admin_formsets"] if f.opts.verbose_name == "program manager"
    )
    assert not formset.has_add_permission and not formset.has_delete_permission
    response = client.post(
        reverse("admin:programs_program_change", args=[program_definitions.program.pk]),
        _program_form(
            program_definitions.program,
            **{"user_rights-TOTAL_FORMS": "1", "user_rights-0-user": program_owner.pk},
        ),
    )
    assert response.status_code in (200, 302)
    assert list(program_managers(program_definitions.program)) == [program_owner]
    assert not AuditEntry.objects.filter(action="program.manager_granted").exists()


def test_whoever_creates_a_program_manages_it(client, program_owner):
    client.force_login(program_owner)
    response = client.post(
        reverse("admin:programs_program_add"), _program_form(Program(name="Regional", slug="regional"))
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    created = Program.objects.get(slug="regional")
    assert list(program_managers(created)) == [program_owner]
    assert AuditEntry.objects.get(action="program.manager_granted").actor == program_owner


# --- the admin's add forms and bulk actions (each definition's pages, for the owner and another
# manager, are walked from the admin registry in tests/test_admin_coverage.py) -------------------


@pytest.mark.parametrize(
    "page", ["programs_tier", "programs_benefit", "gates_gate", "incentives_incentiverule"]
)
def test_add_forms_offer_only_the_programs_one_manages(
    client, other_program_manager, program_definitions, page
):
    client.force_login(other_program_manager)
    form = client.get(reverse(f"admin:{page}_add")).context["adminform"].form

    assert list(form.fields["program"].queryset) == [program_definitions.others]


def test_retiring_gates_in_bulk_leaves_those_of_other_programs(
    client, other_program_manager, program_definitions
):
    theirs = Gate.objects.create(
        program=program_definitions.others,
        name="Reseller gate",
        state=GateState.ACTIVE,
        criteria=program_definitions.gate.criteria,
    )
    program_definitions.gate.state = GateState.ACTIVE
    program_definitions.gate.save()
    client.force_login(other_program_manager)

    response = client.post(
        reverse("admin:gates_gate_changelist"),
        {"action": "retire_selected", "_selected_action": [theirs.pk, program_definitions.gate.pk]},
        follow=True,
    )

    assert response.status_code == 200
    theirs.refresh_from_db()
    program_definitions.gate.refresh_from_db()
    assert (theirs.state, program_definitions.gate.state) == (GateState.RETIRED, GateState.ACTIVE)
    assert "1 gate(s) belong to programs you do not manage" in response.content.decode()


# --- the API, for the owner and another manager -----------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_rules_are_changed_through_the_api_by_their_programs_owner_only(
    program_owner, other_program_manager, program_definitions
):
    url = f"/api/v1/incentive-rules/{program_definitions.rule.pk}/"

    assert _api(other_program_manager).get(url).status_code == 200
    refused = _api(other_program_manager).patch(url, {"name": "Taken over"}, format="json")
    assert refused.status_code == 403, refused.content
    assert "do not manage this program" in refused.json()["detail"]
    assert _api(program_owner).patch(url, {"name": "MSP bonus, renamed"}, format="json").status_code == 200
    moved = _api(program_owner).patch(url, {"program": program_definitions.others.pk}, format="json")
    assert moved.status_code == 403, moved.content
    program_definitions.rule.refresh_from_db()
    assert (program_definitions.rule.name, program_definitions.rule.program) == (
        "MSP bonus, renamed",
        program_definitions.program,
    )
