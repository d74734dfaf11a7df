from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "gates"
    verbose_name = "Acceleration gates"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from gates.models import Gate
        from gates.services import gate_version_record
        from gates.subjects import connect_definition_signals

        connect_definition_signals()
        # The history of a gate's criteria, whatever door saved it.
        post_save.connect(gate_version_record, sender=Gate, dispatch_uid="gates-version-record")
