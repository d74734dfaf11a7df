"""At-risk forecasts: hand-computed failing days, shortfalls and fixes, horizons, episodes, query counts."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from criteria.windows import Window
from gates import services
from gates.forecast import forecasts_refresh
from gates.forecast_dates import calendar_turns, exit_day, month_anniversaries
from gates.models import Gate, GateForecast, GateRiskEpisode, GateState, PartnerTier, RiskEpisodeEnd
from gates.signals import gate_at_risk, gate_recovered
from gates.tiers import TierState, next_tier_state, tier_lost_on
from partners.models import MembershipRole
from programs.models import Tier
from tests.factories import (
    CertificationFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    SaleFactory,
)

pytestmark = pytest.mark.django_db
D = datetime.date
TODAY = D(2026, 3, 1)


def certified_gate(ladder, name="Two engineers", people=2, **kwargs):
    return ladder.gate(name, people, **kwargs)


def sales_gate(ladder, name, target, window, **kwargs):
    return Gate.objects.create(
        program=ladder.program,
        name=name,
        state=GateState.ACTIVE,
        criteria={
            "metric": "sales_amount",
            "window": window,
            "op": ">=",
            "target": target,
            "currency": "USD",
        },
        **kwargs,
    )


def certify(partner, first, last, expires_on):
    return CertificationFactory(
        person=PersonFactory(partner=partner, first_name=first, last_name=last),
        issued_on=D(2025, 1, 1),
        expires_on=expires_on,
    )


def run(as_of=TODAY, partner_ids=None):
    services.evaluate(as_of=as_of, notify=False)
    return forecasts_refresh(as_of=as_of, partner_ids=partner_ids)


def forecast_of(partner, gate):
    return GateForecast.objects.get(partner=partner, gate=gate)


# --- the calendar of changes ------------------------------------------------------------------


def test_a_fact_leaves_a_rolling_window_the_day_its_window_no_longer_reaches_it():
    assert exit_day(Window("rolling_days", days=90), D(2026, 1, 1), TODAY) == D(2026, 4, 1)
    # 3 months back from 31 May reaches 1 March (exclusive of 28 Feb): the sale of 28 Feb leaves on 29 May.
    months = Window("rolling_months", months=3)
    leaves = exit_day(months, D(2026, 2, 28), TODAY)
    assert leaves is not None
    assert months.bounds(leaves)[0] > D(2026, 2, 28) >= months.bounds(leaves - datetime.timedelta(days=1))[0]
    assert exit_day(Window("rolling_days", days=90), D(2025, 1, 1), TODAY) is None  # already out


def test_calendar_windows_turn_at_the_start_of_each_period():
    assert calendar_turns(Window("quarter_to_date"), TODAY, D(2026, 7, 31)) == {D(2026, 4, 1), D(2026, 7, 1)}
    fiscal = Window("year_to_date", fiscal_year_start_month=4)
    assert calendar_turns(fiscal, TODAY, D(2026, 5, 1)) == {D(2026, 4, 1)}
    assert calendar_turns(Window("rolling_days", days=30), TODAY, D(2026, 5, 1)) == set()


def test_months_since_joining_grow_on_the_anniversary_even_at_a_month_end():
    assert month_anniversaries(D(2025, 1, 15), TODAY, D(2026, 4, 30)) == [D(2026, 3, 15), D(2026, 4, 15)]
    # Joined on 31 January: the month of March counts from 31 March, that of April from 1 May.
    assert month_anniversaries(D(2025, 1, 31), TODAY, D(2026, 5, 1)) == [D(2026, 3, 31), D(2026, 5, 1)]


# --- hand-computed forecasts ------------------------------------------------------------------


def test_an_expiring_certification_puts_a_two_people_gate_at_risk_the_day_after_it_expires(ladder):
    partner = PartnerFactory()
    gate = certified_gate(ladder)
    certify(partner, "Ana", "Silva", TODAY + datetime.timedelta(days=20))
    certify(partner, "Hiro", "Rossi", None)

    summary = run()

    assert summary.at_risk == 1
    row = forecast_of(partner, gate)
    assert row.at_risk
    # Valid through its expiry day, 21 March; the gate would fail on 22 March.
    assert row.fails_on == D(2026, 3, 22)
    assert row.criterion == "people holding a valid sales-engineer certification >= 2"
    assert row.shortfall.startswith("1 more person holding a valid sales-engineer certification")
    assert row.fix == (
        "1 certification expires on 21 March 2026: Ana Silva. Renew it before then, or certify 1 more person."
    )
    assert [r["name"] for r in row.renewals] == ["Ana Silva"]
    assert row.horizon_days == 60
    assert row.episode_started_on == TODAY


def test_certifications_expiring_today_still_count_today(ladder):
    partner = PartnerFactory()
    gate = certified_gate(ladder)
    certify(partner, "Ana", "Silva", TODAY)
    certify(partner, "Hiro", "Rossi", TODAY)
    certify(partner, "Li", "Wei", TODAY)

    run()

    row = forecast_of(partner, gate)
    assert row.fails_on == TODAY + datetime.timedelta(days=1)
    assert row.fix.startswith("3 certifications expire on 1 March 2026: Hiro Rossi, Ana Silva, Li Wei.")


def test_the_big_sale_leaving_a_rolling_window_names_the_amount_needed(ladder):
    partner = PartnerFactory()
    gate = sales_gate(ladder, "Quarterly revenue", "100000", {"kind": "rolling_days", "days": 90})
    # 90 days counting 1 March reach back to 2 December; the big sale of 10 December leaves on 10 March.
    SaleFactory(partner=partner, amount=Decimal("95000"), currency="USD", closed_on=D(2025, 12, 10))
    SaleFactory(partner=partner, amount=Decimal("12000"), currency="USD", closed_on=D(2026, 2, 20))

    run()

    row = forecast_of(partner, gate)
    assert row.fails_on == D(2026, 3, 10)
    assert row.shortfall == "88,000.00 USD of won sales in the last 90 days before 10 March 2026"
    assert row.fix == "Win 88,000.00 USD of won sales in the last 90 days before 10 March 2026."


def test_quarter_to_date_sales_restart_at_the_quarter_end(ladder):
    partner = PartnerFactory()
    gate = sales_gate(ladder, "This quarter", "50000", "quarter_to_date")
    SaleFactory(partner=partner, amount=Decimal("60000"), currency="USD", closed_on=D(2026, 2, 1))

    run()

    row = forecast_of(partner, gate)
    assert row.fails_on == D(2026, 4, 1)
    assert row.shortfall == "50,000.00 USD of won sales this quarter before 1 April 2026"


def test_a_gate_that_keeps_passing_is_not_at_risk(ladder):
    partner = PartnerFactory()
    certified_gate(ladder)
    sales_gate(ladder, "Revenue", "1000", "all_time")
    certify(partner, "Ana", "Silva", None)
    certify(partner, "Hiro", "Rossi", TODAY + datetime.timedelta(days=400))
    SaleFactory(partner=partner, amount=Decimal("5000"), currency="USD", closed_on=D(2025, 6, 1))

    summary = run()

    assert summary.at_risk == 0
    assert not GateForecast.objects.filter(partner=partner).exists()


def test_a_gate_failing_today_is_not_at_risk_it_has_failed(ladder):
    partner = PartnerFactory()
    gate = certified_gate(ladder)
    certify(partner, "Ana", "Silva", TODAY + datetime.timedelta(days=5))

    run()

    assert not GateForecast.objects.filter(partner=partner, gate=gate).exists()
    # The one-person gate it passes is at risk, though.
    assert forecast_of(partner, ladder.silver_gate).fails_on == TODAY + datetime.timedelta(days=6)


def test_the_horizon_of_each_gate_is_respected(ladder):
    partner = PartnerFactory()
    short = certified_gate(ladder, "Short view")
    long = certified_gate(ladder, "Long view", forecast_horizon_days=90)
    certify(partner, "Ana", "Silva", TODAY + datetime.timedelta(days=69))
    certify(partner, "Hiro", "Rossi", None)

    run()

    assert not GateForecast.objects.filter(partner=partner, gate=short).exists()
    assert forecast_of(partner, long).fails_on == TODAY + datetime.timedelta(days=70)


def test_a_criterion_on_months_since_joining_fails_on_the_anniversary(ladder):
    partner = PartnerFactory(joined_on=D(2025, 3, 20))
    gate = Gate.objects.create(
        program=ladder.program,
        name="Newcomers",
        state=GateState.ACTIVE,
        criteria={"metric": "months_since_joining", "op": "<", "target": 12},
    )

    run()

    assert forecast_of(partner, gate).fails_on == D(2026, 3, 20)


def test_a_gate_waiting_on_a_prerequisite_at_risk_is_at_risk_too(ladder):
    partner = PartnerFactory()
    first = certified_gate(ladder, "First", people=1)
    second = sales_gate(ladder, "Second", "1000", "all_time")
    second.prerequisites.set([first])
    certify(partner, "Ana", "Silva", TODAY + datetime.timedelta(days=10))
    SaleFactory(partner=partner, amount=Decimal("5000"), currency="USD", closed_on=D(2025, 6, 1))

    run()

    row = forecast_of(partner, second)
    assert row.fails_on == TODAY + datetime.timedelta(days=11)
    assert row.criterion == "the prerequisite gate “First”"


# --- episodes ----------------------------------------------------------------------------------


@pytest.fixture
def watched(ladder):
    partner = PartnerFactory(name="Acme")
    MembershipFactory(partner=partner, role=MembershipRole.ADMIN, user__email="admin@acme.example.com")
    gate = ladder.gold_gate  # three certified people
    expiring = certify(partner, "Ana", "Silva", TODAY + datetime.timedelta(days=30))
    certify(partner, "Hiro", "Rossi", None)
    certify(partner, "Li", "Wei", None)
    return partner, gate, expiring


def test_an_episode_is_notified_once_then_again_only_when_its_day_moves_closer(
    watched, django_capture_on_commit_callbacks
):
    partner, gate, expiring = watched
    started, ended = [], []
    gate_at_risk.connect(lambda **kw: started.append(kw), weak=False, dispatch_uid="test-at-risk")
    gate_recovered.connect(lambda **kw: ended.append(kw), weak=False, dispatch_uid="test-recovered")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run()
        assert len(mail.outbox) == 1
        assert "At risk: your Gold tier (the gate “Gold gate”) would no longer be met on 1 April 2026" in (
            mail.outbox[0].body
        )
        assert "Ana Silva" in mail.outbox[0].body
        assert [kw["forecast"].fails_on for kw in started] == [D(2026, 4, 1)]

        # The next night, nothing new: no mail, no signal, the same episode.
        with django_capture_on_commit_callbacks(execute=True):
            run(as_of=TODAY + datetime.timedelta(days=1))
        assert len(mail.outbox) == 1
        assert len(started) == 1

        # Ana renews for a fortnight: the day moves later, nobody is told again.
        expiring.expires_on = TODAY + datetime.timedelta(days=45)
        expiring.save()
        with django_capture_on_commit_callbacks(execute=True):
            run(as_of=TODAY + datetime.timedelta(days=2))
        assert forecast_of(partner, gate).fails_on == D(2026, 4, 16)
        assert len(mail.outbox) == 1

        # Sooner than that, but not sooner than the day already told: still no mail.
        expiring.expires_on = TODAY + datetime.timedelta(days=40)
        expiring.save()
        with django_capture_on_commit_callbacks(execute=True):
            run(as_of=TODAY + datetime.timedelta(days=3))
        assert forecast_of(partner, gate).fails_on == D(2026, 4, 11)
        assert len(mail.outbox) == 1

        # Sooner than the day told: warned again.
        expiring.expires_on = TODAY + datetime.timedelta(days=10)
        expiring.save()
        with django_capture_on_commit_callbacks(execute=True):
            run(as_of=TODAY + datetime.timedelta(days=4))
        assert forecast_of(partner, gate).fails_on == D(2026, 3, 12)
        assert len(mail.outbox) == 2
        assert "would now no longer be met on 12 March 2026" in mail.outbox[1].body
        episode = GateRiskEpisode.objects.get(partner=partner, gate=gate)
        assert (episode.first_fails_on, episode.fails_on, episode.notifications) == (
            D(2026, 4, 1),
            D(2026, 3, 12),
            2,
        )

        # Renewed for good: it passes through the horizon again, and the episode ends.
        expiring.expires_on = None
        expiring.save()
        with django_capture_on_commit_callbacks(execute=True):
            run(as_of=TODAY + datetime.timedelta(days=5))
        row = forecast_of(partner, gate)
        assert not row.at_risk and row.fails_on is None
        episode.refresh_from_db()
        assert (episode.ended_on, episode.end_reason) == (D(2026, 3, 6), RiskEpisodeEnd.RECOVERED)
        assert [kw["reason"] for kw in ended] == ["recovered"]
        assert len(mail.outbox) == 2
    finally:
        gate_at_risk.disconnect(dispatch_uid="test-at-risk")
        gate_recovered.disconnect(dispatch_uid="test-recovered")


def test_a_gate_that_fails_for_real_ends_the_episode_as_failed(watched):
    partner, gate, _expiring = watched
    run()
    run(as_of=D(2026, 4, 1))

    episode = GateRiskEpisode.objects.get(partner=partner, gate=gate)
    assert (episode.ended_on, episode.end_reason) == (D(2026, 4, 1), RiskEpisodeEnd.FAILED)
    assert not forecast_of(partner, gate).at_risk


def test_a_forecast_of_some_partners_leaves_the_others_alone(watched):
    partner, _gate, _expiring = watched  # at risk on its Gold gate, but not forecast here
    other = PartnerFactory()
    certify(other, "Kim", "Lee", TODAY + datetime.timedelta(days=5))  # its Silver gate is at risk

    services.evaluate(as_of=TODAY, notify=False)
    summary = forecasts_refresh(as_of=TODAY, partner_ids=[other.pk])

    assert summary.at_risk == 1
    assert list(GateForecast.objects.values_list("partner_id", flat=True)) == [other.pk]
    assert not GateForecast.objects.filter(partner=partner).exists()


# --- cost ---------------------------------------------------------------------------------------


def _queries(partners: int, ladder) -> int:
    for n in range(partners):
        partner = PartnerFactory()
        certify(partner, "Ana", f"Silva{n}", TODAY + datetime.timedelta(days=5 + n % 7))
        certify(partner, "Hiro", f"Rossi{n}", None)
        SaleFactory(partner=partner, amount=Decimal("95000"), currency="USD", closed_on=D(2025, 12, 10))
    services.evaluate(as_of=TODAY, notify=False)
    with CaptureQueriesContext(connection) as queries:
        forecasts_refresh(as_of=TODAY)
    return len(queries)


def test_the_forecast_costs_the_same_queries_whatever_the_number_of_partners(ladder):
    certified_gate(ladder)
    sales_gate(ladder, "Quarterly revenue", "90000", {"kind": "rolling_days", "days": 90})
    few = _queries(7, ladder)
    GateForecast.objects.all().delete()
    GateRiskEpisode.objects.all().delete()
    many = _queries(28, ladder)
    # Subjects and statuses, the change days (one query per fact table), then per changing day
    # partners and one aggregate per fact table, then the fix's certifications and the writes.
    assert many == few


# --- what the tier engine would do: grace and overrides --------------------------------------


def test_the_day_a_tier_goes_follows_the_tier_engine_day_by_day():
    """``tier_lost_on`` agrees with ``next_tier_state`` run every day from the gate's first failing day."""
    gold, silver = 2, 1
    ranks = {silver: 1, gold: 2}
    fails_on = D(2026, 4, 1)
    for grace in (0, 1, 30):
        for override_expires_on in (None, D(2026, 4, 10), D(2026, 6, 1)):
            overridden = override_expires_on is not None
            state = TierState(
                gold,
                D(2025, 1, 1),
                gold,
                gold,
                None,
                override_tier_id=gold if overridden else None,
                override_expires_on=override_expires_on,
            )
            day, lost = fails_on, None
            while day < D(2026, 12, 31):
                state, _moves = next_tier_state(
                    state, qualified_tier_id=silver, ranks=ranks, grace_days={gold: grace}, as_of=day
                )
                assert state is not None
                if state.tier_id != gold:
                    lost = day
                    break
                day += datetime.timedelta(days=1)
            expected = tier_lost_on(
                fails_on=fails_on,
                grace_days=grace,
                override_expires_on=override_expires_on,
                overridden=overridden,
            )
            assert expected == lost, (grace, override_expires_on)
    assert tier_lost_on(fails_on=fails_on, grace_days=30, override_expires_on=None, overridden=True) is None
    assert tier_lost_on(fails_on=None, grace_days=30, grace_until=D(2026, 3, 20)) == D(2026, 3, 21)


