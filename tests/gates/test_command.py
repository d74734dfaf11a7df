import pytest
from django.core.management import CommandError, call_command

from gates.models import GateStatus
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_dry_run_prints_what_would_change_and_writes_nothing(ladder, capsys):
    partner = PartnerFactory(name="Initech")
    ladder.certify(partner, 3)
    call_command("evaluate_gates", "--dry-run")
    output = capsys.readouterr().out
    assert "Initech: Passed the gate “Gold gate”." in output
    assert "Initech: Promoted to Gold." in output
    assert "2 gate statuses would change, 1 tier moves" in output
    assert not GateStatus.objects.exists()


def test_evaluates_one_partner_or_one_gate(ladder, capsys):
    partner, other = PartnerFactory(), PartnerFactory()
    ladder.certify(partner, 1)
    call_command("evaluate_gates", "--partner", str(partner.pk))
    assert set(GateStatus.objects.values_list("partner_id", flat=True)) == {partner.pk}
    call_command("evaluate_gates", "--gate", str(ladder.gold_gate.pk))
    assert GateStatus.objects.filter(partner=other).count() == 1
    assert "2 partners evaluated" in capsys.readouterr().out


def test_unknown_ids_are_clear_errors(ladder):
    with pytest.raises(CommandError, match="No partner has the id 999"):
        call_command("evaluate_gates", "--partner", "999")
    with pytest.raises(CommandError, match="No gate has the id 999"):
        call_command("evaluate_gates", "--gate", "999")


def test_with_a_broker_the_command_says_where_the_run_went(ladder, capsys, monkeypatch, settings):
    from prm.celery import app

    PartnerFactory()
    PartnerFactory()
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    # No broker to send to here: the group is dropped (and would be sent after commit anyway).
    monkeypatch.setattr("celery.canvas.group.apply_async", lambda self, *args, **kwargs: None)
    settings.PRM_EVALUATION_CHUNK_SIZE = 1
    call_command("evaluate_gates")
    output = capsys.readouterr().out
    assert "dispatched to the workers in 2 chunks" in output
    assert not GateStatus.objects.exists()
