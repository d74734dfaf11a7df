"""The lifetime value page, its CSV and /api/v1/analytics/lifetime/ (the figures of
``test_lifetime``), and a partner's own figures page and /api/v1/analytics/my-figures/."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from partners.models import Partner
from tests.analytics.test_lifetime import PERIOD, LifetimeWorld
from tests.analytics.test_partner_figures import PeerWorld
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/analytics/lifetime/"
MY_API = "/api/v1/analytics/my-figures/"
MY_PERIOD = {"start": "2025-01-01", "end": "2025-03-31"}


@pytest.fixture
def lifetime_world(db):
    return LifetimeWorld()


@pytest.fixture
def peer_world(db):
    return PeerWorld()


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _member(partner, username):
    user = UserFactory(username=username)
    MembershipFactory(user=user, partner=partner)
    return user


def _more_partners(world: LifetimeWorld, n: int) -> None:
    for index in range(n):
        partner = Partner.objects.create(
            name=f"Late {index}", region="emea", country="GB", joined_on=datetime.date(2025, 3, 1)
        )
        world.sale(partner, "10", "EUR", datetime.date(2025, 3, 2 + index % 20))
        world.mdf_paid(partner, "5", "GBP", datetime.date(2025, 3, 3))


def test_the_page_states_the_definition_and_shows_the_chart_and_tables(
    client, lifetime_world, channel_manager
):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_lifetime"), PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert "cumulative won-sales revenue less what the program paid it" in body
    assert "a margin per product line would refine it" in body
    assert 'data-chart="lifetime-curves"' in body and 'data-chart-table="lifetime-curves"' in body
    assert "2025-Q1 (2)" in body and '<td class="num">8472.50</td>' in body
    assert 'data-board="top"' in body and 'data-board="bottom"' in body
    assert "Foxtrot" not in body  # out of the manager's coverage
    assert "amounts in JPY" in body


def test_errors_are_named_and_a_partner_user_cannot_open_the_page(client, lifetime_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_lifetime"), {"top": "0", "start": "soon"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "top: Expected a whole number from 1 to 100." in body and "start: Expected a date" in body
    client.force_login(_member(lifetime_world.alpha, "alpha-user"))
    for name in ("analytics_lifetime", "analytics_lifetime_csv"):
        assert client.get(reverse(f"portal:{name}")).status_code == 404


def test_the_csv_holds_the_same_figures_and_defuses_formulas(client, lifetime_world, channel_manager):
    Partner.objects.filter(pk=lifetime_world.alpha.pk).update(name="=HYPERLINK(1)")
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_lifetime_csv"), {**PERIOD, "top": "2"})
    assert response["Content-Disposition"] == 'attachment; filename="lifetime.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    top = [(row["rank"], row["partner"], row["value"]) for row in rows if row["figure"] == "top"]
    assert top == [("1", "'=HYPERLINK(1)", "13945.00"), ("2", "Delta", "3000.00")]
    curve = [(row["month"], row["partners"], row["value"]) for row in rows if row["cohort"] == "2025-Q1"]
    assert curve == [
        ("0", "2", "6000.00"),
        ("1", "2", "6000.00"),
        ("2", "2", "8472.50"),
        ("3", "1", "13945.00"),
    ]


def test_the_page_costs_the_same_whatever_the_data(client, lifetime_world, channel_manager):
    client.force_login(channel_manager)
    url = reverse("portal:analytics_lifetime")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, PERIOD).status_code == 200
    _more_partners(lifetime_world, 15)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, PERIOD).status_code == 200
    # session, user, membership; the door (permissions twice, regions); the programs whose ledger
    # counts; the figures; the programs of the filters; the header's unread count
    assert len(few) == len(many) == 10, "\n".join(query["sql"][:150] for query in many.captured_queries)


def test_the_endpoint_gives_the_figures_of_the_page(lifetime_world, channel_manager):
    response = _api(channel_manager).get(API, PERIOD)
    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "USD" and body["unconverted"] == ["JPY"]
    assert [(row["name"], row["revenue"], row["cost"], row["value"]) for row in body["top"]] == [
        ("Alpha", "16000.00", "2055.00", "13945.00"),
        ("Delta", "3000.00", "0.00", "3000.00"),
        ("Bravo", "2500.00", "1250.00", "1250.00"),
    ]
    q1 = next(cohort for cohort in body["cohorts"] if cohort["quarter"] == "2025-Q1")
    assert [point["value"] for point in q1["curve"]] == ["6000.00", "6000.00", "8472.50", "13945.00"]


def test_the_endpoint_refuses_bad_parameters_by_name(lifetime_world, channel_manager):
    client = _api(channel_manager)
    response = client.get(API, {"top": "101"})
    assert response.status_code == 400 and "Expected a whole number from 1 to 100." in str(response.json())
    assert client.get(API, {"top": ""}).status_code == 400
    assert client.get(API, {"step": "month"}).status_code == 400  # not a parameter of this figure


def test_a_partner_user_gets_only_its_own_lifetime_value(lifetime_world):
    body = _api(_member(lifetime_world.bravo, "bravo-user")).get(API, PERIOD).json()
    assert [row["name"] for row in body["top"]] == ["Bravo"]


def test_the_endpoint_costs_the_same_whatever_the_data(lifetime_world, channel_manager):
    client = _api(channel_manager)
    client.get(API, PERIOD)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API, PERIOD).status_code == 200
        counts.append(len(queries))
        _more_partners(lifetime_world, 10)
    assert counts[0] == counts[1]


# --- a partner's own figures ---------------------------------------------------------------------


def test_the_partner_sees_its_figures_and_its_peers_median(client, peer_world):
    client.force_login(_member(peer_world.me, "me-user"))
    response = client.get(reverse("portal:my_figures"), MY_PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-chart="my-revenue"' in body and 'data-chart-table="my-revenue"' in body
    assert '<td class="num">1550.00</td>' in body
    assert "You against the median of 5 peers" in body and '<td class="num">300.00</td>' in body
    assert 'href="/portal/figures/"' in body  # in the navigation


def test_with_four_peers_the_page_says_too_few(client, peer_world):
    from gates.models import PartnerTier

    PartnerTier.objects.filter(partner=peer_world.peers[0]).delete()
    client.force_login(_member(peer_world.me, "me-user"))
    body = client.get(reverse("portal:my_figures"), MY_PERIOD).content.decode()
    assert "Too few peers to compare (4 of at least 5)" in body
    assert "300.00" not in body


def test_only_a_partners_users_open_the_page(client, peer_world, channel_manager):
    client.force_login(channel_manager)
    assert client.get(reverse("portal:my_figures")).status_code == 404
    assert client.get(reverse("portal:my_figures_csv")).status_code == 404


def test_the_partner_csv_defuses_formulas(client, peer_world):
    from programs.models import Program

    Program.objects.filter(pk=peer_world.program.pk).update(name="@Main")
    client.force_login(_member(peer_world.me, "me-user"))
    response = client.get(reverse("portal:my_figures_csv"), MY_PERIOD)
    assert response["Content-Disposition"] == 'attachment; filename="my-figures.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["period", "currency", "revenue"]
    assert ["total", "USD", "1550.00", "40", "1", "1", "1"] in rows
    assert rows[-1] == ["peer median of 5", "USD", "300.00", "0.0", "0.0", "0.0", "0.0", "'@Main", "Gold"]


def test_the_partner_page_costs_the_same_whatever_the_data(client, peer_world):
    client.force_login(_member(peer_world.me, "me-user"))
    url = reverse("portal:my_figures")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, MY_PERIOD).status_code == 200
    for index in range(10):
        peer_world.sale(peer_world.me, "1", "EUR", datetime.date(2025, 2, 1 + index))
        peer_world.sale(peer_world.peers[index % 5], "1", "USD", datetime.date(2025, 3, 1 + index))
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, MY_PERIOD).status_code == 200
    # session, user, membership; the series; the peer medians; the programs open to the partner;
    # the header's unread count
    assert len(few) == len(many) == 7, "\n".join(query["sql"][:150] for query in many.captured_queries)


def test_the_endpoint_gives_the_callers_own_figures(peer_world):
    response = _api(_member(peer_world.me, "me-user")).get(MY_API, MY_PERIOD)
    assert response.status_code == 200
    body = response.json()
    assert (body["partner"], body["total"]["revenue"], body["min_peers"]) == (peer_world.me.pk, "1550.00", 5)
    (gold,) = body["peers"]
    assert (gold["tier"], gold["peers"], gold["shown"], gold["medians"]["revenue"]) == (
        "Gold",
        5,
        True,
        "300.00",
    )


def test_a_peer_gets_its_own_figures_and_staff_none(peer_world, channel_manager):
    peer = peer_world.peers[0]
    body = _api(_member(peer, "peer-user")).get(MY_API, MY_PERIOD).json()
    assert (body["partner"], body["total"]["revenue"]) == (peer.pk, "100.00")
    assert _api(channel_manager).get(MY_API, MY_PERIOD).status_code == 403
    assert _api(_member(peer_world.me, "me-user")).get(MY_API, {"step": "week"}).status_code == 400
