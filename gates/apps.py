from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "gates"
    verbose_name = "Acceleration gates"

    def ready(self) -> None:
        from gates.subjects import connect_definition_signals

        connect_definition_signals()
