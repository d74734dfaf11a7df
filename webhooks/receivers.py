"""How the webhooks hear of committed events (connected in ``WebhooksConfig.ready``).

With a broker, committed events are fanned out in batches: the first commit
of a short window claims a flag in the shared cache and queues one fan-out
``FAN_OUT_WINDOW`` seconds ahead; every commit inside that window finds the
flag taken and queues nothing, and the one task fans out every undispatched
event it finds. At 100 single-event transactions a second this is ten
fan-outs a second rather than a hundred, each with one set of queries for
the subscriptions. The task drops the flag before it reads the outbox, so an
event committed while it runs is either read by it or claims the flag anew.
In-process (no broker) each commit is fanned out at once, as before.
"""

from celery import current_app
from django.core.cache import cache
from django.db.models import QuerySet

from core.background import task
from webhooks.models import DeliveryState, WebhookDelivery

# Events per fan-out task (without a broker).
EVENTS_PER_TASK = 1000
# Seconds a fan-out waits for more commits; the cache key that says one is queued.
FAN_OUT_WINDOW = 0.1
FAN_OUT_PENDING_KEY = "webhooks:fan-out-pending"
# A queued fan-out whose worker died lets go of the flag after this long (the sweep sends its events).
FAN_OUT_PENDING_TIMEOUT = 30


def on_events_committed(*, sender, event_ids: list[str], **_kwargs) -> None:
    """Queue the fan-out of events just committed. If this never runs, the sweep does it."""
    if _in_process():
        fan_out = task("webhooks.tasks.fan_out_events")
        for start in range(0, len(event_ids), EVENTS_PER_TASK):
            fan_out.delay(event_ids[start : start + EVENTS_PER_TASK])
        return
    if cache.add(FAN_OUT_PENDING_KEY, 1, timeout=FAN_OUT_PENDING_TIMEOUT):
        task("webhooks.tasks.fan_out_pending_events").apply_async(countdown=FAN_OUT_WINDOW)


def _in_process() -> bool:
    """No broker: tasks run at once, in this process."""
    return bool(current_app.conf.task_always_eager)


def release_fan_out_flag() -> None:
    """Called by the batched fan-out before it reads the outbox."""
    cache.delete(FAN_OUT_PENDING_KEY)


def undelivered_event_ids() -> QuerySet:
    """The outbox's keeper: events with a delivery waiting, being sent or due for a retry."""
    return WebhookDelivery.objects.filter(state__in=[DeliveryState.PENDING, DeliveryState.SENDING]).values(
        "event_id"
    )
