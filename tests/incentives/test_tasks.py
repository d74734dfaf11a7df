"""The calculation runs after commit when a deal is won or its customer activates; the daily run closes quarters."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services as deal_services
from incentives import services, tasks
from incentives.models import EntryState, LedgerEntry
from incentives.periods import quarter_of
from prm.celery import app
from tests.deals.helpers import approved_deal
from tests.incentives.helpers import commission_rule, won_deal

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def test_winning_a_deal_calculates_its_incentives_after_commit(
    partner, partner_admin, program, django_capture_on_commit_callbacks
):
    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    deal = approved_deal(partner, expected_value=Decimal("5000.00"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deal_services.deal_mark_won(actor=partner_admin, deal=deal)
    assert not LedgerEntry.objects.exists()  # nothing before the commit

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()

    entry = LedgerEntry.objects.get()
    assert (entry.source_id, entry.amount, entry.event_on) == (str(deal.pk), Decimal("1000.00"), TODAY)


def test_a_redelivered_signal_pays_nothing_twice(partner, program, cloud, django_capture_on_commit_callbacks):
    from deals.models import Deal
    from deals.signals import deal_won

    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    deal = won_deal(partner, "1000.00", closed_on=TODAY, line=cloud)
    with django_capture_on_commit_callbacks(execute=True):
        deal_won.send(sender=Deal, deal_id=deal.pk, sale_id=None)
        deal_won.send(sender=Deal, deal_id=deal.pk, sale_id=None)
    assert LedgerEntry.objects.count() == 1


def test_a_failing_calculation_does_not_undo_the_won_deal(
    partner, program, cloud, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from deals.models import Deal
    from deals.signals import deal_won

    def broken(**kwargs):
        raise RuntimeError("the ledger is unavailable")

    monkeypatch.setattr(services, "calculate_deal", broken)
    deal = won_deal(partner, closed_on=TODAY, line=cloud)
    with django_capture_on_commit_callbacks(execute=True):
        deal_won.send(sender=Deal, deal_id=deal.pk, sale_id=None)
    assert "could not calculate the incentives of deal" in caplog.text


def test_recording_an_activation_releases_the_held_part_after_commit(
    partner, program, cloud, superuser, django_capture_on_commit_callbacks
):
    commission_rule(
        program,
        effective_from=datetime.date(2020, 1, 1),
        paid_on_signing_percent=Decimal(50),
        activation_days=90,
    )
    closed = quarter_of(TODAY).previous().end
    deal = won_deal(partner, "1000.00", closed_on=closed, line=cloud)
    services.calculate_deal(deal_id=deal.pk)
    services.period_close(period=quarter_of(closed), as_of=closed + datetime.timedelta(days=1))
    assert dict(LedgerEntry.objects.values_list("component", "state")) == {
        "signing": "payable",
        "held": "accrued",
    }

    with django_capture_on_commit_callbacks(execute=True):
        services.activation_record(
            actor=superuser, deal=deal, activated_on=min(TODAY, closed + datetime.timedelta(days=30))
        )

    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {EntryState.PAYABLE}


def test_the_daily_task_is_scheduled_and_closes_ended_quarters(partner, program, cloud, settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["incentives-daily"]
    assert schedule["task"] == "incentives.tasks.incentives_daily_task"
    assert schedule["task"] in app.tasks
    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    previous = quarter_of(TODAY).previous()
    won_deal(partner, closed_on=previous.end, line=cloud)
    settings.PRM_INCENTIVES_CLOSE_DELAY_DAYS = 0

    result = tasks.incentives_daily_task.delay().get()

    assert previous.code in result["closed"]
    assert LedgerEntry.objects.get().state == EntryState.PAYABLE


def test_the_partner_task_runs_the_same_calculation_for_one_period(partner, other_partner, program, cloud):
    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    won_deal(partner, closed_on=TODAY, line=cloud)
    won_deal(other_partner, closed_on=TODAY, line=cloud)

    result = tasks.calculate_partner_task.delay(partner.pk, quarter_of(TODAY).code).get()

    assert result["entries"] == 1
    assert list(LedgerEntry.objects.values_list("partner", flat=True)) == [partner.pk]
