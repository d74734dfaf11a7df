"""Celery tasks of the webhooks: thin wrappers that take ids and call one service."""

from celery import shared_task
from django.db import OperationalError

from webhooks import notifications, receivers, services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def fan_out_events(event_ids: list[str]) -> int:
    """After commit: one delivery per subscription that wants each event, sent or queued. Returns
    the deliveries created."""
    created = services.events_fan_out(event_ids, queue=False)
    services.deliveries_dispatch(created)
    return len(created)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def fan_out_pending_events() -> int:
    """After a window of commits: fan out every undispatched event, a batch at a time, and send or
    queue their deliveries. Returns the deliveries created."""
    receivers.release_fan_out_flag()
    total = 0
    while True:
        claimed, created = services.events_fan_out_batch(queue=False)
        services.deliveries_dispatch(created)
        total += len(created)
        if claimed < services.FAN_OUT_BATCH:
            return total


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def deliver_webhooks(delivery_ids: list[int]) -> int:
    """Send the deliveries that are due, as one batch. Returns how many were sent (accepted or not)."""
    return len(services.deliveries_send(delivery_ids))


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3)
def sweep_deliveries() -> dict:
    """Beat: events never fanned out, retries due, deliveries whose worker died."""
    summary = services.deliveries_sweep()
    return {"events_fanned_out": summary.events_fanned_out, "deliveries_queued": summary.deliveries_queued}


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def notify_subscription_disabled(subscription_id: int) -> int:
    return notifications.subscription_disabled(subscription_id)
