"""A benefit's request schema and its validation agree, kind by kind.

Each body the API accepts on a create or a replace matches exactly one variant of
``BenefitRequest`` (a percentage, an MDF allowance, an access); a body of one
kind carrying another kind's figure, or missing its own, matches none and is
refused with the reason on the field. A client building bodies from the OpenAPI
document alone sends what the API takes.
"""

import jsonschema
import pytest

from programs.models import BenefitKind
from tests.openapi import json_schema

pytestmark = pytest.mark.django_db
BENEFITS = "/api/v1/benefits/"


@pytest.fixture
def manager(client_for, channel_manager, world):
    return client_for(channel_manager)


@pytest.fixture
def variants_matching(client):
    components = json_schema(client.get("/api/schema/?format=json").json()["components"])
    variants = components["schemas"]["BenefitRequest"]["oneOf"]

    def matching(body: dict) -> list[str]:
        return [
            variant["title"]
            for variant in variants
            if jsonschema.Draft7Validator({**variant, "components": components}).is_valid(body)
        ]

    return matching


@pytest.fixture
def bodies(world):
    common = {"program": world.program.pk, "tiers": [world.gold.pk]}
    return {
        "discount": {**common, "name": "Gold discount", "kind": "discount", "percent": "15"},
        "rebate": {**common, "name": "Gold rebate", "kind": "rebate", "percent": "2.5", "amount": None},
        "commission": {**common, "name": "Commission", "kind": "commission", "percent": "7", "period": ""},
        "mdf_allowance": {
            **common,
            "name": "Gold MDF",
            "kind": "mdf_allowance",
            "amount": "25000.00",
            "currency": "EUR",
            "period": "quarter",
        },
        "co_selling": {**common, "name": "Co-selling", "kind": "co_selling"},
        "deal_registration": {**common, "name": "Deal registration", "kind": "deal_registration"},
        "content": {**common, "name": "Content", "kind": "content", "percent": None, "currency": ""},
    }


def test_every_kind_has_a_body_that_matches_exactly_one_variant_and_is_taken(
    manager, bodies, variants_matching
):
    assert set(bodies) == {kind.value for kind in BenefitKind}
    for kind, body in bodies.items():
        assert len(variants_matching(body)) == 1, (kind, variants_matching(body))
        response = manager.post(BENEFITS, body, format="json")
        assert response.status_code == 201, (kind, response.json())
        assert response.json()["kind"] == kind


def test_a_replace_takes_the_body_of_another_kind(manager, bodies, variants_matching, world):
    body = {**bodies["mdf_allowance"], "name": "Gold discount"}
    assert len(variants_matching(body)) == 1
    response = manager.put(f"{BENEFITS}{world.discount.pk}/", body, format="json")
    assert response.status_code == 200, response.json()
    world.discount.refresh_from_db()
    assert (world.discount.kind, world.discount.percent, world.discount.currency) == (
        "mdf_allowance",
        None,
        "EUR",
    )


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("discount", {"percent": None}, "percent"),
        ("discount", {"amount": "100"}, "amount"),
        ("rebate", {"currency": "EUR"}, "currency"),
        ("commission", {"period": "year"}, "period"),
        ("mdf_allowance", {"percent": "5"}, "percent"),
        ("mdf_allowance", {"currency": ""}, "currency"),
        ("mdf_allowance", {"period": ""}, "period"),
        ("mdf_allowance", {"amount": None}, "amount"),
        ("co_selling", {"percent": "10"}, "percent"),
        ("deal_registration", {"amount": "10"}, "amount"),
        ("content", {"period": "quarter"}, "period"),
    ],
)
def test_what_no_variant_admits_the_api_refuses_with_the_field(
    manager, bodies, variants_matching, kind, change, field
):
    body = {**bodies[kind], **change}
    assert variants_matching(body) == []
    response = manager.post(BENEFITS, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
