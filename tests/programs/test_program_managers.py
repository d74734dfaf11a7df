"""Program managers (django-guardian, per program): the owner of a program changes its
definitions in the admin and the API; other staff read them; superusers manage all.
Grants are made in the admin's "program managers" panel and audited."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from api.models import TokenScope
from api.services import token_issue
from gates.models import Gate, GateState
from incentives.models import IncentiveRule
from partners.models import AuditEntry, ManagerProfile, Region
from partners.roles import ensure_channel_manager_group
from programs.models import Benefit, Program, Segment, Tier, programs_managed_by
from programs.services import program_manager_grant, program_manager_revoke, program_managers
from tests.factories import (
    BenefitFactory,
    ProgramFactory,
    SegmentFactory,
    TierFactory,
    UserFactory,
    grant_program_manager,
)
from tests.incentives.helpers import commission_rule

pytestmark = pytest.mark.django_db


def _manager(username: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(ensure_channel_manager_group())
    ManagerProfile.objects.create(user=user, regions=[Region.EMEA])
    return user


class Definitions:
    """One program of each manager, with every kind of definition hanging off the first."""

    def __init__(self, owner, other):
        self.segment = SegmentFactory(name="MSP segment")
        self.program = ProgramFactory(name="MSP program", slug="msp", segment=self.segment)
        self.tier = TierFactory(program=self.program, name="MSP Silver", rank=1)
        self.benefit = BenefitFactory(program=self.program, name="MSP content")
        self.gate = Gate.objects.create(
            program=self.program,
            name="MSP gate",
            state=GateState.DRAFT,
            criteria={"metric": "certified_people", "op": ">=", "target": 2},
        )
        # Not started yet: its program may still change.
        self.rule = commission_rule(
            self.program, name="MSP bonus", effective_from=timezone.localdate() + datetime.timedelta(days=30)
        )
        self.others = ProgramFactory(name="Reseller program", slug="reseller")
        grant_program_manager(owner, self.program)
        grant_program_manager(other, self.others)

    def objects(self) -> dict[str, object]:
        return {
            "programs_program": self.program,
            "programs_tier": self.tier,
            "programs_benefit": self.benefit,
            "programs_segment": self.segment,
            "gates_gate": self.gate,
            "incentives_incentiverule": self.rule,
        }


@pytest.fixture
def owner(db):
    return _manager("olivia")


@pytest.fixture
def other_manager(db):
    return _manager("oscar")


@pytest.fixture
def definitions(owner, other_manager):
    return Definitions(owner, other_manager)


# --- who manages what -----------------------------------------------------------------------------


def test_a_manager_manages_the_programs_granted_to_him_or_his_groups(owner, other_manager, definitions):
    assert list(programs_managed_by(owner)) == [definitions.program]
    group = Group.objects.create(name="Reseller team")
    assign_perm("programs.manage_program", group, definitions.program)
    other_manager.groups.add(group)
    other_manager = type(other_manager).objects.get(pk=other_manager.pk)  # fresh permission caches

    assert set(programs_managed_by(other_manager)) == {definitions.program, definitions.others}


def test_superusers_and_holders_of_the_global_right_manage_every_program(superuser, definitions):
    head_of_channel = _manager("hana")
    assign_perm("programs.manage_program", head_of_channel)

    assert set(programs_managed_by(superuser)) == {definitions.program, definitions.others}
    assert set(programs_managed_by(head_of_channel)) == {definitions.program, definitions.others}


def test_partner_users_and_tokens_for_some_partners_manage_nothing(
    partner_admin, superuser, partner, definitions
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
    assert Gate.objects.actionable_by(everything, "manage").filter(pk=definitions.gate.pk).exists()


def test_each_definition_is_manageable_by_its_programs_owner_only(owner, other_manager, definitions):
    for model, obj in (
        (Program, definitions.program),
        (Tier, definitions.tier),
        (Benefit, definitions.benefit),
        (Segment, definitions.segment),
        (Gate, definitions.gate),
        (IncentiveRule, definitions.rule),
    ):
        assert model.objects.allows(owner, "manage", obj), model.__name__
        assert not model.objects.allows(other_manager, "manage", obj), model.__name__
        # Both see it: definitions are read by every staff member.
        assert model.objects.visible_to(other_manager).filter(pk=obj.pk).exists(), model.__name__


def test_a_segment_shared_with_another_managers_program_is_his_to_change_too(
    owner, other_manager, definitions
):
    definitions.others.segment = definitions.segment
    definitions.others.save()

    assert not Segment.objects.allows(owner, "manage", definitions.segment)
    unused = SegmentFactory(name="Not used yet")
    assert Segment.objects.allows(owner, "manage", unused)


def test_listing_what_a_manager_may_change_is_one_flat_query(owner, definitions):
    for number in range(5):
        program = ProgramFactory()
        grant_program_manager(owner, program)
        Gate.objects.create(program=program, name=f"Gate {number}", criteria=definitions.gate.criteria)
    owner = type(owner).objects.get(pk=owner.pk)
    # The group permissions guardian asks once for its global check, then the gates joined to
    # the direct foreign-key grant table in one statement.
    with CaptureQueriesContext(connection) as few:
        list(Gate.objects.actionable_by(owner, "manage"))
    for number in range(20):
        program = ProgramFactory()
        grant_program_manager(owner, program)
        Gate.objects.create(program=program, name=f"More {number}", criteria=definitions.gate.criteria)
    owner = type(owner).objects.get(pk=owner.pk)
    with CaptureQueriesContext(connection) as many:
        managed = list(Gate.objects.actionable_by(owner, "manage"))

    assert len(managed) == 26
    assert len(few) == len(many) <= 3
    assert "guardian_userobjectpermission" not in many.captured_queries[-1]["sql"]
    assert "programs_programuserobjectpermission" in many.captured_queries[-1]["sql"]


# --- grants and revocations -------------------------------------------------------------------------


def test_a_grant_and_a_revocation_are_audited_and_repeat_safely(superuser, owner, definitions):
    assert program_manager_grant(actor=superuser, program=definitions.others, user=owner)
    assert not program_manager_grant(actor=superuser, program=definitions.others, user=owner)
    assert list(program_managers(definitions.others).filter(pk=owner.pk)) == [owner]
    assert program_manager_revoke(actor=superuser, program=definitions.others, user=owner)
    assert not program_manager_revoke(actor=superuser, program=definitions.others, user=owner)

    entries = AuditEntry.objects.filter(target_type="programs.program", target_id=str(definitions.others.pk))
    assert [(e.action, e.actor, e.data["username"]) for e in entries.order_by("id")] == [
        ("program.manager_granted", superuser, "olivia"),
        ("program.manager_revoked", superuser, "olivia"),
    ]


def test_managers_do_not_grant_themselves_programs_and_only_staff_are_granted(
    owner, superuser, partner_admin, definitions
):
    with pytest.raises(PermissionDenied):
        program_manager_grant(actor=owner, program=definitions.others, user=owner)
    with pytest.raises(PermissionDenied):
        program_manager_revoke(actor=owner, program=definitions.program, user=owner)
    with pytest.raises(ValidationError):
        program_manager_grant(actor=superuser, program=definitions.program, user=partner_admin)
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
    client, superuser, owner, other_manager, definitions
):
    client.force_login(superuser)
    url = reverse("admin:programs_program_change", args=[definitions.program.pk])
    page = client.get(url)
    assert "program managers" in page.content.decode().lower()
    assert "olivia" in page.content.decode()

    response = client.post(
        url,
        _program_form(
            definitions.program, **{"user_rights-TOTAL_FORMS": "1", "user_rights-0-user": other_manager.pk}
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert set(program_managers(definitions.program)) == {owner, other_manager}

    grant = definitions.program.user_rights.get(user=other_manager)
    response = client.post(
        url,
        _program_form(
            definitions.program,
            **{
                "user_rights-TOTAL_FORMS": "2",
                "user_rights-INITIAL_FORMS": "2",
                "user_rights-0-id": definitions.program.user_rights.get(user=owner).pk,
                "user_rights-0-content_object": definitions.program.pk,
                "user_rights-1-id": grant.pk,
                "user_rights-1-content_object": definitions.program.pk,
                "user_rights-1-DELETE": "on",
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(program_managers(definitions.program)) == [owner]
    assert list(
        AuditEntry.objects.filter(action__startswith="program.manager")
        .order_by("id")
        .values_list("action", "actor")
    ) == [("program.manager_granted", superuser.pk), ("program.manager_revoked", superuser.pk)]


def test_a_manager_sees_the_panel_but_cannot_add_to_it(client, owner, definitions):
    client.force_login(owner)
    page = client.get(reverse("admin:programs_program_change", args=[definitions.program.pk]))
    formset = next(
        f for f in page.context["inline_admin_formsets"] if f.opts.verbose_name == "program manager"
    )
    assert not formset.has_add_permission and not formset.has_delete_permission
    response = client.post(
        reverse("admin:programs_program_change", args=[definitions.program.pk]),
        _program_form(
            definitions.program, **{"user_rights-TOTAL_FORMS": "1", "user_rights-0-user": owner.pk}
        ),
    )
    assert response.status_code in (200, 302)
    assert list(program_managers(definitions.program)) == [owner]
    assert not AuditEntry.objects.filter(action="program.manager_granted").exists()


def test_whoever_creates_a_program_manages_it(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("admin:programs_program_add"), _program_form(Program(name="Regional", slug="regional"))
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    created = Program.objects.get(slug="regional")
    assert list(program_managers(created)) == [owner]
    assert AuditEntry.objects.get(action="program.manager_granted").actor == owner


# --- the admin pages, for the owner and another manager -------------------------------------------

PAGES = [
    "programs_program",
    "programs_tier",
    "programs_benefit",
    "programs_segment",
    "gates_gate",
    "incentives_incentiverule",
]


@pytest.mark.parametrize("page", PAGES)
def test_the_owner_edits_a_definition_another_manager_reads_it(
    client, owner, other_manager, definitions, page
):
    obj = definitions.objects()[page]
    change = reverse(f"admin:{page}_change", args=[obj.pk])
    delete = reverse(f"admin:{page}_delete", args=[obj.pk])

    client.force_login(owner)
    assert client.get(reverse(f"admin:{page}_changelist")).status_code == 200
    own = client.get(change)
    assert own.status_code == 200
    assert own.context["has_change_permission"] is True

    client.force_login(other_manager)
    assert client.get(reverse(f"admin:{page}_changelist")).status_code == 200
    theirs = client.get(change)
    assert theirs.status_code == 200
    assert theirs.context["has_change_permission"] is False  # read-only
    assert client.post(change, {"name": "Taken over"}).status_code == 403
    assert client.get(delete).status_code == 403
    obj.refresh_from_db()
    assert getattr(obj, "name", "") != "Taken over"


@pytest.mark.parametrize(
    "page", ["programs_tier", "programs_benefit", "gates_gate", "incentives_incentiverule"]
)
def test_add_forms_offer_only_the_programs_one_manages(client, other_manager, definitions, page):
    client.force_login(other_manager)
    form = client.get(reverse(f"admin:{page}_add")).context["adminform"].form

    assert list(form.fields["program"].queryset) == [definitions.others]


def test_retiring_gates_in_bulk_leaves_those_of_other_programs(client, other_manager, definitions):
    theirs = Gate.objects.create(
        program=definitions.others,
        name="Reseller gate",
        state=GateState.ACTIVE,
        criteria=definitions.gate.criteria,
    )
    definitions.gate.state = GateState.ACTIVE
    definitions.gate.save()
    client.force_login(other_manager)

    response = client.post(
        reverse("admin:gates_gate_changelist"),
        {"action": "retire_selected", "_selected_action": [theirs.pk, definitions.gate.pk]},
        follow=True,
    )

    assert response.status_code == 200
    theirs.refresh_from_db()
    definitions.gate.refresh_from_db()
    assert (theirs.state, definitions.gate.state) == (GateState.RETIRED, GateState.ACTIVE)
    assert "1 gate(s) belong to programs you do not manage" in response.content.decode()


# --- the API, for the owner and another manager -----------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_rules_are_changed_through_the_api_by_their_programs_owner_only(owner, other_manager, definitions):
    url = f"/api/v1/incentive-rules/{definitions.rule.pk}/"

    assert _api(other_manager).get(url).status_code == 200
    refused = _api(other_manager).patch(url, {"name": "Taken over"}, format="json")
    assert refused.status_code == 403, refused.content
    assert "do not manage this program" in refused.json()["detail"]
    assert _api(owner).patch(url, {"name": "MSP bonus, renamed"}, format="json").status_code == 200
    moved = _api(owner).patch(url, {"program": definitions.others.pk}, format="json")
    assert moved.status_code == 403, moved.content
    definitions.rule.refresh_from_db()
    assert (definitions.rule.name, definitions.rule.program) == ("MSP bonus, renamed", definitions.program)
