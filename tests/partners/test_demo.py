import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from partners.models import Certification, EngagementActivity, Membership, Partner, Person, Sale
from programs.models import Program, Tier

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (Partner, Person, Certification, Sale, EngagementActivity, Program, Tier, Membership)
    }


def test_seed_demo_is_repeatable_and_prints_the_logins(capsys):
    call_command("seed_demo", "--partners", "5")
    first = _counts()
    call_command("seed_demo", "--partners", "5")
    assert _counts() == first
    output = capsys.readouterr().out
    for login in ("partner", "distributor", "manager", "admin"):
        assert f"  {login} " in output
    assert "password for all: demo" in output


def test_seed_demo_builds_the_program_from_the_seed_examples():
    call_command("seed_demo", "--partners", "8")
    program = Program.objects.get(slug="partner-network")
    assert list(program.tiers.order_by("rank").values_list("name", flat=True)) == [
        "Registered",
        "Silver",
        "Gold",
        "Platinum",
    ]
    assert Partner.objects.count() == 8
    assert Sale.objects.values("currency").distinct().count() >= 2
    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    manager = users.get(username="manager")
    assert manager.is_staff and not manager.is_superuser
    assert users.get(username="partner").membership.role == "admin"
    assert users.get(username="distributor").membership.distributor is not None
    for username in ("partner", "distributor", "manager", "admin"):
        assert users.get(username=username).check_password("demo")
