"""Deal registration and MDF through the API: the deals services behind every command."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from api.models import IdempotencyKey
from core.models import AuditEntry
from deals.models import Deal, DealStatus, MdfLedgerEntry, MdfRequest, MdfStatus
from partners.models import Sale
from tests.deals.helpers import approved_deal, grant_deal_registration, grant_mdf
from tests.factories import DealFactory, ProductLineFactory

pytestmark = pytest.mark.django_db

DEALS = "/api/v1/deals/"
MDF = "/api/v1/mdf-requests/"
SOON = (timezone.localdate() + datetime.timedelta(days=45)).isoformat()
# An activity held last week: its approved funds may be claimed.
HELD = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
# The smallest valid PNG: one grey pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082"
)


def multipart_claim(boundary: str, amount: str, proof: bytes, name: str = "proof.png") -> bytes:
    """A claim's body as a client library writes it, with a boundary of its own drawing."""
    return b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="amount"\r\n\r\n{amount}\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="proof"; filename="{name}"\r\n'.encode(),
            b"Content-Type: image/png\r\n\r\n",
            proof,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


def registration(**overrides):
    body = {
        "customer_name": "Woodgrove Bank",
        "customer_domain": "https://www.Woodgrove.example/",
        "country": "GB",
        "products": ["cloud"],
        "expected_value": "50000.00",
        "currency": "USD",
        "expected_close": SOON,
    }
    body.update(overrides)
    return body


@pytest.fixture
def cloud(db):
    return ProductLineFactory(code="cloud")


