"""The criteria builder in the gate admin: the plain-language rule, its problems by place, who may ask."""

import dataclasses
import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gates.describe import describe_criteria
from gates.metrics import load_references
from gates.selectors import partner_gate_progress
from gates.validation import parse_criteria
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "admin:gates_gate_describe"
TWO_CONDITIONS = {
    "all": [
        {"metric": "certified_people", "certification_types": ["sales-engineer"], "op": ">=", "target": 5},
        {
            "metric": "sales_amount",
            "window": {"kind": "quarter_to_date"},
            "op": ">=",
            "target": "500000",
            "currency": "USD",
        },
    ]
}


def _describe(client, criteria, **extra):
    text = criteria if isinstance(criteria, str) else json.dumps(criteria)
    return client.post(reverse(URL), {"criteria": text, **extra})


def test_the_rule_reads_in_plain_language(client, superuser, ladder):
    client.force_login(superuser)
    response = _describe(client, TWO_CONDITIONS)
    assert response.status_code == 200
    page = response.content.decode()
    sentence = describe_criteria(parse_criteria(TWO_CONDITIONS, default_currency="USD"), load_references())
    assert sentence.startswith(
        "At least 5 people holding a valid sales-engineer certification and at least 500,000.00 USD won sales"
    )
    assert "this quarter" in sentence
    assert f'<p class="criteria-sentence">{sentence}</p>' in page


def test_money_without_a_currency_reads_in_the_programs(client, superuser, ladder):
    client.force_login(superuser)
    program = ladder.gold_gate.program
    program.base_currency = "EUR"
    program.save(update_fields=["base_currency"])
    tree = {"metric": "sales_amount", "op": ">=", "target": "1000"}
    page = _describe(client, tree, currency="", program=str(program.pk)).content.decode()
    assert "At least 1,000.00 EUR won sales" in page
    assert (
        "At least 1,000.00 GBP"
        in _describe(client, tree, currency="GBP", program=str(program.pk)).content.decode()
    )
    # A program that is not there, or not a number, leaves the rule asking for a currency as before.
    for missing in ("999999", "x"):
        assert _describe(client, tree, program=missing).status_code == 200


def test_the_sentence_uses_the_words_of_the_portal(ladder):
    """Each condition is described by the same function as the partner's progress."""
    partner = PartnerFactory()
    [progress] = list(partner_gate_progress(partner, gates=[ladder.gold_gate]))
    sentence = describe_criteria(parse_criteria(ladder.gold_gate.criteria, default_currency="USD"))
    assert progress.leaves[0].description in sentence


def test_branches_read_as_and_or_not(client, superuser, ladder):
    client.force_login(superuser)
    tree = {
        "any": [
            {"metric": "certified_people", "op": ">=", "target": 1},
            {
                "not": {
                    "metric": "partner_attribute",
                    "attribute": "status",
                    "op": "in",
                    "target": ["suspended"],
                }
            },
        ]
    }
    page = _describe(client, tree).content.decode()
    assert "Either at least 1 " in page
    assert " or not (" in page


def test_problems_name_their_place_in_the_tree(client, superuser, ladder):
    client.force_login(superuser)
    tree = {
        "all": [
            {"metric": "certified_people", "op": ">=", "target": 5},
            {"metric": "sales_amount", "op": ">=", "target": "x"},
        ]
    }
    page = _describe(client, tree).content.decode()
    assert '<li data-path="criteria.all[1].target">criteria.all[1].target: ' in page
    assert "criteria-sentence" not in page
    assert 'data-path="criteria"' in _describe(client, "{not json").content.decode()
    assert "data-path=" in _describe(client, {"all": []}).content.decode()


def test_only_staff_with_gate_change_rights_may_ask(client, ladder):
    assert _describe(client, TWO_CONDITIONS).status_code == 302  # to the login
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert _describe(client, TWO_CONDITIONS).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_gate"))
    assert _describe(client, TWO_CONDITIONS).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="change_gate"))
    client.force_login(staff)
    assert _describe(client, TWO_CONDITIONS).status_code == 200
    assert client.get(reverse(URL)).status_code == 405


def test_the_description_costs_the_same_queries_however_large_the_tree(
    client, superuser, ladder, django_assert_num_queries
):
    client.force_login(superuser)
    _describe(client, TWO_CONDITIONS)
    with CaptureQueriesContext(connection) as small:
        _describe(client, TWO_CONDITIONS)
    assert len(small.captured_queries) <= 12
    large = {"all": [TWO_CONDITIONS] * 20}
    with django_assert_num_queries(len(small.captured_queries)):
        assert "criteria-sentence" in _describe(client, large).content.decode()


def test_a_new_gate_starts_as_an_empty_all_branch_in_the_builder(client, superuser, ladder):
    client.force_login(superuser)
    page = client.get(reverse("admin:gates_gate_add")).content.decode()
    assert 'class="criteria-builder"' in page
    assert "js/criteria-builder.js" in page
    assert 'id="id_criteria-builder-config"' in page
    assert "&quot;all&quot;: []" in page
    assert "see the README" not in page
    page = client.get(reverse("admin:gates_gate_change", args=[ladder.gold_gate.pk])).content.decode()
    assert "certified_people" in page


@pytest.mark.parametrize(
    ("tree", "reads"),
    [
        (
            {"metric": "certified_people", "op": ">=", "target": 1},
            "At least 1 person holding a valid certification.",
        ),
        (
            {"metric": "certified_people", "op": ">=", "target": 2},
            "At least 2 people holding a valid certification.",
        ),
        (
            {"metric": "course_completions", "op": ">=", "target": 1},
            "At least 1 course completed by the partner's people.",
        ),
    ],
)
def test_one_of_a_count_reads_in_the_singular(ladder, tree, reads):
    """ "At least 1 people" is not English: the counted noun follows the number, and only the noun
    the number counts ("course completed by the partner's people")."""
    assert describe_criteria(parse_criteria(tree, default_currency="USD"), load_references()) == reads


def test_what_is_still_needed_counts_in_the_singular(ladder):
    partner = PartnerFactory()
    [progress] = list(partner_gate_progress(partner, gates=[ladder.gold_gate]))
    leaf = progress.leaves[0]
    assert leaf.metric == "certified_people"
    assert not leaf.passed
    one_short = dataclasses.replace(leaf, gap_display="1")
    assert one_short.still_needed == "1 more person holding a valid sales-engineer certification"
    two_short = dataclasses.replace(leaf, gap_display="2")
    assert two_short.still_needed == "2 more people holding a valid sales-engineer certification"
