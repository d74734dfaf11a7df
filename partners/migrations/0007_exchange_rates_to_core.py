"""Exchange rates now live in core (core/0002): forget the models, keep their tables.

core/0002 has already moved the history triggers; nothing changes in the database here.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_exchange_rates_from_partners"),
        ("partners", "0006_audit_entry_to_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="exchangerateevent", name="pgh_obj"),
                migrations.RemoveField(model_name="exchangerateevent", name="pgh_context"),
                migrations.DeleteModel(name="ExchangeRateEvent"),
                migrations.DeleteModel(name="ExchangeRate"),
                migrations.DeleteModel(name="DailyRate"),
            ],
            database_operations=[],
        ),
    ]
