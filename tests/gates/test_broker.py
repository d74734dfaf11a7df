"""The gate tasks through a real Redis broker and a real Celery worker (run by CI)."""

import time

import pytest
from django.core.cache import cache

from gates import services, tasks
from gates.models import EvaluationRun, GateOutcome, GateStatus
from tests.broker import running_worker
from tests.factories import PartnerFactory

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_the_nightly_and_partner_tasks_run_on_a_worker(ladder):
    partners = [PartnerFactory() for _ in range(3)]
    ladder.certify(partners[0], 3)
    with running_worker():
        result = tasks.evaluate_all_gates.delay().get(timeout=60)
        # The run's chunks follow on the worker; the run's row counts them.
        assert result["dispatched"] and result["chunks"] == 1
        deadline = time.monotonic() + 60
        while EvaluationRun.objects.get(pk=result["run"]).state == EvaluationRun.State.RUNNING:
            assert time.monotonic() < deadline, "the run's chunk never ran"
            time.sleep(0.1)
        assert EvaluationRun.objects.get(pk=result["run"]).partners_evaluated == 3
        assert GateStatus.objects.filter(status=GateOutcome.PASSED).count() == 2
        ladder.certify(partners[1], 1)
        tasks.evaluate_partner_task.delay(partners[1].pk).get(timeout=60)
    assert GateStatus.objects.get(partner=partners[1], gate=ladder.silver_gate).status == GateOutcome.PASSED


def test_a_burst_of_facts_becomes_one_evaluation_on_the_worker(ladder, settings):
    settings.PRM_FACT_DEBOUNCE_SECONDS = 2
    cache.clear()
    partner = PartnerFactory()
    with running_worker():
        for _ in range(5):
            ladder.certify(partner, 1)
            services.request_reevaluation([partner.pk])  # outside a transaction: queued at once
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not EvaluationRun.objects.filter(state="done").exists():
            time.sleep(0.2)
        time.sleep(3)  # room for a second, unwanted evaluation to show up
    runs = EvaluationRun.objects.filter(kind=EvaluationRun.Kind.PARTNER)
    assert runs.count() == 1 and runs.get().state == EvaluationRun.State.DONE
    assert GateStatus.objects.get(partner=partner, gate=ladder.gold_gate).measures == [5]
