from django.apps import AppConfig


class InboxConfig(AppConfig):
    """Each user's inbox: tier changes, at-risk warnings, approvals, claims due, expiring
    certifications and announcements, delivered in-app, by email at once or in a daily digest."""

    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from events.signals import events_committed
        from inbox.receivers import on_events_committed

        # The outbox announces committed events; the apps that emit them never import the inbox.
        events_committed.connect(on_events_committed, dispatch_uid="inbox.on_events_committed")
