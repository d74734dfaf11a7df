"""The charts of the channel manager's summary: what each counts, for the partners he covers only."""

import datetime
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import DealStatus, MdfPeriod
from gates.models import Gate, GateOutcome, GateStatus, GateStatusChange
from tests.factories import DealFactory, PartnerFactory
from tests.portal.builders import tier_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def covered_world(partner):
    """Acme holds Silver and measures 3 of the Gold gate's 5; Near Ltd holds nothing and 1 of Silver's 2."""
    program = tier_program(partner)
    near = PartnerFactory(name="Near Ltd")
    far = PartnerFactory(name="Far Away", country="US", region="na")
    silver_gate = Gate.objects.get(program=program, name="Silver gate")
    gold_gate = Gate.objects.get(program=program, name="Gold: five certified sales engineers")
    GateStatus.objects.create(partner=near, gate=silver_gate, status=GateOutcome.FAILED, measures=[1])
    GateStatus.objects.create(partner=far, gate=silver_gate, status=GateOutcome.FAILED, measures=[1])
    for gate in (silver_gate, gold_gate):
        GateStatus.objects.filter(gate=gate).update(gate_version=gate.version)
    # A pass two months ago, and one outside the manager's coverage that counts nowhere.
    GateStatusChange.objects.create(
        partner=near,
        gate=silver_gate,
        to_status=GateOutcome.PASSED,
        measures=[2],
        changed_at=timezone.now() - datetime.timedelta(days=62),
    )
    GateStatusChange.objects.create(partner=far, gate=silver_gate, to_status=GateOutcome.PASSED, measures=[2])
    DealFactory(partner=partner, needs_review=True, expected_value=Decimal("100.00"))
    DealFactory(partner=partner, expected_value=Decimal("250.50"))
    DealFactory(partner=near, status=DealStatus.APPROVED, expected_value=Decimal("1000.00"), currency="EUR")
    DealFactory(partner=far, status=DealStatus.APPROVED, expected_value=Decimal("9999.00"))
    today = timezone.localdate()
    MdfPeriod.objects.create(
        partner=partner,
        starts_on=today - datetime.timedelta(days=10),
        ends_on=today + datetime.timedelta(days=10),
        currency="USD",
        allowance=Decimal("10000.00"),
        requested=Decimal("300.00"),
        approved=Decimal("2000.00"),
        claimed=Decimal("500.00"),
        paid=Decimal("1000.00"),
    )
    MdfPeriod.objects.create(  # ended: not today's allowance
        partner=partner,
        starts_on=today - datetime.timedelta(days=200),
        ends_on=today - datetime.timedelta(days=100),
        currency="USD",
        allowance=Decimal("7777.00"),
    )
    MdfPeriod.objects.create(
        partner=far,
        starts_on=today - datetime.timedelta(days=10),
        ends_on=today + datetime.timedelta(days=10),
        currency="USD",
        allowance=Decimal("5555.00"),
    )
    return program


def _chart(html: str, chart_id: str) -> dict:
    start = html.index(f'<script id="{chart_id}" type="application/json">') + len(
        f'<script id="{chart_id}" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_the_summary_draws_tiers_passes_pipeline_and_mdf_from_the_coverage(
    client, covered_world, channel_manager
):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:manager"))
    html = response.content.decode()
    charts = response.context["charts"]

    tiers = _chart(html, "summary-tiers")
    assert tiers["labels"] == ["Silver", "Gold", "No tier"]
    assert tiers["datasets"][0]["data"] == [1, 0, 1]

    passed = _chart(html, "summary-passed")
    assert len(passed["labels"]) == 12
    assert passed["labels"][-1] == timezone.localdate().strftime("%b %Y")
    # Acme's pass today in this month, Near Ltd's two months back; Far Away's nowhere.
    assert sum(passed["datasets"][0]["data"]) == 2
    assert passed["datasets"][0]["data"][-1] == 1
    assert [n for _, n in charts.passed_rows] == passed["datasets"][0]["data"]

    pipeline = {row["label"]: row for row in charts.pipeline_rows}
    assert _chart(html, "summary-pipeline")["datasets"][0]["data"] == [1, 1, 1, 0, 0, 0, 0]
    assert pipeline["Submitted"]["value"] == "250.50 USD"
    assert pipeline["Under review"]["value"] == "100.00 USD"
    assert pipeline["Approved"]["value"] == "1,000.00 EUR"

    (mdf,) = charts.mdf_rows
    assert (mdf["currency"], mdf["partners"], mdf["allowance"], mdf["approved"], mdf["spent"]) == (
        "USD",
        1,
        Decimal("10000.00"),
        Decimal("2000.00"),
        Decimal("1500.00"),
    )
    assert _chart(html, "summary-mdf")["datasets"][2]["data"] == ["1500.00"]
    assert "Far Away" not in html


def test_closest_to_the_next_tier_is_sorted_by_gap(client, covered_world, channel_manager):
    client.force_login(channel_manager)
    response = client.get(reverse("portal:manager"))
    closest = response.context["charts"].closest
    # One criterion to go for both; Acme has come 3/5 of the way, Near Ltd 1/2.
    assert [(row.partner.name, row.next_gate.unlocks_tier.name) for row in closest] == [
        ("Acme", "Gold"),
        ("Near Ltd", "Silver"),
    ]
    assert closest[0].still_needed == ("2 more people holding a valid certification",)
    html = response.content.decode()
    assert "1 criterion to go (2 more people holding a valid certification)" in html
