"""``POST /api/v1/xapi/statements/``: completions from an LMS, reported per statement, idempotent."""

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.models import TokenScope
from enablement.models import Completion
from partners.models import Certification
from tests.enablement.helpers import Catalogue
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/xapi/statements/"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"


@pytest.fixture
def catalogue(db):
    return Catalogue()


def statement(email, activity, *, verb=COMPLETED, statement_id=None, **extra):
    return {
        "id": str(statement_id or uuid.uuid4()),
        "actor": {"mbox": f"mailto:{email}"},
        "verb": {"id": verb},
        "object": {"id": activity},
        **extra,
    }


@pytest.fixture
def lms(channel_manager, issue_token, token_client):
    _, secret = issue_token(channel_manager)
    return token_client(secret)


def test_a_batch_completes_a_path_and_sent_again_changes_nothing(catalogue, partner, lms):
    person = PersonFactory(partner=partner, email="Sam.Engineer@acme.example")
    batch = [
        statement(
            "sam.engineer@acme.example", catalogue.basics.xapi_activity_id, timestamp="2026-03-01T10:00:00Z"
        ),
        statement(
            "sam.engineer@acme.example",
            catalogue.demo.xapi_activity_id,
            verb=PASSED,
            result={"score": {"scaled": 0.92}},
            timestamp="2026-03-02T10:00:00+01:00",
        ),
    ]

    response = lms.post(URL, batch, format="json")

    assert response.status_code == 200, response.json()
    report = response.json()
    assert (report["received"], report["created"], report["rejected"]) == (2, 2, 0)
    (certification,) = Certification.objects.filter(person=person)
    assert report["results"][1]["certifications"] == [certification.pk]
    assert str(Completion.objects.get(person=person, course=catalogue.demo).score_percent) == "92.00"

    again = lms.post(URL, batch, format="json").json()
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert [row["id"] for row in again["results"]] == [row["id"] for row in report["results"]]
    assert Completion.objects.count() == 2
    assert Certification.objects.filter(person=person).count() == 1


def test_what_cannot_be_mapped_is_refused_with_a_reason(catalogue, partner, other_partner, lms, settings):
    PersonFactory(partner=partner, email="known@acme.example")
    duplicate = uuid.uuid4()
    batch = [
        statement("nobody@acme.example", catalogue.basics.xapi_activity_id),
        statement("known@acme.example", "https://lms.example.com/unknown"),
        statement(
            "known@acme.example",
            catalogue.basics.xapi_activity_id,
            verb="http://adlnet.gov/expapi/verbs/attempted",
        ),
        {"id": "not-a-uuid", "actor": {}, "verb": {}, "object": {}},
        statement("known@acme.example", catalogue.basics.xapi_activity_id, statement_id=duplicate),
        statement("known@acme.example", catalogue.demo.xapi_activity_id, statement_id=duplicate),
        statement("known@acme.example", catalogue.demo.xapi_activity_id, result={"score": {"scaled": 3}}),
        "text",
        {**statement("known@acme.example", catalogue.demo.xapi_activity_id), "verb": {"id": {}}},
    ]

    report = lms.post(URL, batch, format="json").json()

    results = report["results"]
    assert [row["result"] for row in results] == [
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert "No person with this email" in results[0]["errors"]["actor"][0]
    assert "No active course" in results[1]["errors"]["object"][0]
    assert "completed and passed" in results[2]["errors"]["verb"][0]
    assert set(results[3]["errors"]) == {"id", "actor", "verb", "object"}
    assert "already in this batch at index 4" in results[5]["errors"]["id"][0]
    assert "result" in results[6]["errors"]
    assert "completed and passed" in results[8]["errors"]["verb"][0]


def test_a_partners_token_reaches_only_its_own_people(
    catalogue, partner, other_partner, superuser, issue_token, token_client
):
    PersonFactory(partner=other_partner, email="stranger@globex.example")
    PersonFactory(partner=partner, email="own@acme.example")
    _, secret = issue_token(superuser, all_partners=False, partners=[partner])
    client = token_client(secret)

    report = client.post(
        URL,
        [
            statement("stranger@globex.example", catalogue.basics.xapi_activity_id),
            statement("own@acme.example", catalogue.basics.xapi_activity_id),
        ],
        format="json",
    ).json()

    assert [row["result"] for row in report["results"]] == ["rejected", "created"]
    assert not Completion.objects.filter(person__partner=other_partner).exists()


def test_only_read_write_integration_tokens_send_statements(
    catalogue, partner, channel_manager, partner_admin, issue_token, token_client, client_for
):
    PersonFactory(partner=partner, email="own@acme.example")
    batch = [statement("own@acme.example", catalogue.basics.xapi_activity_id)]
    _, read_only = issue_token(channel_manager, scope=TokenScope.READ)

    assert token_client(read_only).post(URL, batch, format="json").status_code == 403
    assert client_for(channel_manager).post(URL, batch, format="json").status_code == 403
    assert client_for(partner_admin).post(URL, batch, format="json").status_code == 403
    assert client_for(None).post(URL, batch, format="json").status_code in (401, 403)
    assert not Completion.objects.exists()


def test_a_batch_that_is_not_a_list_is_refused_whole(lms):
    assert lms.post(URL, {"statements": []}, format="json").status_code == 400
    assert lms.post(URL, [], format="json").status_code == 400


def test_the_batch_reads_its_references_once(catalogue, partner, lms):
    """Looked up once per batch: token, people, courses, stored statements. Each new statement then
    costs its own writes and the paths it may finish (completion, audit entry, the person's
    completed courses, the paths holding the course and their steps, the certifications held),
    a constant number whatever the batch's size."""

    def queries(size):
        people = [PersonFactory(partner=partner) for _ in range(size)]
        batch = [statement(person.email, catalogue.refresher.xapi_activity_id or "x") for person in people]
        with CaptureQueriesContext(connection) as captured:
            assert lms.post(URL, batch, format="json").status_code == 200
        return len(captured)

    catalogue.refresher.xapi_activity_id = "https://lms.example.com/courses/refresher"
    catalogue.refresher.save()
    small, large = queries(2), queries(6)
    per_statement = (large - small) / 4
    assert per_statement <= 10, (small, large)


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "surrogate"])
def test_text_no_database_stores_is_refused_per_statement(catalogue, partner, lms, bad):
    PersonFactory(partner=partner, email="known@acme.example")
    good = statement("known@acme.example", catalogue.basics.xapi_activity_id)
    broken = [
        {**statement("known@acme.example", catalogue.demo.xapi_activity_id), "verb": {"id": f"a{bad}b"}},
        statement(f"kn{bad}own@acme.example", catalogue.demo.xapi_activity_id),
        statement("known@acme.example", f"https://lms.example.com/{bad}"),
    ]
    body = json.dumps([good, *broken])  # ensure_ascii: a lone surrogate travels as "\ud800"
    response = lms.post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [row["result"] for row in results] == ["created", "rejected", "rejected", "rejected"]
    assert Completion.objects.count() == 1