def override(partner, ladder, expires_on):
    PartnerTier.objects.filter(partner=partner, program=ladder.program).update(
        override_tier=ladder.gold, override_reason="Strategic account", override_expires_on=expires_on
    )


def test_the_gate_of_the_tier_earned_says_the_day_the_tier_goes_after_its_grace(
    watched, django_capture_on_commit_callbacks
):
    partner, gate, _expiring = watched
    with django_capture_on_commit_callbacks(execute=True):
        run()
    row = forecast_of(partner, gate)
    # The gate fails on 1 April; Gold's 90 days of grace keep it through 30 June.
    assert (row.fails_on, row.tier_lost_on, row.override_until, row.grace_until) == (
        D(2026, 4, 1),
        D(2026, 7, 1),
        None,
        None,
    )
    assert "You would keep Gold until 30 June 2026 and lose it on 1 July 2026." in mail.outbox[0].body


def test_a_gate_unlocking_no_tier_puts_no_tier_at_stake(ladder):
    partner = PartnerFactory()
    certify(partner, "Hiro", "Rossi", None)
    certify(partner, "Ana", "Silva", TODAY + datetime.timedelta(days=10))
    two = certified_gate(ladder)  # unlocks nothing
    run()
    row = forecast_of(partner, two)
    assert row.at_risk and row.tier_lost_on is None
    # Silver (one person) keeps passing with Hiro: its tier is not at stake.
    assert not GateForecast.objects.filter(partner=partner, gate=ladder.silver_gate).exists()


