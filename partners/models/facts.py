"""Facts about partners (people, certifications, sales, activities, proficiencies) and the codes they name."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from core.door import DoorQuerySet, principal_user
from core.models.exchange import rate_missing_message
from core.money import AmountField, CurrencyField, is_currency, minor_unit_exponent
from history.tracking import tracked
from partners.models.organisations import (
    Membership,
    MembershipRole,
    Partner,
    Region,
    _token_partner_ids,
    sees_every_partner,
    validate_fact_date,
)


class PartnerScopedQuerySet(DoorQuerySet):
    """Rows that belong to a partner, reached through ``partner_path``: visible when their partner is."""

    partner_path = "partner"

    def visible_to(self, principal):
        if _token_partner_ids(principal) is None and sees_every_partner(principal_user(principal)):
            return self.all()
        return self.filter(**{f"{self.partner_path}__in": Partner.objects.visible_to(principal)})

    def _of_partners(self, partners):
        return self.filter(**{f"{self.partner_path}__in": partners})


class PersonQuerySet(PartnerScopedQuerySet):
    """People of the partners a user sees."""


@tracked()
class Person(models.Model):
    """Someone who works for a partner, with or without a login, who can hold certifications."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="people")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    job_title = models.CharField(max_length=120, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )
    is_active = models.BooleanField(default=True)
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by save(); writes that bypass it (bulk ingestion's updates) set it themselves.
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "people"
        constraints = [
            models.UniqueConstraint(fields=["partner", "email"], name="person_unique_email"),
            models.UniqueConstraint(
                fields=["partner", "external_id"],
                condition=~Q(external_id=""),
                name="person_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class CertificationTrack(models.TextChoices):
    SALES = "sales", "Sales"
    PRESALES = "presales", "Pre-sales / sales engineering"
    TECHNICAL = "technical", "Technical"
    SERVICES = "services", "Services delivery"
    SECURITY = "security", "Security"


@tracked()
class CertificationType(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    track = models.CharField(max_length=16, choices=CertificationTrack.choices)
    is_advanced = models.BooleanField(default=False)
    validity_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Months a certification stays valid; empty for no expiry."
    )

    class Meta:
        ordering = ["track", "name"]

    def __str__(self) -> str:
        return self.name


class FactQuerySet(PartnerScopedQuerySet):
    """Facts (sales, activities, proficiencies, certifications) of the partners a user sees."""


class CertificationQuerySet(FactQuerySet):
    partner_path = "person__partner"

    def visible_to(self, principal):
        """The certifications of the partners the user sees, with one narrowing for partner users:
        only a partner admin sees every colleague's certifications (with their expiry); sales
        and technical users see their own. The portal's team page and the API read this alike.
        """
        visible = super().visible_to(principal)
        user = principal_user(principal)
        if user is None or not user.is_authenticated or user.is_staff or user.is_superuser:
            return visible
        membership = Membership.for_user(user)
        if (
            membership is not None
            and membership.partner_id is not None
            and membership.role != MembershipRole.ADMIN
        ):
            return visible.filter(person__user=user)
        return visible

    def valid_on(self, day: datetime.date) -> "CertificationQuerySet":
        return self.filter(issued_on__lte=day).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=day))


@tracked()
class Certification(models.Model):
    """A person's certification. It counts from its issue date until its expiry date, inclusive."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="certifications")
    certification_type = models.ForeignKey(
        CertificationType, on_delete=models.PROTECT, related_name="certifications"
    )
    issued_on = models.DateField(validators=[validate_fact_date])
    expires_on = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=50, default="manual")
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CertificationQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="certification_unique_external_id",
            ),
            models.CheckConstraint(
                name="certification_expires_after_issue",
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("issued_on")),
            ),
        ]
        indexes = [models.Index(fields=["person", "certification_type"])]

    def __str__(self) -> str:
        return f"{self.certification_type} – {self.person}"

    def clean(self) -> None:
        if self.expires_on and self.issued_on and self.expires_on < self.issued_on:
            raise ValidationError({"expires_on": "The expiry date is before the issue date."})

    def is_valid_on(self, day: datetime.date) -> bool:
        return self.issued_on <= day and (self.expires_on is None or self.expires_on >= day)


@tracked()
class ProductLine(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@tracked()
class CustomerSegment(models.Model):
    """A kind of customer account (enterprise, mid-market, small business...), named on deals and
    sales; sales metrics filter on it and a benefit may be limited to it. Channel managers edit the
    list in the admin; criteria name a segment by its code."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def validate_positive_amount(value: Decimal) -> None:
    if value is not None and value <= 0:
        raise ValidationError("The amount must be greater than zero.")


@tracked()
class Sale(models.Model):
    """A won sale, in the currency it was sold in; gates convert it at the rate of its date."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="sales")
    amount = AmountField(validators=[validate_positive_amount])
    currency = CurrencyField()
    product_line = models.ForeignKey(ProductLine, on_delete=models.PROTECT, related_name="sales")
    region = models.CharField(max_length=8, choices=Region.choices)
    closed_on = models.DateField(validators=[validate_fact_date])
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="sales"
    )
    customer_name = models.CharField(max_length=200, blank=True)
    country = CountryField(
        null=True,
        blank=True,
        help_text="The customer's country (ISO 3166), which sales metrics may filter on.",
    )
    customer_segment = models.ForeignKey(
        CustomerSegment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales",
        help_text="The customer's account segment (enterprise, mid-market...).",
    )
    source = models.CharField(max_length=50, default="manual")
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FactQuerySet.as_manager()

    class Meta:
        ordering = ["-closed_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="sale_unique_external_id",
            ),
            models.CheckConstraint(name="sale_amount_positive", condition=Q(amount__gt=0)),
        ]
        indexes = [models.Index(fields=["partner", "closed_on"])]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} – {self.partner}"

    def clean(self) -> None:
        if not is_currency(self.currency):
            return  # the field's own validator reports the unknown currency
        if self.amount is not None:
            quantum = minor_unit_exponent(self.currency)
            if self.amount != self.amount.quantize(quantum):
                places = -int(quantum.as_tuple().exponent)
                raise ValidationError(
                    {"amount": f"{self.currency} amounts have at most {places} decimal places."}
                )
        if self.closed_on:
            message = rate_missing_message(self.currency, self.closed_on)
            if message:
                raise ValidationError({"currency": message})


@tracked()
class ActivityType(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    default_points = models.PositiveIntegerField(default=10)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@tracked()
class EngagementActivity(models.Model):
    """A proactive engagement (a training, a co-marketing campaign...) worth points."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="activities")
    activity_type = models.ForeignKey(ActivityType, on_delete=models.PROTECT, related_name="activities")
    points = models.PositiveIntegerField()
    occurred_on = models.DateField(validators=[validate_fact_date])
    description = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=50, default="manual")
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FactQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name_plural = "engagement activities"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="activity_unique_external_id",
            ),
        ]
        indexes = [models.Index(fields=["partner", "occurred_on"])]

    def __str__(self) -> str:
        return f"{self.activity_type} ({self.points} pts) – {self.partner}"


@tracked()
class ServiceOffering(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProficiencyLevel(models.IntegerChoices):
    FOUNDATIONAL = 1, "Foundational"
    PROFICIENT = 2, "Proficient"
    EXPERT = 3, "Expert"


@tracked()
class ServiceProficiency(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="proficiencies")
    offering = models.ForeignKey(ServiceOffering, on_delete=models.PROTECT, related_name="proficiencies")
    level = models.PositiveSmallIntegerField(choices=ProficiencyLevel.choices)
    since = models.DateField(validators=[validate_fact_date])
    source = models.CharField(max_length=50, default="manual")
    external_id = models.CharField(max_length=100, blank=True)
    # When the proficiency was first stored, for replays "as known then"; empty on
    # rows stored before it was recorded, which count as known all along.
    created_at = models.DateTimeField(auto_now_add=True, null=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FactQuerySet.as_manager()

    class Meta:
        ordering = ["offering__name"]
        verbose_name_plural = "service proficiencies"
        constraints = [
            models.UniqueConstraint(fields=["partner", "offering"], name="proficiency_unique_offering"),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="proficiency_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offering} ({self.get_level_display()}) – {self.partner}"