def test_timestamps_and_scores_no_clock_can_read_are_refused_per_statement(catalogue, partner, lms):
    """What a fuzzer sends: times past 59 minutes, years 291 and 3237, offsets of more than a day,
    scores as odd strings, and keys and nested values of junk text the statement does not read."""
    PersonFactory(partner=partner, email="known@acme.example")
    activity = catalogue.basics.xapi_activity_id

    def sent(**extra):
        return statement("known@acme.example", activity, **extra)

    batch = [
        {
            **sent(result={"score": {"scaled": ".0"}, "\ud800\ude67": {"": None}}),
            "\u03a9\u2248\u00e7": {"\udbb1\udfda": [13749, -176893712, "\ud800"]},
            "verb": {"id": COMPLETED, "\ud9ae\udcc6N": [False, 1.9874757922182774e-139]},
        },
        sent(timestamp="2024-01-01T12:99:00Z"),
        sent(timestamp="2024-02-30T10:00:00Z"),
        sent(timestamp="2024-01-01T12:00:00+25:00"),
        sent(timestamp="3237-06-04T01:51:33-14:14"),
        sent(timestamp="9999-12-31T23:59:59-14:00"),
        sent(timestamp="0291-08-05T02:19:45+13:10"),
        sent(timestamp="0001-01-01T00:00:00+14:00"),
        sent(result={"score": {"scaled": "9.183"}}),
        sent(result={"score": {"scaled": "NaN"}}),
    ]
    # ensure_ascii: lone surrogates travel as "\ud800", as the fuzzer sent them.
    response = lms.post(URL, json.dumps(batch), content_type="application/json")

    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["received"], report["created"], report["rejected"]) == (10, 1, 9)
    results = report["results"]
    assert results[0]["result"] == "created"
    assert str(Completion.objects.get().score_percent) == "0.00"
    reasons = [row.get("errors") for row in results[1:]]
    unreadable = {"timestamp": ["Give an ISO 8601 timestamp with its time zone."]}
    future = {"timestamp": ["The timestamp is in the future."]}
    ancient = {"timestamp": ["The timestamp is before 1970: no LMS recorded it."]}
    score = {"result": ["Give the score as result.score.scaled, from 0 to 1."]}
    assert reasons == [unreadable, unreadable, unreadable, future, future, ancient, ancient, score, score]
    assert Completion.objects.count() == 1


def test_the_schema_asks_for_one_to_a_thousand_statements(lms):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    body = schema["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]

    assert (body["type"], body["minItems"], body["maxItems"]) == ("array", 1, 1000)
    refused = lms.post(URL, [], format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"non_field_errors": ["Send at least one statement."]}
