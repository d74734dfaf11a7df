"""Replay against history: a rule decided on past quarter ends, from the facts as they stood."""

import datetime

import pytest

from gates import services
from gates.models import (
    BenefitGrant,
    Gate,
    GateStatus,
    GateStatusChange,
    GateVersion,
    PartnerTier,
    ReplayRun,
    TierChange,
)
from gates.replay import ReplayError, replay_dates, replay_queue, replay_report, replay_run
from partners.models import Sale
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 7, 15)
LONG_AGO = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
TEN_THOUSAND = {"metric": "sales_amount", "op": ">=", "target": "10000"}


def _written():
    """Everything the evaluation writes about partners, to show a replay leaves it as it was."""
    return (
        list(GateStatus.objects.order_by("id").values_list("id", "status", "gate_version")),
        list(PartnerTier.objects.order_by("id").values_list("id", "tier_id", "grace_until")),
        list(BenefitGrant.objects.order_by("id").values_list("id", "revoked_at")),
        GateStatusChange.objects.count(),
        TierChange.objects.count(),
    )


@pytest.fixture
def queue(django_capture_on_commit_callbacks):
    """Queue a replay and run what follows its commit, as a request would (no broker: in this process)."""

    def queue(**kwargs):
        kwargs.setdefault("today", TODAY)
        with django_capture_on_commit_callbacks(execute=True):
            run = replay_queue(**kwargs)
        run.refresh_from_db()
        return run

    return queue


@pytest.fixture
def world(ladder):
    """Three partners and the Gold gate as it has been since 2025; a draft asks 10,000 of sales instead.

    * "Q2 seller" sells 12,000 on 10 May 2026, recorded that day;
    * "Late recorder" sells 12,000 on 10 February 2026 but records it on 1 May 2026;
    * "Newcomer" joins on 1 April 2026 and sells nothing.
    """
    Gate.objects.update(created_at=LONG_AGO)
    GateVersion.objects.update(created_at=LONG_AGO)
    joined = datetime.date(2025, 1, 1)
    q2 = PartnerFactory(name="Q2 seller", joined_on=joined)
    late = PartnerFactory(name="Late recorder", joined_on=joined)
    PartnerFactory(name="Newcomer", joined_on=datetime.date(2026, 4, 1))
    sale = ladder.sell(q2, "12000", datetime.date(2026, 5, 10))
    Sale.objects.filter(pk=sale.pk).update(created_at=datetime.datetime(2026, 5, 10, 9, tzinfo=datetime.UTC))
    sale = ladder.sell(late, "12000", datetime.date(2026, 2, 10))
    Sale.objects.filter(pk=sale.pk).update(created_at=datetime.datetime(2026, 5, 1, 9, tzinfo=datetime.UTC))
    services.evaluate()
    return ladder


def _counts(run, series):
    """{day: {tier: partners}} for one series, zeros left out."""
    out: dict[str, dict[str, int]] = {}
    for row in run.rows.order_by("day", "position"):
        value = getattr(row, series)
        if value:
            out.setdefault(row.day.isoformat(), {})[row.tier_name] = value
    return out


def test_the_dates_are_the_period_ends_before_today():
    assert replay_dates(period="quarter", count=4, today=TODAY) == [
        datetime.date(2025, 9, 30),
        datetime.date(2025, 12, 31),
        datetime.date(2026, 3, 31),
        datetime.date(2026, 6, 30),
    ]
    # On a quarter's last day that quarter is not over yet.
    assert replay_dates(period="quarter", count=1, today=datetime.date(2026, 6, 30)) == [
        datetime.date(2026, 3, 31)
    ]
    assert replay_dates(period="month", count=3, today=datetime.date(2026, 3, 1)) == [
        datetime.date(2025, 12, 31),
        datetime.date(2026, 1, 31),
        datetime.date(2026, 2, 28),
    ]


