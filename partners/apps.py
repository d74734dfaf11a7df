from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and facts"

    def ready(self) -> None:
        from django.db.models.signals import post_save, pre_save

        from partners.events import partner_saved, remember_stored_status
        from partners.models import Partner
        from partners.roles import setup_roles_after_migrate

        # Roles exist in every installation, not only after the demo is seeded.
        post_migrate.connect(setup_roles_after_migrate, dispatch_uid="partners.setup_roles")
        # Joined and status changed, whatever door saved the partner (admin, API, demo).
        pre_save.connect(remember_stored_status, sender=Partner, dispatch_uid="partners.events.stored_status")
        post_save.connect(partner_saved, sender=Partner, dispatch_uid="partners.events.saved")
