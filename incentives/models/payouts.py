"""What releases, spends and pays earnings: customer activations, redemptions, periods, payouts."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import dateformat, timezone

from core.money import AmountField, CurrencyField
from history.tracking import tracked
from incentives.models.rules import Reward
from partners.models import PartnerScopedQuerySet


class ActivationQuerySet(PartnerScopedQuerySet):
    partner_path = "deal__partner"


@tracked()
class CustomerActivation(models.Model):
    """The customer of a won deal reached the activation metric (the leading indicator of retention).

    Recorded by the vendor or an integration; it releases the held part of
    split payouts if it came within the rule's window.
    """

    deal = models.OneToOneField("deals.Deal", on_delete=models.CASCADE, related_name="incentive_activation")
    activated_on = models.DateField()
    metric = models.CharField(
        max_length=200, blank=True, help_text='What the customer reached, e.g. "50 active seats".'
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = ActivationQuerySet.as_manager()

    class Meta:
        ordering = ["-activated_on", "-id"]

    def __str__(self) -> str:
        day = dateformat.format(self.activated_on, "j F Y")
        return f"{self.deal.customer_name} ({self.deal.reference}) activated on {day}"


class Redemption(models.Model):
    """Points a partner spent on a reward, with the cost and value as they were on the day."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    amount = AmountField()
    currency = CurrencyField()
    redeemed_on = models.DateField(default=timezone.localdate)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-redeemed_on", "-id"]

    def __str__(self) -> str:
        return f"{self.reward.name} for {self.partner}"


class IncentivePeriod(models.Model):
    """A quarter the vendor closes: its accrued earnings become payable and rebates are settled."""

    code = models.CharField(max_length=7, unique=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return self.code

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Payout(models.Model):
    """A payment to a partner of everything payable in one currency."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="payouts")
    currency = CurrencyField()
    amount = AmountField()
    reference = models.CharField(max_length=100, help_text="The payment reference in the finance system.")
    paid_on = models.DateField(default=timezone.localdate)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="payout_unique_reference"),
            models.CheckConstraint(name="payout_amount_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount} {self.currency} to {self.partner}"
