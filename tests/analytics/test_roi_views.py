"""The ROI page, its CSV and /api/v1/analytics/roi/: the figures of ``test_roi``, scoped by the door."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.analytics.roi_world import RoiWorld
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PERIOD = {"program": "main", "start": "2025-01-01", "end": "2025-04-30"}
API = "/api/v1/analytics/roi/"


@pytest.fixture
def roi_world(db):
    return RoiWorld()


def _more_facts(world: RoiWorld, n: int, *, first_year: int = 2026) -> None:
    for index in range(n):
        world.sale(world.bravo, "10", "GBP", datetime.date(2025, 2, 1 + index))
        world.mdf_paid(world.alpha, "10", "EUR", datetime.date(first_year + index, 2, 1))


def test_the_page_shows_the_chart_and_its_tables(client, roi_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_roi"), PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-chart="roi-{roi_world.main.pk}"' in body
    assert f'data-chart-table="roi-{roi_world.main.pk}"' in body
    assert "Revenue 18500.00 USD (sourced 10000.00) for a cost of 2825.00 USD" in body
    assert "<strong>6.55</strong>" in body
    assert "amounts in JPY" in body


def test_errors_are_named_and_outsiders_are_refused(client, roi_world, channel_manager, partner_admin):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_roi"), {"step": "week", "start": "soon"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "step: Expected month or quarter." in body and "start: Expected a date" in body
    client.force_login(partner_admin)
    for name in ("analytics_roi", "analytics_roi_csv"):
        assert client.get(reverse(f"portal:{name}")).status_code == 404


def test_the_csv_holds_the_same_figures_and_defuses_formulas(client, roi_world, channel_manager):
    roi_world.main.name = "=Main"
    roi_world.main.save()
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_roi_csv"), PERIOD)
    assert response["Content-Disposition"] == 'attachment; filename="program-roi.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    total = next(row for row in rows if row["breakdown"] == "total")
    assert total["program"] == "'=Main"
    assert (total["revenue"], total["cost"], total["revenue_return"]) == ("18500.00", "2825.00", "6.55")
    assert [(row["label"], row["revenue"]) for row in rows if row["breakdown"] == "tier"] == [
        ("Silver", "12500.00"),
        ("Gold", "6000.00"),
    ]


def test_the_page_costs_the_same_whatever_the_data(client, roi_world, channel_manager):
    client.force_login(channel_manager)
    url = reverse("portal:analytics_roi")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, PERIOD).status_code == 200
    _more_facts(roi_world, 20)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, PERIOD).status_code == 200
    # session, user, membership; the filters' program; the program's tiers; the door (permissions
    # twice, regions); the figures; the programs of the filters; the header's unread count
    assert len(few) == len(many) == 11, "\n".join(query["sql"][:150] for query in many.captured_queries)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_the_endpoint_gives_the_figures_of_the_page(roi_world, channel_manager):
    response = _api(channel_manager).get(API, PERIOD)
    assert response.status_code == 200
    (main,) = response.json()["programs"]
    assert main["program"] == "main"
    assert {key: main["total"][key] for key in ("sourced", "influenced", "unregistered", "cost")} == {
        "sourced": "10000.00",
        "influenced": "6000.00",
        "unregistered": "2500.00",
        "cost": "2825.00",
    }
    assert (main["total"]["sourced_return"], main["total"]["points_redeemed"]) == ("3.54", "-150")
    assert [row["revenue_return"] for row in main["periods"]] == ["10.00", "2.00", "10.43", None]
    assert main["unconverted"] == ["JPY"]


def test_the_endpoint_refuses_bad_filters_by_name(roi_world, channel_manager):
    response = _api(channel_manager).get(API, {"step": "year", "end": "2025-01-01", "start": "2025-02-01"})
    assert response.status_code == 400
    assert set(response.json()) >= {"step", "end"} or "step" in str(response.json())


def test_a_partner_user_gets_only_its_own_figures(roi_world):
    user = UserFactory(username="bravo-admin")
    MembershipFactory(user=user, partner=roi_world.bravo)
    (main,) = _api(user).get(API, PERIOD).json()["programs"]
    assert (main["total"]["revenue"], main["total"]["cost"]) == ("2500.00", "1250.00")


def test_the_endpoint_costs_the_same_whatever_the_data(roi_world, channel_manager):
    client = _api(channel_manager)
    counts = []
    for round_ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API, PERIOD).status_code == 200
        counts.append(len(queries))
        _more_facts(roi_world, 20, first_year=2026 + 20 * round_)
    assert counts[0] == counts[1]
