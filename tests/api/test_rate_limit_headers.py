"""RateLimit-* headers: a throttled caller learns its allowance on every response."""

import pytest

from api.ratelimit import allowance

ME = "/api/v1/me/"


@pytest.fixture
def three_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min", "user": "5/min", "anon": "2/min"},
    }


def test_a_token_sees_its_allowance_shrink_then_the_refusal(
    three_a_minute, channel_manager, issue_token, token_client
):
    _, secret = issue_token(channel_manager)
    client = token_client(secret)

    responses = [client.get(ME) for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert {r["RateLimit-Limit"] for r in responses} == {"3"}
    assert {r["RateLimit-Policy"] for r in responses} == {"3;w=60"}
    assert all(0 < int(r["RateLimit-Reset"]) <= 60 for r in responses)
    assert 0 < int(responses[-1]["Retry-After"]) <= 60


def test_each_identity_is_counted_apart(
    three_a_minute, channel_manager, client_for, issue_token, token_client
):
    _, secret = issue_token(channel_manager)
    token_client(secret).get(ME)

    by_session = client_for(channel_manager).get(ME)

    assert by_session["RateLimit-Limit"] == "5"
    assert by_session["RateLimit-Remaining"] == "4"


def test_a_refused_call_still_counts_and_says_so(three_a_minute, client_for, db):
    anonymous = client_for()

    first, second, third = (anonymous.get(ME) for _ in range(3))

    assert first.status_code in (401, 403)
    assert (first["RateLimit-Remaining"], second["RateLimit-Remaining"]) == ("1", "0")
    assert third.status_code == 429
    assert third["RateLimit-Limit"] == "2"


def test_headers_are_on_lists_and_writes_too(three_a_minute, channel_manager, client_for):
    client = client_for(channel_manager)

    listed = client.get("/api/v1/partners/")
    refused_write = client.post("/api/v1/partners/", {}, format="json")

    assert listed.status_code == 200 and listed["RateLimit-Remaining"] == "4"
    assert refused_write.status_code == 400 and refused_write["RateLimit-Remaining"] == "3"


def test_no_headers_when_no_throttle_counts_the_call(settings, channel_manager, client_for):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}

    response = client_for(channel_manager).get(ME)

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response


def test_the_window_frees_a_call_when_its_oldest_leaves():
    figures = allowance(limit=10, window=60, history=[130.0, 110.2, 100.5], now=130.0)

    assert (figures.limit, figures.remaining, figures.reset) == (10, 7, 31)
    assert allowance(limit=2, window=60, history=[], now=5.0).reset == 0
    assert allowance(limit=2, window=60, history=[5.0, 4.0, 3.0], now=5.0).remaining == 0


def test_the_schema_documents_the_headers_on_every_response(client_for, db):
    schema = client_for().get("/api/schema/?format=json").json()

    responses = schema["paths"]["/api/v1/partners/"]["get"]["responses"]
    assert set(responses["200"]["headers"]) == {
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "RateLimit-Policy",
    }
    assert "Retry-After" in responses["429"]["headers"]
    assert schema["components"]["headers"]["RateLimit-Remaining"]["schema"] == {
        "type": "integer",
        "minimum": 0,
    }
