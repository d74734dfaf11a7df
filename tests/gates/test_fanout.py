"""A full run split into chunks: written once each, counted, finished once, and one run at a time.

The tests marked ``broker`` run the chunks on a real Celery worker process
(prefork) on the real Redis broker, and compare with the run in one process.
"""

import datetime
import os
import pathlib
import signal
import subprocess
import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import OperationalError, connection, connections
from django.utils import timezone

from gates import services
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    GateStatus,
    GateStatusChange,
    MeasureDigest,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from gates.signals import evaluation_finished
from tests.broker import worker_processes
from tests.factories import PartnerFactory, SegmentFactory

TODAY = datetime.date(2025, 6, 1)


@pytest.fixture
def partners(ladder):
    """Fourteen partners in varied standing: none, Silver, Gold, with sales for a segment."""
    SegmentFactory(
        name="Sellers",
        criteria={"metric": "sales_amount", "op": ">=", "target": "1000"},
    )
    made = [PartnerFactory() for _ in range(14)]
    for index, partner in enumerate(made):
        ladder.certify(partner, index % 5)
        if index % 3 == 0:
            ladder.sell(partner, Decimal(500 * (index + 1)), TODAY - datetime.timedelta(days=10))
    return made


def results() -> dict[str, list]:
    """Everything a run decides, without the times it wrote it at."""
    return {
        "statuses": sorted(
            GateStatus.objects.values_list("partner_id", "gate_id", "status", "measures", "gate_version")
        ),
        "history": sorted(
            GateStatusChange.objects.values_list(
                "partner_id", "gate_id", "from_status", "to_status", "measures"
            )
        ),
        "tiers": sorted(
            PartnerTier.objects.values_list(
                "partner_id", "program_id", "tier_id", "earned_tier_id", "qualified_tier_id", "grace_until"
            )
        ),
        "tier_changes": sorted(
            TierChange.objects.values_list("partner_id", "program_id", "from_tier_id", "to_tier_id", "reason")
        ),
        "grants": sorted(
            BenefitGrant.objects.filter(revoked_at__isnull=True).values_list("partner_id", "benefit_id")
        ),
        "segments": sorted(SegmentMembership.objects.values_list("segment_id", "partner_id")),
    }


def forget_results() -> None:
    for model in (
        GateStatusChange,
        TierChange,
        BenefitGrant,
        PartnerTier,
        GateStatus,
        SegmentMembership,
        MeasureDigest,
        EvaluationRun,
    ):
        model.objects.all().delete()


def assert_no_duplicated_history() -> None:
    history = list(GateStatusChange.objects.values_list("partner_id", "gate_id", "to_status"))
    assert len(history) == len(set(history))
    moves = list(TierChange.objects.values_list("partner_id", "program_id", "to_tier_id", "reason"))
    assert len(moves) == len(set(moves))


# --- in one process --------------------------------------------------------------------------


def test_a_full_run_records_its_chunks_and_its_progress(partners):
    summary = services.evaluate(as_of=TODAY, chunk_size=4)
    run = EvaluationRun.objects.get(pk=summary.run_id)
    assert run.state == EvaluationRun.State.DONE
    assert (run.chunks_total, run.chunks_done, sorted(run.chunks_finished)) == (4, 4, [0, 1, 2, 3])
    assert run.chunk_progress == "4 of 4 chunks"
    ids = sorted(p.pk for p in partners)
    assert run.chunk_bounds == [[ids[0], ids[3]], [ids[4], ids[7]], [ids[8], ids[11]], [ids[12], ids[13]]]
    assert run.partners_evaluated == summary.partners == 14
    assert run.statuses_changed == summary.statuses_changed == GateStatusChange.objects.count() > 0
    assert run.tiers_changed == summary.tiers_changed == TierChange.objects.count() > 0
    assert run.chunk_seconds >= run.chunk_sql_seconds > 0
    assert not run.fanned_out


def test_the_same_chunk_again_writes_nothing_and_counts_nothing(partners):
    summary = services.evaluate(as_of=TODAY, chunk_size=5)
    before, run = results(), EvaluationRun.objects.get(pk=summary.run_id)
    for index in range(run.chunks_total):
        outcome = services.chunk_evaluate(run_id=run.pk, index=index)
        assert outcome.plan is None
    again = EvaluationRun.objects.get(pk=run.pk)
    assert results() == before
    assert (again.chunks_done, again.partners_evaluated, again.statuses_changed) == (
        run.chunks_done,
        run.partners_evaluated,
        run.statuses_changed,
    )


