"""The what-if's incentive figure: the tier moves priced by the rules whose earning depends on the tier."""

import datetime

import pytest

from gates import services
from gates.whatif import whatif_entry, whatif_queue
from incentives.periods import quarter_of
from tests.factories import EngagementActivityFactory, PartnerFactory
from tests.incentives.helpers import commission_rule, margin_rule, points_rule, set_tier, won_deal

pytestmark = pytest.mark.django_db

TWO_PEOPLE = {
    "metric": "certified_people",
    "certification_types": ["sales-engineer"],
    "op": ">=",
    "target": 2,
}


@pytest.fixture
def world(ladder):
    """ "Two" holds Silver and would reach Gold at two engineers; "Three" holds Gold already."""
    two, three = PartnerFactory(name="Two"), PartnerFactory(name="Three")
    ladder.certify(two, 2)
    ladder.certify(three, 3)
    services.evaluate()
    return ladder, two, three


def _simulate(superuser, ladder, django_capture_on_commit_callbacks, as_of):
    with django_capture_on_commit_callbacks(execute=True):
        run = whatif_queue(
            actor=superuser, entries=[whatif_entry(ladder.gold_gate, criteria=TWO_PEOPLE)], as_of=as_of
        )
    run.refresh_from_db()
    assert run.state == run.State.DONE, run.error
    return run.result["incentive_cost"]


def test_the_movers_deals_of_the_quarter_priced_at_each_tier_each_deal_rounded_once(
    world, superuser, django_capture_on_commit_callbacks
):
    ladder, two, three = world
    as_of = datetime.date.today()
    start = quarter_of(as_of).start
    margin = margin_rule(ladder.program, {ladder.silver: "10", ladder.gold: "15"}, name="Tier margin")
    # Partner-sourced and -closed deals earn 20 %, from Gold only: eligibility depends on the tier.
    gold_commission = commission_rule(ladder.program, name="Gold commission", min_tier=ladder.gold)
    commission_rule(ladder.program, name="Any tier commission")  # the tier changes nothing: not priced
    for tier_holder, tier in ((two, ladder.silver), (three, ladder.gold)):
        set_tier(tier_holder, tier, start - datetime.timedelta(days=200))
    won_deal(two, "1000.00", closed_on=start, customer="Contoso")
    won_deal(two, "333.33", closed_on=as_of, customer="Fabrikam")
    won_deal(two, "5000.00", closed_on=start - datetime.timedelta(days=1))  # last quarter
    won_deal(three, "7000.00", closed_on=start)  # Gold already: does not move

    cost = _simulate(superuser, ladder, django_capture_on_commit_callbacks, as_of)

    assert (cost["from"], cost["to"]) == (start.isoformat(), as_of.isoformat())
    # Margin, Silver 10 %: 100.00 + 33.333 → 33.33 = 133.33; Gold 15 %: 150.00 + 49.9995 → 50.00 = 200.00.
    # Gold commission, 20 % from Gold: nothing as Silver; 200.00 + 66.666 → 66.67 = 266.67.
    assert cost["rules"] == [
        {
            "rule": margin.pk,
            "name": "Tier margin",
            "kind": "margin",
            "currency": "USD",
            "count": 2,
            "counted": "deal",
            "before": "133.33",
            "after": "200.00",
            "difference": "66.67",
        },
        {
            "rule": gold_commission.pk,
            "name": "Gold commission",
            "kind": "commission",
            "currency": "USD",
            "count": 2,
            "counted": "deal",
            "before": "0.00",
            "after": "266.67",
            "difference": "266.67",
        },
    ]
    assert cost["totals"] == [
        {"currency": "USD", "before": "133.33", "after": "466.67", "difference": "333.34"}
    ]
    assert cost["problems"] == []


