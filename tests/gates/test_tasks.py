"""Celery tasks: on-change re-evaluation is debounced and runs after commit; tasks are thin."""

import datetime
import json
import os
import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse

from gates import services, tasks
from gates.models import EvaluationRun, Gate, GateOutcome, GateState, GateStatus, GateVersion
from tests.factories import PartnerFactory, publish_criteria

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_burst_of_facts_queues_one_evaluation_after_commit(
    ladder, django_capture_on_commit_callbacks, settings
):
    settings.PRM_FACT_DEBOUNCE_SECONDS = 10
    partner = PartnerFactory()
    with mock.patch.object(tasks.evaluate_partners_task, "apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            services.request_reevaluation([partner.pk])
            assert not queued.called  # nothing before commit
        for _ in range(4):
            with django_capture_on_commit_callbacks(execute=True):
                ladder.certify(partner, 1)
                services.request_reevaluation([partner.pk])
    queued.assert_called_once_with(args=([partner.pk],), countdown=10)


def test_a_fact_after_the_evaluation_started_queues_another(ladder, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    with mock.patch.object(tasks.evaluate_partners_task, "apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            services.request_reevaluation([partner.pk])
        # The task clears the mark before measuring.
        services.clear_reevaluation_requests([partner.pk])
        with django_capture_on_commit_callbacks(execute=True):
            services.request_reevaluation([partner.pk])
    assert queued.call_count == 2


def test_a_burst_of_re_evaluations_is_forecast_once_and_the_forecast_clears_the_mark(
    ladder, settings, django_capture_on_commit_callbacks
):
    settings.PRM_FORECAST_DEBOUNCE_SECONDS = 10
    partner, other = PartnerFactory(), PartnerFactory()
    ladder.certify(partner, 1)
    with mock.patch.object(tasks.forecast_gates_task, "apply_async") as queued:
        for ids in ([partner.pk], [partner.pk], [partner.pk, other.pk]):  # a fact a second
            with django_capture_on_commit_callbacks(execute=True):
                tasks.evaluate_partners_task.delay(ids)
    assert queued.call_args_list == [
        mock.call(args=([partner.pk],), countdown=10),
        mock.call(args=([other.pk],), countdown=10),
    ]
    result = tasks.forecast_gates_task.delay([partner.pk]).get()
    assert result["partners"] == 1
    with (
        mock.patch.object(tasks.forecast_gates_task, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.evaluate_partners_task.delay([partner.pk])
    queued.assert_called_once_with(args=([partner.pk],), countdown=10)


def test_a_rolled_back_fact_queues_nothing(ladder, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    with (
        mock.patch.object(tasks.evaluate_partners_task, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.request_reevaluation([partner.pk])
        raise RuntimeError("integration failed")
    queued.assert_not_called()


def test_a_burst_over_many_partners_is_one_task_and_one_evaluation(
    ladder, django_capture_on_commit_callbacks
):
    partners = [PartnerFactory() for _ in range(5)]
    for partner in partners:
        ladder.certify(partner, 1)
    with mock.patch.object(tasks.evaluate_partners_task, "apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            services.request_reevaluation([p.pk for p in partners])
        with django_capture_on_commit_callbacks(execute=True):
            services.request_reevaluation([partners[0].pk])  # already pending
    queued.assert_called_once()
    (ids,) = queued.call_args.kwargs["args"]
    result = tasks.evaluate_partners_task.delay(ids).get()
    assert result["partners"] == 5 and result["changed"] == 5
    assert EvaluationRun.objects.get().kind == EvaluationRun.Kind.PARTNER


def test_the_partner_task_evaluates_one_partner(ladder):
    partner, other = PartnerFactory(), PartnerFactory()
    ladder.certify(partner, 1)
    result = tasks.evaluate_partner_task.delay(partner.pk).get()
    assert result["changed"] == 1
    assert GateStatus.objects.get(partner=partner, gate=ladder.silver_gate).status == GateOutcome.PASSED
    assert not GateStatus.objects.filter(partner=other).exists()
    assert EvaluationRun.objects.get().kind == EvaluationRun.Kind.PARTNER


def test_the_nightly_task_evaluates_everyone(ladder):
    partners = [PartnerFactory() for _ in range(3)]
    ladder.certify(partners[0], 3)
    result = tasks.evaluate_all_gates.delay().get()
    assert result["partners"] == 3
    assert GateStatus.objects.filter(status=GateOutcome.PASSED).count() == 2


def test_the_gate_task_remeasures_one_gate_only(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 3)
    tasks.evaluate_gate_task.delay(ladder.gold_gate.pk).get()
    assert list(GateStatus.objects.values_list("gate_id", flat=True)) == [ladder.gold_gate.pk]
    # The tier follows the stored statuses of every gate in effect.
    assert partner.tiers.get().tier == ladder.gold


def test_the_beat_schedule_runs_the_nightly_evaluation(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["evaluate-all-gates-nightly"]
    assert entry["task"] == "gates.tasks.evaluate_all_gates"
    assert entry["schedule"].hour == {settings.PRM_NIGHTLY_EVALUATION_HOUR}
    assert entry["schedule"].minute == {settings.PRM_NIGHTLY_EVALUATION_MINUTE}
    from prm.celery import app

    assert "gates.tasks.evaluate_all_gates" in app.tasks


def test_notification_task_skips_partners_without_recipients():
    partner = PartnerFactory()
    assert tasks.notify_partner_changes.delay(partner.pk, ["Promoted to Gold."]).get() == 0
    assert tasks.notify_partner_changes.delay(10**9, ["x"]).get() == 0


def test_evaluating_a_partner_as_of_a_day(ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 1, expires_on=datetime.date(2026, 1, 31))
    services.evaluate_partner(partner.pk, as_of=datetime.date(2026, 1, 31))
    assert GateStatus.objects.get(partner=partner, gate=ladder.silver_gate).status == GateOutcome.PASSED
    services.evaluate_partner(partner.pk, as_of=datetime.date(2026, 2, 1))
    assert GateStatus.objects.get(partner=partner, gate=ladder.silver_gate).status == GateOutcome.FAILED


# --- definitions: what an edit queues -------------------------------------------------------


@pytest.fixture
def full_runs(django_capture_on_commit_callbacks):
    """Full evaluations queued by what the block commits (held back, not run)."""
    from contextlib import contextmanager

    @contextmanager
    def recording():
        with (
            mock.patch.object(tasks.evaluate_all_gates, "apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            yield queued

    return recording


def _gate_form(ladder, gate, **overrides):
    data = {
        "program": ladder.program.pk,
        "name": gate.name,
        "description": gate.description,
        "state": gate.state,
        "effective_from": "",
        "effective_to": "",
        "criteria": json.dumps(gate.criteria),
        "currency": gate.currency,
        "unlocks_tier": gate.unlocks_tier_id or "",
        "unlocks_specialisation": gate.unlocks_specialisation,
    }
    data.update(overrides)
    return data


def test_a_cosmetic_gate_edit_queues_nothing_and_a_real_one_queues_a_run(
    client, superuser, ladder, full_runs, settings
):
    client.force_login(superuser)
    url = reverse("admin:gates_gate_change", args=[ladder.gold_gate.pk])
    with full_runs() as queued:
        response = client.post(
            url,
            _gate_form(
                ladder,
                ladder.gold_gate,
                name="Gold (three engineers)",
                description="Three certified sales engineers.",
                unlocks_specialisation="Gold specialist",
            ),
        )
    assert response.status_code == 302
    ladder.gold_gate.refresh_from_db()
    assert ladder.gold_gate.name == "Gold (three engineers)" and ladder.gold_gate.version == 1
    queued.assert_not_called()

    criteria = {**ladder.gold_gate.criteria, "target": 2}
    with full_runs() as queued:
        client.post(url, _gate_form(ladder, ladder.gold_gate, criteria=json.dumps(criteria)))
    queued.assert_not_called()  # a draft, nothing decided under it yet
    draft = GateVersion.objects.get(gate=ladder.gold_gate, state=GateVersion.State.DRAFT)
    with full_runs() as queued:
        client.post(
            reverse("admin:gates_gateversion_changelist"),
            {"action": "publish_today", "_selected_action": [draft.pk]},
        )
    queued.assert_called_once_with(countdown=settings.PRM_DEFINITION_DEBOUNCE_SECONDS)
    ladder.gold_gate.refresh_from_db()
    assert ladder.gold_gate.version == 2


def test_editing_a_draft_gate_queues_nothing(ladder, full_runs):
    draft = Gate.objects.create(
        program=ladder.program,
        name="Platinum draft",
        criteria={"metric": "certified_people", "op": ">=", "target": 5},
    )
    with full_runs() as queued:
        before = services.gate_definition(draft)
        draft.criteria = {**draft.criteria, "target": 6}
        draft.save()
        services.gate_saved(actor=None, gate=draft, before=before)
    queued.assert_not_called()


def test_retiring_several_gates_in_the_admin_is_one_run(client, superuser, ladder, full_runs):
    PartnerFactory()
    client.force_login(superuser)
    action = {"action": "retire_selected", "_selected_action": [ladder.silver_gate.pk, ladder.gold_gate.pk]}
    with full_runs() as queued:
        client.post(reverse("admin:gates_gate_changelist"), action)
    queued.assert_called_once()
    assert set(Gate.objects.values_list("state", flat=True)) == {GateState.RETIRED}


def test_retiring_several_gates_runs_once_without_a_broker(
    client, superuser, ladder, django_capture_on_commit_callbacks
):
    PartnerFactory()
    client.force_login(superuser)
    action = {"action": "retire_selected", "_selected_action": [ladder.silver_gate.pk, ladder.gold_gate.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:gates_gate_changelist"), action)
    assert EvaluationRun.objects.filter(kind=EvaluationRun.Kind.FULL).count() == 1


def test_a_program_saved_with_its_tiers_queues_one_run(client, superuser, ladder, full_runs):
    client.force_login(superuser)
    program = ladder.program
    data = {
        "name": program.name,
        "slug": program.slug,
        "kind": program.kind,
        "parent": "",
        "description": "",
        "base_currency": program.base_currency,
        "segment": "",
        "is_active": "on",
        "tiers-TOTAL_FORMS": "2",
        "tiers-INITIAL_FORMS": "2",
        "benefits-TOTAL_FORMS": "0",
        "benefits-INITIAL_FORMS": "0",
        "user_rights-TOTAL_FORMS": "0",
        "user_rights-INITIAL_FORMS": "0",
    }
    for index, (tier, grace) in enumerate(((ladder.silver, 10), (ladder.gold, 20))):
        data |= {
            f"tiers-{index}-id": tier.pk,
            f"tiers-{index}-program": program.pk,
            f"tiers-{index}-rank": tier.rank,
            f"tiers-{index}-name": tier.name,
            f"tiers-{index}-grace_days": grace,
            f"tiers-{index}-description": "",
        }
    with full_runs() as queued:
        response = client.post(reverse("admin:programs_program_change", args=[program.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    ladder.gold.refresh_from_db()
    assert ladder.gold.grace_days == 20
    queued.assert_called_once()


def test_saving_a_segment_in_the_admin_queues_a_run(client, superuser, ladder, full_runs):
    client.force_login(superuser)
    data = {
        "name": "EMEA",
        "description": "",
        "criteria": '{"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["emea"]}',
        "currency": "USD",
    }
    with full_runs() as queued:
        response = client.post(reverse("admin:programs_segment_add"), data)
    assert response.status_code == 302
    queued.assert_called_once()


def test_edits_while_a_run_is_pending_join_it_and_edits_during_a_run_queue_the_next(ladder, full_runs):
    with full_runs() as queued:
        ladder.gold.grace_days = 10
        ladder.gold.save()
    with full_runs() as queued_again:
        ladder.silver.grace_days = 10
        ladder.silver.save()
    queued.assert_called_once()
    queued_again.assert_not_called()  # the pending run will read both edits
    services.full_evaluation_started()  # the run starts and reads the definitions
    with full_runs() as queued_later:
        ladder.silver.grace_days = 5
        ladder.silver.save()
    queued_later.assert_called_once()


def test_a_full_run_locked_out_by_another_comes_back_after_it(ladder, django_capture_on_commit_callbacks):
    locked_out = services.EvaluationSummary(run_id=None, locked_out=True)
    with (
        mock.patch.object(services, "evaluate", return_value=locked_out),
        mock.patch.object(tasks.evaluate_all_gates, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        # As a worker runs it (not eagerly): the other run may predate the edit that queued this one.
        result = tasks.evaluate_all_gates.run()
    assert result["skipped"] is True
    queued.assert_called_once()


def test_definitions_are_reloaded_only_once_the_edit_commits(ladder, django_capture_on_commit_callbacks):
    from gates.subjects import _GENERATION_KEY, cached_subjects

    cached_subjects(as_of=datetime.date(2026, 3, 1))
    generation = cache.get(_GENERATION_KEY)
    with (
        mock.patch.object(tasks.evaluate_all_gates, "apply_async"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        ladder.gold.grace_days = 5
        ladder.gold.save()
        publish_criteria(ladder.gold_gate, {**ladder.gold_gate.criteria, "target": 4})
        # Another worker reloading now would read the old definitions: they must not
        # be cached under a new generation.
        assert cache.get(_GENERATION_KEY) == generation
    assert cache.get(_GENERATION_KEY) != generation
    reloaded = cached_subjects(as_of=datetime.date(2026, 3, 1))
    assert reloaded.tiers[ladder.gold.pk].grace_days == 5


# --- facts: the debounce across processes ----------------------------------------------------


def test_two_processes_asking_at_once_queue_the_partner_once(ladder, monkeypatch):
    """Each pending mark is claimed atomically: a slow reader cannot make two tasks."""
    import threading

    from django.core.cache import caches

    partner = PartnerFactory()
    backend = type(caches["default"])
    real_get_many = backend.get_many

    def slow_get_many(self, *args, **kwargs):
        found = real_get_many(self, *args, **kwargs)
        time.sleep(0.3)  # both processes read before either writes
        return found

    monkeypatch.setattr(backend, "get_many", slow_get_many)
    with mock.patch.object(tasks.evaluate_partners_task, "apply_async") as queued:
        threads = [
            threading.Thread(target=services.queueing._queue_reevaluation, args=([partner.pk],))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert queued.call_count == 1


def test_marks_are_claimed_in_one_round_trip_on_redis(settings):
    """On a real Redis cache the claims of a batch are one pipeline of SET NX."""
    from django.core.cache import caches

    from tests.broker import broker_url

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": broker_url(),
            "KEY_PREFIX": f"tests-claims-{os.getpid()}",
        }
    }
    backend = caches["default"]
    keys = [f"claim-{n}" for n in range(5)]
    try:
        backend.set("claim-2", 1)
        assert services.claim_marks(keys, timeout=30) == [True, True, False, True, True]
        assert services.claim_marks(keys, timeout=30) == [False] * 5
    finally:
        backend.delete_many(keys)


# --- notifications ------------------------------------------------------------------------------


def test_change_notifications_are_batched_not_one_message_per_partner(
    ladder, django_capture_on_commit_callbacks, monkeypatch
):
    from django.core import mail

    from gates import planning
    from partners.models import MembershipRole
    from tests.factories import MembershipFactory

    partners = [PartnerFactory() for _ in range(5)]
    for partner in partners:
        MembershipFactory(partner=partner, role=MembershipRole.ADMIN)
        ladder.certify(partner, 1)
    monkeypatch.setattr(planning, "NOTIFICATION_BATCH", 2)
    with (
        mock.patch.object(
            tasks.notify_partners_changes, "delay", wraps=tasks.notify_partners_changes.delay
        ) as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.evaluate(as_of=datetime.date(2026, 3, 1))
    assert [len(call.args[0]) for call in queued.call_args_list] == [2, 2, 1]
    assert len(mail.outbox) == 5
    assert {message.subject for message in mail.outbox} == {
        f"{partner.name}: your partner program status changed" for partner in partners
    }


def test_a_failed_mail_is_retried_for_its_partner_only(ladder, monkeypatch):
    from django.core import mail
    from django.core.mail.backends.locmem import EmailBackend

    from partners.models import MembershipRole
    from tests.factories import MembershipFactory

    first, second = PartnerFactory(name="First"), PartnerFactory(name="Second")
    for partner in (first, second):
        MembershipFactory(partner=partner, role=MembershipRole.ADMIN)
    real_send = EmailBackend.send_messages

    def refuse_first(self, messages):
        if any("First" in message.subject for message in messages):
            raise OSError("the mail server hung up")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse_first)
    recipients, failed = services.changes_notify([[first.pk, ["Promoted."]], [second.pk, ["Promoted."]]])
    assert recipients == 1 and failed == [[first.pk, ["Promoted."]]]
    assert [message.subject for message in mail.outbox] == ["Second: your partner program status changed"]
