"""Deal registrations and market development funds (MDF).

A partner claims an opportunity (a deal registration) and the vendor or its
distributor approves it. A partner holding an MDF allowance requests funds for
an activity, the vendor approves them, the partner claims them with proof and
the vendor pays. Every movement of MDF money is an entry in an append-only
ledger; ``MdfPeriod`` keeps the running totals that the ledger adds up to.
"""

import datetime
import re
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from core.door import principal_user
from core.money import AmountField, CurrencyField
from history.tracking import track_links, tracked
from partners.models import DEAL_ROLES, MDF_ROLES, Membership, Partner, PartnerScopedQuerySet

# A host name: labels of letters, digits and hyphens, with a top-level label of letters.
_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalise_domain(value: str) -> str:
    """``https://www.Example.com/about`` and ``example.com`` name the same customer.

    Raises ``ValidationError`` when what remains is not a domain name.
    """
    domain = (value or "").strip().lower()
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", domain)
    domain = domain.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    domain = domain.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    if domain.startswith("www."):
        domain = domain[4:]
    if not _DOMAIN_RE.match(domain):
        raise ValidationError("Give the customer's web domain, such as example.com.", code="invalid_domain")
    return domain


class DealStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    EXPIRED = "expired", "Expired"


# Registrations that hold a customer: a new claim on the same customer conflicts.
ACTIVE_STATUSES = (DealStatus.SUBMITTED, DealStatus.APPROVED)

# The moves a registration's status may make (core.states); everything else is refused.
DEAL_STATE_MOVES = frozenset(
    {
        (DealStatus.SUBMITTED, DealStatus.APPROVED),
        (DealStatus.SUBMITTED, DealStatus.REJECTED),
        (DealStatus.SUBMITTED, DealStatus.LOST),
        (DealStatus.APPROVED, DealStatus.WON),
        (DealStatus.APPROVED, DealStatus.LOST),
        (DealStatus.APPROVED, DealStatus.EXPIRED),
    }
)
# A submitted registration flagged because another partner claims the customer:
# the vendor decides it, never the distributor.
UNDER_REVIEW = "Under review"


class SalesRole(models.TextChoices):
    PARTNER = "partner", "Partner"
    VENDOR = "vendor", "Vendor"


class DealQuerySet(PartnerScopedQuerySet):
    def visible_to(self, principal) -> "DealQuerySet":
        return self.filter(partner__in=Partner.objects.visible_to(principal))

    def _actionable_decide(self, principal) -> "DealQuerySet":
        """Approve or reject: a channel manager holding ``deals.change_deal``, on the deals he sees,
        or the partner's distributor, except registrations flagged for review (another partner
        claims the customer: the vendor's call)."""
        user = principal_user(principal)
        if user.is_staff:
            return self.visible_to(principal) if user.has_perm("deals.change_deal") else self.none()
        membership = Membership.for_user(user)
        if membership is None or membership.distributor_id is None:
            return self.none()
        return self.visible_to(principal).filter(
            partner__distributor_id=membership.distributor_id, needs_review=False
        )

    def _actionable_report_outcome(self, principal) -> "DealQuerySet":
        """Mark won or lost: the partner's sellers, or a channel manager holding ``deals.change_deal``."""
        user = principal_user(principal)
        if user.is_staff:
            return self.visible_to(principal) if user.has_perm("deals.change_deal") else self.none()
        membership = Membership.for_user(user)
        if membership is None or membership.partner_id is None or membership.role not in DEAL_ROLES:
            return self.none()
        return self.visible_to(principal).filter(partner_id=membership.partner_id)

    def active(self) -> "DealQuerySet":
        return self.filter(status__in=ACTIVE_STATUSES)

    def awaiting_decision_by(self, user) -> "DealQuerySet":
        """Submitted registrations this user may approve or reject.

        Staff decide on every submitted deal they can see; a distributor user on
        those of the partners it serves, except registrations flagged for review
        (a conflict between partners is the vendor's call).
        """
        return self.actionable_by(user, "decide").filter(status=DealStatus.SUBMITTED)


