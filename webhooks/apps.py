from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from events.signals import events_committed
        from webhooks.receivers import on_events_committed

        # The outbox announces committed events; the apps that emit them never import the webhooks.
        events_committed.connect(on_events_committed, dispatch_uid="webhooks.on_events_committed")
