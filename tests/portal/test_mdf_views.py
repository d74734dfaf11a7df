"""MDF through the portal: request against the allowance, claim with a proof file, decisions, downloads."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from deals import mdf
from deals.models import MdfPeriod, MdfRequest, MdfStatus
from tests.deals.helpers import grant_mdf

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% invoice\n"


def _form(**overrides) -> dict:
    today = timezone.localdate()
    data = {
        "title": "Cloud roadshow",
        "activity_kind": "event",
        "starts_on": (today + datetime.timedelta(days=10)).isoformat(),
        "ends_on": (today + datetime.timedelta(days=12)).isoformat(),
        "amount": "2500.00",
        "description": "Three cities.",
    }
    data.update(overrides)
    return data


def _approved(partner, admin, superuser, amount="1000.00", *, ends_on=None) -> MdfRequest:
    """Approved funds for a webinar held yesterday (or ending on ``ends_on``)."""
    ends_on = ends_on or timezone.localdate() - datetime.timedelta(days=1)
    request = mdf.mdf_request_create(
        actor=admin,
        partner=partner,
        title="Webinar",
        activity_kind="digital",
        starts_on=ends_on,
        ends_on=ends_on,
        amount=Decimal(amount),
    )
    return mdf.mdf_request_approve(actor=superuser, request=request)


def test_requesting_funds(client, partner, partner_admin):
    grant_mdf(partner, "10000.00")
    client.force_login(partner_admin)
    page = client.get(reverse("portal:mdf_new")).content.decode()
    assert "10,000.00 USD left" in page
    response = client.post(reverse("portal:mdf_new"), _form(), follow=True)
    item = MdfRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse("portal:mdf_detail", args=[item.pk])
    assert f"{item.reference} requested: 2,500.00 USD." in response.content.decode()
    listing = client.get(reverse("portal:mdf")).content.decode()
    assert "7,500.00 USD left" in listing and "Cloud roadshow" in listing


def test_over_the_allowance_is_refused_at_the_amount_with_the_input_kept(client, partner, partner_admin):
    grant_mdf(partner, "1000.00")
    client.force_login(partner_admin)
    response = client.post(reverse("portal:mdf_new"), _form(amount="1000.01"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Only 1,000.00 USD of this period&#x27;s allowance remain" in html
    assert 'value="Cloud roadshow"' in html and 'value="1000.01"' in html
    assert 'id="id_amount_errors"' in html
    assert not MdfRequest.objects.exists()


def test_form_errors_for_dates_and_amounts(client, partner, partner_admin):
    grant_mdf(partner)
    client.force_login(partner_admin)
    today = timezone.localdate()
    response = client.post(
        reverse("portal:mdf_new"),
        _form(amount="abc", title="", ends_on=(today - datetime.timedelta(days=30)).isoformat()),
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"amount", "title", "ends_on"}
    assert "The activity ends before it starts." in response.content.decode()


def test_claiming_with_a_proof_and_downloading_it(client, partner, partner_admin, superuser, channel_manager):
    grant_mdf(partner)
    item = _approved(partner, partner_admin, superuser)
    client.force_login(partner_admin)
    page = client.get(reverse("portal:mdf_detail", args=[item.pk])).content.decode()
    assert 'enctype="multipart/form-data"' in page and 'accept=".pdf,.png,.jpg,.jpeg"' in page
    assert 'value="1000.00"' in page
    response = client.post(
        reverse("portal:mdf_claim", args=[item.pk]),
        {
            "amount": "900.00",
            "proof": SimpleUploadedFile("Invoice March.pdf", PDF, content_type="application/pdf"),
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == MdfStatus.CLAIMED and item.claimed_amount == Decimal("900.00")
    client.force_login(channel_manager)
    download = client.get(reverse("portal:mdf_proof", args=[item.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert 'attachment; filename="Invoice March.pdf"' in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PDF


def test_a_claim_waits_for_the_end_of_the_activity_unless_a_manager_allows_it(
    client, partner, partner_admin, superuser, channel_manager
):
    grant_mdf(partner)
    ends_on = timezone.localdate() + datetime.timedelta(days=30)
    item = _approved(partner, partner_admin, superuser, ends_on=ends_on)
    claimable_from = ends_on + datetime.timedelta(days=1)
    client.force_login(partner_admin)

    page = client.get(reverse("portal:mdf_detail", args=[item.pk])).content.decode()
    assert f"You can claim these funds from {claimable_from.day} {claimable_from:%B %Y}" in page
    assert 'enctype="multipart/form-data"' not in page and "Allow an early claim" not in page
    early = client.post(
        reverse("portal:mdf_claim", args=[item.pk]),
        {"amount": "10.00", "proof": SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")},
    )
    assert early.status_code == 400
    assert MdfRequest.objects.get(pk=item.pk).status == MdfStatus.APPROVED
    # Partners do not grant themselves the exception.
    allow = reverse("portal:mdf_allow_early_claim", args=[item.pk])
    assert client.post(allow, {"early-reason": "Please"}).status_code == 404

    client.force_login(channel_manager)
    page = client.get(reverse("portal:mdf_detail", args=[item.pk])).content.decode()
    assert "The partner can claim these funds from" in page and "Allow an early claim" in page
    missing = client.post(allow, {"early-reason": ""})
    assert missing.status_code == 400 and "Give the reason for the exception" in missing.content.decode()
    assert client.post(allow, {"early-reason": "The venue is paid in advance."}).status_code == 302

    client.force_login(partner_admin)
    page = client.get(reverse("portal:mdf_detail", args=[item.pk])).content.decode()
    assert "Early claim" in page and "The venue is paid in advance." in page
    assert 'enctype="multipart/form-data"' in page
    claimed = client.post(
        reverse("portal:mdf_claim", args=[item.pk]),
        {"amount": "10.00", "proof": SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")},
    )
    assert claimed.status_code == 302
    assert MdfRequest.objects.get(pk=item.pk).status == MdfStatus.CLAIMED


def test_a_bad_proof_is_reported_at_the_file_field(client, partner, partner_admin, superuser, settings):
    settings.PRM_MAX_UPLOAD_BYTES = 64
    grant_mdf(partner)
    item = _approved(partner, partner_admin, superuser)
    client.force_login(partner_admin)
    cases = [
        (SimpleUploadedFile("a.pdf", PDF + b"x" * 100), "the limit is 64"),
        (SimpleUploadedFile("a.docx", b"PK\x03\x04"), "Upload a PDF, PNG or JPEG file."),
        (SimpleUploadedFile("a.pdf", b"GIF89a"), "not a PDF file"),
    ]
    for upload, message in cases:
        response = client.post(
            reverse("portal:mdf_claim", args=[item.pk]), {"amount": "10.00", "proof": upload}
        )
        assert response.status_code == 400
        assert message in response.context["claim_form"].errors["proof"][0]
        assert 'value="10.00"' in response.content.decode()
    missing = client.post(reverse("portal:mdf_claim", args=[item.pk]), {"amount": "10.00"})
    assert "Attach the proof of performance" in missing.content.decode()
    item.refresh_from_db()
    assert item.status == MdfStatus.APPROVED and not item.proof


def test_manager_decisions_in_the_portal(client, partner, partner_admin, channel_manager):
    grant_mdf(partner, "5000.00")
    client.force_login(partner_admin)
    client.post(reverse("portal:mdf_new"), _form(amount="3000.00"))
    item = MdfRequest.objects.get()
    client.force_login(channel_manager)
    too_much = client.post(reverse("portal:mdf_approve", args=[item.pk]), {"amount": "3500.00"})
    assert too_much.status_code == 400
    assert "You cannot approve more than was requested." in too_much.content.decode()
    assert client.post(reverse("portal:mdf_approve", args=[item.pk]), {"amount": "2000"}).status_code == 302
    item.refresh_from_db()
    assert item.status == MdfStatus.APPROVED and item.approved_amount == Decimal("2000")
    assert MdfPeriod.objects.get(partner=partner).remaining == Decimal("3000")
    page = client.get(reverse("portal:mdf_detail", args=[item.pk])).content.decode()
    assert "Requested" in page and "Approved" in page and "3,000.00 USD" in page


def test_rejection_needs_a_reason(client, partner, partner_admin, channel_manager):
    grant_mdf(partner)
    client.force_login(partner_admin)
    client.post(reverse("portal:mdf_new"), _form())
    item = MdfRequest.objects.get()
    client.force_login(channel_manager)
    response = client.post(reverse("portal:mdf_reject", args=[item.pk]), {"reason": ""})
    assert response.status_code == 400 and "Give the partner the reason" in response.content.decode()
    client.post(reverse("portal:mdf_reject", args=[item.pk]), {"reason": "Outside the program's rules."})
    client.force_login(partner_admin)
    page = client.get(reverse("portal:mdf_detail", args=[item.pk])).content.decode()
    assert "Rejected" in page and "Outside the program&#x27;s rules." in page


def test_a_missing_proof_file_answers_404(client, partner, partner_admin, superuser):
    grant_mdf(partner)
    item = _approved(partner, partner_admin, superuser)
    client.force_login(partner_admin)
    assert client.get(reverse("portal:mdf_proof", args=[item.pk])).status_code == 404