class TestDeals:
    def test_a_seller_registers_a_deal_for_their_organisation(
        self, client_for, partner_sales, partner, cloud
    ):
        grant_deal_registration(partner)

        response = client_for(partner_sales).post(DEALS, registration(), format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        deal = Deal.objects.get()
        assert body["id"] == deal.pk and body["reference"] == f"DR-{deal.pk:05d}"
        assert (body["partner"], body["customer_domain"], body["products"]) == (
            partner.pk,
            "woodgrove.example",
            ["cloud"],
        )
        assert (body["status"], body["status_display"], body["needs_review"]) == (
            "submitted",
            "Submitted",
            None,
        )
        assert deal.registered_by == partner_sales

    def test_registration_is_a_benefit(self, client_for, partner_admin, cloud):
        response = client_for(partner_admin).post(DEALS, registration(), format="json")

        assert response.status_code == 400
        assert response.json()["errors"] == {
            "non_field_errors": ["Your organisation's benefits do not include deal registration."]
        }

    def test_bad_input_is_named_per_field(self, client_for, partner_admin, partner, cloud):
        grant_deal_registration(partner)
        body = registration(
            expected_value="-5", currency="XYZ", products=["mainframes"], expected_close="2020-01-01"
        )

        response = client_for(partner_admin).post(DEALS, body, format="json")

        errors = response.json()["errors"]
        assert set(errors) == {"expected_value", "currency", "products"}
        assert not Deal.objects.exists()
        past = client_for(partner_admin).post(DEALS, registration(expected_close="2020-01-01"), format="json")
        assert past.json()["errors"] == {"expected_close": ["The expected close date is in the past."]}

    def test_vendor_staff_do_not_register_for_partners(self, client_for, channel_manager, partner, cloud):
        grant_deal_registration(partner)

        response = client_for(channel_manager).post(DEALS, registration(partner=partner.pk), format="json")

        assert response.status_code == 403

    def test_a_contested_customer_is_under_review_without_naming_the_rival(
        self, client_for, partner_admin, channel_manager, partner, other_partner, cloud
    ):
        grant_deal_registration(partner)
        rival = DealFactory(partner=other_partner, customer_domain="woodgrove.example")

        created = client_for(partner_admin).post(DEALS, registration(), format="json").json()
        seen_by_manager = client_for(channel_manager).get(f"{DEALS}{created['id']}/").json()

        assert (created["status_display"], created["needs_review"], created["conflicts_with"]) == (
            "Under review",
            None,
            None,
        )
        assert (seen_by_manager["needs_review"], seen_by_manager["conflicts_with"]) == (True, rival.pk)
        # One name for the state whoever asks; only the detail differs.
        assert seen_by_manager["status_display"] == "Under review"

    def test_the_distributor_approves_deals_of_partners_it_serves(
        self, client_for, distributor_user, partner, other_partner
    ):
        ours = DealFactory(partner=partner)
        theirs = DealFactory(partner=other_partner)
        client = client_for(distributor_user)

        approved = client.post(f"{DEALS}{ours.pk}/approve/")
        hidden = client.post(f"{DEALS}{theirs.pk}/approve/")

        assert approved.status_code == 200
        assert approved.json()["status"] == "approved"
        assert approved.json()["protected_until"] is not None
        assert hidden.status_code == 404
        theirs.refresh_from_db()
        assert theirs.status == DealStatus.SUBMITTED

    def test_partners_may_not_decide_their_own_deals(self, client_for, partner_admin, partner):
        deal = DealFactory(partner=partner)

        response = client_for(partner_admin).post(f"{DEALS}{deal.pk}/approve/")

        assert response.status_code == 403
        assert response.json()["detail"] == "You may not decide on this registration."

    def test_a_rejection_needs_a_reason(self, client_for, channel_manager, partner):
        deal = DealFactory(partner=partner)
        client = client_for(channel_manager)

        missing = client.post(f"{DEALS}{deal.pk}/reject/", {}, format="json")
        spaces = client.post(f"{DEALS}{deal.pk}/reject/", {"reason": " \t "}, format="json")
        rejected = client.post(
            f"{DEALS}{deal.pk}/reject/", {"reason": "Existing vendor account"}, format="json"
        )
        again = client.post(f"{DEALS}{deal.pk}/reject/", {"reason": "Twice"}, format="json")

        assert missing.json()["errors"] == {"reason": ["This field is required."]}
        assert spaces.json()["errors"] == {"reason": ["This field may not be blank."]}
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["rejection_reason"] == "Existing vendor account"
        # Rejecting twice conflicts with the deal's state: 409, with the reason in the body.
        assert again.status_code == 409
        assert again.json()["code"] == "conflict"
        assert again.json()["errors"] == {
            "non_field_errors": ["This registration is rejected: nothing to do."]
        }

    def test_a_won_deal_becomes_a_sale(self, client_for, partner_admin, partner):
        deal = approved_deal(partner, expected_value=Decimal("42000.00"))

        response = client_for(partner_admin).post(
            f"{DEALS}{deal.pk}/won/", {"amount": "40000.00", "product_line": "cloud"}, format="json"
        )

        assert response.status_code == 200, response.content
        assert response.json()["status"] == "won"
        sale = Sale.objects.get(source="deal", external_id=f"deal-{deal.pk}")
        assert (sale.partner, sale.amount, sale.deal) == (partner, Decimal("40000.00"), deal)

    def test_a_deal_is_lost(self, client_for, partner_sales, partner):
        deal = DealFactory(partner=partner)

        response = client_for(partner_sales).post(
            f"{DEALS}{deal.pk}/lost/", {"reason": "Budget cut"}, format="json"
        )

        assert response.json()["status"] == "lost"

    def test_lists_show_only_visible_deals(self, client_for, other_partner_admin, partner, other_partner):
        DealFactory(partner=partner)
        theirs = DealFactory(partner=other_partner)

        listed = client_for(other_partner_admin).get(DEALS).json()["results"]

        assert [deal["id"] for deal in listed] == [theirs.pk]


class TestMdf:
    def request_body(self, **overrides):
        body = {
            "title": "Cloud summit booth",
            "activity_kind": "event",
            "starts_on": SOON,
            "ends_on": SOON,
            "amount": "4000.00",
        }
        body.update(overrides)
        return body

    def test_request_approve_claim_and_pay(self, client_for, partner_admin, channel_manager, partner):
        grant_mdf(partner, amount="10000.00")
        admin, manager = client_for(partner_admin), client_for(channel_manager)

        created = admin.post(MDF, self.request_body(starts_on=HELD, ends_on=HELD), format="json")
        assert created.status_code == 201, created.content
        url = f"{MDF}{created.json()['id']}/"
        approved = manager.post(f"{url}approve/", {"amount": "3000.00"}, format="json")
        proof = SimpleUploadedFile(
            "invoice.pdf", b"%PDF-1.4 proof of performance", content_type="application/pdf"
        )
        claimed = admin.post(f"{url}claim/", {"amount": "2500.00", "proof": proof}, format="multipart")
        paid = manager.post(f"{url}paid/", {"reference": "PAY-1"}, format="json")

        assert approved.json()["status"] == "approved" and approved.json()["approved_amount"] == "3000.0000"
        assert claimed.status_code == 200, claimed.content
        assert claimed.json()["has_proof"] is True
        assert paid.json() | {
            "updated_at": None,
            "paid_at": None,
            "decided_at": None,
            "claimed_at": None,
        } == {
            **paid.json(),
            "status": "paid",
            "claimed_amount": "2500.0000",
            "payment_reference": "PAY-1",
            "updated_at": None,
            "paid_at": None,
            "decided_at": None,
            "claimed_at": None,
        }

    def test_a_request_beyond_the_allowance_is_refused(self, client_for, partner_admin, partner):
        grant_mdf(partner, amount="1000.00")

        response = client_for(partner_admin).post(MDF, self.request_body(amount="1500.00"), format="json")

        assert response.status_code == 400
        assert response.json()["errors"]["amount"][0].startswith(
            "Only 1,000.00 USD of this period's allowance"
        )
        assert not MdfRequest.objects.exists()

    def test_a_claim_needs_a_real_proof(self, client_for, partner_admin, channel_manager, partner):
        grant_mdf(partner)
        body = self.request_body(starts_on=HELD, ends_on=HELD)
        request_id = client_for(partner_admin).post(MDF, body, format="json").json()["id"]
        client_for(channel_manager).post(f"{MDF}{request_id}/approve/", {}, format="json")
        fake = SimpleUploadedFile("invoice.pdf", b"MZ not a pdf", content_type="application/pdf")

        response = client_for(partner_admin).post(
            f"{MDF}{request_id}/claim/", {"amount": "100.00", "proof": fake}, format="multipart"
        )

        assert response.status_code == 400
        assert response.json()["errors"] == {"proof": ["The file's content is not a PDF file."]}
        assert MdfRequest.objects.get().status == MdfStatus.APPROVED

    def approved_request(self, client_for, partner_admin, channel_manager, partner) -> int:
        grant_mdf(partner)
        body = self.request_body(starts_on=HELD, ends_on=HELD)
        request_id = client_for(partner_admin).post(MDF, body, format="json").json()["id"]
        client_for(channel_manager).post(f"{MDF}{request_id}/approve/", {}, format="json")
        return request_id

    def test_a_claim_sent_again_with_its_idempotency_key_is_taken_once(
        self, client_for, partner_admin, channel_manager, partner
    ):
        request_id = self.approved_request(client_for, partner_admin, channel_manager, partner)
        admin, url = client_for(partner_admin), f"{MDF}{request_id}/claim/"

        def send(boundary, proof=PNG, key="claim-1"):
            return admin.post(
                url,
                multipart_claim(boundary, "1000.0000", proof),
                content_type=f"multipart/form-data; boundary={boundary}",
                HTTP_IDEMPOTENCY_KEY=key,
            )

        first = send("9bc6bcb73681a89b1cfd78bceb571d4d")
        ledger = MdfLedgerEntry.objects.count()
        # A retry draws a new boundary between the parts: the same fields and file all the same.
        again = send("0f3a0c5e2b7d4e1f8a9b6c5d4e3f2a1b")
        other_file = send("0f3a0c5e2b7d4e1f8a9b6c5d4e3f2a1b", proof=PNG + b"\x00")

        assert first.status_code == 200, first.content
        assert (first.json()["status"], first.json()["claimed_amount"], first.json()["has_proof"]) == (
            "claimed",
            "1000.0000",
            True,
        )
        assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert other_file.status_code == 422
        assert other_file.json()["code"] == "idempotency_key_reused"
        claimed = MdfRequest.objects.get()
        assert claimed.proof.read() == PNG and claimed.proof_content_type == "image/png"
        assert MdfLedgerEntry.objects.count() == ledger
        assert AuditEntry.objects.filter(action="mdf.claimed").count() == 1

    def test_a_claim_with_a_key_that_may_not_be_made_is_refused_and_frees_the_key(
        self, client_for, partner_admin, channel_manager, partner, issue_token, token_client
    ):
        request_id = self.approved_request(client_for, partner_admin, channel_manager, partner)
        _, secret = issue_token(channel_manager)
        proof = SimpleUploadedFile("proof.png", PNG, content_type="image/png")

        response = token_client(secret).post(
            f"{MDF}{request_id}/claim/",
            {"amount": "1000.0000", "proof": proof},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="fuzz-1",
        )

        # The vendor's manager decides claims; the partner makes them.
        assert response.status_code == 403
        assert response.json()["detail"] == "You may not claim these funds."
        # A service's refusal reads as any other permission refusal.
        assert response.json()["code"] == "permission_denied"
        assert MdfRequest.objects.get().status == MdfStatus.APPROVED
        assert not IdempotencyKey.objects.exists()

    def test_an_empty_proof_is_refused_and_the_schema_says_so(
        self, client_for, partner_admin, channel_manager, partner
    ):
        from drf_spectacular.generators import SchemaGenerator

        request_id = self.approved_request(client_for, partner_admin, channel_manager, partner)
        empty = SimpleUploadedFile("proof.png", b"", content_type="image/png")

        response = client_for(partner_admin).post(
            f"{MDF}{request_id}/claim/", {"amount": "100.00", "proof": empty}, format="multipart"
        )

        assert response.status_code == 400
        assert response.json()["errors"] == {"proof": ["The submitted file is empty."]}
        assert MdfRequest.objects.get().status == MdfStatus.APPROVED
        schema = SchemaGenerator().get_schema(request=None, public=True)
        proof = schema["components"]["schemas"]["MdfClaimRequest"]["properties"]["proof"]
        assert (proof["format"], proof["minLength"]) == ("binary", 1)

    def test_funds_for_an_activity_still_to_come_are_not_claimed(
        self, client_for, partner_admin, channel_manager, partner
    ):
        grant_mdf(partner)
        request_id = client_for(partner_admin).post(MDF, self.request_body(), format="json").json()["id"]
        approved = client_for(channel_manager).post(f"{MDF}{request_id}/approve/", {}, format="json").json()
        proof = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 proof", content_type="application/pdf")

        response = client_for(partner_admin).post(
            f"{MDF}{request_id}/claim/", {"amount": "100.00", "proof": proof}, format="multipart"
        )

        after = datetime.date.fromisoformat(SOON) + datetime.timedelta(days=1)
        assert approved["claimable_from"] == after.isoformat() and approved["early_claim_allowed_at"] is None
        # The claim is sound but early: a conflict with the request's state, not a malformed body.
        assert response.status_code == 409
        assert f"claim from {after.day} {after:%B %Y}, once it has ended" in response.json()["detail"]
        assert MdfRequest.objects.get().status == MdfStatus.APPROVED

    def test_sellers_and_distributors_have_no_part_in_mdf(
        self, client_for, partner_sales, distributor_user, partner_admin, partner
    ):
        grant_mdf(partner)
        request_id = client_for(partner_admin).post(MDF, self.request_body(), format="json").json()["id"]

        assert client_for(partner_sales).post(MDF, self.request_body(), format="json").status_code == 403
        assert client_for(distributor_user).get(MDF).json()["results"] == []
        assert client_for(distributor_user).get(f"{MDF}{request_id}/").status_code == 404

    def test_a_partner_withdraws_an_undecided_request(self, client_for, partner_admin, partner):
        grant_mdf(partner)
        client = client_for(partner_admin)
        request_id = client.post(MDF, self.request_body(), format="json").json()["id"]

        response = client.post(f"{MDF}{request_id}/withdraw/")

        assert response.json()["status"] == "cancelled"

    def test_a_manager_rejects_with_a_reason(self, client_for, partner_admin, channel_manager, partner):
        grant_mdf(partner)
        request_id = client_for(partner_admin).post(MDF, self.request_body(), format="json").json()["id"]

        response = client_for(channel_manager).post(f"{MDF}{request_id}/reject/", {"reason": "Off-strategy"})

        assert response.json()["status"] == "rejected"
        assert response.json()["rejection_reason"] == "Off-strategy"
