"""How the inbox hears of committed events (connected in ``InboxConfig.ready``).

Each commit that recorded events queues one task per batch of their ids;
the task reads the batch set-wise. A nightly run's 10,000 status changes
commit in chunks, each chunk one ``emit_many`` and so one signal: a few
tasks, not one per row.
"""

from core.background import task

EVENTS_PER_TASK = 2000


def on_events_committed(*, sender, event_ids: list[str], **_kwargs) -> None:
    items_from_events = task("inbox.tasks.items_from_events")
    for start in range(0, len(event_ids), EVENTS_PER_TASK):
        items_from_events.delay(event_ids[start : start + EVENTS_PER_TASK])
