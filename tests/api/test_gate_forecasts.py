"""At-risk forecasts through the API: read-only, filtered, scoped by the door, in the schema."""

import datetime

import pytest

from gates.models import GateForecast

pytestmark = pytest.mark.django_db

URL = "/api/v1/gate-forecasts/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_partner_admin_sees_its_own_forecasts_only(client_for, partner_admin, world):
    acme, globex = world.of("acme", "gate_forecast"), world.of("globex", "gate_forecast")
    client = client_for(partner_admin)

    assert ids(client.get(URL)) == {acme.pk}
    assert client.get(f"{URL}{globex.pk}/").status_code == 404
    row = client.get(f"{URL}{acme.pk}/").json()
    assert row["at_risk"] is True
    assert row["shortfall"] == "1 more person holding a valid sales-engineer certification"
    assert row["gate"] == world.silver_gate.pk


def test_a_channel_manager_sees_the_partners_of_his_regions_only(client_for, channel_manager, world):
    # Morgan covers EMEA; Globex is in North America.
    acme, globex = world.of("acme", "gate_forecast"), world.of("globex", "gate_forecast")
    client = client_for(channel_manager)

    assert ids(client.get(URL)) == {acme.pk}
    assert client.get(f"{URL}{globex.pk}/").status_code == 404


def test_filters_by_partner_gate_and_at_risk(client_for, superuser, world):
    acme, globex = world.of("acme", "gate_forecast"), world.of("globex", "gate_forecast")
    GateForecast.objects.filter(pk=globex.pk).update(at_risk=False, fails_on=None)
    client = client_for(superuser)

    assert ids(client.get(URL, {"partner": world.acme.pk})) == {acme.pk}
    assert ids(client.get(URL, {"at_risk": "true"})) == {acme.pk}
    assert ids(client.get(URL, {"at_risk": "false"})) == {globex.pk}
    assert ids(client.get(URL, {"gate": world.specialist_gate.pk})) == set()
    response = client.get(URL, {"at_risk": "perhaps"})
    assert response.status_code == 400
    assert "at_risk" in str(response.json())


def test_the_tier_dates_are_given_and_a_partner_in_grace_is_listed_as_such(client_for, superuser, world):
    acme, globex = world.of("acme", "gate_forecast"), world.of("globex", "gate_forecast")
    GateForecast.objects.filter(pk=acme.pk).update(
        tier_lost_on=datetime.date(2026, 6, 20), override_until=datetime.date(2026, 4, 30)
    )
    GateForecast.objects.filter(pk=globex.pk).update(
        at_risk=False,
        fails_on=None,
        grace_until=datetime.date(2026, 3, 25),
        tier_lost_on=datetime.date(2026, 3, 26),
    )
    client = client_for(superuser)

    row = client.get(f"{URL}{acme.pk}/").json()
    assert (row["tier_lost_on"], row["override_until"], row["grace_until"]) == (
        "2026-06-20",
        "2026-04-30",
        None,
    )
    assert ids(client.get(URL, {"in_grace": "true"})) == {globex.pk}
    assert ids(client.get(URL, {"in_grace": "false"})) == {acme.pk}
    assert ids(client.get(URL, {"tier_lost_before": "2026-04-01"})) == {globex.pk}
    grace = client.get(f"{URL}{globex.pk}/").json()
    assert (grace["at_risk"], grace["grace_until"], grace["tier_lost_on"]) == (
        False,
        "2026-03-25",
        "2026-03-26",
    )
    response = client.get(URL, {"tier_lost_before": "soon"})
    assert response.status_code == 400 and "tier_lost_before" in str(response.json())


def test_forecasts_are_read_only(client_for, superuser, world):
    client = client_for(superuser)
    forecast = world.of("acme", "gate_forecast")

    assert client.post(URL, {}, format="json").status_code == 405
    assert client.delete(f"{URL}{forecast.pk}/").status_code == 405


def test_the_endpoint_is_in_the_schema(client_for, superuser):
    response = client_for(superuser).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/gate-forecasts/" in schema["paths"]
    assert "get" in schema["paths"]["/api/v1/gate-forecasts/"]
    assert set(schema["paths"]["/api/v1/gate-forecasts/"]) == {"get"}


def test_a_manager_sets_a_gates_horizon_within_its_bounds(client_for, channel_manager, world):
    client = client_for(channel_manager)
    url = f"/api/v1/gates/{world.silver_gate.pk}/"

    assert client.get(url).json()["forecast_horizon_days"] == 60
    response = client.patch(url, {"forecast_horizon_days": 90}, format="json")
    assert response.status_code == 200, response.content
    world.silver_gate.refresh_from_db()
    assert world.silver_gate.forecast_horizon_days == 90
    response = client.patch(url, {"forecast_horizon_days": 400}, format="json")
    assert response.status_code == 400
    assert "forecast_horizon_days" in response.json()["errors"] or "forecast_horizon_days" in str(
        response.json()
    )
