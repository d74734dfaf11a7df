"""Evaluation services: statuses and history, tiers with grace and overrides, benefits, idempotence."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gates import services
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    GateOutcome,
    GateStatus,
    GateStatusChange,
    MeasureDigest,
    PartnerTier,
    SegmentMembership,
    TierChange,
    TierChangeReason,
)
from gates.selectors import partner_gate_progress, tier_on
from partners.models import MembershipRole
from tests.factories import MembershipFactory, PartnerFactory, SegmentFactory, UserFactory, publish_criteria

pytestmark = pytest.mark.django_db
D = datetime.date
TODAY = D(2026, 3, 1)


def held(partner, ladder):
    row = PartnerTier.objects.filter(partner=partner, program=ladder.program).first()
    return row.tier.name if row and row.tier else None


def active_benefits(partner):
    return set(
        BenefitGrant.objects.filter(partner=partner, revoked_at__isnull=True).values_list(
            "benefit__name", flat=True
        )
    )


def test_a_pass_records_the_measures_history_tier_and_benefits(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    summary = services.evaluate(as_of=TODAY)
    status = GateStatus.objects.get(partner=partner, gate=ladder.silver_gate)
    assert status.status == GateOutcome.PASSED and status.measures == [1]
    gold = GateStatus.objects.get(partner=partner, gate=ladder.gold_gate)
    assert gold.status == GateOutcome.FAILED and gold.measures == [1]
    # A first "not yet" is where everybody starts: only the pass is history.
    assert list(
        GateStatusChange.objects.filter(partner=partner).values_list("gate__name", "from_status", "to_status")
    ) == [("Silver gate", "", "passed")]
    assert held(partner, ladder) == "Silver"
    assert active_benefits(partner) == {"Silver discount", "Deal registration"}
    assert summary.statuses_changed == 1 and summary.tiers_changed == 1
    run = EvaluationRun.objects.get(pk=summary.run_id)
    assert run.state == EvaluationRun.State.DONE and run.partners_evaluated == 1


def test_running_twice_writes_nothing_the_second_time(ladder):
    for count in (0, 1, 3):
        ladder.certify(PartnerFactory(), count)
    services.evaluate(as_of=TODAY)
    before = (
        GateStatus.objects.count(),
        GateStatusChange.objects.count(),
        TierChange.objects.count(),
        BenefitGrant.objects.count(),
    )
    with CaptureQueriesContext(connection) as queries:
        summary = services.evaluate(as_of=TODAY)
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"} and "gates_evaluationrun" not in q["sql"]
    ]
    assert writes == []
    assert summary.statuses_written == 0 and summary.statuses_changed == 0
    after = (
        GateStatus.objects.count(),
        GateStatusChange.objects.count(),
        TierChange.objects.count(),
        BenefitGrant.objects.count(),
    )
    assert after == before


def test_a_changed_value_updates_the_measures_without_history(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate(as_of=TODAY)
    ladder.certify(partner, 1)
    summary = services.evaluate(as_of=TODAY)
    assert GateStatus.objects.get(partner=partner, gate=ladder.gold_gate).measures == [2]
    assert summary.statuses_written == 2 and summary.statuses_changed == 0


def test_promotion_then_grace_then_recovery(ladder):
    partner = PartnerFactory()
    certifications = ladder.certify(partner, 3)
    services.evaluate(as_of=TODAY)
    assert held(partner, ladder) == "Gold"
    assert active_benefits(partner) == {"Gold discount", "Deal registration"}

    certifications[0].delete()  # down to two: qualifies for Silver only
    services.evaluate(as_of=TODAY + datetime.timedelta(days=1))
    row = PartnerTier.objects.get(partner=partner)
    assert row.tier == ladder.gold and row.qualified_tier == ladder.silver
    assert row.grace_until == TODAY + datetime.timedelta(days=91)
    assert active_benefits(partner) == {"Gold discount", "Deal registration"}  # kept during grace
    assert TierChange.objects.filter(partner=partner, reason=TierChangeReason.GRACE_STARTED).exists()

    ladder.certify(partner, 1)
    services.evaluate(as_of=TODAY + datetime.timedelta(days=20))
    row.refresh_from_db()
    assert row.tier == ladder.gold and row.grace_until is None
    assert TierChange.objects.filter(partner=partner, reason=TierChangeReason.GRACE_RECOVERED).exists()


def test_demotion_happens_the_day_after_grace_ends(ladder):
    partner = PartnerFactory()
    certifications = ladder.certify(partner, 3)
    services.evaluate(as_of=TODAY)
    certifications[0].delete()
    start = TODAY + datetime.timedelta(days=1)
    services.evaluate(as_of=start)
    last_day = start + datetime.timedelta(days=90)
    services.evaluate(as_of=last_day)
    assert held(partner, ladder) == "Gold"
    services.evaluate(as_of=last_day + datetime.timedelta(days=1))
    assert held(partner, ladder) == "Silver"
    assert active_benefits(partner) == {"Silver discount", "Deal registration"}
    grants = BenefitGrant.objects.filter(partner=partner, benefit=ladder.gold_discount).get()
    assert grants.revoked_at is not None
    reasons = list(TierChange.objects.filter(partner=partner).order_by("id").values_list("reason", flat=True))
    assert reasons == [TierChangeReason.PROMOTED, TierChangeReason.GRACE_STARTED, TierChangeReason.DEMOTED]
    # The history answers which tier was held on any day (what incentives pay on).
    assert tier_on(partner_id=partner.pk, program_id=ladder.program.pk, day=last_day) == ladder.gold.pk
    assert (
        tier_on(
            partner_id=partner.pk, program_id=ladder.program.pk, day=last_day + datetime.timedelta(days=1)
        )
        == ladder.silver.pk
    )
    assert (
        tier_on(partner_id=partner.pk, program_id=ladder.program.pk, day=TODAY - datetime.timedelta(days=1))
        is None
    )


def test_an_override_decides_the_tier_until_it_expires(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate(as_of=TODAY)
    manager = UserFactory(is_staff=True)
    expiry = D.today() + datetime.timedelta(days=30)
    services.tier_override_set(
        actor=manager,
        partner=partner,
        program=ladder.program,
        tier=ladder.gold,
        reason="Strategic launch partner",
        expires_on=expiry,
    )
    row = PartnerTier.objects.get(partner=partner)
    assert row.tier == ladder.gold and row.earned_tier == ladder.silver
    assert active_benefits(partner) == {"Gold discount", "Deal registration"}
    change = TierChange.objects.get(partner=partner, reason=TierChangeReason.OVERRIDE_SET)
    assert change.actor == manager and "Strategic launch partner" in change.note
    services.evaluate(as_of=expiry)
    assert held(partner, ladder) == "Gold"
    services.evaluate(as_of=expiry + datetime.timedelta(days=1))
    row.refresh_from_db()
    assert row.tier == ladder.silver and row.override_tier is None
    assert active_benefits(partner) == {"Silver discount", "Deal registration"}


def test_an_override_is_refused_without_a_reason_or_for_another_program(ladder):
    from tests.factories import TierFactory

    partner = PartnerFactory()
    with pytest.raises(ValueError, match="reason"):
        services.tier_override_set(
            actor=None,
            partner=partner,
            program=ladder.program,
            tier=ladder.gold,
            reason="  ",
            expires_on=None,
        )
    with pytest.raises(ValueError, match="another program"):
        services.tier_override_set(
            actor=None,
            partner=partner,
            program=ladder.program,
            tier=TierFactory(),
            reason="x",
            expires_on=None,
        )
    assert not PartnerTier.objects.exists()


def test_clearing_an_override_returns_to_the_earned_tier(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate(as_of=D.today())
    row = services.tier_override_set(
        actor=None, partner=partner, program=ladder.program, tier=ladder.gold, reason="pilot", expires_on=None
    )
    services.tier_override_clear(actor=None, partner_tier=row, note="pilot over")
    assert held(partner, ladder) == "Silver"
    assert active_benefits(partner) == {"Silver discount", "Deal registration"}


def test_an_override_is_forecast_again_after_commit_and_ends_the_risk_it_outlasts(
    ladder, django_capture_on_commit_callbacks
):
    from gates.forecast import forecasts_refresh
    from gates.models import GateForecast, GateRiskEpisode, RiskEpisodeEnd
    from tests.factories import CertificationFactory, PersonFactory

    today = timezone.localdate()
    partner = PartnerFactory()
    CertificationFactory(
        person=PersonFactory(partner=partner),
        issued_on=D(2025, 1, 1),
        expires_on=today + datetime.timedelta(days=10),
    )
    services.evaluate(as_of=today, notify=False)
    forecasts_refresh(as_of=today, notify=False)
    assert GateForecast.objects.get(partner=partner, gate=ladder.silver_gate).at_risk

    with django_capture_on_commit_callbacks(execute=True):
        services.tier_override_set(
            actor=None,
            partner=partner,
            program=ladder.program,
            tier=ladder.silver,
            reason="pilot",
            expires_on=None,
        )

    assert not GateForecast.objects.get(partner=partner, gate=ladder.silver_gate).at_risk
    episode = GateRiskEpisode.objects.get(partner=partner, gate=ladder.silver_gate)
    assert episode.end_reason == RiskEpisodeEnd.OVERRIDDEN


def test_prerequisites_block_a_gate(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 5)
    advanced = ladder.gate("Advanced", 0)
    advanced.prerequisites.add(ladder.gold_gate)
    blocked_partner = PartnerFactory()
    services.evaluate(as_of=TODAY)
    assert GateStatus.objects.get(partner=partner, gate=advanced).status == GateOutcome.PASSED
    assert GateStatus.objects.get(partner=blocked_partner, gate=advanced).status == GateOutcome.BLOCKED


def test_a_gate_unlocks_benefits_and_loses_them(ladder):
    partner = PartnerFactory()
    certifications = ladder.certify(partner, 2)
    co_selling = ladder.gate("Co-selling", 2)
    from tests.factories import BenefitFactory

    benefit = BenefitFactory(program=ladder.program, name="Co-selling", kind="co_selling")
    co_selling.unlocks_benefits.add(benefit)
    services.evaluate(as_of=TODAY)
    assert "Co-selling" in active_benefits(partner)
    certifications[0].delete()
    services.evaluate(as_of=TODAY)
    assert "Co-selling" not in active_benefits(partner)
    assert (
        BenefitGrant.objects.filter(partner=partner, benefit=benefit, revoked_at__isnull=False).count() == 1
    )


def test_segments_follow_their_criteria(ladder):
    emea = SegmentFactory(
        criteria={"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["emea"]}
    )
    gold = SegmentFactory(criteria={"metric": "current_tier", "program": "main", "op": ">=", "target": 2})
    inside = PartnerFactory(region="emea")
    ladder.certify(inside, 3)
    outside = PartnerFactory(region="apac")
    services.evaluate(as_of=TODAY)
    members = set(SegmentMembership.objects.values_list("segment_id", "partner_id"))
    # The tier segment sees the tier decided in the same evaluation.
    assert members == {(emea.pk, inside.pk), (gold.pk, inside.pk)}
    outside.region = "emea"
    outside.save()
    inside.region = "apac"
    inside.save()
    services.evaluate(as_of=TODAY)
    members = set(SegmentMembership.objects.values_list("segment_id", "partner_id"))
    assert members == {(emea.pk, outside.pk), (gold.pk, inside.pk)}


def test_dry_run_writes_nothing_and_reports_what_would_change(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 3)
    with CaptureQueriesContext(connection) as queries:
        summary = services.evaluate(as_of=TODAY, dry_run=True)
    assert not [q for q in queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert summary.statuses_changed == 2 and summary.tiers_changed == 1
    assert any("Promoted to Gold" in line for line in summary.events[partner.pk])
    assert not GateStatus.objects.exists() and not EvaluationRun.objects.exists()


def test_results_do_not_depend_on_the_chunk_size(ladder):
    partners = [PartnerFactory() for _ in range(7)]
    for index, partner in enumerate(partners):
        ladder.certify(partner, index % 4)

    def results():
        return sorted(
            (p, g, s, tuple(m))
            for p, g, s, m in GateStatus.objects.values_list("partner_id", "gate_id", "status", "measures")
        )

    services.evaluate(as_of=TODAY, chunk_size=2)
    by_small_chunks = results()
    GateStatus.objects.all().delete()
    services.evaluate(as_of=TODAY, chunk_size=100)
    assert results() == by_small_chunks
    assert len(by_small_chunks) == 14


def test_evaluation_queries_do_not_grow_with_partners(ladder):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            services.evaluate(as_of=TODAY, chunk_size=1000, notify=False)
        return len(queries)

    for _ in range(3):
        ladder.certify(PartnerFactory(), 1)
    count_queries()

    def forget_results():
        for model in (GateStatus, PartnerTier, BenefitGrant, MeasureDigest):
            model.objects.all().delete()

    forget_results()
    small = count_queries()
    for _ in range(30):
        ladder.certify(PartnerFactory(), 2)
    forget_results()
    large = count_queries()
    assert large == small


def test_changes_are_mailed_to_partner_admins_and_the_channel_manager_after_commit(
    ladder, django_capture_on_commit_callbacks
):
    manager = UserFactory(is_staff=True, email="morgan@vendor.example.com")
    partner = PartnerFactory(channel_manager=manager)
    MembershipFactory(partner=partner, role=MembershipRole.ADMIN, user__email="admin@partner.example.com")
    MembershipFactory(partner=partner, role=MembershipRole.SALES, user__email="sales@partner.example.com")
    ladder.certify(partner, 1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.evaluate(as_of=TODAY)
    assert mail.outbox == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["admin@partner.example.com", "morgan@vendor.example.com"]
    assert "Passed the gate “Silver gate”" in message.body and "Promoted to Silver" in message.body


def test_a_crash_mid_run_leaves_whole_chunks_and_the_next_run_converges(ladder, monkeypatch):
    partners = [PartnerFactory() for _ in range(4)]
    for partner in partners:
        ladder.certify(partner, 3)
    real_plan = services.runs.plan_chunk
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(services.runs, "plan_chunk", failing)
    with pytest.raises(RuntimeError):
        services.evaluate(as_of=TODAY, chunk_size=2)
    # The first chunk is complete, the second untouched, the run marked failed.
    assert set(GateStatus.objects.values_list("partner_id", flat=True)) == {partners[0].pk, partners[1].pk}
    assert EvaluationRun.objects.get().state == EvaluationRun.State.FAILED
    monkeypatch.setattr(services.runs, "plan_chunk", real_plan)
    services.evaluate(as_of=TODAY, chunk_size=2)
    assert GateStatus.objects.filter(status=GateOutcome.PASSED).count() == 8
    assert TierChange.objects.count() == 4  # one promotion each, none twice


def test_progress_for_the_portal_reads_like_a_sentence(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 2)
    from gates.models import Gate, GateState

    Gate.objects.create(
        program=ladder.program,
        name="Quarterly sales",
        state=GateState.ACTIVE,
        criteria={
            "metric": "sales_amount",
            "window": {"kind": "quarter_to_date"},
            "op": ">=",
            "target": "500000",
        },
    )
    ladder.sell(partner, "320000.00", TODAY)
    services.evaluate(as_of=TODAY)
    progress = {p.gate.name: p for p in partner_gate_progress(partner, as_of=TODAY)}
    gold = progress["Gold gate"].leaves[0]
    assert gold.sentence == "2 of 3 people holding a valid sales-engineer certification"
    assert not gold.passed and gold.ratio == pytest.approx(2 / 3)
    sales = progress["Quarterly sales"].leaves[0]
    assert sales.value_display == "320,000.00 USD" and sales.target_display == "500,000.00 USD"
    assert (
        sales.window == "this quarter"
        and sales.counts_from == D(2026, 1, 1)
        and sales.period_ends == D(2026, 3, 31)
    )
    assert progress["Silver gate"].passed


def test_the_nightly_run_never_overwrites_a_fresher_one_partner_evaluation(ladder, monkeypatch):
    from gates.engine import Measurer

    partner = PartnerFactory()
    ladder.certify(partner, 1)
    real_fetch = Measurer.fetch_sources

    def fetch_then_new_fact(self, *args, **kwargs):
        sources = real_fetch(self, *args, **kwargs)
        if not args and not kwargs:  # the nightly read of every partner
            ladder.certify(partner, 2)  # a fact arrives and is evaluated at once
            services.evaluate_partner(partner.pk, as_of=TODAY)
        return sources

    monkeypatch.setattr(Measurer, "fetch_sources", fetch_then_new_fact)
    services.evaluate(as_of=TODAY)
    # The full run read one certified person; the partner run after it saw three.
    assert GateStatus.objects.get(partner=partner, gate=ladder.gold_gate).measures == [3]
    assert held(partner, ladder) == "Gold"


def test_one_partner_runs_reuse_definitions_until_one_changes(
    ladder, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate_partner(partner.pk, as_of=TODAY)
    # Lock, partner row, four fact tables (sales, certifications, activities,
    # proficiencies), stored statuses, tiers, grants, segments, the run's row
    # (insert and update) and savepoints; no definitions are read again.
    with django_assert_max_num_queries(16):
        services.evaluate_partner(partner.pk, as_of=TODAY)
    # The cached definitions are dropped once the edit commits.
    with django_capture_on_commit_callbacks(execute=True):
        publish_criteria(ladder.gold_gate, {"metric": "certified_people", "op": ">=", "target": 1})
    services.evaluate_partner(partner.pk, as_of=TODAY)
    assert GateStatus.objects.get(partner=partner, gate=ladder.gold_gate).status == GateOutcome.PASSED


def test_only_partners_whose_inputs_moved_are_decided_again(ladder, monkeypatch):
    still, moving = PartnerFactory(), PartnerFactory()
    ladder.certify(still, 1)
    ladder.certify(moving, 1)
    services.evaluate(as_of=TODAY)
    assert MeasureDigest.objects.count() == 2
    # Count decisions through the deciders the planner compiles for every gate.
    calls: list[int] = []
    from gates import planning

    real_compile = planning.compile_decider

    def counting_compile(criteria, columns=None):
        decide = real_compile(criteria, columns)
        return lambda values: calls.append(1) or decide(values)

    monkeypatch.setattr(planning, "compile_decider", counting_compile)
    ladder.certify(moving, 2)
    summary = services.evaluate(as_of=TODAY)
    monkeypatch.undo()
    # Two gates decided for the partner that moved, none for the other.
    assert len(calls) == 2
    assert summary.partners == 2
    assert held(moving, ladder) == "Gold" and held(still, ladder) == "Silver"
    # A change of definitions decides everyone again.
    publish_criteria(ladder.gold_gate, {"metric": "certified_people", "op": ">=", "target": 1})
    services.evaluate(as_of=TODAY)
    assert held(still, ladder) == "Gold"


def test_a_change_of_grace_moves_the_graces_running(ladder):
    """A grace lasts the tier's grace days as they are now, counted from the day it started."""
    early, late = PartnerFactory(), PartnerFactory()
    certifications = {partner.pk: ladder.certify(partner, 3) for partner in (early, late)}
    services.evaluate(as_of=TODAY - datetime.timedelta(days=45))
    certifications[early.pk][0].delete()
    services.evaluate(as_of=TODAY - datetime.timedelta(days=40))
    certifications[late.pk][0].delete()
    services.evaluate(as_of=TODAY - datetime.timedelta(days=10))
    assert PartnerTier.objects.get(partner=early).grace_started_on == TODAY - datetime.timedelta(days=40)

    ladder.gold.grace_days = 30
    ladder.gold.save()
    services.evaluate(as_of=TODAY)
    assert held(early, ladder) == "Silver"  # its grace ended ten days ago
    late_row = PartnerTier.objects.get(partner=late)
    assert (late_row.tier, late_row.grace_until) == (ladder.gold, TODAY + datetime.timedelta(days=20))
    change = TierChange.objects.get(partner=late, reason=TierChangeReason.GRACE_CHANGED)
    assert (change.from_tier, change.to_tier) == (ladder.gold, ladder.gold)

    ladder.gold.grace_days = 60
    ladder.gold.save()
    services.evaluate(as_of=TODAY)
    late_row.refresh_from_db()
    assert late_row.grace_until == TODAY + datetime.timedelta(days=50)
    assert held(early, ladder) == "Silver"  # a grace that ended stays ended