def test_without_grace_the_tier_goes_the_day_the_gate_fails(watched, ladder):
    partner, gate, _expiring = watched
    Tier.objects.filter(pk=ladder.gold.pk).update(grace_days=0)
    run()
    row = forecast_of(partner, gate)
    assert row.tier_lost_on == row.fails_on == D(2026, 4, 1)


def test_a_tier_an_override_holds_through_the_horizon_is_not_at_risk(watched, ladder):
    partner, gate, _expiring = watched
    run()
    assert forecast_of(partner, gate).at_risk

    # The manager holds Gold for the account until the horizon's last day (1 May, from 2 March): no risk.
    override(partner, ladder, D(2026, 5, 1))
    summary = run(as_of=TODAY + datetime.timedelta(days=1))

    assert summary.overridden == 1 and summary.at_risk == 0
    row = forecast_of(partner, gate)
    assert not row.at_risk and row.tier_lost_on is None
    episode = GateRiskEpisode.objects.get(partner=partner, gate=gate)
    assert (episode.ended_on, episode.end_reason) == (D(2026, 3, 2), RiskEpisodeEnd.OVERRIDDEN)

    # An override without an end holds too.
    override(partner, ladder, None)
    assert run(as_of=TODAY + datetime.timedelta(days=2)).at_risk == 0


