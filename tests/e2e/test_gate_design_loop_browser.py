"""The channel manager's whole loop in Chromium, without typing JSON: build a gate's new rule in the
visual builder, read it back in words, simulate it, replay it against history, publish it as a version."""

import datetime
import re

import pytest

from gates import services
from gates.models import Gate, GateState, GateVersion
from tests.factories import (
    CertificationTypeFactory,
    PartnerFactory,
    ProgramFactory,
    SaleFactory,
    TierFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    """An active "Gold gate" at 50,000 USD of won sales: Acme (60,000) holds Gold, Beta (30,000) does not."""
    program = ProgramFactory(name="Partner Network", slug="partner-network", base_currency="USD")
    CertificationTypeFactory(code="sales-engineer")
    gold = TierFactory(program=program, name="Gold", rank=1)
    gate = Gate.objects.create(
        program=program,
        name="Gold gate",
        state=GateState.ACTIVE,
        unlocks_tier=gold,
        criteria={"all": [{"metric": "sales_amount", "op": ">=", "target": "50000"}]},
    )
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    Gate.objects.update(created_at=long_ago)
    GateVersion.objects.update(created_at=long_ago)
    sold_on = datetime.date.today() - datetime.timedelta(days=400)
    for name, amount in (("Acme", "60000"), ("Beta", "30000")):
        partner = PartnerFactory(name=name, joined_on=datetime.date(2020, 1, 1))
        SaleFactory(partner=partner, amount=amount, currency="USD", closed_on=sold_on)
    services.evaluate()
    UserFactory(username="root", is_staff=True, is_superuser=True)
    return gate


def test_build_read_simulate_replay_and_publish_a_gate_without_typing_json(page, world):
    from playwright.sync_api import expect

    gate = world
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))

    # Build: the old condition goes, a new one is made from the lists and a number.
    page.goto(f"/admin/gates/gate/{gate.pk}/change/")
    builder = page.locator(".criteria-builder-tree")
    preview = page.locator(".criteria-builder-description")
    expect(preview).to_have_text("At least 50,000.00 USD won sales all time.")
    builder.get_by_role("button", name="Remove this condition").click()
    expect(builder.get_by_text("No condition yet: add one below.")).to_be_visible()
    builder.get_by_role("button", name="Add a condition").click()
    builder.get_by_label("Metric").select_option("sales_amount")
    builder.get_by_label(re.compile("^Currency")).select_option("USD")
    builder.get_by_label("Comparison").select_option(">=")
    builder.get_by_label("Target").fill("25000")
    builder.get_by_label("Target").press("Tab")

    # Read it back in words.
    expect(preview).to_have_text("At least 25,000.00 USD won sales all time.")

    # Save: an active gate is not edited in place, the rule becomes its draft version 2.
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/gates/gate/$"))
    expect(page.get_by_text("saved as draft version 2")).to_be_visible()
    draft = GateVersion.objects.get(gate=gate, version=2)
    assert (draft.state, draft.criteria["all"][0]["target"]) == (GateVersion.State.DRAFT, "25000")

    # Simulate the draft from the list of gates; without a broker the run is done as it is asked.
    page.locator(f"input[name='_selected_action'][value='{gate.pk}']").check()
    page.locator("select[name='action']").select_option("simulate_selected")
    page.get_by_role("button", name="Go").click()
    page.wait_for_url(re.compile(r"/admin/gates/gate/whatif/\d+/$"))
    expect(page.get_by_role("heading", name=re.compile("Tier movement in Partner Network"))).to_be_visible()
    movers = page.locator("table", has=page.get_by_role("columnheader", name="Decided by"))
    expect(movers.get_by_role("row", name=re.compile("Beta.*newly passes"))).to_be_visible()

    # Replay the draft against history: the chart and one row per date.
    page.goto(f"/admin/gates/gate/{gate.pk}/change/")
    page.get_by_role("link", name="Replay against history").click()
    page.get_by_label("Rule to replay").select_option(label="Version 2 (Draft)")
    page.get_by_label("Number of dates").fill("4")
    page.get_by_label(re.compile("As they are known now")).check()
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("heading", name=re.compile("Tiers on each date"))).to_be_visible()
    expect(page.locator("canvas[data-chart='replay-chart-data'][data-rendered='true']")).to_be_attached()
    table = page.locator("table.replay-table")
    expect(table.get_by_role("columnheader", name="Gold")).to_be_visible()
    assert table.locator("tbody tr").count() == 4

    # Publish the draft from the gate's versions, in effect today.
    page.goto(f"/admin/gates/gateversion/?gate__id__exact={gate.pk}")
    page.locator(f"input[name='_selected_action'][value='{draft.pk}']").check()
    page.locator("select[name='action']").select_option("publish_today")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 version(s) published.")).to_be_visible()

    draft.refresh_from_db()
    gate.refresh_from_db()
    assert (draft.state, draft.published_by.username) == (GateVersion.State.CURRENT, "root")
    assert (gate.version, gate.criteria["all"][0]["target"]) == (2, "25000")
    assert GateVersion.objects.get(gate=gate, version=1).state == GateVersion.State.SUPERSEDED
    # The gate now reads as the published rule.
    page.goto(f"/admin/gates/gate/{gate.pk}/change/")
    expect(preview).to_have_text("At least 25,000.00 USD won sales all time.")
    assert problems == []
