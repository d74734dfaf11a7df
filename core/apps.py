from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer every app may use: money, exchange rates, the audit trail, the shared helpers."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Register every app's tasks in every process (web, worker, command), as
        # a worker does at start, the way the admin finds admin modules:
        # services queue tasks by name (core.background).
        autodiscover_modules("tasks")
