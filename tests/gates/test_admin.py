"""Gates in the admin: criteria errors at the field, what-if without writing, overrides with reasons."""

import datetime
import re
from unittest import mock

import pytest
from django.urls import reverse

from core.models import AuditEntry
from gates import services
from gates.models import Gate, GateState, GateStatus, GateVersion, PartnerTier
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _gate_form(ladder, **overrides):
    data = {
        "program": ladder.program.pk,
        "name": "Five engineers",
        "description": "",
        "state": GateState.DRAFT,
        "effective_from": "",
        "effective_to": "",
        "criteria": '{"metric": "certified_people", "op": ">=", "target": 5}',
        "currency": "",
        "unlocks_tier": "",
        "unlocks_specialisation": "",
    }
    data.update(overrides)
    return data


def test_invalid_criteria_are_refused_at_the_field_naming_the_place(client, superuser, ladder):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:gates_gate_add"),
        _gate_form(ladder, criteria='{"all": [{"metric": "sales_amount", "op": ">=", "target": "x"}]}'),
    )
    assert response.status_code == 200
    assert "criteria.all[0].target: &#x27;x&#x27; is not an amount." in response.content.decode()
    assert not Gate.objects.filter(name="Five engineers").exists()
    response = client.post(reverse("admin:gates_gate_add"), _gate_form(ladder, criteria="{not json"))
    assert "Enter a valid JSON." in response.content.decode()


def test_a_cycle_of_prerequisites_is_refused(client, superuser, ladder):
    client.force_login(superuser)
    ladder.gold_gate.prerequisites.add(ladder.silver_gate)
    data = _gate_form(
        ladder,
        name=ladder.silver_gate.name,
        state=GateState.ACTIVE,
        unlocks_tier=ladder.silver.pk,
        prerequisites=[ladder.gold_gate.pk],
    )
    response = client.post(reverse("admin:gates_gate_change", args=[ladder.silver_gate.pk]), data)
    assert response.status_code == 200
    assert (
        "These prerequisites make a cycle: Silver gate → Gold gate → Silver gate."
        in response.content.decode()
    )
    assert not ladder.silver_gate.prerequisites.exists()


def test_new_criteria_on_an_active_gate_wait_as_a_draft_until_published(
    client, superuser, ladder, django_capture_on_commit_callbacks
):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate()
    client.force_login(superuser)
    data = _gate_form(
        ladder,
        name=ladder.gold_gate.name,
        state=GateState.ACTIVE,
        unlocks_tier=ladder.gold.pk,
        criteria='{"metric": "certified_people", "op": ">=", "target": 1}',
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:gates_gate_change", args=[ladder.gold_gate.pk]), data)
    assert response.status_code == 302
    ladder.gold_gate.refresh_from_db()
    # Not edited in place: the gate keeps version 1, the new criteria are its draft.
    assert ladder.gold_gate.version == 1 and ladder.gold_gate.criteria["target"] == 3
    draft = GateVersion.objects.get(gate=ladder.gold_gate, state=GateVersion.State.DRAFT)
    assert draft.version == 2 and draft.criteria["target"] == 1
    assert GateStatus.objects.get(partner=partner, gate=ladder.gold_gate).status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:gates_gateversion_changelist"),
            {"action": "publish_today", "_selected_action": [draft.pk]},
        )
    assert response.status_code == 302
    ladder.gold_gate.refresh_from_db()
    assert ladder.gold_gate.version == 2 and ladder.gold_gate.criteria["target"] == 1
    assert GateVersion.objects.get(gate=ladder.gold_gate, version=1).state == GateVersion.State.SUPERSEDED
    assert AuditEntry.objects.filter(action="gate.version_published").count() == 1
    status = GateStatus.objects.get(partner=partner, gate=ladder.gold_gate)
    assert status.status == "passed" and status.gate_version == 2  # re-evaluated in-process (no broker)


def _simulate(client, capture, url, data=None):
    """Post (or get) a simulation and follow to the run's page; no broker: it runs once committed."""
    with capture(execute=True):
        response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code == 302 and "/whatif/" in response["Location"]
    return client.get(response["Location"])


