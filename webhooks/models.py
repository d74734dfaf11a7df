"""Webhook subscriptions, the delivery of each event to each subscription, and every attempt."""

import secrets
from base64 import b64encode
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.door import DoorQuerySet, acts_vendor_wide, principal_user

SECRET_PREFIX = "whsec_"  # noqa: S105  # the format's prefix, not a secret
# Bytes of a signing secret (Standard Webhooks: between 24 and 64).
SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SubscriptionQuerySet(DoorQuerySet):
    def visible_to(self, principal: Any) -> "SubscriptionQuerySet":
        """Superusers see every subscription; other staff their own; a token those of its issuer,
        when it acts for every partner (a subscription is a vendor-wide definition)."""
        user = principal_user(principal)
        if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
            return self.none()
        if not acts_vendor_wide(principal):
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(owner=user)

    def _actionable_manage(self, principal: Any) -> "SubscriptionQuerySet":
        """Change, rotate, redeliver: the subscriptions the principal sees."""
        return self.visible_to(principal)

    def active(self) -> "SubscriptionQuerySet":
        return self.filter(is_active=True, disabled_at__isnull=True)


class WebhookSubscription(models.Model):
    """Where to send which events, signed with the subscription's secret.

    The owner is whom the payloads are decided for: an event about a partner
    the owner may not see is never sent. ``programs`` and ``partners``, when
    set, narrow the events further. During a rotation both the new and the
    previous secret sign, until ``previous_secret_expires_at``.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types sent, e.g. gate.passed.")
    programs = models.ManyToManyField("programs.Program", blank=True, related_name="+")
    partners = models.ManyToManyField("partners.Partner", blank=True, related_name="+")
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=80, default=new_secret, editable=False)
    previous_secret = models.CharField(max_length=80, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.event_types) or 'no events'})"

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign now: the current one, and the previous one during its overlap."""
        now = now or timezone.now()
        result = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            result.append(self.previous_secret)
        return result


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed after every retry"
    WITHHELD = "withheld", "Withheld: outside what the owner may see"


class DeliveryQuerySet(DoorQuerySet):
    def visible_to(self, principal: Any) -> "DeliveryQuerySet":
        return self.filter(subscription__in=WebhookSubscription.objects.visible_to(principal))

    def _actionable_redeliver(self, principal: Any) -> "DeliveryQuerySet":
        return self.filter(subscription__in=WebhookSubscription.objects.actionable_by(principal, "manage"))


class WebhookDelivery(models.Model):
    """One event for one subscription: sent until accepted, with the event's id every time.

    ``lease_until`` is set while a worker sends: a delivery still ``sending``
    past it belongs to a worker that died, and the sweep sends it again
    (the receiver deduplicates on the id).
    """

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.OutboxEvent", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_once_per_event")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(state__in=["pending", "sending"]),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscription_id} ({self.state})"


class AttemptQuerySet(DoorQuerySet):
    def visible_to(self, principal: Any) -> "AttemptQuerySet":
        return self.filter(delivery__in=WebhookDelivery.objects.visible_to(principal))


class DeliveryAttempt(models.Model):
    """One request sent (or refused before sending), and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True, help_text="The first bytes of the answer.")
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
        )
