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


def test_a_what_if_runs_on_the_worker_and_equals_the_inline_simulation(ladder, channel_manager):
    from gates.models import WhatIfRun
    from gates.whatif import whatif_entry, whatif_queue
    from partners.models import Partner

    for count in (1, 2, 3):
        ladder.certify(PartnerFactory(), count)
    ladder.certify(PartnerFactory(country="BR", region="latam"), 2)  # outside the manager's coverage
    services.evaluate()
    criteria = {**ladder.gold_gate.criteria, "target": 2}
    with running_worker():
        # Outside a transaction: queued at once, taken up by the worker.
        run = whatif_queue(actor=channel_manager, entries=[whatif_entry(ladder.gold_gate, criteria=criteria)])
        deadline = time.monotonic() + 60
        while not WhatIfRun.objects.get(pk=run.pk).finished:
            assert time.monotonic() < deadline, "the what-if never ran"
            time.sleep(0.1)
    run.refresh_from_db()
    inline = services.gate_simulate(
        criteria=criteria,
        currency=ladder.gold_gate.money_currency,
        gate_id=ladder.gold_gate.pk,
        partners=Partner.objects.visible_to(channel_manager),
    )
    [gate] = run.result["gates"]
    assert run.state == WhatIfRun.State.DONE and run.chunks_done == run.chunks_total == 1
    assert (
        (gate["evaluated"], gate["would_pass"], gate["newly_pass"], gate["newly_fail"])
        == (
            inline.evaluated,
            inline.would_pass,
            inline.newly_pass,
            inline.newly_fail,
        )
        == (3, 2, 1, 0)
    )