def test_what_if_from_the_change_form_writes_nothing(
    client, superuser, ladder, django_capture_on_commit_callbacks
):
    for count in (0, 1, 2, 3):
        ladder.certify(PartnerFactory(), count)
    services.evaluate()
    before = list(GateStatus.objects.order_by("id").values_list("id", "status"))
    client.force_login(superuser)
    data = _gate_form(
        ladder,
        name=ladder.gold_gate.name,
        state=GateState.ACTIVE,
        unlocks_tier=ladder.gold.pk,
        criteria='{"metric": "certified_people", "op": ">=", "target": 2}',
    )
    response = _simulate(
        client,
        django_capture_on_commit_callbacks,
        reverse("admin:gates_gate_simulate") + f"?gate={ladder.gold_gate.pk}",
        data,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Would pass</th><td>2</td>" in page
    assert "Pass today</th><td>1</td>" in page
    assert "Would newly pass</th><td>1</td>" in page
    assert re.search(
        r"<td>Partner \d+</td><td>Gold gate</td><td>newly passes</td><td>Silver → Gold</td>", page
    )
    assert "Would newly fail</th><td>0</td>" in page
    assert list(GateStatus.objects.order_by("id").values_list("id", "status")) == before
    ladder.gold_gate.refresh_from_db()
    assert ladder.gold_gate.criteria["target"] == 3


def test_what_if_for_a_gate_id_that_does_not_parse_answers_404(client, superuser, ladder):
    client.force_login(superuser)
    for gate in ("abc", "1.5", "9" * 40):
        assert client.get(reverse("admin:gates_gate_simulate") + f"?gate={gate}").status_code == 404


def test_what_if_for_a_draft_and_invalid_criteria(
    client, superuser, ladder, django_capture_on_commit_callbacks
):
    ladder.certify(PartnerFactory(), 5)
    client.force_login(superuser)
    response = _simulate(
        client, django_capture_on_commit_callbacks, reverse("admin:gates_gate_simulate"), _gate_form(ladder)
    )
    assert "Would newly pass</th><td>1</td>" in response.content.decode()
    response = client.post(
        reverse("admin:gates_gate_simulate"),
        _gate_form(ladder, criteria='{"metric": "nope", "op": ">=", "target": 1}'),
    )
    assert "Fix the criteria before simulating" in response.content.decode()
    assert not Gate.objects.filter(name="Five engineers").exists()


def test_the_simulate_action_on_saved_gates(client, superuser, ladder, django_capture_on_commit_callbacks):
    client.force_login(superuser)
    response = _simulate(
        client,
        django_capture_on_commit_callbacks,
        reverse("admin:gates_gate_changelist"),
        {"action": "simulate_selected", "_selected_action": [ladder.silver_gate.pk, ladder.gold_gate.pk]},
    )
    assert response.status_code == 200
    assert response.content.decode().count("Would pass") == 2


def test_an_override_in_the_admin_needs_a_reason_and_is_recorded(client, superuser, ladder):
    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate()
    row = PartnerTier.objects.get(partner=partner)
    client.force_login(superuser)
    url = reverse("admin:gates_partnertier_change", args=[row.pk])
    expires = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    response = client.post(
        url, {"override_tier": ladder.gold.pk, "override_reason": "", "override_expires_on": expires}
    )
    assert response.status_code == 200
    assert "Give the reason for the override" in response.content.decode()
    row.refresh_from_db()
    assert row.tier == ladder.silver
    response = client.post(
        url,
        {
            "override_tier": ladder.gold.pk,
            "override_reason": "Launch partner",
            "override_expires_on": expires,
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.tier == ladder.gold and row.override_by == superuser
    response = client.post(url, {"override_tier": "", "override_reason": "", "override_expires_on": ""})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.tier == ladder.silver and row.override_tier is None


def test_retiring_a_gate_revokes_what_it_unlocked(
    client, superuser, ladder, django_capture_on_commit_callbacks
):
    partner = PartnerFactory()
    ladder.certify(partner, 3)
    services.evaluate()
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:gates_gate_changelist"),
            {"action": "retire_selected", "_selected_action": [ladder.gold_gate.pk]},
        )
    ladder.gold_gate.refresh_from_db()
    assert ladder.gold_gate.state == GateState.RETIRED
    row = PartnerTier.objects.get(partner=partner)
    # Gold can no longer be earned: the partner keeps it through grace, then drops.
    assert row.tier == ladder.gold and row.grace_until is not None


def test_saving_an_unchanged_override_writes_nothing_and_the_portal_reads_its_date(
    client, superuser, ladder, django_capture_on_commit_callbacks
):
    from django.utils import dateformat

    from core.models import AuditEntry
    from gates.models import TierChange, TierChangeReason
    from partners.models import MembershipRole
    from tests.factories import MembershipFactory

    partner = PartnerFactory()
    ladder.certify(partner, 1)
    services.evaluate()
    row = PartnerTier.objects.get(partner=partner)
    client.force_login(superuser)
    url = reverse("admin:gates_partnertier_change", args=[row.pk])
    expires = datetime.date.today() + datetime.timedelta(days=30)
    data = {
        "override_tier": ladder.gold.pk,
        "override_reason": "Launch partner",
        "override_expires_on": expires.isoformat(),
        "_continue": "Save and continue editing",
    }
    with (
        mock.patch("gates.services.overrides.notify_changes") as notify,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for _ in range(3):
            assert client.post(url, data).status_code == 302
    history = TierChange.objects.filter(partner=partner, reason=TierChangeReason.OVERRIDE_SET)
    assert history.count() == 1
    assert AuditEntry.objects.filter(action="tier.override_set").count() == 1
    assert notify.call_count == 1  # the partner is told once
    readable = dateformat.format(expires, "j F Y")
    assert history.get().note == f"Launch partner until {readable}"

    member = MembershipFactory(partner=partner, role=MembershipRole.ADMIN).user
    client.force_login(member)
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert f"until {readable}" in page
    assert expires.isoformat() not in page


def test_results_and_overrides_have_readable_names(ladder):
    partner = PartnerFactory(name="Initech")
    ladder.certify(partner, 1)
    services.evaluate()
    row = PartnerTier.objects.get(partner=partner)
    assert str(row) == "Initech in Main program: Silver"
    status = GateStatus.objects.get(partner=partner, gate=ladder.silver_gate)
    assert str(status) == "Initech on Silver gate: Passed"
    from gates.models import BenefitGrant, GateStatusChange, TierChange

    assert str(BenefitGrant.objects.filter(partner=partner).first()).endswith(" for Initech")
    assert str(GateStatusChange.objects.filter(partner=partner, gate=ladder.silver_gate).get()) == (
        "Initech on Silver gate: – → Passed"
    )
    assert str(TierChange.objects.get(partner=partner)).startswith("Initech in Main program: Promoted on ")


def test_what_if_counts_and_names_only_the_partners_a_manager_covers(
    client, channel_manager, ladder, django_capture_on_commit_callbacks
):
    covered = PartnerFactory(name="Acme")
    hidden = PartnerFactory(name="Xolotl Systems", country="BR", region="latam")
    for partner in (covered, hidden):
        ladder.certify(partner, 2)
    services.evaluate()
    client.force_login(channel_manager)
    data = _gate_form(
        ladder,
        name=ladder.gold_gate.name,
        state=GateState.ACTIVE,
        unlocks_tier=ladder.gold.pk,
        criteria='{"metric": "certified_people", "op": ">=", "target": 2}',
    )
    response = _simulate(
        client,
        django_capture_on_commit_callbacks,
        reverse("admin:gates_gate_simulate") + f"?gate={ladder.gold_gate.pk}",
        data,
    )
    page = response.content.decode()
    assert "Partners evaluated</th><td>1</td>" in page
    assert "Would pass</th><td>1</td>" in page
    assert "Would newly pass</th><td>1</td>" in page and "<td>Acme</td><td>Gold gate</td>" in page
    assert "Xolotl" not in page
    assert re.search(r"<code>criteria</code></td><td>[^<]*</td><td>1</td>", page)  # one partner meets it

    action = _simulate(
        client,
        django_capture_on_commit_callbacks,
        reverse("admin:gates_gate_changelist"),
        {"action": "simulate_selected", "_selected_action": [ladder.silver_gate.pk]},
    ).content.decode()
    assert "Partners evaluated</th><td>1</td>" in action and "Xolotl" not in action
