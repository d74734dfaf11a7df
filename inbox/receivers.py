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


def on_forecasts_changed(*, sender, moved, closer, ended, as_of, **_kwargs) -> None:
    """A forecast moved or ended at-risk episodes: their items follow, in batches of pairs."""
    refresh = task("inbox.tasks.risk_items_refresh")
    moved, ended = [list(pair) for pair in moved], [list(triple) for triple in ended]
    closer_pairs = {tuple(pair) for pair in closer}
    for start in range(0, len(moved), EVENTS_PER_TASK):
        batch = moved[start : start + EVENTS_PER_TASK]
        refresh.delay(batch, [pair for pair in batch if tuple(pair) in closer_pairs], [], as_of.isoformat())
    for start in range(0, len(ended), EVENTS_PER_TASK):
        refresh.delay([], [], ended[start : start + EVENTS_PER_TASK], as_of.isoformat())
