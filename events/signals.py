"""Extension point of the outbox.

``events_committed`` is sent after the transaction that recorded events
commits, with ``event_ids`` (a list of ids as strings). The webhooks connect it
in their ``AppConfig.ready`` and queue the delivery; the apps that emit know
nothing of webhooks. A receiver that is not reached (the process dies at that
moment) loses nothing: the events stay undispatched in the outbox, where the
periodic sweep finds them.
"""

from django.dispatch import Signal

# Sent with sender=OutboxEvent, event_ids=list[str].
events_committed = Signal()
