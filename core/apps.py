from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer every app may use: money, and the helpers shared across apps."""

    name = "core"
    verbose_name = "Core"
