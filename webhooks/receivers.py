"""How the webhooks hear of committed events (connected in ``WebhooksConfig.ready``)."""

from core.background import task

# Events per fan-out task.
EVENTS_PER_TASK = 1000


def on_events_committed(*, sender, event_ids: list[str], **_kwargs) -> None:
    """Queue the fan-out of events just committed. If this never runs, the sweep does it."""
    fan_out = task("webhooks.tasks.fan_out_events")
    for start in range(0, len(event_ids), EVENTS_PER_TASK):
        fan_out.delay(event_ids[start : start + EVENTS_PER_TASK])
