"""The admin as channel managers use it: every changelist loads with a bounded number of queries."""

import datetime
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from demo.seed import seed_demo
from programs.models import Tier
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _changelist_queries(client, model, refused: bool = False) -> int | None:
    """Queries of the model's changelist; None where ``refused`` allows a 403 and it is one."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if refused and response.status_code == 403:
        return None
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def test_every_changelist_stays_flat_as_partners_grow(client, superuser):
    client.force_login(superuser)
    seed_demo(partners=3)
    small = {model: _changelist_queries(client, model) for model in REGISTERED}
    seed_demo(partners=12)
    large = {model: _changelist_queries(client, model) for model in REGISTERED}
    grown = {
        model._meta.label: (small[model], large[model]) for model in REGISTERED if large[model] > small[model]
    }
    assert not grown, f"changelists whose queries grow with the data: {grown}"
    # Session, user, count, page, filters' choices: a handful, never one per row.
    too_many = {model._meta.label: count for model, count in large.items() if count > 15}
    assert not too_many, too_many


def test_every_changelist_stays_flat_for_a_covering_manager(client):
    """Coverage narrows each changelist inside its own queries (subqueries), never with one per row."""
    from django.contrib.auth import get_user_model

    seed_demo(partners=3)
    client.force_login(get_user_model().objects.get(username="manager"))
    small = {model: _changelist_queries(client, model, refused=True) for model in REGISTERED}
    seed_demo(partners=12)
    large = {model: _changelist_queries(client, model, refused=True) for model in REGISTERED}
    # No right to groups or to the sign-in records.
    assert {model for model, count in large.items() if count is None} == {
        Group,
        AccessAttempt,
        AccessFailureLog,
        AccessLog,
    }
    grown = {
        model._meta.label: (small[model], large[model])
        for model in REGISTERED
        if large[model] is not None and large[model] > small[model]
    }
    assert not grown, f"changelists whose queries grow with the data: {grown}"
    # Session, user, his permissions (his own and his groups'), his regions, count, page,
    # filters' choices: a handful, never one per row.
    too_many = {model._meta.label: count for model, count in large.items() if count and count > 18}
    assert not too_many, too_many


def test_channel_manager_sees_the_demo_program_in_the_admin(client):
    seed_demo(partners=3)
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.get(username="manager")
    client.force_login(manager)
    response = client.get(reverse("admin:programs_program_changelist"))
    assert response.status_code == 200
    assert "Partner Network" in response.content.decode()
    response = client.get(reverse("admin:gates_gate_changelist"))
    assert "Gold: five certified sales engineers" in response.content.decode()
    # Managers may not edit logins (that could grant superuser status).
    assert client.get(reverse("admin:auth_user_add")).status_code == 403


def test_a_tier_rank_clash_is_a_form_error_and_nothing_is_saved(client, superuser):
    client.force_login(superuser)
    program = ProgramFactory()
    Tier.objects.create(program=program, name="Silver", rank=2)
    response = client.post(
        reverse("admin:programs_tier_add"),
        {"program": program.pk, "name": "Gold", "rank": 2, "grace_days": 90, "description": ""},
    )
    assert response.status_code == 200
    assert "Another tier of this program already has this rank." in response.content.decode()
    assert Tier.objects.filter(program=program).count() == 1


def test_a_negative_sale_is_a_form_error(client, superuser):
    from tests.factories import PartnerFactory, ProductLineFactory

    client.force_login(superuser)
    partner, line = PartnerFactory(), ProductLineFactory()
    response = client.post(
        reverse("admin:partners_sale_add"),
        {
            "partner": partner.pk,
            "amount": "-10",
            "currency": "USD",
            "product_line": line.pk,
            "region": "emea",
            "closed_on": datetime.date.today().isoformat(),
            "source": "manual",
        },
    )
    assert response.status_code == 200
    assert "The amount must be greater than zero." in response.content.decode()
    assert not partner.sales.exists()


def test_an_expiry_before_issue_is_a_form_error(client, superuser):
    from tests.factories import CertificationTypeFactory, PersonFactory

    client.force_login(superuser)
    person, kind = PersonFactory(), CertificationTypeFactory()
    response = client.post(
        reverse("admin:partners_certification_add"),
        {
            "person": person.pk,
            "certification_type": kind.pk,
            "issued_on": "2025-05-01",
            "expires_on": "2025-04-01",
            "source": "manual",
            "external_id": "",
        },
    )
    assert response.status_code == 200
    assert "The expiry date is before the issue date." in response.content.decode()
    assert not person.certifications.exists()


def test_an_unknown_currency_is_a_form_error(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:core_exchangerate_add"),
        {"currency": "ZZZ", "valid_from": "2025-01-01", "rate": "1.2"},
    )
    assert response.status_code == 200
    assert "ZZZ" in response.content.decode()
    from core.models import ExchangeRate

    assert not ExchangeRate.objects.exists()


def test_saving_a_rate_in_the_admin_rebuilds_the_daily_table(client, superuser):
    from core.models import DailyRate

    client.force_login(superuser)
    response = client.post(
        reverse("admin:core_exchangerate_add"),
        {
            "currency": "EUR",
            "valid_from": (datetime.date.today() - datetime.timedelta(days=3)).isoformat(),
            "rate": "1.2",
        },
    )
    assert response.status_code == 302
    assert DailyRate.objects.filter(currency="EUR", day=datetime.date.today()).get().rate == Decimal("1.2")
