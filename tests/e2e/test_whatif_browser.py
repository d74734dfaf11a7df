"""The what-if in a real browser: the run's page polls with the vendored htmx and turns into the report."""

import re

import pytest

from gates.models import Gate, GateState, WhatIfRun
from gates.whatif import whatif_entry, whatif_run
from tests.factories import (
    CertificationTypeFactory,
    PartnerFactory,
    ProgramFactory,
    TierFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_run_page_polls_until_the_report(page):
    from playwright.sync_api import expect

    program = ProgramFactory(name="Partner Network", slug="partner-network", base_currency="USD")
    CertificationTypeFactory(code="sales-engineer")
    gold = TierFactory(program=program, name="Gold", rank=1)
    gate = Gate.objects.create(
        program=program,
        name="Gold gate",
        state=GateState.ACTIVE,
        unlocks_tier=gold,
        criteria={"metric": "certified_people", "op": ">=", "target": 3},
    )
    partner = PartnerFactory(name="Acme")  # no one certified: it passes the draft's "at least 0"
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    # Queued, as with a broker: the worker takes it up while the page polls.
    run = WhatIfRun.objects.create(
        requested_by=user,
        gates=[whatif_entry(gate, criteria={**gate.criteria, "target": 0}, currency="USD")],
        as_of=partner.joined_on,
        scope="every partner",
    )
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))

    page.goto(f"/admin/gates/gate/whatif/{run.pk}/")
    expect(page.get_by_text("Queued, waiting for a worker")).to_be_visible()
    whatif_run(run.pk)  # the worker
    expect(page.get_by_role("heading", name=re.compile("Tier movement in Partner Network"))).to_be_visible()
    expect(page.locator("table").get_by_text("newly passes")).to_be_visible()
    assert page.url.endswith(f"/admin/gates/gate/whatif/{run.pk}/")
    assert problems == []  # the Content-Security-Policy refused nothing htmx did