def test_a_chunk_that_fails_after_its_writes_leaves_nothing_and_converges_on_the_next_try(
    partners, monkeypatch
):
    services.evaluate(as_of=TODAY, chunk_size=5)
    expected = results()
    forget_results()

    run = services.run_start(gate_ids=None, as_of=TODAY, chunk_size=5, fanned_out=True)
    assert run is not None and run.chunks_total == 3
    real_write = services.runs.write_plan

    def write_then_fail(plan, **kwargs):
        real_write(plan, **kwargs)
        assert GateStatus.objects.filter(partner_id__in=[p for p, *_ in plan.history]).exists()
        raise OperationalError("the connection was lost after the chunk's writes")

    services.chunk_evaluate(run_id=run.pk, index=0)  # written for good
    monkeypatch.setattr(services.runs, "write_plan", write_then_fail)
    with pytest.raises(OperationalError):
        services.chunk_evaluate(run_id=run.pk, index=1)
    monkeypatch.undo()
    first_id, last_id = run.chunk_bounds[1]
    middle = GateStatus.objects.filter(partner_id__gte=first_id, partner_id__lte=last_id)
    assert not middle.exists()  # rolled back whole
    assert EvaluationRun.objects.get(pk=run.pk).chunks_finished == [0]  # nor counted
    for index in range(run.chunks_total):
        outcome = services.chunk_evaluate(run_id=run.pk, index=index)
    assert outcome.last and services.run_finish(run.pk)
    assert results() == expected
    assert_no_duplicated_history()
    run.refresh_from_db()
    assert run.state == EvaluationRun.State.DONE and run.chunks_done == 3


def test_a_run_finishes_once_and_says_so_once(partners, django_capture_on_commit_callbacks):
    finished = []

    def receiver(sender, run, **kwargs):
        finished.append(run.pk)

    evaluation_finished.connect(receiver, dispatch_uid="test-fanout")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            summary = services.evaluate(as_of=TODAY, chunk_size=4)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.run_finish(summary.run_id) is False  # a second finisher is turned away
    finally:
        evaluation_finished.disconnect(dispatch_uid="test-fanout")
    assert finished == [summary.run_id]


def test_a_chunk_of_a_run_that_is_over_does_nothing(partners):
    run = services.run_start(gate_ids=None, as_of=TODAY, chunk_size=5, fanned_out=True)
    EvaluationRun.objects.filter(pk=run.pk).update(state=EvaluationRun.State.STALE)
    outcome = services.chunk_evaluate(run_id=run.pk, index=0)
    assert outcome.plan is None and not outcome.last
    assert not GateStatus.objects.exists()


def test_no_second_run_starts_while_a_dispatched_one_is_alive(ladder, partners, settings):
    settings.PRM_EVALUATION_STALE_MINUTES = 30
    alive = services.run_start(gate_ids=None, as_of=TODAY, chunk_size=5, fanned_out=True)
    # Neither in this process nor dispatched, and neither of every gate nor of one.
    assert services.evaluate(as_of=TODAY).locked_out
    assert services.run_start(gate_ids=None, as_of=TODAY, chunk_size=5, fanned_out=True) is None
    assert services.evaluate(as_of=TODAY, gate_ids=[ladder.silver_gate.pk]).locked_out
    # One-partner runs go on: they wait for the chunk that holds their partner.
    assert services.evaluate_partner(partners[0].pk, as_of=TODAY).run_id is not None
    # Once it shows no progress for long, it is taken for dead and the next run goes ahead.
    EvaluationRun.objects.filter(pk=alive.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )
    summary = services.evaluate(as_of=TODAY)
    assert not summary.locked_out
    alive.refresh_from_db()
    assert alive.state == EvaluationRun.State.STALE


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_chunk_at_once_write_it_once(partners):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises all writers anyway")
    services.evaluate(as_of=TODAY, chunk_size=7)
    expected = results()
    forget_results()
    run = services.run_start(gate_ids=None, as_of=TODAY, chunk_size=7, fanned_out=True)
    outcomes: dict = {}

    def deliver(key, index):
        try:
            outcomes[key] = services.chunk_evaluate(run_id=run.pk, index=index)
        except BaseException as exc:  # reported below
            outcomes[key] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=deliver, args=(key, key[1])) for key in ((1, 0), (2, 0), (3, 1), (4, 1))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [o for o in outcomes.values() if isinstance(o, BaseException)], outcomes
    written = sorted(key for key, outcome in outcomes.items() if outcome.plan is not None)
    assert len(written) == 2 and {key[1] for key in written} == {0, 1}
    assert sum(outcome.last for outcome in outcomes.values()) >= 1
    services.run_finish(run.pk)
    assert results() == expected
    assert_no_duplicated_history()
    run.refresh_from_db()
    assert (run.chunks_done, run.partners_evaluated, run.state) == (2, 14, EvaluationRun.State.DONE)


