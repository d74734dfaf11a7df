"""Versions of a gate: drafts, publishing from a date, read-only history, diffs."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import AuditEntry
from gates import services
from gates.models import Gate, GateStatus, GateStatusChange, GateVersion
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def target(version) -> int:
    return version.criteria["target"]


def test_an_active_gate_is_never_edited_in_place_by_a_raw_save(ladder):
    gate = Gate.objects.get(pk=ladder.gold_gate.pk)
    gate.criteria = {**gate.criteria, "target": 1}
    with pytest.raises(ValidationError, match="not edited in place"):
        gate.save()
    gate.refresh_from_db()
    assert target(gate) == 3
    # What a decision does not read still saves in place.
    gate.name = "Gold (three engineers)"
    gate.save()


def test_a_draft_leaves_the_gate_as_it_is_and_is_edited_until_published(ladder):
    gate = ladder.gold_gate
    first = services.gate_draft_save(actor=None, gate=gate, criteria={**gate.criteria, "target": 2})
    again = services.gate_draft_save(actor=None, gate=gate, criteria={**gate.criteria, "target": 1})
    assert first.pk == again.pk and again.version == 2 and target(again) == 1
    gate.refresh_from_db()
    assert (gate.version, target(gate)) == (1, 3)
    with pytest.raises(services.VersionError) as problem:
        services.gate_draft_save(actor=None, gate=gate, criteria={"metric": "nope", "op": ">=", "target": 1})
    assert "criteria" in problem.value.errors


def test_publishing_today_makes_the_draft_current_keeps_the_old_one_and_is_audited(
    ladder, django_capture_on_commit_callbacks
):
    partner = PartnerFactory()
    ladder.certify(partner, 2)
    services.evaluate()
    gate = ladder.gold_gate
    draft = services.gate_draft_save(actor=None, gate=gate, criteria={**gate.criteria, "target": 2})
    with django_capture_on_commit_callbacks(execute=True):
        services.gate_version_publish(actor=None, draft=draft)
    gate.refresh_from_db()
    assert (gate.version, target(gate)) == (2, 2)
    states = dict(GateVersion.objects.filter(gate=gate).values_list("version", "state"))
    assert states == {1: "superseded", 2: "current"}
    entry = AuditEntry.objects.get(action="gate.version_published")
    assert entry.data["version"] == 2
    # The partners are decided again under the new version (inline, no broker), and the
    # history row says which version decided.
    status = GateStatus.objects.get(partner=partner, gate=gate)
    assert (status.status, status.gate_version) == ("passed", 2)
    change = GateStatusChange.objects.filter(partner=partner, gate=gate).latest("changed_at")
    assert (change.to_status, change.gate_version) == ("passed", 2)
    # A published version is read-only.
    with pytest.raises(services.VersionError):
        services.gate_version_publish(actor=None, draft=draft)


def test_a_version_takes_effect_today_or_later_and_waits_for_its_day(ladder):
    gate = ladder.gold_gate
    today = timezone.localdate()
    draft = services.gate_draft_save(actor=None, gate=gate, criteria={**gate.criteria, "target": 2})
    with pytest.raises(services.VersionError) as problem:
        services.gate_version_publish(
            actor=None, draft=draft, effective_from=today - datetime.timedelta(days=1)
        )
    assert "effective_from" in problem.value.errors
    later = today + datetime.timedelta(days=10)
    services.gate_version_publish(actor=None, draft=draft, effective_from=later)
    gate.refresh_from_db()
    assert (gate.version, GateVersion.objects.get(pk=draft.pk).state) == (1, "scheduled")
    assert services.gate_versions_apply_due(later - datetime.timedelta(days=1)) == 0
    assert services.gate_versions_apply_due(later) == 1
    gate.refresh_from_db()
    assert (gate.version, target(gate)) == (2, 2)


def test_a_diff_reads_both_versions_in_words_and_names_who_passes_under_each(ladder):
    two, three = PartnerFactory(name="Two people"), PartnerFactory(name="Three people")
    ladder.certify(two, 2)
    ladder.certify(three, 3)
    gate = ladder.gold_gate
    draft = services.gate_draft_save(actor=None, gate=gate, criteria={**gate.criteria, "target": 2})
    current = GateVersion.objects.get(gate=gate, version=1)
    diff = services.gate_versions_diff(before=current, after=draft)
    assert diff.before_lines[0].startswith("criteria: at least 3 ")
    assert diff.after_lines[0].startswith("criteria: at least 2 ")
    assert "certification" in diff.after_lines[0]
    assert (diff.pass_before, diff.pass_after) == (1, 2)
    assert (diff.newly_pass, diff.newly_fail) == (["Two people"], [])
    # Scoped: only the partners passed in count.
    scoped = services.gate_versions_diff(
        before=current, after=draft, partners=type(two).objects.filter(pk=three.pk)
    )
    assert (scoped.pass_before, scoped.pass_after, scoped.newly_pass) == (1, 1, [])