def test_a_deal_in_another_currency_is_converted_at_its_days_rate_and_a_missing_rate_is_named(
    world, superuser, django_capture_on_commit_callbacks
):
    from core.models import ExchangeRate

    ladder, two, _ = world
    as_of = datetime.date.today()
    start = quarter_of(as_of).start
    margin_rule(ladder.program, {ladder.silver: "10", ladder.gold: "15"}, name="Tier margin")
    set_tier(two, ladder.silver, start - datetime.timedelta(days=200))
    ExchangeRate.objects.create(currency="EUR", valid_from=start - datetime.timedelta(days=10), rate="1.1")
    won_deal(two, "1000.00", currency="EUR", closed_on=start)  # 1,100.00 USD
    won_deal(two, "500.00", currency="JPY", closed_on=start)  # no JPY rate

    cost = _simulate(superuser, ladder, django_capture_on_commit_callbacks, as_of)

    [row] = cost["rules"]
    assert (row["count"], row["before"], row["after"], row["difference"]) == (1, "110.00", "165.00", "55.00")
    [problem] = cost["problems"]
    assert problem.startswith("Tier margin, deal ") and "JPY" in problem


def test_without_a_rule_depending_on_the_tier_nothing_is_priced(
    world, superuser, django_capture_on_commit_callbacks
):
    ladder, two, _ = world
    commission_rule(ladder.program, name="Any tier commission")
    won_deal(two, "1000.00", closed_on=datetime.date.today())
    cost = _simulate(superuser, ladder, django_capture_on_commit_callbacks, datetime.date.today())
    assert (cost["rules"], cost["totals"]) == ([], [])


def test_the_report_page_shows_the_cost_per_rule_and_in_total(
    client, world, superuser, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from gates.models import WhatIfRun

    ladder, two, _ = world
    margin_rule(ladder.program, {ladder.silver: "10", ladder.gold: "15"}, name="Tier margin")
    points_rule(ladder.program, name="Gold points", multiplier="2", min_tier=ladder.gold)
    set_tier(two, ladder.silver, quarter_of(datetime.date.today()).start - datetime.timedelta(days=30))
    won_deal(two, "1000.00", closed_on=datetime.date.today())
    EngagementActivityFactory(partner=two, points=7, occurred_on=datetime.date.today())
    _simulate(superuser, ladder, django_capture_on_commit_callbacks, datetime.date.today())
    client.force_login(superuser)
    page = client.get(reverse("admin:gates_gate_whatif", args=[WhatIfRun.objects.get().pk])).content.decode()
    assert (
        "<tr><td>Tier margin</td><td>1 deal</td><td>100.00 USD</td><td>150.00 USD</td><td>50.00 USD</td></tr>"
        in page
    )
    assert (
        "<tr><td>Gold points</td><td>1 activity</td><td>0 PTS</td><td>14 PTS</td><td>14 PTS</td></tr>" in page
    )
    assert '<th scope="row">Total in points</th><td></td><td>0 PTS</td><td>14 PTS</td><td>14 PTS</td>' in page
    assert (
        '<th scope="row">Total in USD</th><td></td><td>100.00 USD</td><td>150.00 USD</td><td>50.00 USD</td>'
        in page
    )


def test_pricing_the_moves_takes_the_same_queries_for_one_mover_as_for_many(ladder):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incentives.whatif import tier_moves_cost

    margin_rule(ladder.program, {ladder.silver: "10", ladder.gold: "15"}, name="Tier margin")
    today = datetime.date.today()
    movers = [PartnerFactory() for _ in range(4)]
    for partner in movers:
        won_deal(partner, "100.00", closed_on=today)

    def queries(partners) -> int:
        moves = [(p.pk, ladder.program.pk, ladder.silver.pk, ladder.gold.pk) for p in partners]
        with CaptureQueriesContext(connection) as captured:
            cost = tier_moves_cost(moves, today)
        assert cost["rules"][0]["count"] == len(partners)
        return len(captured)

    # The rules and their rates, the tiers, the exchange rates, the deals with their sales.
    assert queries(movers[:1]) == queries(movers)