def test_a_draft_replayed_as_known_now(world, superuser, queue):
    draft = services.gate_draft_save(actor=superuser, gate=world.gold_gate, criteria=TEN_THOUSAND)
    before = _written()
    run = queue(actor=superuser, gate=world.gold_gate, count=4, known_then=False)
    assert run.state == ReplayRun.State.DONE, run.error
    assert (run.gate_entry["version"], run.gate_entry["draft"]) == (draft.version, True)
    assert run.dates == ["2025-09-30", "2025-12-31", "2026-03-31", "2026-06-30"]
    # The late sale counts on the date it describes: Gold from the Q1 end; the Q2 seller from the Q2
    # end on. The newcomer counts only once joined.
    assert _counts(run, "replayed") == {
        "2025-09-30": {"No tier": 2},
        "2025-12-31": {"No tier": 2},
        "2026-03-31": {"No tier": 1, "Gold": 1},
        "2026-06-30": {"No tier": 1, "Gold": 2},
    }
    # Live, the Gold gate asked three certified people: nobody had a tier.
    assert _counts(run, "live") == {
        "2025-09-30": {"No tier": 2},
        "2025-12-31": {"No tier": 2},
        "2026-03-31": {"No tier": 2},
        "2026-06-30": {"No tier": 3},
    }
    assert _written() == before


def test_a_late_sale_waits_for_its_recording_as_known_then(world, superuser, queue):
    services.gate_draft_save(actor=superuser, gate=world.gold_gate, criteria=TEN_THOUSAND)
    run = queue(actor=superuser, gate=world.gold_gate, count=4, known_then=True)
    replayed = _counts(run, "replayed")
    # Recorded on 1 May, the February sale was not known at the Q1 end.
    assert replayed["2026-03-31"] == {"No tier": 2}
    assert replayed["2026-06-30"] == {"No tier": 1, "Gold": 2}
    report = replay_report(run)
    assert report["tiers"] == ["No tier", "Silver", "Gold"]
    assert [(d["day"], d["partners"], d["moved"]) for d in report["dates"]][-1] == ("2026-06-30", 3, 2)


def test_the_live_series_follows_the_version_in_force_on_each_date(world, superuser, queue):
    gate = world.gold_gate
    # Version 1 (three people) until the end of 2025, version 2 (10,000 of sales) from 2026.
    GateVersion.objects.filter(gate=gate, version=1).update(state="superseded")
    GateVersion.objects.create(
        gate=gate,
        version=2,
        criteria=TEN_THOUSAND,
        currency="USD",
        state="current",
        effective_from=datetime.date(2026, 1, 1),
    )
    run = queue(actor=superuser, gate=gate, version=1, count=4, known_then=False)
    assert run.gate_entry["version"] == 1 and not run.gate_entry["draft"]
    live = _counts(run, "live")
    assert live["2025-12-31"] == {"No tier": 2}
    assert live["2026-03-31"] == {"No tier": 1, "Gold": 1}
    assert live["2026-06-30"] == {"No tier": 1, "Gold": 2}
    # Version 1 replayed: nobody ever had three certified people.
    assert all(set(tiers) == {"No tier"} for tiers in _counts(run, "replayed").values())


def test_a_manager_replays_only_the_partners_he_covers(world, channel_manager, superuser, queue):
    PartnerFactory(name="Xolotl Systems", country="BR", region="latam", joined_on=datetime.date(2025, 1, 1))
    run = queue(actor=channel_manager, gate=world.gold_gate, count=1, known_then=False)
    everyone = queue(actor=superuser, gate=world.gold_gate, count=1, known_then=False)
    assert run.scope == "the 3 partners you cover"
    assert sum(row.live for row in run.rows.all()) == 3
    assert sum(row.live for row in everyone.rows.all()) == 4
    assert sum(row.replayed for row in everyone.rows.all()) == 4
    assert list(ReplayRun.objects.visible_to(channel_manager)) == [run]
    other = type(channel_manager).objects.create(username="other", is_staff=True)
    assert not ReplayRun.objects.visible_to(other).exists()


def test_bad_requests_name_their_field(world, superuser):
    with pytest.raises(ReplayError) as caught:
        replay_queue(actor=superuser, gate=world.gold_gate, period="week", count=0)
    assert set(caught.value.errors) == {"period", "count"}
    with pytest.raises(ReplayError) as caught:
        replay_queue(actor=superuser, gate=world.gold_gate, version=9)
    assert caught.value.errors == {"version": ["The gate has no version 9."]}


def test_progress_and_a_second_delivery(world, superuser):
    run = ReplayRun.objects.create(
        gate=world.gold_gate,
        requested_by=superuser,
        gate_entry={**_entry(world.gold_gate)},
        dates=["2026-03-31", "2026-06-30"],
    )
    replay_run(run.pk)
    run.refresh_from_db()
    assert (run.state, run.chunks_done, run.percent_done, run.partners_total) == ("done", 1, 100, 3)
    assert replay_run(run.pk) is None
    assert run.rows.count() == 2 * 3


def _entry(gate):
    from gates.replay import replay_entry

    return replay_entry(gate)