def _killed_run(kind=EvaluationRun.Kind.FULL, *, minutes_ago: int) -> EvaluationRun:
    """A run whose worker was killed: marked running, never finished."""
    started = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return EvaluationRun.objects.create(kind=kind, as_of=TODAY, started_at=started)


def test_a_run_whose_worker_died_is_marked_stale_by_the_next_full_run(ladder, settings):
    settings.PRM_EVALUATION_STALE_MINUTES = 30
    PartnerFactory()
    dead = _killed_run(minutes_ago=120)
    dead_partner_run = _killed_run(EvaluationRun.Kind.PARTNER, minutes_ago=45)
    recent_partner_run = _killed_run(EvaluationRun.Kind.PARTNER, minutes_ago=5)  # may still be working
    services.evaluate(as_of=TODAY)
    for run in (dead, dead_partner_run, recent_partner_run):
        run.refresh_from_db()
    assert dead.state == dead_partner_run.state == EvaluationRun.State.STALE
    assert dead.finished_at is not None and "a later run took over" in dead.error
    assert recent_partner_run.state == EvaluationRun.State.RUNNING
    assert EvaluationRun.objects.filter(state=EvaluationRun.State.RUNNING).count() == 1


def test_a_queued_run_whose_task_was_lost_is_stale_not_queued_forever(ladder, settings):
    """A broker restart can lose the task of a run asked for through the API."""
    settings.PRM_EVALUATION_STALE_MINUTES = 30
    partner = PartnerFactory()
    long_ago = timezone.now() - datetime.timedelta(minutes=45)
    lost = EvaluationRun.objects.create(
        kind=EvaluationRun.Kind.PARTNER, partner=partner, state="queued", as_of=TODAY, started_at=long_ago
    )
    waiting_for_everyone = EvaluationRun.objects.create(
        kind=EvaluationRun.Kind.FULL, state="queued", as_of=TODAY, started_at=long_ago
    )
    services.evaluation_queue_partner(partner.pk)  # the next request sweeps
    lost.refresh_from_db()
    assert lost.state == EvaluationRun.State.STALE and lost.finished_at is not None
    assert "no worker took it up" in lost.error
    fresh = EvaluationRun.objects.latest("id")
    assert fresh.state == EvaluationRun.State.QUEUED and fresh.partner_id == partner.pk
    # The run of every partner waits for the next full run, which carries it out.
    waiting_for_everyone.refresh_from_db()
    assert waiting_for_everyone.state == EvaluationRun.State.QUEUED
    services.evaluate(as_of=TODAY)
    waiting_for_everyone.refresh_from_db()
    assert waiting_for_everyone.state == EvaluationRun.State.DONE


