"""The transactional outbox: one row per domain event, written with the change it describes."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    """Something that happened to a partner (or vendor-wide), as delivered to subscribers.

    ``partner_id`` and ``program_id`` are plain numbers rather than foreign keys:
    the outbox sits below every app, keeps the event when its subject is
    deleted, and is read only by the webhooks, which decide per subscription
    through the door whether its owner may know of that partner.
    ``dispatched_at`` is set once the event was fanned out to subscriptions.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40)
    schema_version = models.PositiveSmallIntegerField(default=1)
    partner_id = models.BigIntegerField(null=True, blank=True)
    program_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            # The sweep reads the undispatched events, oldest first; they are few.
            models.Index(
                fields=["occurred_at"],
                name="outbox_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["event_type", "occurred_at"], name="outbox_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        """The id receivers deduplicate on: the same for every attempt and every redelivery."""
        return f"evt_{self.id.hex}"
