from django.apps import AppConfig


class InboxConfig(AppConfig):
    """Each user's inbox: tier changes, at-risk warnings, approvals, claims due, expiring
    certifications and announcements, delivered in-app, by email at once or in a daily digest."""

    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from events.signals import events_committed
        from gates.signals import gate_forecasts_changed
        from inbox.receivers import on_events_committed, on_forecasts_changed

        # The outbox announces committed events; the apps that emit them never import the inbox.
        events_committed.connect(on_events_committed, dispatch_uid="inbox.on_events_committed")
        # A forecast that moves or ends at-risk episodes: their items follow.
        gate_forecasts_changed.connect(on_forecasts_changed, dispatch_uid="inbox.on_forecasts_changed")