def test_one_run_of_every_partner_waits_at_most():
    EvaluationRun.objects.create(kind=EvaluationRun.Kind.FULL, state="queued", as_of=TODAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        EvaluationRun.objects.create(kind=EvaluationRun.Kind.FULL, state="queued", as_of=TODAY)
    # Queued runs of one partner, and finished runs of every partner, are as many as they come.
    for _ in range(2):
        EvaluationRun.objects.create(kind=EvaluationRun.Kind.FULL, state="done", as_of=TODAY)


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_the_same_moment_join_one_queued_run(monkeypatch):
    """Both look before either has written: the database keeps the second from queueing another run."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers, so the two requests cannot overlap")
    from django.db import connections

    both_looked = threading.Barrier(2)
    real_first = QuerySet.first

    def first_then_wait(self):
        found = real_first(self)
        if self.model is EvaluationRun:
            both_looked.wait(timeout=10)
        return found

    monkeypatch.setattr(QuerySet, "first", first_then_wait)
    # What follows the commit (queueing the task) is not what is tested here.
    monkeypatch.setattr(services.queueing, "_queue_full_evaluation", lambda: None)
    errors: list[BaseException] = []
    runs: list[int] = []

    def request():
        try:
            with transaction.atomic():
                runs.append(services.evaluation_queue_full().pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(runs) == 2 and runs[0] == runs[1]
    assert EvaluationRun.objects.filter(kind="full", state="queued").count() == 1


def test_on_postgresql_the_next_full_run_takes_over_at_once(ladder):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL's advisory lock proves that no other full run is alive")
    PartnerFactory()
    dead = _killed_run(minutes_ago=2)
    services.evaluate(as_of=TODAY)
    dead.refresh_from_db()
    assert dead.state == EvaluationRun.State.STALE


def test_a_long_run_shows_it_is_alive(ladder, monkeypatch):
    monkeypatch.setattr(services.runs, "HEARTBEAT_INTERVAL", datetime.timedelta(0))
    for _ in range(3):
        PartnerFactory()
    summary = services.evaluate(as_of=TODAY, chunk_size=1)
    run = EvaluationRun.objects.get(pk=summary.run_id)
    assert run.heartbeat_at is not None and run.heartbeat_at >= run.started_at


def test_the_admin_shows_a_run_without_progress_as_stale(client, superuser, ladder, settings):
    from django.urls import reverse

    settings.PRM_EVALUATION_STALE_MINUTES = 30
    _killed_run(minutes_ago=90)
    _killed_run(EvaluationRun.Kind.PARTNER, minutes_ago=1)
    marked = _killed_run(minutes_ago=600)
    EvaluationRun.objects.filter(pk=marked.pk).update(state=EvaluationRun.State.STALE)
    client.force_login(superuser)
    page = client.get(reverse("admin:gates_evaluationrun_changelist")).content.decode()
    assert page.count("Stale: no progress since") == 1
    assert "Stopped without finishing (a later run took over)" in page


def test_a_status_measured_under_an_earlier_version_shows_its_last_values(ladder):
    """Until the partner is evaluated again, a changed gate reads the values measured before, never 0."""

    partner = PartnerFactory()
    ladder.certify(partner, 2)
    ladder.sell(partner, "1500.00", TODAY)
    services.evaluate(as_of=TODAY)
    gate = ladder.gold_gate
    people = {**gate.criteria, "target": 2}
    publish_criteria(gate, {"all": [people, {"metric": "won_deals", "op": ">=", "target": 1}]})
    assert gate.version == 2

    [gold] = [p for p in partner_gate_progress(partner, as_of=TODAY) if p.gate == gate]
    status = GateStatus.objects.get(partner=partner, gate=gate)
    assert status.gate_version == 1 and gold.status == GateOutcome.FAILED  # not decided again yet
    engineers, deals = gold.leaves
    assert (engineers.value, engineers.value_display, engineers.passed) == (2, "2", True)
    # A criterion the earlier version did not have was never measured: no value, not a zero.
    assert (deals.value, deals.value_display, deals.passed, deals.ratio) == (
        None,
        "not measured yet",
        False,
        0,
    )
    assert deals.sentence == "won deals all time: not measured yet (needs 1)"

    services.evaluate(as_of=TODAY)
    [gold] = [p for p in partner_gate_progress(partner, as_of=TODAY) if p.gate == gate]
    assert gold.passed and [leaf.value for leaf in gold.leaves] == [2, 1]
