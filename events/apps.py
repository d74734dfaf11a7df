from django.apps import AppConfig


class EventsConfig(AppConfig):
    """The outbox of domain events: every app records what happened, the webhooks deliver it."""

    name = "events"
    verbose_name = "Events"
