"""The manager's analytics pages: figures, filters in the URL, CSV exports and query counts."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gates.models import GateOutcome, GateStatus
from partners.models import Region
from tests.analytics.conftest import tier_history
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_funnel_page_shows_the_counts_criteria_and_near_misses(client, funnel_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_funnel"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-chart="funnel-' in body
    assert '"data": [0, 2, 1, 1]' in body  # the chart's data, in its json_script element
    assert "Charlie</a>" in body
    assert "92,000.00 USD, 8,000.00 USD short" in body
    assert "Foxtrot" not in body


def test_the_funnel_csv_carries_the_same_figures(client, funnel_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_funnel_csv"))
    assert response["Content-Disposition"] == 'attachment; filename="gate-funnel.csv"'
    rows = _rows(response)
    assert rows[0] == ["gate", "figure", "label", "partners"]
    met = [row[3] for row in rows if row[1] == "criteria met"]
    assert met == ["0", "2", "1", "1"]
    assert [row[2] for row in rows if row[1] == "near miss"] == ["Charlie"]


def test_the_csv_defuses_formulas(client, funnel_world, channel_manager):
    charlie = funnel_world.partners["Charlie"]
    charlie.name = "=HYPERLINK(evil)"
    charlie.save()
    client.force_login(channel_manager)
    rows = _rows(client.get(reverse("portal:analytics_funnel_csv")))
    assert [row[2] for row in rows if row[1] == "near miss"] == ["'=HYPERLINK(evil)"]


def test_filters_come_from_the_url_and_errors_are_named(client, funnel_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:analytics_funnel"), {"near": "40"})
    assert "Bravo</a>" in response.content.decode()
    response = client.get(reverse("portal:analytics_funnel"), {"near": "lots", "region": "mars"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "near: Expected a percentage" in body
    assert "region: Expected one of" in body


def test_partners_and_distributors_do_not_see_the_pages(
    client, funnel_world, partner_admin, distributor_user
):
    for user in (partner_admin, distributor_user):
        client.force_login(user)
        for name in ("analytics_funnel", "analytics_funnel_csv", "analytics_tiers", "analytics_tiers_csv"):
            assert client.get(reverse(f"portal:{name}")).status_code == 404


def test_the_tier_page_shows_the_distribution_matrix_and_time_to_tier(client, funnel_world, channel_manager):
    tier_history(funnel_world)
    client.force_login(channel_manager)
    params = {"program": "main", "start": "2025-02-01", "end": "2025-03-31"}
    response = client.get(reverse("portal:analytics_tiers"), params)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-chart="tier-distribution"' in body
    assert '"label": "Silver", "data": [3, 1]' in body
    rows = _rows(client.get(reverse("portal:analytics_tiers_csv"), params))
    assert ["migration", "Silver → Gold", "", "2"] in rows
    assert ["time to tier", "Gold", "median days", "68.5"] in rows


def _more_partners(world, count):
    for number in range(count):
        partner = PartnerFactory(
            name=f"More {number}", region=Region.EMEA, joined_on=world.partners["Alpha"].joined_on
        )
        GateStatus.objects.create(
            partner=partner,
            gate=world.gate,
            status=GateOutcome.FAILED,
            measures=[3, "95000", "emea"],
            gate_version=2,
        )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # session, user, membership; gates; the door (the user's and groups' permissions, the
        # manager's regions); counts, criteria met, near misses; the programs of the filters;
        # the header's unread count
        ("analytics_funnel", 12),
        # session, user, membership; the program shown, its tiers; the door (permissions twice,
        # regions); distribution, matrix, time to tier; the programs of the filters; the header's
        # unread count
        ("analytics_tiers", 13),
    ],
)
def test_the_pages_cost_the_same_whatever_the_data(client, funnel_world, channel_manager, name, expected):
    tier_history(funnel_world)
    client.force_login(channel_manager)
    url = reverse(f"portal:{name}")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _more_partners(funnel_world, 30)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(few) == len(many) == expected, "\n".join(query["sql"][:150] for query in many.captured_queries)


def test_a_migration_cell_links_to_its_partners(client, funnel_world, channel_manager):
    tier_history(funnel_world)
    client.force_login(channel_manager)
    params = {"program": "main", "start": "2025-02-01", "end": "2025-03-31"}
    body = client.get(reverse("portal:analytics_tiers"), params).content.decode()
    silver, gold = funnel_world.silver.pk, funnel_world.gold.pk
    link = f"from_tier={silver}&amp;to_tier={gold}"
    assert link in body
    response = client.get(
        reverse("portal:analytics_tier_moves"), {**params, "from_tier": silver, "to_tier": gold}
    )
    assert response.status_code == 200
    listed = response.content.decode()
    assert "Alpha</a>" in listed and "Charlie</a>" in listed and "Bravo" not in listed
    response = client.get(reverse("portal:analytics_tier_moves"), {**params, "to_tier": silver})
    assert "Bravo</a>" in response.content.decode()
    assert client.get(reverse("portal:analytics_tier_moves"), {"from_tier": "x"}).status_code == 404
