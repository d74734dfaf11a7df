"""A partner's lifecycle is a transition table: onboard, activate, suspend, reinstate, terminate."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from core.models import AuditEntry
from partners.models import PARTNER_STATE_MOVES, LifecycleStatus, Partner, Region
from partners.services import partner_move
from partners.signals import facts_changed
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

S = LifecycleStatus


@pytest.fixture
def announced():
    calls: list[set[int]] = []

    def receiver(sender, partner_ids=(), **_kwargs):
        calls.append(set(partner_ids))

    facts_changed.connect(receiver, dispatch_uid="test-lifecycle")
    yield calls
    facts_changed.disconnect(dispatch_uid="test-lifecycle")


def test_a_partner_is_suspended_with_a_reason_recorded_and_re_evaluated(superuser, announced):
    partner = PartnerFactory(status=S.ACTIVE)
    partner_move(actor=superuser, partner=partner, status=S.SUSPENDED, reason="Unpaid invoices")
    partner.refresh_from_db()
    assert partner.status == S.SUSPENDED
    entry = AuditEntry.objects.get(action="partner.status_changed")
    assert entry.data == {"before": "active", "after": "suspended", "reason": "Unpaid invoices"}
    assert entry.actor == superuser
    assert announced == [{partner.pk}]


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("destination", list(S))
def test_every_move_outside_the_table_is_refused_as_a_conflict(superuser, current, destination):
    partner = PartnerFactory(status=current)
    if (current, destination) in PARTNER_STATE_MOVES:
        partner_move(actor=superuser, partner=partner, status=destination)
        assert Partner.objects.get(pk=partner.pk).status == destination
        return
    with pytest.raises(ValidationError) as refused:
        partner_move(actor=superuser, partner=partner, status=destination)
    assert refused.value.code == "conflict"
    assert Partner.objects.get(pk=partner.pk).status == current
    assert not AuditEntry.objects.exists()


def test_termination_is_final_and_says_so(superuser):
    partner = PartnerFactory(status=S.TERMINATED)
    with pytest.raises(ValidationError, match="termination is final"):
        partner_move(actor=superuser, partner=partner, status=S.ACTIVE)


def test_a_manager_cannot_move_a_partner_outside_his_coverage(channel_manager):
    foreign = PartnerFactory(status=S.ACTIVE, region=Region.LATIN_AMERICA, country="BR")
    with pytest.raises(PermissionDenied):
        partner_move(actor=channel_manager, partner=foreign, status=S.SUSPENDED)
    assert Partner.objects.get(pk=foreign.pk).status == S.ACTIVE


def test_the_admin_form_refuses_a_move_outside_the_table_next_to_the_status(client, superuser):
    partner = PartnerFactory(status=S.TERMINATED)
    client.force_login(superuser)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "status": S.ACTIVE,
            "distributor": "",
            "channel_manager": "",
            "joined_on": partner.joined_on.isoformat(),
            **{
                f"{inline}-{n}": "0"
                for inline in ("memberships", "people", "proficiencies")
                for n in ("TOTAL_FORMS", "INITIAL_FORMS")
            },
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["status"] == [
        "A terminated partner stays terminated: termination is final."
    ]
    assert Partner.objects.get(pk=partner.pk).status == S.TERMINATED
