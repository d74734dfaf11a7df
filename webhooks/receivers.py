"""How the webhooks hear of committed events (connected in ``WebhooksConfig.ready``)."""

from django.db.models import QuerySet

from core.background import task
from webhooks.models import DeliveryState, WebhookDelivery

# Events per fan-out task.
EVENTS_PER_TASK = 1000


def on_events_committed(*, sender, event_ids: list[str], **_kwargs) -> None:
    """Queue the fan-out of events just committed. If this never runs, the sweep does it."""
    fan_out = task("webhooks.tasks.fan_out_events")
    for start in range(0, len(event_ids), EVENTS_PER_TASK):
        fan_out.delay(event_ids[start : start + EVENTS_PER_TASK])


def undelivered_event_ids() -> QuerySet:
    """The outbox's keeper: events with a delivery waiting, being sent or due for a retry."""
    return WebhookDelivery.objects.filter(state__in=[DeliveryState.PENDING, DeliveryState.SENDING]).values(
        "event_id"
    )
