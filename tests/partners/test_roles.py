"""The channel manager role exists in every installation, not only once the demo is seeded."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from partners.roles import CHANNEL_MANAGERS

pytestmark = pytest.mark.django_db


def _codenames(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_migrate_leaves_the_role_with_its_permissions():
    # The test database was built by migrate alone: no demo data, no fixture has run.
    permissions = _codenames(Group.objects.get(name=CHANNEL_MANAGERS))
    assert {"deals.change_deal", "gates.change_gate", "incentives.add_incentiverule"} <= permissions
    assert {"partners.change_partner", "programs.change_tier", "auth.view_user"} <= permissions
    # History and results are read-only; nobody is given every partner or user administration.
    assert "gates.view_gatestatus" in permissions and "gates.change_gatestatus" not in permissions
    assert "incentives.change_ledgerentry" not in permissions
    assert "partners.view_all_partners" not in permissions and "auth.change_user" not in permissions
    # They issue integration tokens for themselves; managing everyone's is for administrators.
    assert "api.add_integrationtoken" in permissions and "api.change_integrationtoken" not in permissions


def test_setup_roles_creates_the_role_and_is_safe_to_run_again():
    Group.objects.filter(name=CHANNEL_MANAGERS).delete()
    out = io.StringIO()

    call_command("setup_roles", stdout=out)
    created = _codenames(Group.objects.get(name=CHANNEL_MANAGERS))
    call_command("setup_roles", stdout=out)

    assert Group.objects.filter(name=CHANNEL_MANAGERS).count() == 1
    assert _codenames(Group.objects.get(name=CHANNEL_MANAGERS)) == created
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{CHANNEL_MANAGERS}: {len(created)} permissions (created)."
    assert lines[1] == f"{CHANNEL_MANAGERS}: {len(created)} permissions (brought up to date)."


def test_setup_roles_restores_permissions_taken_away_and_removes_extra_ones():
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name=CHANNEL_MANAGERS)
    expected = _codenames(group)
    group.permissions.remove(Permission.objects.get(codename="change_deal"))
    group.permissions.add(Permission.objects.get(codename="delete_user"))

    call_command("setup_roles", stdout=io.StringIO())

    assert _codenames(Group.objects.get(name=CHANNEL_MANAGERS)) == expected


def test_migrate_sets_the_role_up_again():
    Group.objects.filter(name=CHANNEL_MANAGERS).delete()

    call_command("migrate", verbosity=0, interactive=False)

    assert Group.objects.get(name=CHANNEL_MANAGERS).permissions.filter(codename="change_deal").exists()
