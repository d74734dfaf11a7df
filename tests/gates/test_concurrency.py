"""Two evaluations at the same time on PostgreSQL: one full run at a time, and no corrupted state."""

import threading

import pytest
from django.db import connection, connections

from core.locks import KEY_SQL
from gates import services
from gates.models import EvaluationRun, GateStatus, GateStatusChange, TierChange
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("advisory and row locks are PostgreSQL's; SQLite serialises all writers anyway")


def _in_thread(target, results, key):
    def run():
        try:
            results[key] = target()
        except BaseException as exc:  # reported by the test
            results[key] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_full_run_is_skipped_while_one_holds_the_lock(ladder):
    PartnerFactory()
    runs = EvaluationRun.objects.count()  # the ladder's definitions queued runs as they were saved
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_lock({KEY_SQL})", [services.FULL_RUN_LOCK])
    try:
        results: dict = {}
        _in_thread(services.evaluate, results, "second").join()
        assert results["second"].locked_out is True
        assert EvaluationRun.objects.count() == runs
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_advisory_unlock({KEY_SQL})", [services.FULL_RUN_LOCK])


def test_simultaneous_runs_leave_one_consistent_state(ladder):
    partners = [PartnerFactory() for _ in range(12)]
    for index, partner in enumerate(partners):
        ladder.certify(partner, index % 4)
    results: dict = {}
    threads = [_in_thread(lambda: services.evaluate(chunk_size=3), results, "full-a")]
    threads += [
        _in_thread(lambda p=p: services.evaluate_partner(p.pk), results, f"p{p.pk}") for p in partners[:6]
    ]
    threads.append(_in_thread(lambda: services.evaluate(chunk_size=5), results, "full-b"))
    for thread in threads:
        thread.join()
    assert not [r for r in results.values() if isinstance(r, BaseException)], results
    # Every partner has exactly one status per gate, one promotion at most, one history row per change.
    assert GateStatus.objects.count() == 12 * 2
    promoted = TierChange.objects.values_list("partner_id", flat=True)
    assert len(promoted) == len(set(promoted)) == 9  # partners with 1, 2 or 3 certified people
    first_passes = GateStatusChange.objects.values_list("partner_id", "gate_id")
    assert len(first_passes) == len(set(first_passes))
    # And a further run finds nothing to change.
    assert services.evaluate().statuses_written == 0
