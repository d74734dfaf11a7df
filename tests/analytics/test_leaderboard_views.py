"""The leaderboards page, its CSV and /api/v1/analytics/leaderboards/: the boards of
``test_leaderboards``, scoped by the door."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.analytics.test_leaderboards import PERIOD, BoardWorld
from tests.factories import MembershipFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/analytics/leaderboards/"


@pytest.fixture
def board_world(db):
    return BoardWorld()


def test_the_page_shows_the_chart_and_the_boards(client, board_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_leaderboards"), PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-chart="leaderboard-revenue"' in body and 'data-chart-table="leaderboard-revenue"' in body
    assert '<th scope="row">Alpha</th><td class="num">6000.00</td><td class="num">10000.00</td>' in body
    assert 'data-board="distributors-growth"' in body and "-22.0" in body
    assert "Foxtrot" not in body


def test_outsiders_are_refused_and_errors_named(client, board_world, channel_manager, partner_admin):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_leaderboards"), {"region": "mars"})
    assert response.status_code == 400
    assert "region: Expected one of" in response.content.decode()
    client.force_login(partner_admin)
    for name in ("analytics_leaderboards", "analytics_leaderboards_csv"):
        assert client.get(reverse(f"portal:{name}")).status_code == 404


def test_the_csv_holds_the_boards_and_defuses_formulas(client, board_world, channel_manager):
    board_world.delta.name = "=Delta"
    board_world.delta.save()
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_leaderboards_csv"), PERIOD)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    # A negative figure is a number, written as it is; text a spreadsheet would compute is quoted.
    growth = [
        (row["rank"], row["name"], row["growth %"])
        for row in rows
        if row["board"] == "growth" and row["kind"] == "partner"
    ]
    assert growth == [("1", "Bravo", "50.0"), ("2", "Alpha", "-40.0"), ("3", "'=Delta", "-50.0")]
    assert [row["name"] for row in rows if row["kind"] == "distributor" and row["board"] == "revenue"] == [
        "Westwind"
    ]


def test_the_page_costs_the_same_whatever_the_data(client, board_world, channel_manager):
    client.force_login(channel_manager)
    url = reverse("portal:analytics_leaderboards")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, PERIOD).status_code == 200
    for index in range(15):
        board_world.sale(board_world.bravo, "10", "GBP", datetime.date(2025, 3, 1 + index))
        PersonFactory(partner=board_world.delta)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, PERIOD).status_code == 200
    # session, user, membership; the door (permissions twice, regions); the boards; the programs
    # of the filters; the header's unread count
    assert len(few) == len(many) == 9, "\n".join(query["sql"][:150] for query in many.captured_queries)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_the_endpoint_gives_the_boards(board_world, channel_manager):
    response = _api(channel_manager).get(API, PERIOD)
    assert response.status_code == 200
    body = response.json()
    assert (body["currency"], body["previous_start"], body["previous_end"]) == (
        "USD",
        "2024-12-30",
        "2025-02-28",
    )
    assert [(row["name"], row["growth_percent"]) for row in body["partners"]["growth"]] == [
        ("Bravo", "50.0"),
        ("Alpha", "-40.0"),
        ("Delta", "-50.0"),
    ]
    (northwind,) = body["distributors"]["certifications"]
    assert (northwind["name"], northwind["certifications"]) == ("Westwind", 3)


def test_a_partner_user_sees_only_itself(board_world):
    user = UserFactory(username="bravo-admin")
    MembershipFactory(user=user, partner=board_world.bravo)
    body = _api(user).get(API, PERIOD).json()
    assert [row["name"] for row in body["partners"]["revenue"]] == ["Bravo"]
    assert body["distributors"]["revenue"][0]["revenue"] == "3750.00"


def test_the_endpoint_refuses_bad_filters(board_world, channel_manager):
    response = _api(channel_manager).get(API, {"start": "2025-05-01", "end": "2025-04-01"})
    assert response.status_code == 400
    assert "end" in response.json() or "end" in str(response.json())


def test_a_period_reaching_back_past_year_one_has_its_previous_period_cut_at_the_first_day(
    board_world, channel_manager
):
    """A start so early that the period of the same length before it would fall before year 1."""
    response = _api(channel_manager).get(API, {"start": "0393-10-09", "end": "2017-09-30"})
    assert response.status_code == 200
    body = response.json()
    assert (body["previous_start"], body["previous_end"]) == ("0001-01-01", "0393-10-08")
    response = _api(channel_manager).get(API, {"start": "0001-01-01", "end": "0001-01-31"})
    assert response.status_code == 200
    assert response.json()["previous_start"] == "0001-01-01"
    # With no start, three months back from an end in year 1 stop at its first day.
    response = _api(channel_manager).get(API, {"end": "0001-02-15"})
    assert response.status_code == 200
    assert response.json()["start"] == "0001-01-01"
