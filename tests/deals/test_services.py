"""Deal registration: who may register and decide, conflicts, protection, wins as sale facts, expiry."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEntry
from deals import services
from deals.models import Deal, DealStatus, normalise_domain
from deals.signals import deal_won
from partners.models import MembershipRole, Sale
from tests.deals.helpers import approved_deal, grant_deal_registration, registration
from tests.factories import (
    DistributorFactory,
    MembershipFactory,
    PartnerFactory,
    ProductLineFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("example.com", "example.com"),
        ("  Example.COM ", "example.com"),
        ("https://www.example.com/about?x=1", "example.com"),
        ("http://shop.example.co.uk:8080/", "shop.example.co.uk"),
        ("buyer@Example.com", "example.com"),
        ("example.com.", "example.com"),
    ],
)
def test_domains_are_normalised_so_one_customer_has_one_key(typed, stored):
    assert normalise_domain(typed) == stored


@pytest.mark.parametrize("typed", ["", "localhost", "not a domain", "exa_mple.com", "example", "-bad.com"])
def test_what_is_not_a_domain_is_refused(typed):
    with pytest.raises(ValidationError):
        normalise_domain(typed)


def test_a_partner_without_the_benefit_cannot_register(partner, partner_admin):
    with pytest.raises(ValidationError, match="do not include deal registration"):
        services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert not Deal.objects.exists()


def test_a_revoked_benefit_no_longer_allows_registration(partner, partner_admin):
    held = grant_deal_registration(partner)
    held.revoked_at = timezone.now()
    held.save()
    with pytest.raises(ValidationError):
        services.deal_register(actor=partner_admin, partner=partner, **registration())


def test_only_the_partners_sellers_may_register_for_it(
    partner, partner_admin, other_partner_admin, distributor_user
):
    grant_deal_registration(partner)
    technical = MembershipFactory(partner=partner, role=MembershipRole.TECHNICAL).user
    for outsider in (other_partner_admin, distributor_user, technical):
        with pytest.raises(PermissionDenied):
            services.deal_register(actor=outsider, partner=partner, **registration())
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert deal.status == DealStatus.SUBMITTED
    assert deal.registered_by == partner_admin
    assert AuditEntry.objects.filter(action="deal.registered", target_id=str(deal.pk)).exists()


def test_invalid_registrations_name_each_field_and_write_nothing(partner, partner_admin):
    grant_deal_registration(partner)
    with pytest.raises(ValidationError) as caught:
        services.deal_register(
            actor=partner_admin,
            partner=partner,
            **registration(
                customer_domain="nope",
                expected_value=Decimal("10.5"),
                currency="JPY",
                expected_close=timezone.localdate() - datetime.timedelta(days=1),
                products=[],
            ),
        )
    errors = caught.value.message_dict
    assert set(errors) == {"customer_domain", "expected_value", "expected_close", "products"}
    assert "JPY amounts have at most 0 decimal places." in errors["expected_value"]
    assert not Deal.objects.exists()


def test_a_partner_claims_a_customer_once_while_its_claim_is_active(partner, partner_admin):
    grant_deal_registration(partner)
    first = services.deal_register(actor=partner_admin, partner=partner, **registration())
    with pytest.raises(ValidationError) as caught:
        services.deal_register(
            actor=partner_admin,
            partner=partner,
            **registration(customer_domain="https://www.Woodgrove.example/"),
        )
    assert first.reference in caught.value.message_dict["customer_domain"][0]
    services.deal_mark_lost(actor=partner_admin, deal=first)
    again = services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert again.status == DealStatus.SUBMITTED and not again.needs_review


def test_a_claim_on_a_customer_another_partner_holds_is_flagged_and_linked(
    partner,
    partner_admin,
    other_partner,
    other_partner_admin,
    channel_manager,
    django_capture_on_commit_callbacks,
):
    partner.channel_manager = channel_manager
    partner.save()
    channel_manager.email = "morgan@vendor.example"
    channel_manager.save()
    grant_deal_registration(partner)
    grant_deal_registration(other_partner)
    earlier = services.deal_register(actor=other_partner_admin, partner=other_partner, **registration())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        later = services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert later.needs_review and later.conflicts_with == earlier
    assert not earlier.needs_review
    assert later.status_label == "Under review"
    # The channel manager's email names both partners.
    manager_mail = [m for m in mail.outbox if "morgan@vendor.example" in m.to]
    assert manager_mail and other_partner.name in manager_mail[0].body


def test_a_rejected_or_lost_claim_does_not_flag_a_new_one(partner, partner_admin, other_partner):
    grant_deal_registration(partner)
    from tests.factories import DealFactory

    DealFactory(partner=other_partner, customer_domain="woodgrove.example", status=DealStatus.REJECTED)
    DealFactory(partner=other_partner, customer_domain="woodgrove.example", status=DealStatus.LOST)
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert not deal.needs_review and deal.conflicts_with is None


def test_the_partners_distributor_approves_and_the_deal_is_protected(
    partner, partner_admin, distributor_user, settings, django_capture_on_commit_callbacks
):
    settings.PRM_DEAL_PROTECTION_DAYS = 45
    grant_deal_registration(partner)
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    partner_admin.email = "pat@acme.example"
    partner_admin.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        approved = services.deal_approve(actor=distributor_user, deal=deal)
    assert approved.status == DealStatus.APPROVED
    assert approved.protected_until == timezone.localdate() + datetime.timedelta(days=45)
    assert approved.decided_by == distributor_user and approved.decided_at is not None
    assert any("pat@acme.example" in m.to and "approved" in m.subject for m in mail.outbox)
    with pytest.raises(ValidationError, match="approved: nothing to do"):
        services.deal_approve(actor=distributor_user, deal=deal)


def test_another_distributor_and_the_partner_itself_cannot_decide(partner, partner_admin):
    grant_deal_registration(partner)
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    stranger = MembershipFactory(
        partner=None, distributor=DistributorFactory(), role=MembershipRole.DISTRIBUTOR
    ).user
    for actor in (stranger, partner_admin, UserFactory()):
        with pytest.raises(PermissionDenied):
            services.deal_approve(actor=actor, deal=deal)
        with pytest.raises(PermissionDenied):
            services.deal_reject(actor=actor, deal=deal, reason="No")
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.SUBMITTED


def test_a_flagged_claim_is_the_vendors_decision(
    partner, partner_admin, other_partner, distributor_user, channel_manager, superuser
):
    grant_deal_registration(partner)
    rival = approved_deal(other_partner, customer_domain="woodgrove.example")
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert deal.needs_review
    with pytest.raises(PermissionDenied):
        services.deal_approve(actor=distributor_user, deal=deal)
    # While the rival's approved claim stands, nobody can approve this one.
    with pytest.raises(ValidationError, match="Reject one of the two claims"):
        services.deal_approve(actor=superuser, deal=deal)
    rival.status = DealStatus.EXPIRED
    rival.save()
    assert services.deal_approve(actor=channel_manager, deal=deal).status == DealStatus.APPROVED


def test_a_manager_decides_only_on_partners_they_cover(other_partner, channel_manager):
    deal = approved_deal(other_partner)
    deal.status = DealStatus.SUBMITTED
    deal.save()
    with pytest.raises(PermissionDenied):
        services.deal_approve(actor=channel_manager, deal=deal)


def test_a_rejection_needs_a_reason_that_the_partner_sees(partner, partner_admin, distributor_user):
    grant_deal_registration(partner)
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    with pytest.raises(ValidationError) as caught:
        services.deal_reject(actor=distributor_user, deal=deal, reason="   ")
    assert "reason" in caught.value.message_dict
    rejected = services.deal_reject(actor=distributor_user, deal=deal, reason="Direct account.")
    assert rejected.status == DealStatus.REJECTED and rejected.rejection_reason == "Direct account."


def test_a_won_deal_becomes_a_sale_fact_and_tells_the_listeners_after_commit(
    partner, partner_admin, monkeypatch, django_capture_on_commit_callbacks
):
    deal = approved_deal(partner, currency="USD", expected_value=Decimal("42000.00"))
    reevaluated = []
    monkeypatch.setattr("gates.services.request_reevaluation", lambda ids: reevaluated.append(list(ids)))
    received = []

    def listener(sender, deal_id, sale_id, **kwargs):
        received.append((deal_id, sale_id))

    deal_won.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            won = services.deal_mark_won(
                actor=partner_admin, deal=deal, amount=Decimal("40000.00"), closed_on=timezone.localdate()
            )
        assert received == []  # nothing is announced before the transaction commits
        for callback in callbacks:
            callback()
    finally:
        deal_won.disconnect(listener)
    sale = Sale.objects.get(source="deal", external_id=f"deal-{deal.pk}")
    assert (sale.partner, sale.amount, sale.currency, sale.deal) == (partner, Decimal("40000.00"), "USD", won)
    assert sale.region == partner.region and sale.product_line.code == "cloud"
    assert won.status == DealStatus.WON and won.closed_on == timezone.localdate()
    assert received == [(deal.pk, sale.pk)]
    assert reevaluated == [[partner.pk]]


def test_only_an_approved_deal_can_be_won_and_only_once(partner, partner_admin):
    deal = approved_deal(partner)
    services.deal_mark_won(actor=partner_admin, deal=deal)
    with pytest.raises(ValidationError, match="won: nothing to do"):
        services.deal_mark_won(actor=partner_admin, deal=deal)
    assert Sale.objects.filter(deal=deal).count() == 1


def test_a_win_the_gates_could_not_convert_is_refused_with_the_reason(partner, partner_admin):
    deal = approved_deal(partner, currency="EUR")  # no EUR exchange rate is stored
    with pytest.raises(ValidationError) as caught:
        services.deal_mark_won(actor=partner_admin, deal=deal)
    assert "amount" in caught.value.message_dict
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.APPROVED
    assert not Sale.objects.exists()


def test_the_product_line_of_a_win_is_one_of_the_deals(partner, partner_admin):
    deal = approved_deal(partner)
    with pytest.raises(ValidationError) as caught:
        services.deal_mark_won(
            actor=partner_admin, deal=deal, product_line=ProductLineFactory(code="security")
        )
    assert "product_line" in caught.value.message_dict


def test_other_organisations_cannot_report_outcomes(partner, other_partner_admin, distributor_user):
    deal = approved_deal(partner)
    for actor in (other_partner_admin, distributor_user):
        with pytest.raises(PermissionDenied):
            services.deal_mark_won(actor=actor, deal=deal)
        with pytest.raises(PermissionDenied):
            services.deal_mark_lost(actor=actor, deal=deal)


def test_protection_ends_and_expiry_is_safe_to_repeat(partner):
    today = timezone.localdate()
    ended = approved_deal(partner, protected_until=today - datetime.timedelta(days=1))
    last_day = approved_deal(partner, protected_until=today)
    submitted = approved_deal(partner, protected_until=today - datetime.timedelta(days=5))
    submitted.status = DealStatus.SUBMITTED
    submitted.save()
    assert services.deals_expire(today=today) == 1
    assert services.deals_expire(today=today) == 0
    assert Deal.objects.get(pk=ended.pk).status == DealStatus.EXPIRED
    assert Deal.objects.get(pk=last_day.pk).status == DealStatus.APPROVED
    assert Deal.objects.get(pk=submitted.pk).status == DealStatus.SUBMITTED
    assert AuditEntry.objects.filter(action="deal.expired", target_id=str(ended.pk)).count() == 1


def test_the_nightly_schedule_expires_registrations():
    from deals.tasks import expire_deal_registrations

    entry = settings.CELERY_BEAT_SCHEDULE["expire-deal-registrations-nightly"]
    assert entry["task"] == expire_deal_registrations.name == "deals.tasks.expire_deal_registrations"


def test_the_expiry_task_runs_the_service(partner):
    from deals.tasks import expire_deal_registrations

    deal = approved_deal(partner, protected_until=timezone.localdate() - datetime.timedelta(days=3))
    assert expire_deal_registrations.delay().get() == 1
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.EXPIRED


def test_a_distributor_is_not_emailed_about_a_flagged_claim(
    partner, partner_admin, other_partner, distributor_user, django_capture_on_commit_callbacks
):
    distributor_user.email = "dana@northwind.example"
    distributor_user.save()
    grant_deal_registration(partner)
    approved_deal(other_partner, customer_domain="woodgrove.example")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.deal_register(actor=partner_admin, partner=partner, **registration())
    assert not any("dana@northwind.example" in m.to for m in mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        services.deal_register(
            actor=partner_admin, partner=partner, **registration(customer_domain="fresh.example")
        )
    assert any("dana@northwind.example" in m.to for m in mail.outbox)


def test_emails_to_the_partner_never_name_another_partner(
    partner, partner_admin, other_partner, superuser, django_capture_on_commit_callbacks
):
    partner_admin.email = "pat@acme.example"
    partner_admin.save()
    grant_deal_registration(partner)
    approved_deal(other_partner, customer_domain="woodgrove.example")
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.deal_reject(actor=superuser, deal=deal, reason="Another partner sourced this opportunity.")
    to_partner = [m for m in mail.outbox if "pat@acme.example" in m.to]
    assert to_partner and all(other_partner.name not in m.body + m.subject for m in to_partner)


def test_the_approval_queue_holds_what_each_approver_may_decide(
    partner, other_partner, distributor, distributor_user, channel_manager, superuser
):
    from tests.factories import DealFactory

    served = PartnerFactory(distributor=distributor, name="Served")
    mine = DealFactory(partner=partner)
    flagged = DealFactory(partner=served, needs_review=True)
    elsewhere = DealFactory(partner=other_partner)
    decided = DealFactory(partner=partner, status=DealStatus.APPROVED)
    queue = Deal.objects.awaiting_decision_by
    assert set(queue(distributor_user)) == {mine}
    assert set(queue(channel_manager)) == {mine, flagged}
    assert set(queue(superuser)) == {mine, flagged, elsewhere}
    assert decided not in set(queue(superuser))
    assert not queue(UserFactory()).exists()


def test_who_sourced_and_who_closed_are_recorded_for_commissions(partner, partner_admin):
    grant_deal_registration(partner)
    with pytest.raises(ValidationError) as caught:
        services.deal_register(actor=partner_admin, partner=partner, **registration(), sourced_by="someone")
    assert "sourced_by" in caught.value.message_dict
    deal = services.deal_register(actor=partner_admin, partner=partner, **registration(), sourced_by="vendor")
    assert deal.sourced_by == "vendor" and deal.closed_by == "partner"
    approved = approved_deal(partner, customer_domain="other.example")
    with pytest.raises(ValidationError) as caught:
        services.deal_mark_won(actor=partner_admin, deal=approved, closed_by="nobody")
    assert "closed_by" in caught.value.message_dict
    won = services.deal_mark_won(actor=partner_admin, deal=approved, closed_by="vendor")
    assert Deal.objects.get(pk=won.pk).closed_by == "vendor"
