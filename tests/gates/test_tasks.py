"""Celery tasks: on-change re-evaluation is debounced and runs after commit; tasks are thin."""

import datetime
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction

from gates import services, tasks
from gates.models import EvaluationRun, GateOutcome, GateStatus
from tests.factories import PartnerFactory

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
