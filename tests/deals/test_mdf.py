"""MDF: the allowance, the request → approve → claim → pay flow, proofs, and a ledger that adds up."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from deals import mdf
from deals.models import MdfBucket, MdfLedgerEntry, MdfPeriod, MdfRequest, MdfStatus
from deals.selectors import mdf_balance, period_bounds
from partners.models import MembershipRole
from programs.models import AllowancePeriod
from tests.deals.helpers import grant_mdf
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% proof of performance\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
DAY = datetime.date(2026, 5, 20)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _request(partner, actor, amount: str, **extra) -> MdfRequest:
    values = {
        "title": "Webinar series",
        "activity_kind": "digital",
        "starts_on": DAY,
        "ends_on": DAY + datetime.timedelta(days=10),
        "amount": Decimal(amount),
        "day": DAY,
    }
    values.update(extra)
    return mdf.mdf_request_create(actor=actor, partner=partner, **values)


def _assert_ledger_matches(period: MdfPeriod) -> None:
    period.refresh_from_db()
    totals = mdf.ledger_totals(period)
    for bucket, amount in totals.items():
        assert getattr(period, bucket) == amount, bucket
    assert period.committed <= period.allowance


@pytest.mark.parametrize(
    ("day", "period", "bounds"),
    [
        (
            datetime.date(2026, 1, 1),
            AllowancePeriod.QUARTER,
            (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31)),
        ),
        (
            datetime.date(2026, 5, 20),
            AllowancePeriod.QUARTER,
            (datetime.date(2026, 4, 1), datetime.date(2026, 6, 30)),
        ),
        (
            datetime.date(2026, 12, 31),
            AllowancePeriod.QUARTER,
            (datetime.date(2026, 10, 1), datetime.date(2026, 12, 31)),
        ),
        (
            datetime.date(2026, 7, 4),
            AllowancePeriod.YEAR,
            (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)),
        ),
    ],
)
def test_allowance_periods_are_calendar_quarters_or_years(day, period, bounds):
    assert period_bounds(day, period) == bounds


def test_without_an_allowance_there_is_nothing_to_request(partner, partner_admin):
    assert mdf_balance(partner) is None
    with pytest.raises(ValidationError, match="do not include an MDF allowance"):
        _request(partner, partner_admin, "100.00")


def test_only_the_partners_admins_request_funds(
    partner, partner_sales, other_partner_admin, distributor_user
):
    grant_mdf(partner)
    for actor in (partner_sales, other_partner_admin, distributor_user):
        with pytest.raises(PermissionDenied):
            _request(partner, actor, "100.00")
    assert not MdfRequest.objects.exists()


def test_a_request_reserves_its_amount_and_no_more_than_remains(partner, partner_admin):
    grant_mdf(partner, "10000.00")
    first = _request(partner, partner_admin, "6000.00")
    assert first.status == MdfStatus.REQUESTED and first.currency == "USD"
    with pytest.raises(ValidationError) as caught:
        _request(partner, partner_admin, "4000.01")
    assert "Only 4,000.00 USD" in caught.value.message_dict["amount"][0]
    _request(partner, partner_admin, "4000.00")
    balance = mdf_balance(partner, day=DAY)
    assert (balance.requested, balance.remaining) == (Decimal("10000.00"), Decimal(0))
    _assert_ledger_matches(first.period)


def test_amounts_must_be_positive_and_in_the_currencys_units(partner, partner_admin):
    grant_mdf(partner, "10000", currency="JPY")
    for amount, message in [
        ("0", "greater than zero"),
        ("-5", "greater than zero"),
        ("10.5", "at most 0 decimal"),
    ]:
        with pytest.raises(ValidationError, match=message):
            _request(partner, partner_admin, amount)
    with pytest.raises(ValidationError) as caught:
        _request(partner, partner_admin, "100", ends_on=DAY - datetime.timedelta(days=1))
    assert "ends_on" in caught.value.message_dict


def test_a_new_period_starts_with_the_whole_allowance(partner, partner_admin):
    grant_mdf(partner, "1000.00")
    _request(partner, partner_admin, "1000.00")
    next_quarter = datetime.date(2026, 7, 1)
    later = _request(partner, partner_admin, "1000.00", day=next_quarter)
    assert later.period.starts_on == next_quarter
    assert MdfPeriod.objects.filter(partner=partner).count() == 2


def test_a_promotion_raises_what_may_still_be_requested(partner, partner_admin):
    small = grant_mdf(partner, "1000.00")
    _request(partner, partner_admin, "1000.00")
    from django.utils import timezone

    small.revoked_at = timezone.now()
    small.save()
    grant_mdf(partner, "5000.00")
    _request(partner, partner_admin, "4000.00")
    period = MdfPeriod.objects.get(partner=partner)
    assert period.allowance == Decimal("5000.00")
    _assert_ledger_matches(period)


def test_partial_approval_returns_the_rest_and_the_ledger_adds_up(partner, partner_admin, superuser):
    grant_mdf(partner, "10000.00")
    request = _request(partner, partner_admin, "6000.00")
    with pytest.raises(ValidationError, match="more than was requested"):
        mdf.mdf_request_approve(actor=superuser, request=request, amount=Decimal("6000.01"))
    approved = mdf.mdf_request_approve(actor=superuser, request=request, amount=Decimal("5000.00"))
    assert approved.status == MdfStatus.APPROVED and approved.approved_amount == Decimal("5000.00")
    period = MdfPeriod.objects.get(pk=request.period_id)
    assert (period.requested, period.approved, period.remaining) == (
        0,
        Decimal("5000.00"),
        Decimal("5000.00"),
    )
    moves = list(
        MdfLedgerEntry.objects.filter(request=request).values_list("from_bucket", "to_bucket", "amount")
    )
    assert moves == [
        (MdfBucket.AVAILABLE, MdfBucket.REQUESTED, Decimal("6000.00")),
        (MdfBucket.REQUESTED, MdfBucket.APPROVED, Decimal("5000.00")),
        (MdfBucket.REQUESTED, MdfBucket.AVAILABLE, Decimal("1000.00")),
    ]
    _assert_ledger_matches(period)


def test_rejection_and_withdrawal_free_the_reservation(partner, partner_admin, superuser):
    grant_mdf(partner, "10000.00")
    rejected = _request(partner, partner_admin, "3000.00")
    withdrawn = _request(partner, partner_admin, "2000.00")
    with pytest.raises(ValidationError):
        mdf.mdf_request_reject(actor=superuser, request=rejected, reason="")
    mdf.mdf_request_reject(actor=superuser, request=rejected, reason="Not a marketing activity.")
    mdf.mdf_request_withdraw(actor=partner_admin, request=withdrawn)
    period = MdfPeriod.objects.get(partner=partner)
    assert period.committed == 0 and period.remaining == Decimal("10000.00")
    assert MdfRequest.objects.get(pk=withdrawn.pk).status == MdfStatus.CANCELLED
    _assert_ledger_matches(period)
    with pytest.raises(ValidationError, match="nothing to do"):
        mdf.mdf_request_approve(actor=superuser, request=rejected)


def test_decisions_belong_to_managers_who_cover_the_partner(
    partner, other_partner, partner_admin, channel_manager, distributor_user
):
    grant_mdf(partner)
    request = _request(partner, partner_admin, "100.00")
    for actor in (partner_admin, distributor_user):
        with pytest.raises(PermissionDenied):
            mdf.mdf_request_approve(actor=actor, request=request)
    other_admin = MembershipFactory(partner=other_partner, role=MembershipRole.ADMIN).user
    grant_mdf(other_partner)
    foreign = _request(other_partner, other_admin, "100.00")
    with pytest.raises(PermissionDenied):
        mdf.mdf_request_approve(actor=channel_manager, request=foreign)
    assert mdf.mdf_request_approve(actor=channel_manager, request=request).status == MdfStatus.APPROVED


def test_a_claim_with_proof_then_payment(partner, partner_admin, superuser):
    grant_mdf(partner, "10000.00")
    request = mdf.mdf_request_approve(actor=superuser, request=_request(partner, partner_admin, "4000.00"))
    with pytest.raises(ValidationError, match=r"at most the 4,000\.00 USD approved"):
        mdf.mdf_claim(
            actor=partner_admin,
            request=request,
            amount=Decimal("4500"),
            proof=SimpleUploadedFile("i.pdf", PDF),
        )
    claimed = mdf.mdf_claim(
        actor=partner_admin,
        request=request,
        amount=Decimal("3500.00"),
        proof=SimpleUploadedFile("Invoice 7.pdf", PDF),
    )
    assert claimed.status == MdfStatus.CLAIMED and claimed.proof_name == "Invoice 7.pdf"
    assert claimed.proof_content_type == "application/pdf"
    assert "Invoice" not in claimed.proof.name  # stored under a random name
    with claimed.proof.open("rb") as handle:
        assert handle.read() == PDF
    with pytest.raises(PermissionDenied):
        mdf.mdf_mark_paid(actor=partner_admin, request=claimed)
    paid = mdf.mdf_mark_paid(actor=superuser, request=claimed, reference="PAY-1")
    assert paid.status == MdfStatus.PAID and paid.payment_reference == "PAY-1"
    period = MdfPeriod.objects.get(partner=partner)
    assert (period.approved, period.claimed, period.paid) == (0, 0, Decimal("3500.00"))
    assert period.remaining == Decimal("6500.00")
    _assert_ledger_matches(period)


def _upcoming(partner, partner_admin, superuser, *, amount: str = "1000.00") -> MdfRequest:
    """Approved funds for an event that starts in two weeks and runs for sixteen days."""
    starts_on = timezone.localdate() + datetime.timedelta(days=14)
    request = _request(
        partner,
        partner_admin,
        amount,
        starts_on=starts_on,
        ends_on=starts_on + datetime.timedelta(days=16),
        day=timezone.localdate(),
    )
    return mdf.mdf_request_approve(actor=superuser, request=request)


def test_funds_are_claimed_only_once_the_activity_has_ended(partner, partner_admin, superuser):
    grant_mdf(partner)
    request = _upcoming(partner, partner_admin, superuser)
    ends_on = request.ends_on
    for day in (timezone.localdate(), request.starts_on, ends_on):
        with pytest.raises(ValidationError) as caught:
            mdf.mdf_claim(
                actor=partner_admin,
                request=request,
                amount=Decimal("100.00"),
                proof=SimpleUploadedFile("i.pdf", PDF),
                day=day,
            )
        after = ends_on + datetime.timedelta(days=1)
        assert caught.value.messages == [
            f"The activity runs until {ends_on.day} {ends_on:%B %Y}: claim from {after.day} {after:%B %Y}, "
            "once it has ended, or ask your channel manager for an exception."
        ]
    assert MdfRequest.objects.get(pk=request.pk).status == MdfStatus.APPROVED
    claimed = mdf.mdf_claim(
        actor=partner_admin,
        request=request,
        amount=Decimal("100.00"),
        proof=SimpleUploadedFile("i.pdf", PDF),
        day=ends_on + datetime.timedelta(days=1),
    )
    assert claimed.status == MdfStatus.CLAIMED


def test_a_manager_may_allow_an_early_claim_and_it_is_recorded(
    partner, partner_admin, channel_manager, superuser
):
    from core.models import AuditEntry

    grant_mdf(partner)
    request = _upcoming(partner, partner_admin, superuser)
    with pytest.raises(PermissionDenied):
        mdf.mdf_allow_early_claim(actor=partner_admin, request=request, reason="Please")
    with pytest.raises(ValidationError, match="Give the reason"):
        mdf.mdf_allow_early_claim(actor=channel_manager, request=request, reason="  ")

    allowed = mdf.mdf_allow_early_claim(
        actor=channel_manager, request=request, reason="Invoices are due before the event."
    )

    assert allowed.early_claim_allowed_by == channel_manager and allowed.early_claim_allowed_at is not None
    assert allowed.early_claim_reason == "Invoices are due before the event."
    entry = AuditEntry.objects.get(action="mdf.early_claim_allowed")
    assert entry.actor == channel_manager and entry.target_id == str(request.pk)
    assert entry.data == {"reason": "Invoices are due before the event."}
    with pytest.raises(ValidationError, match="already allowed"):
        mdf.mdf_allow_early_claim(actor=channel_manager, request=allowed, reason="Again")
    claimed = mdf.mdf_claim(
        actor=partner_admin,
        request=allowed,
        amount=Decimal("1000.00"),
        proof=SimpleUploadedFile("i.pdf", PDF),
    )
    assert claimed.status == MdfStatus.CLAIMED
    _assert_ledger_matches(claimed.period)


def test_no_exception_is_needed_or_given_once_the_activity_has_ended(partner, partner_admin, superuser):
    grant_mdf(partner)
    request = mdf.mdf_request_approve(actor=superuser, request=_request(partner, partner_admin, "100.00"))
    assert request.ends_on < timezone.localdate()
    with pytest.raises(ValidationError, match="may claim without an exception"):
        mdf.mdf_allow_early_claim(actor=superuser, request=request, reason="Just in case")


def test_the_database_refuses_an_exception_without_its_reason(partner, partner_admin, superuser):
    from django.db import IntegrityError, transaction

    grant_mdf(partner)
    request = _upcoming(partner, partner_admin, superuser)
    with pytest.raises(IntegrityError), transaction.atomic():
        MdfRequest.objects.filter(pk=request.pk).update(early_claim_allowed_at=timezone.now())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("proof.exe", b"MZ\x90\x00", "Upload a PDF, PNG or JPEG file."),
        ("proof.pdf", b"<html>not a pdf</html>", "not a PDF file"),
        ("photo.png", PDF, "not a PNG file"),
        ("empty.pdf", b"", "The file is empty."),
        ("huge.pdf", PDF + b"0" * 2048, "the limit is 1.0\xa0KB"),
    ],
)
def test_proofs_are_checked_for_size_type_and_content(
    partner, partner_admin, superuser, settings, name, content, message
):
    settings.PRM_MAX_UPLOAD_BYTES = 1024
    grant_mdf(partner)
    request = mdf.mdf_request_approve(actor=superuser, request=_request(partner, partner_admin, "100.00"))
    with pytest.raises(ValidationError) as caught:
        mdf.mdf_claim(
            actor=partner_admin,
            request=request,
            amount=Decimal("100.00"),
            proof=SimpleUploadedFile(name, content),
        )
    assert message in caught.value.message_dict["proof"][0]
    assert MdfRequest.objects.get(pk=request.pk).status == MdfStatus.APPROVED
    assert not MdfRequest.objects.get(pk=request.pk).proof


def test_png_and_jpeg_proofs_are_accepted(partner, partner_admin, superuser):
    grant_mdf(partner)
    for name, content, kind in [
        ("a.png", PNG, "image/png"),
        ("b.JPG", b"\xff\xd8\xff\xe0rest", "image/jpeg"),
    ]:
        request = mdf.mdf_request_approve(actor=superuser, request=_request(partner, partner_admin, "10.00"))
        claimed = mdf.mdf_claim(
            actor=partner_admin,
            request=request,
            amount=Decimal("10.00"),
            proof=SimpleUploadedFile(name, content),
        )
        assert claimed.proof_content_type == kind


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks under concurrent writers need PostgreSQL; CI runs this on PostgreSQL",
)
def test_concurrent_requests_never_overspend_the_allowance(partner, partner_admin):
    """Twelve requests of 1,000 race for an allowance of 5,000: exactly five pass."""
    grant_mdf(partner, "5000.00")
    barrier = threading.Barrier(12)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            _request(partner, partner_admin, "1000.00")
            result = "ok"
        except ValidationError:
            result = "refused"
        except Exception as exc:  # reported below
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 5 + ["refused"] * 7, outcomes
    period = MdfPeriod.objects.get(partner=partner)
    assert period.requested == Decimal("5000.00") and period.remaining == 0
    _assert_ledger_matches(period)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks under concurrent writers need PostgreSQL; CI runs this on PostgreSQL",
)
def test_concurrent_decisions_and_claims_keep_the_ledger_right(partner, partner_admin, superuser):
    """Managers approving, partners claiming and new requests interleave; buckets always equal the ledger."""
    grant_mdf(partner, "6000.00")
    requests = [_request(partner, partner_admin, "1000.00") for _ in range(4)]
    barrier = threading.Barrier(8)
    errors: list[str] = []

    def run(action) -> None:
        try:
            barrier.wait()
            action()
        except ValidationError:
            pass
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    actions = [
        lambda r=r: mdf.mdf_request_approve(actor=superuser, request=r, amount=Decimal("600.00"))
        for r in requests
    ]
    actions += [lambda: _request(partner, partner_admin, "1500.00") for _ in range(2)]
    actions += [
        lambda r=r: mdf.mdf_request_reject(actor=superuser, request=r, reason="Late") for r in requests[:2]
    ]
    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    period = MdfPeriod.objects.get(partner=partner)
    _assert_ledger_matches(period)
    statuses = {r.status for r in MdfRequest.objects.filter(pk__in=[r.pk for r in requests])}
    assert statuses <= {MdfStatus.APPROVED, MdfStatus.REJECTED}
