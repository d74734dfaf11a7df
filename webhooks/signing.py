"""The body and the Standard Webhooks headers of a delivery.

The body is the envelope ``{"id", "type", "version", "timestamp", "data"}``;
``webhook-id`` is the event's id (the same for every retry and redelivery, so
the receiver deduplicates on it), ``webhook-timestamp`` the time of this
attempt, and ``webhook-signature`` one ``v1,<base64 HMAC-SHA256>`` per secret
that signs now (two during a rotation's overlap), space-separated.
"""

import datetime
import json

from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks.webhooks import Webhook

from events.models import OutboxEvent


def body(event: OutboxEvent) -> str:
    envelope = {
        "id": event.webhook_id,
        "type": event.event_type,
        "version": event.schema_version,
        "timestamp": event.occurred_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True)


def headers(*, message_id: str, payload: str, secrets: list[str], at: datetime.datetime) -> dict[str, str]:
    at = at.astimezone(datetime.UTC)
    signatures = [Webhook(secret).sign(message_id, at, payload) for secret in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
