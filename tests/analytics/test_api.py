"""The same figures under /api/v1/analytics/, scoped by the door."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.analytics.conftest import tier_history
from tests.analytics.test_pages import _more_partners
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

FUNNEL = "/api/v1/analytics/funnel/"
TIERS = "/api/v1/analytics/tiers/"


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def test_the_funnel_counts_the_managers_coverage(funnel_world, channel_manager):
    response = _client(channel_manager).get(FUNNEL)
    assert response.status_code == 200
    (gate,) = response.json()["gates"]
    assert gate["partners_by_criteria_met"] == [0, 2, 1, 1]
    assert [criterion["partners_meeting"] for criterion in gate["criteria"]] == [2, 1, 4]
    assert gate["stale"] == 1
    (miss,) = gate["near_misses"]
    assert miss["partner_name"] == "Charlie"
    assert miss["gaps"][0]["gap"] == "8000.0000"


def test_a_partner_user_gets_only_its_own_figures(funnel_world):
    user = UserFactory(username="alpha-admin")
    MembershipFactory(user=user, partner=funnel_world.partners["Alpha"])
    (gate,) = _client(user).get(FUNNEL).json()["gates"]
    assert gate["partners_by_criteria_met"] == [0, 0, 0, 1]
    assert gate["near_misses"] == []


def test_anonymous_calls_are_refused(funnel_world):
    assert _client().get(FUNNEL).status_code in (401, 403)
    assert _client().get(TIERS).status_code in (401, 403)


def test_a_wrong_filter_is_named(funnel_world, channel_manager):
    response = _client(channel_manager).get(FUNNEL, {"near": "x", "colour": "red"})
    assert response.status_code == 400
    assert "colour" in response.json()["errors"] or "colour" in str(response.json())
    response = _client(channel_manager).get(FUNNEL, {"near": "x"})
    assert response.status_code == 400
    assert "near" in str(response.json())


def test_a_program_out_of_sight_answers_like_none(funnel_world):
    user = UserFactory(username="alpha-admin")
    MembershipFactory(user=user, partner=funnel_world.partners["Alpha"])
    for program in ("nowhere", "main-hidden"):
        response = _client(user).get(TIERS, {"program": program})
        assert response.status_code == 200
        assert response.json()["distribution"] == []
    response = _client(user).get(FUNNEL, {"tier": "999999"})
    assert response.json()["gates"] == []


def test_a_parameter_given_empty_is_refused(funnel_world, channel_manager):
    response = _client(channel_manager).get(TIERS, {"start": ""})
    assert response.status_code == 400
    assert "start" in str(response.json())


def test_tier_movement(tier_world, channel_manager):
    response = _client(channel_manager).get(
        TIERS, {"program": "main", "start": "2025-01-01", "end": "2025-04-30"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["program"] == "main"
    assert body["distribution"] == [
        {"tier": "Silver", "partners": [2, 3, 1, 2]},
        {"tier": "Gold", "partners": [0, 0, 2, 1]},
    ]
    # Nobody held a tier on 1 January; on 30 April Alpha holds gold, Bravo and Charlie silver.
    assert {(cell["from_name"], cell["to_name"]): cell["partners"] for cell in body["migration"]} == {
        ("No tier", "Silver"): 2,
        ("No tier", "Gold"): 1,
    }
    assert body["time_to_tier"][1] == {
        "tier": "Gold",
        "partners": 2,
        "median_days": "68.5",
        "average_days": "68.5",
    }


def test_the_endpoints_cost_the_same_whatever_the_data(funnel_world, channel_manager):
    tier_history(funnel_world)
    client = _client(channel_manager)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(FUNNEL).status_code == 200
            assert client.get(TIERS).status_code == 200
        counts.append(len(queries))
        _more_partners(funnel_world, 20)
    assert counts[0] == counts[1]
