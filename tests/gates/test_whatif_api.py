"""What-if runs through the API: queued in the background, polled, read, and the movers as CSV."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from gates import services
from gates.models import WhatIfRun
from incentives.periods import quarter_of
from partners.models import Partner
from tests.factories import EngagementActivityFactory, PartnerFactory, UserFactory
from tests.incentives.helpers import points_rule, set_tier, spif_rule, won_deal

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
TWO_PEOPLE = {
    "metric": "certified_people",
    "certification_types": ["sales-engineer"],
    "op": ">=",
    "target": 2,
}


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def evaluated(ladder):
    for count in (0, 1, 2, 3):
        ladder.certify(PartnerFactory(name=f"Partner with {count}"), count)
    services.evaluate()
    return ladder


def test_queue_poll_read_the_report_and_download_the_movers(
    superuser, evaluated, django_capture_on_commit_callbacks
):
    ladder = evaluated
    services.gate_draft_save(actor=superuser, gate=ladder.gold_gate, criteria=TWO_PEOPLE)
    client = api(superuser)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"{V1}/whatif-runs/", {"gates": [{"gate": ladder.gold_gate.pk}]}, format="json"
        )
    assert response.status_code == 202, response.content
    run = WhatIfRun.objects.get()
    assert response["Location"].endswith(f"{V1}/whatif-runs/{run.pk}/")
    assert response.json() == {"run": run.pk, "location": response["Location"]}
    assert len(callbacks) == 1  # the task, queued once the run is committed (inline: no broker)

    body = client.get(response["Location"]).json()
    assert (body["state"], body["percent_done"], body["scope"]) == ("done", 100, "every partner")
    [simulated] = body["simulated"]
    assert (simulated["gate"], simulated["version"], simulated["draft"]) == (ladder.gold_gate.pk, 2, True)
    [gate] = body["result"]["gates"]
    assert (gate["would_pass"], gate["passing_now"], gate["newly_pass"], gate["newly_fail"]) == (2, 1, 1, 0)
    assert [m["name"] for m in body["result"]["movers"]] == ["Partner with 2"]
    assert body["result"]["incentive_cost"]["rules"] == []

    download = client.get(f"{V1}/whatif-runs/{run.pk}/movers/")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[1][1:6] == ["Partner with 2", "Gold gate", "newly passes", "Silver", "Gold"]


def test_criteria_sent_are_simulated_instead_of_the_draft(
    superuser, evaluated, django_capture_on_commit_callbacks
):
    ladder = evaluated
    one_person = {**TWO_PEOPLE, "target": 1}
    with django_capture_on_commit_callbacks(execute=True):
        response = api(superuser).post(
            f"{V1}/whatif-runs/",
            {"gates": [{"gate": ladder.gold_gate.pk, "criteria": one_person}]},
            format="json",
        )
    assert response.status_code == 202
    run = WhatIfRun.objects.get()
    assert run.gates[0]["criteria"] == one_person and run.gates[0]["draft"]
    assert run.result["gates"][0]["newly_pass"] == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({"gates": []}, "gates"),
        ({}, "gates"),
        ({"gates": [{"gate": 999999}]}, "gates"),
        ({"gates": [{"gate": "x"}]}, "gates"),
        ({"gates": [{"gate": "GOLD"}, {"gate": "GOLD"}]}, "gates"),
        ({"gates": [{"gate": "GOLD", "currency": "XXX"}]}, "gates"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(superuser, ladder, body, field):
    text = str(body).replace("'GOLD'", str(ladder.gold_gate.pk)).replace("'", '"')
    response = api(superuser).post(f"{V1}/whatif-runs/", text, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not WhatIfRun.objects.exists()


def test_criteria_errors_name_the_gate_and_the_place_in_the_tree(superuser, ladder):
    bad = {"all": [TWO_PEOPLE, {**TWO_PEOPLE, "target": "many"}]}
    response = api(superuser).post(
        f"{V1}/whatif-runs/", {"gates": [{"gate": ladder.gold_gate.pk, "criteria": bad}]}, format="json"
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]["gates"]
    assert error.startswith("Gold gate: criteria.all[1].target")
    assert not WhatIfRun.objects.exists()


def test_a_run_is_its_requesters_and_others_are_refused(
    superuser, channel_manager, partner_admin, evaluated, django_capture_on_commit_callbacks
):
    ladder = evaluated
    with django_capture_on_commit_callbacks(execute=True):
        response = api(channel_manager).post(
            f"{V1}/whatif-runs/", {"gates": [{"gate": ladder.gold_gate.pk}]}, format="json"
        )
    assert response.status_code == 202, response.content
    run = WhatIfRun.objects.get()
    assert run.requested_by == channel_manager
    other = UserFactory(username="other", is_staff=True)
    other.groups.set(channel_manager.groups.all())
    assert api(other).get(f"{V1}/whatif-runs/{run.pk}/").status_code == 404
    assert api(other).get(f"{V1}/whatif-runs/{run.pk}/movers/").status_code == 404
    assert api(other).get(f"{V1}/whatif-runs/").json()["results"] == []
    assert [r["id"] for r in api(superuser).get(f"{V1}/whatif-runs/").json()["results"]] == [run.pk]
    # A partner's user neither asks for one nor reads one.
    assert (
        api(partner_admin)
        .post(f"{V1}/whatif-runs/", {"gates": [{"gate": ladder.gold_gate.pk}]}, format="json")
        .status_code
        == 403
    )
    assert api(partner_admin).get(f"{V1}/whatif-runs/{run.pk}/").status_code == 404
    assert APIClient().get(f"{V1}/whatif-runs/").status_code == 401


def test_the_list_takes_the_same_queries_for_one_run_as_for_many(superuser, ladder):
    client = api(superuser)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{V1}/whatif-runs/")
        assert response.status_code == 200
        return len(queries)

    def make(n):
        for _ in range(n):
            WhatIfRun.objects.create(
                requested_by=superuser, gates=[], as_of="2026-01-01", result={"movers": []}
            )

    make(1)
    one = count()
    make(4)
    # The session and user, the count, the page of runs: no query per run.
    assert count() == one


def test_the_report_prices_spifs_and_points_that_depend_on_the_tier(
    superuser, evaluated, django_capture_on_commit_callbacks
):
    ladder = evaluated
    today = datetime.date.today()
    mover = Partner.objects.get(name="Partner with 2")
    set_tier(mover, ladder.silver, quarter_of(today).start - datetime.timedelta(days=30))
    spif = spif_rule(ladder.program, name="Gold SPIF", amount="250", min_tier=ladder.gold, effective_to=today)
    points = points_rule(ladder.program, name="Gold points", multiplier="3", min_tier=ladder.gold)
    won_deal(mover, "100.00", closed_on=today)
    EngagementActivityFactory(partner=mover, points=5, occurred_on=today)
    services.gate_draft_save(actor=superuser, gate=ladder.gold_gate, criteria=TWO_PEOPLE)
    client = api(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{V1}/whatif-runs/", {"gates": [{"gate": ladder.gold_gate.pk}]}, format="json"
        )
    cost = client.get(response["Location"]).json()["result"]["incentive_cost"]
    # Silver → Gold: the SPIF's 250.00 for the deal, and 5 × 3 = 15 points for the activity.
    assert [
        (row["rule"], row["kind"], row["count"], row["counted"], row["currency"], row["difference"])
        for row in cost["rules"]
    ] == [
        (spif.pk, "spif", 1, "deal", "USD", "250.00"),
        (points.pk, "points", 1, "activity", "PTS", "15"),
    ]
    assert cost["totals"] == [
        {"currency": "USD", "before": "0.00", "after": "250.00", "difference": "250.00"}
    ]
    assert cost["points"] == {"before": "0", "after": "15", "difference": "15"}