@tracked()
class Deal(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="deals")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer_name = models.CharField(max_length=200)
    customer_domain = models.CharField(
        max_length=253, help_text="The customer's web domain, e.g. example.com; conflicts are found on it."
    )
    country = CountryField()
    customer_segment = models.ForeignKey(
        "partners.CustomerSegment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
        help_text="The customer's account segment (enterprise, mid-market...).",
    )
    products = models.ManyToManyField("partners.ProductLine", related_name="deals")
    description = models.TextField(blank=True)
    expected_value = AmountField()
    currency = CurrencyField()
    expected_close = models.DateField()
    status = models.CharField(max_length=12, choices=DealStatus.choices, default=DealStatus.SUBMITTED)
    registered_on = models.DateField(default=timezone.localdate)
    needs_review = models.BooleanField(
        default=False, help_text="Another partner holds an active registration on this customer."
    )
    conflicts_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sourced_by = models.CharField(max_length=8, choices=SalesRole.choices, default=SalesRole.PARTNER)
    closed_by = models.CharField(max_length=8, choices=SalesRole.choices, default=SalesRole.PARTNER)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    protected_until = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-registered_on", "-id"]
        constraints = [
            models.CheckConstraint(name="deal_value_positive", condition=Q(expected_value__gt=0)),
            # A partner claims a customer once at a time; other partners' claims are conflicts.
            models.UniqueConstraint(
                fields=["partner", "customer_domain"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="deal_one_active_claim_per_partner",
                violation_error_message="You already hold an active registration on this customer.",
                violation_error_code="unique",
            ),
        ]
        indexes = [
            models.Index(fields=["customer_domain", "status"]),
            models.Index(fields=["partner", "registered_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.get_status_display()})"

    @property
    def reference(self) -> str:
        return f"DR-{self.pk:05d}" if self.pk else "DR-new"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def under_review(self) -> bool:
        """Submitted, and flagged for the vendor: another partner claims the same customer."""
        return self.status == DealStatus.SUBMITTED and self.needs_review

    @property
    def status_label(self) -> str:
        """The state's one name for every role: a flagged submission is "Under review".

        Roles differ in the detail shown beside it (the vendor decides; which claim
        conflicts), never in what the state is called.
        """
        return UNDER_REVIEW if self.under_review else self.get_status_display()


# --- Market development funds ------------------------------------------------------------


class MdfStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Withdrawn"
    CLAIMED = "claimed", "Claimed"
    PAID = "paid", "Paid"


# The moves an MDF request's status may make (core.states); everything else is refused.
MDF_STATE_MOVES = frozenset(
    {
        (MdfStatus.REQUESTED, MdfStatus.APPROVED),
        (MdfStatus.REQUESTED, MdfStatus.REJECTED),
        (MdfStatus.REQUESTED, MdfStatus.CANCELLED),
        (MdfStatus.APPROVED, MdfStatus.CLAIMED),
        (MdfStatus.CLAIMED, MdfStatus.PAID),
    }
)


class MdfBucket(models.TextChoices):
    """Where a unit of a period's allowance stands. Money only moves between buckets."""

    AVAILABLE = "available", "Available"
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    CLAIMED = "claimed", "Claimed"
    PAID = "paid", "Paid"


class MdfActivityKind(models.TextChoices):
    EVENT = "event", "Event or trade show"
    CAMPAIGN = "campaign", "Demand-generation campaign"
    DIGITAL = "digital", "Digital advertising"
    CONTENT = "content", "Content and collateral"
    TRAINING = "training", "Customer training or workshop"
    OTHER = "other", "Other"


class MdfQuerySet(PartnerScopedQuerySet):
    """MDF is between the vendor and the partner: distributors see none of it."""

    def visible_to(self, principal):
        user = principal_user(principal)
        membership = Membership.for_user(user)
        if membership is not None and membership.distributor_id is not None and not user.is_staff:
            return self.none()
        return super().visible_to(principal)


class MdfPeriodQuerySet(MdfQuerySet):
    pass


class MdfLedgerEntryQuerySet(MdfQuerySet):
    partner_path = "period__partner"


class MdfPeriod(models.Model):
    """A partner's MDF allowance for one quarter or year, with the money in each bucket.

    The buckets are running totals of ``MdfLedgerEntry`` rows; services change
    them only while holding this row's lock, which is what keeps concurrent
    requests from spending the same allowance twice.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="mdf_periods")
    starts_on = models.DateField()
    ends_on = models.DateField()
    currency = CurrencyField()
    allowance = AmountField(default=Decimal(0))
    requested = AmountField(default=Decimal(0))
    approved = AmountField(default=Decimal(0))
    claimed = AmountField(default=Decimal(0))
    paid = AmountField(default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    objects = MdfPeriodQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = "MDF period"
        constraints = [
            models.UniqueConstraint(fields=["partner", "starts_on"], name="mdf_period_unique_start"),
            models.CheckConstraint(
                name="mdf_period_buckets_not_negative",
                condition=Q(requested__gte=0, approved__gte=0, claimed__gte=0, paid__gte=0, allowance__gte=0),
            ),
            models.CheckConstraint(
                name="mdf_period_dates_ordered", condition=Q(ends_on__gte=models.F("starts_on"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} MDF {self.starts_on:%d %b %Y}–{self.ends_on:%d %b %Y}"

    @property
    def committed(self) -> Decimal:
        return self.requested + self.approved + self.claimed + self.paid

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.allowance - self.committed)

    def bucket(self, name: str) -> Decimal:
        if name == MdfBucket.AVAILABLE:
            return self.allowance - self.committed
        return getattr(self, name)


class MdfRequestQuerySet(MdfQuerySet):
    def _actionable_decide(self, principal) -> "MdfRequestQuerySet":
        """Approve, reject, record payment: staff holding ``deals.change_mdfrequest``."""
        user = principal_user(principal)
        if not user.is_staff or not user.has_perm("deals.change_mdfrequest"):
            return self.none()
        return self.visible_to(principal)

    def _actionable_spend(self, principal) -> "MdfRequestQuerySet":
        """Withdraw or claim: the admins of the requesting partner."""
        membership = Membership.for_user(principal_user(principal))
        if membership is None or membership.partner_id is None or membership.role not in MDF_ROLES:
            return self.none()
        return self.visible_to(principal).filter(partner_id=membership.partner_id)

    def awaiting_decision_by(self, user) -> "MdfRequestQuerySet":
        return self.actionable_by(user, "decide").filter(status=MdfStatus.REQUESTED)


def proof_upload_to(instance: "MdfRequest", filename: str) -> str:
    # A random name: the stored path never carries what the partner typed, and
    # cannot be guessed; the original name is kept in ``proof_name``.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"mdf-proofs/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}"


@tracked()
class MdfRequest(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="mdf_requests")
    period = models.ForeignKey(MdfPeriod, on_delete=models.PROTECT, related_name="requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    activity_kind = models.CharField(max_length=16, choices=MdfActivityKind.choices)
    description = models.TextField(blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    amount = AmountField(help_text="The amount requested.")
    currency = CurrencyField()
    status = models.CharField(max_length=12, choices=MdfStatus.choices, default=MdfStatus.REQUESTED)
    approved_amount = AmountField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    early_claim_allowed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    early_claim_allowed_at = models.DateTimeField(null=True, blank=True)
    early_claim_reason = models.TextField(
        blank=True, help_text="Why a manager let the partner claim before the activity ended."
    )
    claimed_amount = AmountField(null=True, blank=True)
    proof = models.FileField(upload_to=proof_upload_to, blank=True, max_length=200)
    proof_name = models.CharField(max_length=200, blank=True)
    proof_content_type = models.CharField(max_length=100, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MdfRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "MDF request"
        constraints = [
            models.CheckConstraint(name="mdf_request_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="mdf_request_approved_within_requested",
                condition=Q(approved_amount__isnull=True)
                | Q(approved_amount__gt=0, approved_amount__lte=models.F("amount")),
            ),
            models.CheckConstraint(
                name="mdf_request_claimed_within_approved",
                condition=Q(claimed_amount__isnull=True)
                | Q(claimed_amount__gt=0, claimed_amount__lte=models.F("approved_amount")),
            ),
            models.CheckConstraint(
                name="mdf_request_dates_ordered", condition=Q(ends_on__gte=models.F("starts_on"))
            ),
            # An exception to "claim after the activity" is never granted without its reason.
            models.CheckConstraint(
                name="mdf_request_early_claim_has_reason",
                condition=Q(early_claim_allowed_at__isnull=True) | ~Q(early_claim_reason=""),
            ),
        ]
        indexes = [models.Index(fields=["partner", "status"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"MDF-{self.pk:05d}" if self.pk else "MDF-new"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "The activity ends before it starts."})

    def claimable_from(self) -> datetime.date:
        """Proof of performance exists once the activity is over: the day after it ends."""
        return self.ends_on + datetime.timedelta(days=1)

    def may_be_claimed_on(self, day: datetime.date) -> bool:
        """Approved funds are claimed after the activity, or earlier by a manager's recorded exception."""
        return day >= self.claimable_from() or self.early_claim_allowed_at is not None


class MdfLedgerEntry(models.Model):
    """One movement of MDF money between buckets; entries are only ever added."""

    period = models.ForeignKey(MdfPeriod, on_delete=models.PROTECT, related_name="entries")
    request = models.ForeignKey(MdfRequest, on_delete=models.PROTECT, related_name="entries")
    from_bucket = models.CharField(max_length=12, choices=MdfBucket.choices)
    to_bucket = models.CharField(max_length=12, choices=MdfBucket.choices)
    amount = AmountField()
    currency = CurrencyField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    objects = MdfLedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "MDF ledger entry"
        verbose_name_plural = "MDF ledger entries"
        constraints = [
            models.CheckConstraint(name="mdf_entry_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="mdf_entry_moves_money", condition=~Q(from_bucket=models.F("to_bucket"))
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.amount:,f} {self.currency}: {self.get_from_bucket_display()} → "
            f"{self.get_to_bucket_display()}"
        )


track_links(Deal.products.through, name="DealProductLinkEvent")
