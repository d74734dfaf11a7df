import datetime
import signal
import time

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.validators import validate_email

from core.models import AuditEntry
from demo import partners as demo
from demo.partners import FIRST_NAMES, LAST_NAMES, NAME_PARTS, email_local_part, partner_name
from partners.models import Certification, EngagementActivity, Membership, Partner, Person, Sale
from programs.models import Program, ProgramUserObjectPermission, Tier, programs_managed_by

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Partner,
            Person,
            Certification,
            Sale,
            EngagementActivity,
            Program,
            Tier,
            Membership,
            ProgramUserObjectPermission,
        )
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


def test_the_demo_manager_owns_every_demo_program():
    call_command("seed_demo", "--partners", "3")
    manager = get_user_model().objects.get(username="manager")

    assert set(programs_managed_by(manager)) == set(Program.objects.all())
    assert AuditEntry.objects.filter(action="program.manager_granted").count() == Program.objects.count()


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


def test_partner_names_scale_past_the_combinations_of_their_parts():
    combinations = len(NAME_PARTS[0]) * len(NAME_PARTS[1]) * len(NAME_PARTS[2])
    count = 3 * combinations + 7
    started = time.perf_counter()

    names = [partner_name(index) for index in range(count)]

    assert time.perf_counter() - started < 1
    assert len(set(names)) == count
    assert names[0] == "Acme Cloud Solutions"
    assert names.count("Acme Cloud Solutions") == 1
    assert names == [partner_name(index) for index in range(count)]  # the same on every run


def test_seeding_more_partners_than_names_finishes(monkeypatch):
    """With two names to a part (eight in all), twenty partners once meant searching forever."""
    monkeypatch.setattr(demo, "NAME_PARTS", (["Acme", "Blue"], ["Cloud", "Data"], ["Solutions", "Labs"]))
    monkeypatch.setattr(demo, "_facts", lambda *args, **kwargs: None)

    def give_up(signum, frame):
        raise TimeoutError("the partner names ran out")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(60)
    try:
        partners = demo._partners(20, refs={}, today=datetime.date(2025, 6, 1), manager=None)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    assert len({partner.name for partner in partners}) == 20 == Partner.objects.count()


@pytest.mark.parametrize(
    ("first", "last", "local"), [("Chloé", "García", "chloe.garcia"), ("Ana", "Ito", "ana.ito")]
)
def test_names_become_ascii_addresses(first, last, local):
    assert email_local_part(first, last) == local


def test_every_demo_address_passes_the_validator_forms_use():
    for first in FIRST_NAMES:
        for last in LAST_NAMES:
            validate_email(f"{email_local_part(first, last)}.1@partner1.example.com")
    call_command("seed_demo", "--partners", "6")
    emails = list(Person.objects.values_list("email", flat=True))
    assert len(emails) > 12
    for email in emails:
        assert email.isascii(), email
        forms.EmailField().clean(email)
