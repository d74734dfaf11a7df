"""OpenAPI links: each create leads to the operations on what it created."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def links(schema, path: str, status: str = "201") -> dict:
    return schema["paths"][path]["post"]["responses"][status].get("links", {})


def operation_ids(schema) -> set[str]:
    return {operation["operationId"] for item in schema["paths"].values() for operation in item.values()}


def test_a_deal_created_leads_to_its_decisions(schema):
    deal = links(schema, "/api/v1/deals/")

    assert {name: link["operationId"] for name, link in deal.items()} == {
        "Approve": "v1_deals_approve_create",
        "Lost": "v1_deals_lost_create",
        "Read": "v1_deals_retrieve",
        "Reject": "v1_deals_reject_create",
        "Won": "v1_deals_won_create",
    }
    assert {link["parameters"]["id"] for link in deal.values()} == {"$response.body#/id"}


def test_the_commands_the_issue_names_are_each_reached_from_a_create(schema):
    reached = {link["operationId"] for item in schema["paths"].values() for link in _all_links(item)}

    for command in (
        "v1_deals_approve_create",
        "v1_deals_reject_create",
        "v1_deals_won_create",
        "v1_mdf_requests_claim_create",
        "v1_mdf_requests_paid_create",
        "v1_gates_retire_create",
        "v1_incentive_rules_new_version_create",
        "v1_partners_suspend_create",
    ):
        assert command in reached


def test_an_evaluation_queued_leads_to_its_run_by_the_run_id(schema):
    (read,) = links(schema, "/api/v1/evaluations/", "202").values()

    assert read == {
        "operationId": "v1_evaluation_runs_retrieve",
        "parameters": {"id": "$response.body#/run"},
        "description": "GET /api/v1/evaluation-runs/{id}/ with the run answered.",
    }


def test_every_link_names_an_operation_that_exists(schema):
    known = operation_ids(schema)

    for item in schema["paths"].values():
        for link in _all_links(item):
            assert link["operationId"] in known


def _all_links(item: dict):
    for operation in item.values():
        for response in operation.get("responses", {}).values():
            yield from response.get("links", {}).values()


def test_a_required_text_says_it_needs_more_than_spaces(schema):
    """Texts are trimmed before they are checked, so one of spaces alone is blank and refused."""
    reason = schema["components"]["schemas"]["ReasonRequest"]["properties"]["reason"]
    assert reason["pattern"] == r"\S" and reason["minLength"] == 1
    optional = schema["components"]["schemas"]["OptionalReasonRequest"]["properties"]["reason"]
    assert "pattern" not in optional  # a blank reason is taken there
