"""The cohort page, its CSV and /api/v1/analytics/cohorts/: the figures of ``test_cohorts``
(six certified partners against six without, in the manager's EMEA coverage), scoped by the door."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from partners.models import Region
from tests.analytics.test_cohorts import JOINED, PERIOD, CohortWorld
from tests.factories import DealFactory, MembershipFactory, PartnerFactory, SaleFactory, UserFactory

pytestmark = pytest.mark.django_db

COHORT = {**PERIOD, "cohort": "certification:sales-engineer"}
API = "/api/v1/analytics/cohorts/"


@pytest.fixture
def cohort_world(db):
    return CohortWorld()


def _more_facts(world: CohortWorld, n: int) -> None:
    """More sales, deals and partners on both sides: the same queries, whatever their number."""
    for index in range(n):
        for partner in (world.certified[index % 6], world.uncertified[index % 6]):
            SaleFactory(partner=partner, amount=Decimal(500 + index), closed_on=datetime.date(2025, 7, 1))
            DealFactory(partner=partner, status="won", registered_on=datetime.date(2025, 4, 1))
        PartnerFactory(name=f"Extra{index}", region=Region.EMEA, joined_on=JOINED)


def test_the_page_shows_each_difference_with_group_sizes_and_interval(client, cohort_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_cohorts"), COHORT)
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "<strong>6</strong> partners in the cohort (Holding Sales engineer), <strong>6</strong> others."
        in body
    )
    assert '<option value="certification:sales-engineer" selected>Sales engineer</option>' in body
    measures = response.context["measures"]
    assert [difference.measure for difference, _ in measures] == [
        "Average deal size",
        "Median deal size",
        "Win rate of registered deals",
        "Revenue per partner",
        "Days to first deal",
    ]
    average, chart = measures[0]
    assert (average.with_n, average.without_n) == (7, 5)
    # The hand-computed example of test_cohorts: 7,000 against 3,000, Welch's 4,000 ± 2,407.78.
    assert chart["datasets"][0]["data"] == ["7000.00", "3000.00", "4000.00"]
    assert chart["datasets"][1]["data"] == [None, None, ["1592.22", "6407.78"]]
    assert 'data-chart="cohort-0"' in body and 'data-chart-table="cohort-0"' in body
    assert '<td class="num">1592.22</td><td class="num">6407.78</td>' in body
    win, _ = measures[2]
    assert (win.with_n, win.without_n, win.difference, win.low, win.high) == (
        5,
        5,
        Decimal("60.0"),
        Decimal("10.4"),
        Decimal("109.6"),
    )
    # The picker offers reference data, and the period and the cohort travel to the CSV link.
    assert '<optgroup label="Joined in"><option value="joined:2025-Q1">2025 Q1</option>' in body
    assert "cohorts.csv?start=2025-01-01&amp;end=2025-12-31&amp;cohort=certification%3Asales-engineer" in body


def test_too_few_partners_are_not_compared(client, cohort_world, channel_manager, settings):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_cohorts"), {**PERIOD, "cohort": "joined:2025-Q1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Too few partners to compare." in body
    assert "0 partners without it; a group needs at least 5" in body
    assert 'data-chart="cohort-' not in body


def test_bad_parameters_are_named_by_their_field(client, cohort_world, channel_manager):
    client.force_login(channel_manager)
    url = reverse("portal:analytics_cohorts")
    for cohort, message in (
        ("certification:nope", "No such certification type."),
        ("joined:2025-Q7", "Expected a quarter such as 2025-Q1."),
        ("colour:red", "Expected one of certification, course, mdf"),
        ("certification:" + "x" * 120, "Expected at most 120 characters"),
    ):
        response = client.get(url, {"cohort": cohort, "start": "soon"})
        assert response.status_code == 400, cohort
        body = response.content.decode()
        assert 'aria-invalid="true" aria-describedby="cohort-error"' in body
        assert f'<p class="errorlist" id="cohort-error">cohort: {message}' in body
        assert "start: Expected a date" in body
    # No cohort chosen yet: the form asks for one.
    response = client.get(url)
    assert response.status_code == 200
    assert "Choose a cohort to compare." in response.content.decode()


def test_outsiders_are_refused(client, cohort_world, partner_admin):
    client.force_login(partner_admin)
    for name in ("analytics_cohorts", "analytics_cohorts_csv"):
        assert client.get(reverse(f"portal:{name}"), COHORT).status_code == 404


def test_the_analytics_pages_link_to_the_cohorts(client, cohort_world, channel_manager):
    client.force_login(channel_manager)
    for name in ("analytics_funnel", "analytics_tiers", "analytics_roi", "analytics_leaderboards"):
        body = client.get(reverse(f"portal:{name}")).content.decode()
        assert f'href="{reverse("portal:analytics_cohorts")}?' in body, name


def test_the_csv_holds_the_same_figures_and_defuses_formulas(client, cohort_world, channel_manager):
    cohort_world.certification.name = "=HYPERLINK(1)"
    cohort_world.certification.save()
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_cohorts_csv"), COHORT)
    assert response["Content-Disposition"] == 'attachment; filename="cohorts.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["measure"] for row in rows] == [
        "Average deal size",
        "Median deal size",
        "Win rate of registered deals",
        "Revenue per partner",
        "Days to first deal",
    ]
    assert {row["attribute"] for row in rows} == {"'=HYPERLINK(1)"}
    average = rows[0]
    assert (average["partners with"], average["partners without"]) == ("6", "6")
    assert (average["values with"], average["values without"], average["currency"]) == ("7", "5", "USD")
    assert (average["difference"], average["95% low"], average["95% high"]) == (
        "4000.00",
        "1592.22",
        "6407.78",
    )
    # A negative figure starts like a formula: quoted too.
    assert (rows[4]["difference"], rows[4]["currency"]) == ("-55.0", "")


def test_the_page_costs_the_same_whatever_the_data(client, cohort_world, channel_manager):
    client.force_login(channel_manager)
    url = reverse("portal:analytics_cohorts")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, COHORT).status_code == 200
    _more_facts(cohort_world, 12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, COHORT).status_code == 200
    # session, user, membership; the certification type; the door (permissions twice, regions);
    # the figures (partners, sales, deals); the picker (certification types, courses, join
    # quarters); the programs of the filters; the header's unread count
    assert len(few) == len(many) == 15, "\n".join(query["sql"][:150] for query in many.captured_queries)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_the_endpoint_gives_the_figures_of_the_page(cohort_world, channel_manager):
    response = _api(channel_manager).get(API, COHORT)
    assert response.status_code == 200
    data = response.json()
    assert (data["cohort"], data["cohort_label"]) == (
        "certification:sales-engineer",
        "Holding Sales engineer",
    )
    assert (data["start"], data["end"], data["currency"]) == ("2025-01-01", "2025-12-31", "USD")
    assert (data["with_partners"], data["without_partners"], data["minimum"]) == (6, 6, 5)
    assert data["hidden_reason"] == ""
    average, median, win, revenue, first = data["differences"]
    assert {key: average[key] for key in ("measure", "with_n", "without_n", "difference", "low", "high")} == {
        "measure": "Average deal size",
        "with_n": 7,
        "without_n": 5,
        "difference": "4000.00",
        "low": "1592.22",
        "high": "6407.78",
    }
    assert (win["unit"], win["with_value"], win["without_value"], win["low"]) == (
        "percent",
        "80.00",
        "20.00",
        "10.40",
    )
    assert (median["measure"], median["difference"]) == ("Median deal size", "4000.00")
    assert (revenue["with_value"], revenue["without_value"]) == ("8166.67", "2500.00")
    assert (first["unit"], first["difference"], first["note"]) == ("days", "-55.00", "")


def test_the_endpoint_refuses_a_bad_cohort_by_name(cohort_world, channel_manager):
    client = _api(channel_manager)
    response = client.get(API, {"cohort": "certification:nope"})
    assert response.status_code == 400
    assert response.json()["errors"]["cohort"] == ["No such certification type."]
    response = client.get(
        API, {"cohort": "mdf", "start": "2025-02-01", "end": "2025-01-01", "region": "mars"}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"end", "region"}
    response = client.get(API)
    assert response.status_code == 400 and set(response.json()["errors"]) == {"cohort"}
    response = client.get(API, {"cohort": "mdf", "colour": "red"})
    assert response.status_code == 400


def test_a_partner_user_gets_only_its_own_figures(cohort_world):
    user = UserFactory(username="cert-admin")
    MembershipFactory(user=user, partner=cohort_world.certified[0])
    data = _api(user).get(API, COHORT).json()
    # One partner in sight, itself: nothing to compare, and nobody else's figures.
    assert (data["with_partners"], data["without_partners"], data["differences"]) == (1, 0, [])
    assert "a group needs at least 5" in data["hidden_reason"]


def test_the_endpoint_costs_the_same_whatever_the_data(cohort_world, channel_manager):
    client = _api(channel_manager)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API, COHORT).status_code == 200
        counts.append(len(queries))
        _more_facts(cohort_world, 12)
    assert counts[0] == counts[1]
