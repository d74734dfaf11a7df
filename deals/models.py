"""Deal registrations: a partner claims an opportunity and the vendor or its distributor approves it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from prm.money import AmountField, CurrencyField


class DealStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    EXPIRED = "expired", "Expired"


# Registrations that hold a customer: a new claim on the same customer conflicts.
ACTIVE_STATUSES = (DealStatus.SUBMITTED, DealStatus.APPROVED)


class SalesRole(models.TextChoices):
    PARTNER = "partner", "Partner"
    VENDOR = "vendor", "Vendor"


class DealQuerySet(models.QuerySet["Deal"]):
    def visible_to(self, user) -> "DealQuerySet":
        from partners.models import Partner

        return self.filter(partner__in=Partner.objects.visible_to(user))

    def active(self) -> "DealQuerySet":
        return self.filter(status__in=ACTIVE_STATUSES)


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
        ]
        indexes = [
            models.Index(fields=["customer_domain", "status"]),
            models.Index(fields=["partner", "registered_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.get_status_display()})"
