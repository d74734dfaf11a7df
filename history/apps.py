from django.apps import AppConfig
from django.db.models.signals import post_migrate


def install_link_triggers(using, **kwargs) -> None:
    """Install the triggers of many-to-many tables, which migrations cannot carry.

    Migrations install the triggers of every tracked model; the link tables of
    a many-to-many are auto-created models that migrations do not see, so their
    triggers are (re)installed after each ``migrate``. Installing is idempotent.
    """
    import pgtrigger.registry
    from django.db import connections

    if connections[using].vendor != "postgresql":
        return
    for model, trigger in pgtrigger.registry.registered():
        if model._meta.auto_created:
            trigger.install(model, database=using)


class HistoryConfig(AppConfig):
    name = "history"
    verbose_name = "History"

    def ready(self) -> None:
        from history import fallback, tasks

        # Celery tasks name their door whatever the database.
        tasks.connect()
        # PostgreSQL records rows with triggers; other databases (the SQLite demo) with signals.
        fallback.connect()
        post_migrate.connect(install_link_triggers, sender=self, dispatch_uid="history.link_triggers")
