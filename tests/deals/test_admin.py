"""Channel managers decide on registrations and MDF in the admin through actions that call the services."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from deals.models import Deal, DealStatus, MdfRequest, MdfStatus
from tests.deals.helpers import approved_deal, grant_mdf
from tests.factories import DealFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _act(client, model: str, action: str, ids, **extra):
    return client.post(
        reverse(f"admin:deals_{model}_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [str(i) for i in ids], **extra},
        follow=True,
    )


def test_the_manager_approves_from_the_changelist(client, partner, other_partner, channel_manager):
    mine = DealFactory(partner=partner)
    flagged_rival = approved_deal(PartnerFactory(name="Rival EMEA"), customer_domain="same.example")
    flagged = DealFactory(partner=partner, customer_domain="same.example", needs_review=True)
    client.force_login(channel_manager)
    response = _act(client, "deal", "approve", [mine.pk, flagged.pk])
    text = response.content.decode()
    assert "1 registration(s) approved." in text
    assert "Reject one of the two claims" in text
    assert Deal.objects.get(pk=mine.pk).status == DealStatus.APPROVED
    assert Deal.objects.get(pk=flagged.pk).status == DealStatus.SUBMITTED
    assert flagged_rival.status == DealStatus.APPROVED


def test_rejecting_in_the_admin_asks_for_the_reason(client, partner, channel_manager):
    deal = DealFactory(partner=partner)
    client.force_login(channel_manager)
    page = _act(client, "deal", "reject", [deal.pk])
    assert "Reject deal registrations" in page.content.decode() and 'name="reason"' in page.content.decode()
    missing = _act(client, "deal", "reject", [deal.pk], apply="1", reason="")
    assert "This field is required." in missing.content.decode()
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.SUBMITTED
    done = _act(client, "deal", "reject", [deal.pk], apply="1", reason="Named account")
    assert "1 registration(s) rejected." in done.content.decode()
    assert Deal.objects.get(pk=deal.pk).rejection_reason == "Named account"


def test_workflow_fields_are_read_only_and_deals_are_not_added_in_the_admin(client, partner, channel_manager):
    deal = DealFactory(partner=partner)
    client.force_login(channel_manager)
    assert client.get(reverse("admin:deals_deal_add")).status_code == 403
    page = client.get(reverse("admin:deals_deal_change", args=[deal.pk])).content.decode()
    assert 'name="status"' not in page and 'name="protected_until"' not in page


def test_a_manager_sees_only_covered_partners_deals_in_the_admin(
    client, partner, other_partner, channel_manager
):
    DealFactory(partner=partner, customer_name="Covered Customer")
    hidden = DealFactory(partner=other_partner, customer_name="Hidden Customer")
    client.force_login(channel_manager)
    page = client.get(reverse("admin:deals_deal_changelist")).content.decode()
    assert "Covered Customer" in page and "Hidden Customer" not in page
    assert client.get(reverse("admin:deals_deal_change", args=[hidden.pk])).status_code == 302


def test_mdf_actions_in_the_admin(client, partner, partner_admin, channel_manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    import datetime
    from decimal import Decimal

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from deals import mdf

    grant_mdf(partner)
    today = timezone.localdate()
    request = mdf.mdf_request_create(
        actor=partner_admin,
        partner=partner,
        title="Expo",
        activity_kind="event",
        starts_on=today - datetime.timedelta(days=2),
        ends_on=today - datetime.timedelta(days=1),
        amount=Decimal("800.00"),
    )
    client.force_login(channel_manager)
    assert "1 request(s) approved." in _act(client, "mdfrequest", "approve", [request.pk]).content.decode()
    mdf.mdf_claim(
        actor=partner_admin,
        request=MdfRequest.objects.get(pk=request.pk),
        amount=Decimal("800.00"),
        proof=SimpleUploadedFile("p.pdf", b"%PDF-1.4"),
    )
    page = client.get(reverse("admin:deals_mdfrequest_changelist")).content.decode()
    assert reverse("portal:mdf_proof", args=[request.pk]) in page
    assert "1 claim(s) marked paid." in _act(client, "mdfrequest", "mark_paid", [request.pk]).content.decode()
    assert MdfRequest.objects.get(pk=request.pk).status == MdfStatus.PAID
    period_page = client.get(
        reverse("admin:deals_mdfperiod_change", args=[request.period_id])
    ).content.decode()
    assert "800.00" in period_page or "800,00" in period_page


def test_an_early_claim_is_allowed_in_the_admin_with_its_reason(
    client, partner, partner_admin, channel_manager
):
    import datetime
    from decimal import Decimal

    from django.utils import timezone

    from deals import mdf

    grant_mdf(partner)
    starts_on = timezone.localdate() + datetime.timedelta(days=10)
    request = mdf.mdf_request_create(
        actor=partner_admin,
        partner=partner,
        title="Summit",
        activity_kind="event",
        starts_on=starts_on,
        ends_on=starts_on + datetime.timedelta(days=2),
        amount=Decimal("500.00"),
    )
    mdf.mdf_request_approve(actor=channel_manager, request=request)
    client.force_login(channel_manager)

    page = _act(client, "mdfrequest", "allow_early_claim", [request.pk]).content.decode()
    assert "These partners may claim before their activity ends" in page and 'name="reason"' in page
    done = _act(
        client, "mdfrequest", "allow_early_claim", [request.pk], apply="1", reason="Stand paid upfront"
    )

    assert "1 early claim(s) allowed." in done.content.decode()
    request.refresh_from_db()
    assert request.early_claim_reason == "Stand paid upfront"
    assert request.early_claim_allowed_by == channel_manager
    change = client.get(reverse("admin:deals_mdfrequest_change", args=[request.pk])).content.decode()
    assert "Stand paid upfront" in change
