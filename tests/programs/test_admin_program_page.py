"""The program's admin page: its queries stay the same however many tiers, benefits and managers it
holds, and its currency lists (one per benefit row) render as the standard select would."""

import re
from decimal import Decimal

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.money import CURRENCY_CHOICES, CurrencySelect
from programs.models import BenefitKind
from tests.factories import BenefitFactory, ProductLineFactory, TierFactory, grant_program_manager
from tests.programs.helpers import program_manager

pytestmark = pytest.mark.django_db


def _grow(program, size: int) -> None:
    """``size`` more tiers, money benefits (each with a product line) and program managers."""
    for number in range(size):
        TierFactory(program=program)
        BenefitFactory(
            program=program,
            kind=BenefitKind.MDF_ALLOWANCE,
            amount=Decimal("1000.00"),
            currency="EUR",
            period="quarter",
            product_line=ProductLineFactory(),
        )
        grant_program_manager(program_manager(f"grown-{size}-{number}"), program)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("persona", ["superuser", "program_owner"])
def test_the_program_change_page_makes_the_same_queries_however_big_the_program(
    client, request, program_definitions, persona
):
    program = program_definitions.program
    client.force_login(request.getfixturevalue(persona))
    url = reverse("admin:programs_program_change", args=[program.pk])
    _grow(program, 1)
    client.get(url)  # the first page of a login fills the content types' and permissions' caches
    small = _queries(client, url)
    _grow(program, 15)
    # session, user, program, its parent and segment (autocompletes), tiers, benefits, their product
    # lines and customer segments, managers, the staff who could be added, rights and permissions
    assert _queries(client, url) == small <= 16
    html = client.get(url).content.decode()
    assert html.count('<option value="EUR" selected>EUR – Euro</option>') == 16


def test_the_currency_select_renders_as_the_standard_select():
    choices = [("", "---------"), *CURRENCY_CHOICES]
    attrs = {"id": "id_currency", "required": True, "aria-describedby": "id_currency_helptext"}
    for value in ("", None, "EUR", "JPY"):
        fast = CurrencySelect(choices=choices).render("currency", value, attrs=attrs)
        standard = forms.Select(choices=choices).render("currency", value, attrs=attrs)
        assert fast == re.sub(r">\s+<", "><", standard), value