# --- on worker processes ---------------------------------------------------------------------


def _wait_for_run(run_id: int, timeout: float = 120) -> EvaluationRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = EvaluationRun.objects.get(pk=run_id)
        if run.state != EvaluationRun.State.RUNNING:
            return run
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish in {timeout} s: {run.chunks_done} of {run.chunks_total} chunks")


def _dispatched_run(chunk_size: int) -> EvaluationRun:
    summary = services.evaluate(as_of=TODAY, chunk_size=chunk_size)
    assert summary.dispatched and summary.chunks > 1
    return _wait_for_run(summary.run_id)


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_one_process_one_worker_and_two_workers_decide_the_same(partners):
    services.evaluate(as_of=TODAY, chunk_size=3)
    in_process = results()
    assert in_process["history"] and in_process["tier_changes"] and in_process["segments"]
    for concurrency in (1, 2):
        forget_results()
        with worker_processes(concurrency=concurrency):
            run = _dispatched_run(chunk_size=3)
        assert run.state == EvaluationRun.State.DONE, run.error
        assert run.fanned_out and (run.chunks_done, run.chunks_total) == (5, 5)
        assert run.partners_evaluated == 14
        assert run.statuses_changed == len(in_process["history"])
        assert results() == in_process, f"{concurrency} worker processes decided otherwise"
        assert_no_duplicated_history()


def _pool_children(worker: subprocess.Popen) -> list[int]:
    listed = subprocess.run(  # noqa: S603 - a fixed program
        ["/usr/bin/ps", "-o", "pid=", "--ppid", str(worker.pid)], capture_output=True, text=True, check=True
    )
    return [int(pid) for pid in listed.stdout.split()]


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_chunk_whose_worker_is_killed_after_its_writes_is_redone_not_doubled(partners, monkeypatch):
    services.evaluate(as_of=TODAY, chunk_size=5)
    in_process = results()
    forget_results()
    database = connection.settings_dict
    dsn = f"host={database['HOST'] or '127.0.0.1'} port={database['PORT'] or 5432} user={database['USER']} dbname={database['NAME']}"
    holder = psycopg.connect(dsn)
    real_start = services.run_start

    def start_then_hold_the_run_row(**kwargs):
        run = real_start(**kwargs)
        # A chunk's last step locks the run's row to count itself: held here, the
        # first chunk waits there with all its writes done and uncommitted.
        holder.execute("SELECT id FROM gates_evaluationrun WHERE id = %s FOR UPDATE", [run.pk])
        return run

    monkeypatch.setattr(services.runs, "run_start", start_then_hold_the_run_row)
    try:
        with worker_processes(concurrency=1) as worker:
            summary = services.evaluate(as_of=TODAY, chunk_size=5)
            deadline = time.monotonic() + 60
            with psycopg.connect(dsn, autocommit=True) as watcher:
                while not watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%%gates_evaluationrun%%'"
                ).fetchone()[0]:
                    assert time.monotonic() < deadline, "the chunk never reached its last step"
                    time.sleep(0.1)
            [child] = _pool_children(worker)
            os.kill(child, signal.SIGKILL)
            time.sleep(1)
            holder.rollback()
            run = _wait_for_run(summary.run_id)
            log = pathlib.Path(worker.log_path).read_text(errors="replace")  # type: ignore[attr-defined]
    finally:
        holder.close()
    assert "WorkerLostError" in log, log[-3000:]
    assert run.state == EvaluationRun.State.DONE, run.error
    assert (run.chunks_done, run.partners_evaluated) == (3, 14)
    assert results() == in_process
    assert_no_duplicated_history()


def test_the_admin_shows_chunks_done_out_of_total(client, superuser, partners):
    from django.urls import reverse

    services.evaluate(as_of=TODAY, chunk_size=4)
    running = services.run_start(gate_ids=None, as_of=TODAY, chunk_size=5, fanned_out=True)
    EvaluationRun.objects.filter(pk=running.pk).update(chunks_done=1, chunks_finished=[0])
    client.force_login(superuser)
    page = client.get(reverse("admin:gates_evaluationrun_changelist")).content.decode()
    assert "4 of 4 chunks (" in page and "in the database)" in page
    assert "1 of 3 chunks, on the workers" in page
