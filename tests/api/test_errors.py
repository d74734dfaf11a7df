"""Bad input answers a clear 4xx in the one error body, never a 500; the schema and docs are served."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


@pytest.fixture
def manager(client_for, channel_manager, world):
    return client_for(channel_manager)


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        (f"/api/v1/sales/?partner={HUGE}", 400, "partner"),
        ("/api/v1/sales/?partner=-1", 400, "partner"),
        ("/api/v1/sales/?partner=abc", 400, "partner"),
        ("/api/v1/sales/?closed_after=2024-13-45", 400, "closed_after"),
        ("/api/v1/sales/?closed_after=10000-01-01", 400, "closed_after"),
        ("/api/v1/sales/?updated_after=0001-01-01T00:00:00%2B05:00", 400, "updated_after"),
        ("/api/v1/sales/?region=mars", 400, "region"),
        ("/api/v1/sales/?source=a%00b", 400, "source"),
        ("/api/v1/sales/?cursor=not-a-cursor", 400, "cursor"),
        ("/api/v1/gate-statuses/?status=maybe", 400, "status"),
        ("/api/v1/partners/?joined_after=yesterday", 400, "joined_after"),
    ],
)
def test_bad_filters_answer_400_naming_the_parameter(manager, url, status, field):
    response = manager.get(url)

    assert response.status_code == status
    body = response.json()
    assert body["code"] == "invalid" and body["status"] == 400
    assert field in body["errors"]


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/partners/{HUGE}/",
        "/api/v1/partners/abc/",
        "/api/v1/partners/0/",
        f"/api/v1/sales/{HUGE}/",
        f"/api/v1/gates/{HUGE}/",
        "/api/v1/partners/?page=999",
        "/api/v1/unknown-things/",
    ],
)
def test_missing_objects_and_pages_answer_a_json_404(manager, url):
    response = manager.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page_size=100000", "Give a whole number from 1 to 1000."),
        ("page_size=0", "Give a whole number from 1 to 1000."),
        ("page_size=ten", "Give a whole number from 1 to 1000."),
        ("page_size=5&page_size=6", "Give one page size."),
    ],
)
def test_page_sizes_outside_the_documented_range_are_refused(manager, query, message):
    response = manager.get(f"/api/v1/sales/?{query}")

    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": [message]}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("region=", "region", "Give a value, or leave the parameter out."),
        ("distributor=1&distributor=2", "distributor", "Give this filter once."),
        ("is_active=yes", "is_active", "Give true or false."),
        ("updated_after=2026-01-01", "updated_after", None),
    ],
)
def test_filters_are_strict(manager, query, field, message):
    url = "/api/v1/people/" if "is_active" in query else "/api/v1/partners/"

    response = manager.get(f"{url}?{query}")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    if message:
        assert response.json()["errors"][field] == [message]


def test_updated_after_takes_back_the_moments_the_api_writes(manager, world):
    stamp = manager.get(f"/api/v1/partners/{world.acme.pk}/").json()["updated_at"]

    response = manager.get("/api/v1/partners/", {"updated_after": stamp})

    assert [row["id"] for row in response.json()["results"]] == [world.acme.pk]


def test_cursor_pages_walk_every_fact_once(manager, world, channel_manager):
    from tests.factories import SaleFactory

    SaleFactory.create_batch(5, partner=world.acme, product_line=world.product_line)
    seen, url = [], "/api/v1/sales/?page_size=2"
    while url:
        body = manager.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == 6 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_a_method_that_does_not_exist_answers_405_in_json(manager):
    response = manager.delete("/api/v1/partners/")

    assert response.status_code == 405
    assert response.json() == {
        "status": 405,
        "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.',
    }


def test_an_unacceptable_format_answers_406(manager):
    response = manager.get("/api/v1/partners/", HTTP_ACCEPT="application/xml")

    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


@pytest.mark.parametrize(
    "body",
    [
        '{"program": 1, "name": "x", "criteria": ',
        "[1, 2",
        '{"program": 1e99999999999999999}',
        "\udcff",
    ],
)
def test_malformed_json_answers_400(manager, body):
    response = manager.post(
        "/api/v1/gates/", body.encode("utf-8", "surrogateescape"), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}


def test_wrong_types_are_named_per_field(manager, world):
    response = manager.post(
        "/api/v1/gates/",
        {"program": "main", "name": ["x"], "criteria": 5, "effective_from": "soon", "prerequisites": "1"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"program", "name", "effective_from", "prerequisites"}


def test_deeply_nested_criteria_are_refused_not_crashed(manager, world):
    tree = {"metric": "certified_people", "op": ">=", "target": 1}
    for _ in range(200):
        tree = {"not": tree}

    response = manager.post(
        "/api/v1/gates/", {"program": world.program.pk, "name": "Deep", "criteria": tree}, format="json"
    )

    assert response.status_code == 400
    assert "criteria" in response.json()["errors"]


def test_session_writes_need_the_csrf_token(channel_manager, world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(channel_manager)

    response = client.post("/api/v1/evaluations/", {"all": True}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")


def test_the_schema_and_the_docs_are_served_without_any_cdn(client):
    schema = client.get("/api/schema/?format=json")
    docs = client.get("/api/docs/").content.decode()

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/sales/bulk/" in paths and "/api/v1/gates/simulate/" in paths
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs


def test_every_operation_documents_its_errors(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    for path, operations in paths.items():
        for method, operation in operations.items():
            assert {"401", "403", "429"} <= set(operation["responses"]), f"{method} {path}"


def test_a_moment_with_an_offset_postgresql_cannot_hold_is_read_in_utc(manager):
    # Python accepts offsets up to ±23:59, PostgreSQL only to ±15:59: the filter
    # converts to UTC before the database sees it.
    response = manager.get("/api/v1/certifications/", {"updated_after": "5000-08-26T23:59:44+18:20"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_values_of_the_wrong_json_type_are_refused_not_coerced(manager, world):
    """DRF would read 0 as the text "0", 12.5 as a decimal through a float and {} as an empty list."""
    response = manager.post(
        "/api/v1/gates/simulate/",
        {"gate": world.silver_gate.pk, "prerequisites": {}, "currency": "USD"},
        format="json",
    )
    deal = manager.post(
        "/api/v1/deals/",
        {"customer_name": 0, "expected_value": 12.5, "partner": str(world.acme.pk)},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"]["prerequisites"] == ["Send a list (a JSON array)."]
    assert deal.status_code == 400
    errors = deal.json()["errors"]
    assert errors["customer_name"] == ["Send text (a JSON string)."]
    assert errors["expected_value"] == ['Send the amount as a string, e.g. "1234.50".']
    assert errors["partner"] == ["Send a whole number (a JSON number)."]


def test_an_empty_amount_is_refused_not_read_as_null(manager, world):
    """DRF reads "" as null where a decimal may be null; the schema's pattern admits no empty amount."""
    response = manager.post(
        "/api/v1/incentive-rules/",
        {
            "name": "Summer SPIF",
            "kind": "spif",
            "program": world.program.pk,
            "currency": "USD",
            "effective_from": "2026-12-02",
            "effective_to": "2027-01-31",
            "spif_trigger": "deal",
            "spif_amount": "100",
            "budget": "",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "budget": ['An amount cannot be empty: send digits, e.g. "1234.50".']
    }


def test_a_request_that_conflicts_with_the_present_state_answers_409(manager, world):
    body = {"program": world.program.pk, "name": "Silver gate", "criteria": world.silver_gate.criteria}

    response = manager.post("/api/v1/gates/", body, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "conflict",
        "detail": "This program already has a gate with this name.",
        "errors": {"non_field_errors": ["This program already has a gate with this name."]},
    }


def test_a_parameter_no_view_reads_is_refused(manager, world):
    """A misspelt filter would otherwise answer the whole list, taken for a filtered one."""
    response = manager.get("/api/v1/sales/", {"parnter": world.acme.pk})
    statement = manager.get(f"/api/v1/incentive-statements/{world.acme.pk}/", {"period": ""})
    listed = manager.get("/api/v1/deals/", {"partner": world.acme.pk, "ordering": "-id", "page": 1})

    assert response.status_code == 400
    assert response.json()["errors"] == {"parnter": ["Unknown parameter."]}
    assert statement.status_code == 400
    assert statement.json()["errors"] == {"period": ["Give a value, or leave the parameter out."]}
    assert listed.status_code == 200
