"""The audit trail now lives in core (core/0001): forget the model, keep its table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_audit_entry_from_partners"),
        ("partners", "0005_seed_customer_segments"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]