def test_an_override_ending_within_the_horizon_holds_the_tier_until_its_end(watched, ladder):
    partner, gate, _expiring = watched
    Tier.objects.filter(pk=ladder.gold.pk).update(grace_days=0)
    services.evaluate(as_of=TODAY, notify=False)
    override(partner, ladder, D(2026, 4, 10))

    run()

    row = forecast_of(partner, gate)
    # The gate still fails on 1 April; the override keeps Gold through 10 April, not a day more.
    assert row.at_risk
    assert (row.fails_on, row.override_until, row.tier_lost_on) == (
        D(2026, 4, 1),
        D(2026, 4, 10),
        D(2026, 4, 11),
    )

    # With Gold's grace, the grace outlasts the override: the grace decides.
    Tier.objects.filter(pk=ladder.gold.pk).update(grace_days=90)
    run()
    assert forecast_of(partner, gate).tier_lost_on == D(2026, 7, 1)


def test_a_partner_already_in_grace_is_shown_in_grace_until_the_grace_ends(watched, ladder):
    partner, gate, _expiring = watched
    run()
    # Ana's certification expired: the Gold gate fails on 1 April and Gold's grace starts.
    summary = run(as_of=D(2026, 4, 1))

    assert summary.in_grace == 1
    row = forecast_of(partner, gate)
    assert not row.at_risk and row.fails_on is None
    assert (row.grace_until, row.tier_lost_on) == (D(2026, 6, 30), D(2026, 7, 1))
    assert row.fix == "Meet the gate “Gold gate” again by 30 June 2026 to keep the Gold tier."
    episode = GateRiskEpisode.objects.get(partner=partner, gate=gate)
    assert episode.end_reason == RiskEpisodeEnd.FAILED

    # A new certification: it qualifies again, the grace ends, and so does the row's.
    certify(partner, "Kim", "Lee", None)
    summary = run(as_of=D(2026, 4, 2))
    row = forecast_of(partner, gate)
    assert summary.in_grace == 0
    assert (row.at_risk, row.grace_until, row.tier_lost_on) == (False, None, None)
    assert PartnerTier.objects.get(partner=partner, program=ladder.program).grace_until is None
