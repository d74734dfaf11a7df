"""Replays through the API: POST starts one (202 and its Location), GET reads its progress then its report."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gates.models import GateStatus, PartnerTier, ReplayRun
from partners.models import Partner

pytestmark = pytest.mark.django_db

REPLAYS = "/api/v1/gate-replays/"


@pytest.fixture
def manager(client_for, channel_manager):
    return client_for(channel_manager)


@pytest.fixture
def old_world(world):
    """The API world, with partners in the program since 2020 so that past dates count them."""
    Partner.objects.update(joined_on=datetime.date(2020, 1, 1))
    return world


def test_a_manager_replays_a_gate_over_the_partners_he_covers(
    manager, client_for, superuser, old_world, django_capture_on_commit_callbacks
):
    written = (
        list(GateStatus.objects.values_list("id", "status")),
        list(PartnerTier.objects.values_list("id", "tier")),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(
            REPLAYS, {"gate": old_world.silver_gate.pk, "count": 2, "known": "now"}, format="json"
        )
    assert response.status_code == 202, response.json()
    run = ReplayRun.objects.get()
    assert response["Location"] == f"http://testserver{REPLAYS}{run.pk}/"
    body = response.json()
    assert (body["name"], body["period"], body["known"], body["scope"]) == (
        "Silver gate",
        "quarter",
        "now",
        "the 1 partner you cover",
    )
    assert "report" not in body

    report = manager.get(response["Location"]).json()
    assert report["state"] == "done" and report["chunks_done"] == report["chunks_total"] == 1
    assert report["report"]["tiers"] == ["No tier", "Silver", "Gold"]
    # Acme alone, among the partners he covers; its sale closed after both dates.
    assert [d["partners"] for d in report["report"]["dates"]] == [1, 1]
    assert report["report"]["dates"][0]["tiers"][0] == {"tier": "No tier", "replayed": 1, "live": 1}
    assert [row["id"] for row in manager.get(REPLAYS).json()["results"]] == [run.pk]
    assert written == (
        list(GateStatus.objects.values_list("id", "status")),
        list(PartnerTier.objects.values_list("id", "tier")),
    )

    # A colleague sees none of it; superusers see every replay.
    assert client_for(superuser).get(f"{REPLAYS}{run.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 25}, "count"),
        ({"period": "week"}, "period"),
        ({"known": "later"}, "known"),
        ({"version": 99}, "version"),
        ({"gate": 999_999}, "gate"),
    ],
)
def test_bad_requests_are_400s_naming_the_field(manager, old_world, body, field):
    response = manager.post(REPLAYS, {"gate": old_world.silver_gate.pk, **body}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not ReplayRun.objects.exists()


def test_a_partner_user_may_not_replay(client_for, partner_admin, old_world):
    response = client_for(partner_admin).post(REPLAYS, {"gate": old_world.silver_gate.pk}, format="json")
    assert response.status_code == 403
    assert client_for(partner_admin).get(REPLAYS).json()["results"] == []


def test_reading_a_report_costs_the_same_however_many_dates(manager, channel_manager, old_world):
    counts = []
    for count in (2, 8):
        run = ReplayRun.objects.create(
            gate=old_world.silver_gate,
            requested_by=channel_manager,
            gate_entry={"name": "Silver gate", "version": 1},
            state="done",
            dates=[f"{2010 + i}-12-31" for i in range(count)],
        )
        for i in range(count):
            for position, name in enumerate(["No tier", "Silver", "Gold"]):
                run.rows.create(day=datetime.date(2010 + i, 12, 31), position=position, tier_name=name)
        with CaptureQueriesContext(connection) as queries:
            assert manager.get(f"{REPLAYS}{run.pk}/").status_code == 200
        counts.append(len(queries))
    # The session's user, the run (through the door), its rows.
    assert counts[0] == counts[1]
