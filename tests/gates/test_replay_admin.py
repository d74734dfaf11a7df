"""Replay in the gate admin: the form, the run's page polled with htmx, then its chart and table."""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gates import services
from gates.models import ReplayRun
from gates.replay import replay_run
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

TEN_THOUSAND = {"metric": "sales_amount", "op": ">=", "target": "10000"}


@pytest.fixture
def world(ladder, superuser):
    """A partner selling 12,000 last quarter, one selling nothing; the Gold gate's draft asks 10,000."""
    seller = PartnerFactory(name="Seller", joined_on=datetime.date(2020, 1, 1))
    PartnerFactory(name="Quiet", joined_on=datetime.date(2020, 1, 1))
    ladder.sell(seller, "12000", datetime.date.today() - datetime.timedelta(days=200))
    services.gate_draft_save(actor=superuser, gate=ladder.gold_gate, criteria=TEN_THOUSAND)
    return ladder


def test_from_the_change_form_to_the_report(client, superuser, world):
    client.force_login(superuser)
    gate = world.gold_gate
    form_url = reverse("admin:gates_gate_replay_form", args=[gate.pk])
    change = client.get(reverse("admin:gates_gate_change", args=[gate.pk])).content.decode()
    assert f'href="{form_url}"' in change

    # The action opens the same form, for one gate at a time.
    response = client.post(
        reverse("admin:gates_gate_changelist"),
        {"action": "replay_selected", "_selected_action": [gate.pk]},
    )
    assert response.status_code == 302 and response["Location"] == form_url
    page = client.get(form_url).content.decode()
    assert '<label for="id_count">Number of dates:</label>' in page
    assert "As they were known on each date" in page

    refused = client.post(form_url, {"version": "", "period": "quarter", "count": "40", "known": "then"})
    assert refused.status_code == 200 and not ReplayRun.objects.exists()
    assert "Ensure this value is less than or equal to 24." in refused.content.decode()

    response = client.post(form_url, {"version": "", "period": "quarter", "count": "4", "known": "now"})
    run = ReplayRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:gates_gate_replay", args=[run.pk])
    assert run.state == ReplayRun.State.QUEUED and run.gate_entry["draft"] and not run.known_then

    page = client.get(response["Location"]).content.decode()
    progress_url = reverse("admin:gates_gate_replay_progress", args=[run.pk])
    assert f'hx-get="{progress_url}"' in page and "Queued, waiting for a worker" in page
    assert "cdn" not in page.lower()

    replay_run(run.pk)  # the worker
    polled = client.get(progress_url, headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == reverse("admin:gates_gate_replay", args=[run.pk])

    page = client.get(response["Location"]).content.decode()
    assert "js/chart.umd.js" in page and 'data-chart="replay-chart-data"' in page
    chart = json.loads(
        re.search(r'id="replay-chart-data" type="application/json">(.*?)</script>', page).group(1)
    )
    assert chart["stacked"] and len(chart["labels"]) == 4
    assert {d["stack"] for d in chart["datasets"]} == {"replayed", "live"}
    gold_replayed = next(d for d in chart["datasets"] if d["label"] == "Gold, replayed")
    assert gold_replayed["data"][-1] == 1
    # The table, the chart's text alternative: the seller is Gold under the draft, nobody is live.
    last = run.dates[-1]
    assert (
        f'<tr><th scope="row">{last}</th><td>1</td><td>2</td><td>0</td><td>0</td><td>1</td><td>0</td><td>1</td></tr>'
        in page
    )
    assert "grace periods and overrides" in page


def test_the_report_page_reads_the_same_queries_for_any_number_of_dates(client, superuser, world):
    client.force_login(superuser)
    counts = []
    for count in (2, 8):
        run = ReplayRun.objects.create(
            gate=world.gold_gate,
            requested_by=superuser,
            gate_entry={"name": "Gold gate"},
            state="done",
            dates=[f"20{10 + i}-12-31" for i in range(count)],
        )
        run.rows.create(day=datetime.date(2010, 12, 31), position=0, tier_name="No tier", replayed=1, live=1)
        for i in range(count):
            for position, name in enumerate(["No tier", "Silver", "Gold"]):
                run.rows.get_or_create(
                    day=datetime.date(2010 + i, 12, 31), position=position, defaults={"tier_name": name}
                )
        url = reverse("admin:gates_gate_replay", args=[run.pk])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    # The session and its user, the run, its rows: flat however many dates.
    assert counts[0] == counts[1]
    assert counts[0] <= 6


def test_another_manager_sees_no_replay_of_his_colleague(client, superuser, channel_manager, world):
    run = ReplayRun.objects.create(
        gate=world.gold_gate, requested_by=superuser, gate_entry={"name": "Gold gate"}, dates=["2025-12-31"]
    )
    client.force_login(channel_manager)
    assert client.get(reverse("admin:gates_gate_replay", args=[run.pk])).status_code == 404
    assert client.get(reverse("admin:gates_gate_replay_progress", args=[run.pk])).status_code == 404
    outsider = UserFactory(username="partner-user")
    client.force_login(outsider)
    assert client.get(reverse("admin:gates_gate_replay", args=[run.pk])).status_code == 302
