from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and facts"

    def ready(self) -> None:
        from partners.roles import setup_roles_after_migrate

        # Roles exist in every installation, not only after the demo is seeded.
        post_migrate.connect(setup_roles_after_migrate, dispatch_uid="partners.setup_roles")
