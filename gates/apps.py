from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "gates"
    verbose_name = "Acceleration gates"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from gates.models import Gate
        from gates.receivers import connect_definition_signals, on_facts_changed
        from gates.services import gate_version_record
        from gates.validation import criteria_errors
        from partners.signals import facts_changed
        from programs.hooks import register_criteria_check

        connect_definition_signals()
        # Segments (in programs, below the gates) validate their criteria with the gates' check.
        register_criteria_check(criteria_errors)
        # Partners announce changed facts; they never call up into the gates.
        facts_changed.connect(on_facts_changed, dispatch_uid="gates.on_facts_changed")
        # The history of a gate's criteria, whatever door saved it.
        post_save.connect(gate_version_record, sender=Gate, dispatch_uid="gates-version-record")
