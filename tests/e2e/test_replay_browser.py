"""Replay against history in a real browser: from the gate's change form to the chart and its table."""

import datetime
import re

import pytest

from gates.models import Gate, GateState, GateVersion
from tests.factories import PartnerFactory, ProgramFactory, SaleFactory, TierFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_replay_from_the_change_form_to_its_chart(page):
    from playwright.sync_api import expect

    program = ProgramFactory(name="Partner Network", slug="partner-network", base_currency="USD")
    gold = TierFactory(program=program, name="Gold", rank=1)
    gate = Gate.objects.create(
        program=program,
        name="Gold gate",
        state=GateState.ACTIVE,
        unlocks_tier=gold,
        criteria={"metric": "sales_amount", "op": ">=", "target": "50000"},
    )
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    Gate.objects.update(created_at=long_ago)
    GateVersion.objects.update(created_at=long_ago)
    seller = PartnerFactory(name="Acme", joined_on=datetime.date(2020, 1, 1))
    SaleFactory(
        partner=seller, amount="60000", closed_on=datetime.date.today() - datetime.timedelta(days=400)
    )
    UserFactory(username="root", is_staff=True, is_superuser=True)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))

    page.goto(f"/admin/gates/gate/{gate.pk}/change/")
    page.get_by_role("link", name="Replay against history").click()
    page.get_by_label("Rule to replay").select_option(label="Version 1 (Current)")
    page.get_by_label("Number of dates").fill("4")
    page.get_by_label(re.compile("As they are known now")).check()
    page.get_by_role("button", name="Replay").click()

    # No broker: the replay ran as the request committed, and the page is its report.
    expect(page.get_by_role("heading", name=re.compile("Tiers on each date"))).to_be_visible()
    expect(page.locator("canvas[data-chart='replay-chart-data'][data-rendered='true']")).to_be_attached()
    table = page.locator("table.replay-table")
    expect(table.get_by_role("columnheader", name="Gold")).to_be_visible()
    assert table.locator("tbody tr").count() == 4
    assert problems == []  # the Content-Security-Policy refused nothing
