"""The what-if in the admin: queued, polled with htmx while it runs, then its report and the movers' CSV."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from gates import services
from gates.models import GateState, WhatIfRun
from gates.whatif import whatif_run
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

TWO_PEOPLE = {
    "metric": "certified_people",
    "certification_types": ["sales-engineer"],
    "op": ">=",
    "target": 2,
}


@pytest.fixture
def evaluated(ladder):
    for count in (0, 1, 2, 3):
        ladder.certify(PartnerFactory(name=f"Partner with {count}"), count)
    services.evaluate()
    return ladder


def test_queue_poll_then_the_report(client, superuser, evaluated):
    ladder = evaluated
    services.gate_draft_save(actor=superuser, gate=ladder.gold_gate, criteria=TWO_PEOPLE)
    client.force_login(superuser)
    # Queued: with a broker, the worker takes it up after the request commits.
    response = client.post(
        reverse("admin:gates_gate_changelist"),
        {"action": "simulate_selected", "_selected_action": [ladder.gold_gate.pk]},
    )
    run = WhatIfRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:gates_gate_whatif", args=[run.pk])
    assert run.state == WhatIfRun.State.QUEUED and run.gates[0]["draft"]

    page = client.get(response["Location"]).content.decode()
    progress_url = reverse("admin:gates_gate_whatif_progress", args=[run.pk])
    assert f'hx-get="{progress_url}"' in page and 'hx-trigger="every 1s"' in page
    assert "js/htmx.min.js" in page and "unpkg" not in page and "cdn" not in page.lower()
    assert "Queued, waiting for a worker" in page

    polled = client.get(progress_url, headers={"HX-Request": "true"})
    assert polled.status_code == 200 and "Queued" in polled.content.decode()

    whatif_run(run.pk)  # the worker
    polled = client.get(progress_url, headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == reverse("admin:gates_gate_whatif", args=[run.pk])

    page = client.get(reverse("admin:gates_gate_whatif", args=[run.pk])).content.decode()
    assert "Would newly pass</th><td>1</td>" in page
    assert "Tier movement in Main program: 1 partner would move" in page
    # The matrix: Silver → Gold holds the one mover.
    assert '<tr><th scope="row">Silver</th><td>0</td><td>1</td><td>1</td></tr>' in page
    assert "<td>Partner with 2</td><td>Gold gate</td><td>newly passes</td><td>Silver → Gold</td>" in page
    assert "Gold discount" in page and "No rule depending on the tier would pay differently." in page
    csv_url = reverse("admin:gates_gate_whatif_csv", args=[run.pk])
    assert f'href="{csv_url}"' in page

    download = client.get(csv_url)
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[1][1:6] == ["Partner with 2", "Gold gate", "newly passes", "Silver", "Gold"]


def test_a_run_is_seen_by_its_requester_only(
    client, channel_manager, evaluated, django_capture_on_commit_callbacks
):
    ladder = evaluated
    client.force_login(channel_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("admin:gates_gate_simulate") + f"?gate={ladder.gold_gate.pk}")
    run = WhatIfRun.objects.get()
    assert run.requested_by == channel_manager and run.state == WhatIfRun.State.DONE
    assert client.get(response["Location"]).status_code == 200
    other = UserFactory(username="other-manager", is_staff=True, is_superuser=False)
    other.groups.set(channel_manager.groups.all())
    client.force_login(other)
    for name in (
        "admin:gates_gate_whatif",
        "admin:gates_gate_whatif_progress",
        "admin:gates_gate_whatif_csv",
    ):
        assert client.get(reverse(name, args=[run.pk])).status_code == 404
    assert client.get(reverse("admin:gates_gate_whatif", args=["nope"])).status_code == 404


def test_invalid_criteria_are_named_before_anything_is_queued(client, superuser, ladder):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:gates_gate_simulate"),
        {
            "program": ladder.program.pk,
            "name": "Broken",
            "state": GateState.DRAFT,
            "criteria": '{"metric": "nope", "op": ">=", "target": 1}',
        },
    )
    assert response.status_code == 200
    assert "Fix the criteria before simulating" in response.content.decode()
    assert not WhatIfRun.objects.exists()


def test_a_failed_run_says_so(client, superuser, ladder):
    run = WhatIfRun.objects.create(
        requested_by=superuser, gates=[], as_of="2026-01-01", state=WhatIfRun.State.FAILED, error="boom"
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:gates_gate_whatif", args=[run.pk])).content.decode()
    assert "The simulation failed: boom" in page and "hx-get" not in page


@pytest.mark.parametrize(
    "state, stamp, note",
    [
        (WhatIfRun.State.QUEUED, "created_at", "No worker took the simulation up in time"),
        (WhatIfRun.State.RUNNING, "progress_at", "The worker stopped before the simulation finished"),
    ],
)
def test_a_run_lost_with_its_task_or_worker_stops_polling_and_says_so(
    client, superuser, ladder, settings, state, stamp, note
):
    settings.PRM_EVALUATION_STALE_MINUTES = 30
    long_ago = timezone.now() - datetime.timedelta(minutes=45)
    run = WhatIfRun.objects.create(
        requested_by=superuser, gates=[], as_of="2026-01-01", state=state, **{stamp: long_ago}
    )
    recent = WhatIfRun.objects.create(
        requested_by=superuser, gates=[], as_of="2026-01-01", state=state, progress_at=timezone.now()
    )
    client.force_login(superuser)
    progress_url = reverse("admin:gates_gate_whatif_progress", args=[run.pk])
    polled = client.get(progress_url, headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == reverse("admin:gates_gate_whatif", args=[run.pk])
    page = client.get(reverse("admin:gates_gate_whatif", args=[run.pk])).content.decode()
    assert note in page and "hx-get" not in page
    run.refresh_from_db()
    assert run.state == WhatIfRun.State.FAILED and run.finished_at is not None
    # One still within the limit is still waited for.
    client.get(reverse("admin:gates_gate_whatif_progress", args=[recent.pk]), headers={"HX-Request": "true"})
    recent.refresh_from_db()
    assert recent.state == state


def test_the_report_page_reads_a_fixed_number_of_queries(
    client, superuser, ladder, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    for index in range(30):
        ladder.certify(PartnerFactory(name=f"Mover {index}"), 2)
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:gates_gate_changelist"),
            {"action": "simulate_selected", "_selected_action": [ladder.silver_gate.pk, ladder.gold_gate.pk]},
        )
    url = response["Location"]
    assert WhatIfRun.objects.get().result["movers_total"] == 30  # each newly passes Silver
    # The session, the user, the run: the report is stored on the run's row.
    with django_assert_max_num_queries(4):
        page = client.get(url).content.decode()
    assert page.count("newly passes") == 30


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("channel_manager", 200),  # who asked for it
        ("superuser", 200),  # sees every partner anyway
        ("other_program_manager", 404),  # staff, but not his run: it names another's partners
        ("partner_admin", 302),  # not staff: the admin's login
        ("distributor_user", 302),
    ],
)
def test_the_run_pages_by_persona(client, request, evaluated, channel_manager, persona, status):
    run = WhatIfRun.objects.create(
        requested_by=channel_manager, gates=[], as_of="2026-01-01", state=WhatIfRun.State.DONE, result={}
    )
    client.force_login(request.getfixturevalue(persona))
    for name in (
        "admin:gates_gate_whatif",
        "admin:gates_gate_whatif_progress",
        "admin:gates_gate_whatif_csv",
    ):
        response = client.get(reverse(name, args=[run.pk]))
        assert response.status_code == status, name
        if status == 302:
            assert "/login/" in response["Location"]
