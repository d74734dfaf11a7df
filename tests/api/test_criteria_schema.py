"""The criteria language in the OpenAPI document and at its own endpoint, from the metric registry."""

import jsonschema
import pytest

from criteria.tree import MetricSpec, Param
from gates.metrics import METRICS, SPECS, Metric
from gates.validation import parse_criteria

pytestmark = pytest.mark.django_db

ENDPOINT = "/api/v1/criteria-schema/"


def openapi(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _openapi_validator(document: dict, component: str) -> jsonschema.Draft202012Validator:
    """A validator for one component, its references resolved within the OpenAPI document."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_every_criteria_field_refers_to_the_criteria_component(client):
    schemas = openapi(client)["components"]["schemas"]
    for name in ("Gate", "GateRequest", "PatchedGateRequest", "SimulationRequestRequest"):
        assert schemas[name]["properties"]["criteria"] == {"$ref": "#/components/schemas/Criteria"}, name
    assert set(schemas["Criteria"]["oneOf"][0]) == {"$ref"}
    for name in ("CriteriaAll", "CriteriaAny", "CriteriaNot", "CriteriaLeaf", "CriteriaWindow"):
        assert name in schemas
    assert schemas["CriteriaLeaf"]["discriminator"]["mapping"]["certifications"] == (
        "#/components/schemas/CriteriaLeafCertifications"
    )


def test_the_openapi_components_accept_the_worlds_gates_and_refuse_bad_trees(client, world):
    validator = _openapi_validator(openapi(client), "Criteria")
    for gate in (world.silver_gate, world.draft_gate, world.specialist_gate):
        assert validator.is_valid(gate.criteria), gate.criteria
    assert not validator.is_valid({"metric": "certifications", "op": "in", "target": 3})
    assert not validator.is_valid({"all": [{"metric": "sales_amount", "op": ">=", "target": "x"}]})


def test_the_endpoint_serves_a_json_schema_to_any_signed_in_user(
    client_for, partner_admin, django_assert_num_queries
):
    client = client_for(partner_admin)
    # The session's user and its membership (the API door); the schema itself reads no table.
    with django_assert_num_queries(2):
        response = client.get(ENDPOINT)
    assert response.status_code == 200
    document = response.json()
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith(ENDPOINT)
    jsonschema.Draft202012Validator.check_schema(document)
    validator = jsonschema.Draft202012Validator(document)
    assert validator.is_valid({"metric": "certifications", "distinct_types": True, "op": ">=", "target": 3})
    assert not validator.is_valid({"metric": "certifications", "op": ">=", "target": "three"})


def test_the_endpoint_needs_credentials_and_is_documented(client):
    assert client.get(ENDPOINT).status_code == 401
    operation = openapi(client)["paths"][ENDPOINT]["get"]
    assert operation["summary"] == "The criteria language as a JSON Schema"
    assert {"200", "401", "403"} <= set(operation["responses"])


def test_a_token_reads_it_too(token_client, issue_token, channel_manager):
    _, secret = issue_token(channel_manager)
    assert token_client(secret).get(ENDPOINT).status_code == 200


def _partner_count_metric() -> Metric:
    return Metric(
        MetricSpec(
            "people_on_file",
            "People on file",
            "count",
            {"job_titles": Param("codes", choices=lambda: ["engineer", "seller"], help="Job titles.")},
            describe=lambda leaf: "people on file",
        ),
        source="partner",
        attribute=lambda row, leaf, refs, as_of: 0,
    )


def test_a_metric_added_to_the_registry_is_in_the_schema_the_document_and_the_validation(
    client_for, channel_manager, monkeypatch
):
    metric = _partner_count_metric()
    monkeypatch.setitem(METRICS, metric.name, metric)
    monkeypatch.setitem(SPECS, metric.name, metric.spec)
    tree = {"metric": "people_on_file", "job_titles": ["engineer"], "op": ">=", "target": 2}

    client = client_for(channel_manager)
    served = client.get(ENDPOINT).json()
    leaf = served["$defs"]["CriteriaLeafPeopleOnFile"]
    assert leaf["properties"]["job_titles"]["anyOf"][0]["items"]["enum"] == ["engineer", "seller"]
    assert jsonschema.Draft202012Validator(served).is_valid(tree)
    assert not jsonschema.Draft202012Validator(served).is_valid({**tree, "job_titles": ["chef"]})

    document = openapi(client)
    assert "CriteriaLeafPeopleOnFile" in document["components"]["schemas"]
    assert _openapi_validator(document, "Criteria").is_valid({"all": [tree]})
    assert parse_criteria(tree, default_currency="USD").leaves[0].params["job_titles"] == ("engineer",)
