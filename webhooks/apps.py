from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from events.retention import register_keeper
        from events.signals import events_committed
        from webhooks.receivers import on_events_committed, undelivered_event_ids

        # The outbox announces committed events; the apps that emit them never import the webhooks.
        events_committed.connect(on_events_committed, dispatch_uid="webhooks.on_events_committed")
        # Events with deliveries still to be sent or retried stay in the outbox past its retention.
        register_keeper("webhooks", undelivered_event_ids)
