"""The incentive rule's request schema and its validation agree, kind by kind.

Each body the API accepts matches exactly one variant of ``IncentiveRuleRequest``;
each body of one kind carrying another kind's fields, or a rate or an amount out of
bounds, matches none and is refused by the API with a reason. A client that builds
its bodies from the OpenAPI document alone sends what the API takes.
"""

import datetime

import jsonschema
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import ActivityTypeFactory, CertificationTypeFactory
from tests.openapi import json_schema

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
RULES = "/api/v1/incentive-rules/"


@pytest.fixture
def document(client):
    return client.get("/api/schema/?format=json").json()


@pytest.fixture
def variants_matching(document):
    components = json_schema(document["components"])
    variants = components["schemas"]["IncentiveRuleRequest"]["oneOf"]

    def matching(body: dict) -> list[str]:
        return [
            variant["title"]
            for variant in variants
            if jsonschema.Draft7Validator({**variant, "components": components}).is_valid(body)
        ]

    return matching


@pytest.fixture
def bodies(program, tiers):
    certification = CertificationTypeFactory()
    activity = ActivityTypeFactory()
    common = {"program": program.pk, "currency": "EUR", "effective_from": str(TODAY)}
    last_day = str(TODAY + datetime.timedelta(days=90))
    return {
        "margin in full": {
            **common,
            "name": "Margins",
            "kind": "margin",
            "margin_rates": [{"tier": tiers["Silver"].pk, "percent": "10"}],
        },
        "margin held": {
            **common,
            "name": "Held margins",
            "kind": "margin",
            "paid_on_signing_percent": "60",
            "activation_days": 90,
            "margin_rates": [{"tier": tiers["Gold"].pk, "percent": "15.5"}],
        },
        "commission": {
            **common,
            "name": "Self-sufficiency",
            "kind": "commission",
            "commission_rates": [{"sourced_by": "partner", "closed_by": "partner", "percent": "5"}],
        },
        "rebate": {
            **common,
            "name": "Rebate",
            "kind": "rebate",
            "rebate_period": "quarter",
            "band_method": "whole",
            "rebate_bands": [
                {"lower_bound": "0", "upper_bound": "100000", "percent": "1"},
                {"lower_bound": "100000", "percent": "2.5"},
            ],
        },
        "spif on deals": {
            **common,
            "name": "Summer SPIF",
            "kind": "spif",
            "spif_trigger": "deal",
            "spif_amount": "250.00",
            "effective_to": last_day,
            "budget": "10000",
        },
        "spif on a certification": {
            **common,
            "name": "Certify SPIF",
            "kind": "spif",
            "spif_trigger": "certification",
            "certification_type": certification.pk,
            "spif_amount": "100",
            "effective_to": last_day,
        },
        "points": {
            **common,
            "name": "Points",
            "kind": "points",
            "points_multiplier": "2",
            "activity_types": [activity.pk],
            "rewards": [{"name": "Voucher", "points_cost": 500, "amount": "50.00"}],
        },
    }


def test_every_kind_the_api_accepts_matches_exactly_one_variant(channel_manager, bodies, variants_matching):
    client = APIClient()
    client.force_login(channel_manager)
    for name, body in bodies.items():
        assert len(variants_matching(body)) == 1, (name, variants_matching(body))
        response = client.post(RULES, body, format="json")
        assert response.status_code == 201, (name, response.json())


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("margin in full", {"rebate_bands": [{"lower_bound": "0", "percent": "1"}]}, "rebate_bands"),
        ("margin in full", {"spif_amount": "100"}, "spif_amount"),
        ("margin in full", {"currency": ""}, "currency"),
        ("margin in full", {"margin_rates": []}, "margin_rates"),
        ("margin held", {"activation_days": None}, "activation_days"),
        (
            "commission",
            {"commission_rates": [{"sourced_by": "partner", "closed_by": "partner", "percent": "101"}]},
            "commission_rates",
        ),
        ("rebate", {"rebate_period": ""}, "rebate_period"),
        ("spif on deals", {"effective_to": None}, "effective_to"),
        ("spif on deals", {"paid_on_signing_percent": "50"}, "paid_on_signing_percent"),
        ("spif on a certification", {"spif_amount": "0"}, "spif_amount"),
        ("points", {"points_multiplier": None}, "points_multiplier"),
        ("points", {"rewards": [{"name": "Voucher", "points_cost": 0, "amount": "5"}]}, "rewards"),
        ("commission", {"rewards": [{"name": "Voucher", "points_cost": 10, "amount": "5"}]}, "rewards"),
    ],
)
def test_what_no_variant_admits_the_api_refuses_with_the_field(
    channel_manager, bodies, variants_matching, kind, change, field
):
    body = {**bodies[kind], **change}
    assert variants_matching(body) == []
    client = APIClient()
    client.force_login(channel_manager)
    response = client.post(RULES, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
