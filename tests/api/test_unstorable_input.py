"""Text the database cannot store (NUL, a lone surrogate) never reaches it through the API.

Every input is walked, not a sample: the query parameters of every list, every
field of every request body the OpenAPI schema describes (nested rows and JSON
documents included), and every field of the bulk records. Bodies answer 400
naming the place; a bulk record is rejected alone, with its reason, and the
rest of its batch is stored.
"""

import datetime
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from api.urls import router
from deals import mdf as mdf_services
from incentives.models import RuleKind
from partners.models import Sale
from tests.deals.helpers import grant_mdf
from tests.factories import DealFactory, ExchangeRateFactory, ServiceOfferingFactory
from tests.incentives.helpers import rule
from webhooks.models import WebhookSubscription

pytestmark = pytest.mark.django_db

NUL, SURROGATE = "\x00", "\ud800"
PROBLEMS = {
    NUL: "Null characters are not allowed.",
    SURROGATE: "Surrogate characters are not allowed: U+D800.",
}


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "user": "100000/min", "anon": "100000/min"},
    }


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(node: dict, schema: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _placements(node: dict, schema: dict, bad: str, place: str = "", depth: int = 0):
    """(place, value) for every leaf of a request schema, the leaf replaced by ``bad``."""
    node = _resolve(node, schema)
    if depth > 6:
        return
    for alternative in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
        if set(alternative) <= {"required", "not"}:
            continue  # a rule across the fields (send this one or that one), not a shape
        yield from _placements(alternative, schema, bad, place, depth + 1)
    properties = node.get("properties")
    if properties:
        for name, child in properties.items():
            inner = f"{place}.{name}" if place else name
            for found, value in _placements(child, schema, bad, inner, depth + 1):
                yield found, {name: value}
    elif node.get("type") == "array" and "items" in node:
        for found, value in _placements(node["items"], schema, bad, f"{place}[0]", depth + 1):
            yield found, [value]
    elif not any(key in node for key in ("allOf", "oneOf", "anyOf")):
        yield place, bad
        if node.get("type") in (None, "object"):
            # A free JSON document (criteria): the text may sit anywhere inside it.
            yield f"{place}.metric", {"metric": bad}
            yield f"{place}[0]", [bad]


@pytest.fixture
def objects(world, partner_admin, superuser):
    """One object behind each ``{id}`` of the request bodies' paths."""
    deal = DealFactory(partner=world.acme)
    deal.products.set([world.product_line])
    grant_mdf(world.acme, amount="50000.00")
    soon = timezone.localdate() + datetime.timedelta(days=40)
    mdf = mdf_services.mdf_request_create(
        actor=partner_admin,
        partner=world.acme,
        title="Summit",
        activity_kind="event",
        starts_on=soon,
        ends_on=soon,
        amount=Decimal("1000.00"),
    )
    return {
        "deals": deal.pk,
        "mdf-requests": mdf.pk,
        "gates": world.silver_gate.pk,
        "partners": world.acme.pk,
        "incentive-rules": rule(RuleKind.MARGIN, world.program).pk,
        "webhook-subscriptions": WebhookSubscription.objects.create(
            owner=superuser, url="https://hooks.example.com/prm", event_types=["deal.won"]
        ).pk,
        "programs": world.program.pk,
        "tiers": world.silver.pk,
        "benefits": world.discount.pk,
        "segments": world.segment.pk,
        "exchange-rates": ExchangeRateFactory().pk,
        "product-lines": world.product_line.pk,
        "certification-types": world.cert_type.pk,
        "activity-types": world.activity_type.pk,
        "service-offerings": world.offering.pk,
        "memberships": partner_admin.membership.pk,
        "partner-tiers": world.of("acme", "partner_tier").pk,
        "users": partner_admin.pk,
    }


def _send_json(client, method: str, url: str, body):
    # JSON escapes (ensure_ascii): a lone surrogate cannot be encoded as UTF-8, but "\ud800" can be sent.
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _post_json(client, url: str, body):
    return _send_json(client, "post", url, body)


# Answers each statement in a per-statement report, like bulk ingestion its rows; its own
# test (tests/api/test_xapi.py) sends unstorable text in each field of a statement.
PER_STATEMENT = ("/api/v1/xapi/statements/",)


def _operations(schema, content_type: str, *, bulk: bool):
    for path, operations in schema["paths"].items():
        if path in PER_STATEMENT:
            continue
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if content_type in content and path.endswith("/bulk/") == bulk:
                yield path, method, content[content_type]["schema"]


def test_the_walk_finds_the_bodies(schema):
    json_bodies = list(_operations(schema, "application/json", bulk=False))
    assert len(json_bodies) >= 15
    assert len(list(_operations(schema, "application/json", bulk=True))) == 5
    assert len(list(_operations(schema, "multipart/form-data", bulk=False))) >= 1


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_every_field_of_every_request_body_refuses_unstorable_text(
    client_for, superuser, objects, schema, bad
):
    client = client_for(superuser)
    wrong, sent = {}, 0
    for path, method, body_schema in _operations(schema, "application/json", bulk=False):
        prefix = path.removeprefix("/api/v1/").split("/", 1)[0]
        url = path.replace("{id}", str(objects.get(prefix, 0)))
        for place, body in _placements(body_schema, schema, bad):
            sent += 1
            label = f"{method.upper()} {url} {place}"
            try:
                response = _send_json(client, method, url, body)
            except Exception as exc:
                wrong[label] = repr(exc)
                continue
            errors = response.json().get("errors", {}) if response.status_code == 400 else {}
            if response.status_code != 400 or PROBLEMS[bad] not in str(
                errors.get(place or "non_field_errors")
            ):
                wrong[label] = (response.status_code, response.content[:300])
    assert sent > 100
    assert wrong == {}


def test_a_form_field_of_a_multipart_body_refuses_nul(client_for, superuser, objects, schema):
    client = client_for(superuser)
    for path, _, body_schema in _operations(schema, "multipart/form-data", bulk=False):
        prefix = path.removeprefix("/api/v1/").split("/", 1)[0]
        url = path.replace("{id}", str(objects[prefix]))
        for name in _resolve(body_schema, schema)["properties"]:
            response = client.post(url, {name: f"a{NUL}b"}, format="multipart")

            assert response.status_code == 400, (url, name)
            assert response.json()["errors"] == {name: [PROBLEMS[NUL]]}


def test_every_query_parameter_of_every_list_refuses_nul(client_for, channel_manager, world):
    client = client_for(channel_manager)
    wrong, sent = {}, 0
    for pattern in router.urls:
        actions = getattr(pattern.callback, "actions", None) or {}
        if actions.get("get") != "list":
            continue
        view = pattern.callback.cls()
        view.action = "list"
        filterset = getattr(view, "filterset_class", None)
        names = [*(filterset.base_filters if filterset else []), "page", "page_size", "cursor", "ordering"]
        url = "/api/v1/" + str(pattern.pattern).removeprefix("^").removesuffix("$")
        for name in names:
            sent += 1
            response = client.get(url, {name: f"x{NUL}"})
            if response.status_code != 400 or response.json()["errors"] != {name: [PROBLEMS[NUL]]}:
                wrong[f"{url}?{name}"] = (response.status_code, response.content[:300])
    assert sent > 100
    assert wrong == {}


# --- bulk ingestion: the record is rejected, the batch stored ----------------------------------


def _good_records(world) -> dict[str, dict]:
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    partner = world.acme.pk
    return {
        "sales": {
            "partner": partner,
            "amount": "10.00",
            "currency": "USD",
            "product_line": "cloud",
            "region": "emea",
            "closed_on": yesterday,
            "customer_name": "Woodgrove",
            "country": "GB",
            "customer_segment": "enterprise",
        },
        "certifications": {
            "partner": partner,
            "person_email": "new.holder@acme.example.com",
            "person_first_name": "New",
            "person_last_name": "Holder",
            "certification_type": "sales-engineer",
            "issued_on": yesterday,
            "expires_on": None,
        },
        "activities": {
            "partner": partner,
            "activity_type": "training",
            "points": 5,
            "occurred_on": yesterday,
            "description": "Workshop",
        },
        "proficiencies": {"partner": partner, "offering": "migration", "level": 2, "since": yesterday},
        "people": {
            "partner": partner,
            "email": "new.person@acme.example.com",
            "first_name": "New",
            "last_name": "Person",
            "job_title": "Engineer",
            "is_active": True,
        },
    }


def _good_record(good: dict[str, dict], kind: str, number: str) -> dict:
    """A record storable as new: a person has an e-mail of their own, a proficiency an offering
    the partner does not hold yet."""
    record = {**good[kind], "external_id": f"{number}-good"}
    if kind == "people":
        record["email"] = f"{number.replace('_', '-')}@acme.example.com"
    elif kind == "proficiencies":
        record["offering"] = ServiceOfferingFactory(code=f"offering-{number.replace('_', '-')}").code
    return record


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_unstorable_text_in_a_bulk_record_rejects_that_record_alone(
    client_for, channel_manager, world, schema, bad
):
    client = client_for(channel_manager)
    good = _good_records(world)
    wrong, tried = {}, 0
    for path, _, body_schema in _operations(schema, "application/json", bulk=True):
        kind = path.removeprefix("/api/v1/").split("/", 1)[0]
        record_schema = _resolve(_resolve(body_schema, schema)["properties"]["records"]["items"], schema)
        for field_name, field_schema in record_schema["properties"].items():
            field_schema = _resolve(field_schema, schema)
            is_text = field_schema.get("type") == "string" and field_schema.get("format") not in ("date",)
            tried += 1
            number = f"{kind}-{field_name}-{tried}"
            good_record = _good_record(good, kind, number)
            records = [
                good_record,
                {**good_record, "external_id": f"{number}-bad", field_name: f"a{bad}b"},
            ]
            label = f"{path} {field_name}"
            try:
                response = _post_json(client, path, {"source": "odd", "records": records})
            except Exception as exc:
                wrong[label] = repr(exc)
                continue
            if response.status_code != 200:
                wrong[label] = (response.status_code, response.content[:300])
                continue
            first, second = response.json()["results"]
            problem = second.get("errors", {}).get(field_name, [])
            if first["result"] != "created" or second["result"] != "rejected" or not problem:
                wrong[label] = (first, second)
            elif is_text and problem != [PROBLEMS[bad]]:
                wrong[label] = second
    assert tried >= 20
    assert wrong == {}
    assert Sale.objects.filter(source="odd", external_id__endswith="-good").count() == len(good["sales"]) + 1


def test_an_unstorable_external_id_is_not_echoed(client_for, channel_manager, world):
    record = {**_good_records(world)["sales"], "external_id": f"x{SURROGATE}"}

    response = _post_json(
        client_for(channel_manager), "/api/v1/sales/bulk/", {"source": "odd", "records": [record]}
    )

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row == {
        "index": 0,
        "external_id": None,
        "result": "rejected",
        "errors": {"external_id": [PROBLEMS[SURROGATE]]},
    }


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_unstorable_names_in_a_batch_are_answered_not_echoed(client_for, channel_manager, world, bad):
    client = client_for(channel_manager)
    record = {**_good_records(world)["sales"], "external_id": "named", f"k{bad}": 1}

    refused = _post_json(client, "/api/v1/sales/bulk/", {"source": f"s{bad}", "records": [record]})
    unknown = _post_json(client, "/api/v1/sales/bulk/", {"source": "odd", f"k{bad}": 1, "records": []})
    rejected = _post_json(client, "/api/v1/sales/bulk/", {"source": "odd", "records": [record]})

    assert refused.status_code == 400 and "source" in refused.json()["errors"]
    assert unknown.status_code == 400 and unknown.json()["errors"] == {"k\ufffd": ["Unknown field."]}
    assert rejected.status_code == 200
    assert rejected.json()["results"][0]["errors"] == {"non_field_errors": ["Unknown field(s): k\ufffd."]}
