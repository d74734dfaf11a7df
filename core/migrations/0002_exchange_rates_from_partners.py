"""Exchange rates move from partners to core, keeping their tables, rows and history.

The models are created here in the migration state only, over the existing
``partners_exchangerate``, ``partners_dailyrate`` and
``partners_exchangerateevent`` tables (partners/0007 forgets them), and their
content types are relabelled so that permissions and admin log entries follow;
audit entries about a rate name it by its new label.

The history triggers are named after the model's label, so moving the model
renames them: in this one transaction the triggers installed under
``partners.ExchangeRate`` (partners/0003) are dropped and the same triggers are
installed under ``core.ExchangeRate``. No change goes unrecorded or is recorded
twice.
"""


import core.money
import django.core.validators
import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from decimal import Decimal
from django.db import migrations, models

MODELS = ["exchangerate", "dailyrate", "exchangerateevent"]

# The triggers partners/0003 installed when the model was partners.ExchangeRate.
OLD_TRIGGERS = [
    pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "partners_exchangerateevent" ("currency", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rate", "valid_from") SELECT new_values."currency", new_values."id", _pgh_attached_context.value, CLOCK_TIMESTAMP(), \'insert\', new_values."id", new_values."rate", new_values."valid_from" FROM ( SELECT new_values.* FROM new_values  ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='9f4ea742b36b3478de7c5703064b0d74956cbfd1', level='STATEMENT', operation='INSERT', pgid='pgtrigger_insert_insert_db056', referencing='REFERENCING NEW TABLE AS new_values ', table='partners_exchangerate', when='AFTER')),
    pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "partners_exchangerateevent" ("currency", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rate", "valid_from") SELECT new_values."currency", new_values."id", _pgh_attached_context.value, CLOCK_TIMESTAMP(), \'update\', new_values."id", new_values."rate", new_values."valid_from" FROM ( SELECT new_values.* FROM old_values JOIN new_values ON (old_values."id") = (new_values."id") WHERE (old_values.* IS DISTINCT FROM new_values.*) ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='883c59612979514d66e0b5a64d17ad9fd5c41c71', level='STATEMENT', operation='UPDATE', pgid='pgtrigger_update_update_49409', referencing='REFERENCING OLD TABLE AS old_values  NEW TABLE AS new_values ', table='partners_exchangerate', when='AFTER')),
    pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "partners_exchangerateevent" ("currency", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rate", "valid_from") SELECT old_values."currency", old_values."id", _pgh_attached_context.value, CLOCK_TIMESTAMP(), \'delete\', old_values."id", old_values."rate", old_values."valid_from" FROM ( SELECT old_values.* FROM old_values  ) AS old_values, _pgh_attached_context; RETURN NULL;', hash='caa47cd50cb6c4f1995fcde66e5aede28020627e', level='STATEMENT', operation='DELETE', pgid='pgtrigger_delete_delete_186b3', referencing='REFERENCING OLD TABLE AS old_values ', table='partners_exchangerate', when='AFTER')),
]


def relabel(old: str, new: str):
    def run(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        AuditEntry = apps.get_model("core", "AuditEntry")
        db = schema_editor.connection.alias
        types = ContentType.objects.using(db)
        for model in MODELS:
            if not types.filter(app_label=new, model=model).exists():
                types.filter(app_label=old, model=model).update(app_label=new)
            AuditEntry.objects.using(db).filter(target_type=f"{old}.{model}").update(
                target_type=f"{new}.{model}"
            )
        ContentType.objects.clear_cache()

    return run


# The functions of the triggers installed below (under core.ExchangeRate).
NEW_FUNCTIONS = ["pgtrigger_insert_insert_f0957", "pgtrigger_update_update_8b13c", "pgtrigger_delete_delete_b9971"]


def drop_old_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for trigger in OLD_TRIGGERS:
        schema_editor.execute(trigger.uninstall_sql, params=None)
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {trigger.sql.pgid}()", params=None)


def restore_old_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for function in NEW_FUNCTIONS:  # their triggers are gone already (AddTrigger, reversed)
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()", params=None)
    for trigger in OLD_TRIGGERS:
        schema_editor.execute(trigger.install_sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0001_audit_entry_from_partners'),
        ('partners', '0006_audit_entry_to_core'),
        ('pghistory', '0007_auto_20250421_0444'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExchangeRateEvent',
                    fields=[
                        ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                        ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                        ('pgh_label', models.TextField(help_text='The event label.')),
                        ('id', models.BigIntegerField()),
                        ('currency', core.money.CurrencyField()),
                        ('valid_from', models.DateField()),
                        ('rate', models.DecimalField(decimal_places=10, max_digits=20, validators=[django.core.validators.MinValueValidator(Decimal('1E-10'))])),
                    ],
                    options={
                        'db_table': 'partners_exchangerateevent',
                        'abstract': False,
                    },
                ),
                migrations.CreateModel(
                    name='DailyRate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('currency', models.CharField(max_length=3)),
                        ('day', models.DateField()),
                        ('rate', models.DecimalField(decimal_places=10, max_digits=20)),
                    ],
                    options={
                        'db_table': 'partners_dailyrate',
                        'constraints': [models.UniqueConstraint(fields=('currency', 'day'), name='daily_rate_unique_day')],
                    },
                ),
                migrations.CreateModel(
                    name='ExchangeRate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('currency', core.money.CurrencyField()),
                        ('valid_from', models.DateField()),
                        ('rate', models.DecimalField(decimal_places=10, max_digits=20, validators=[django.core.validators.MinValueValidator(Decimal('1E-10'))])),
                    ],
                    options={
                        'db_table': 'partners_exchangerate',
                        'ordering': ['currency', '-valid_from'],
                        'constraints': [models.UniqueConstraint(fields=('currency', 'valid_from'), name='rate_unique_day'), models.CheckConstraint(condition=models.Q(('rate__gt', 0)), name='rate_positive')],
                    },
                ),
                migrations.AddField(
                    model_name='exchangerateevent',
                    name='pgh_context',
                    field=models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='pghistory.context'),
                ),
                migrations.AddField(
                    model_name='exchangerateevent',
                    name='pgh_obj',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='core.exchangerate'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel('partners', 'core'), relabel('core', 'partners'), elidable=False),
        migrations.RunPython(drop_old_triggers, restore_old_triggers, elidable=False),
        pgtrigger.migrations.AddTrigger(
            model_name='exchangerate',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "partners_exchangerateevent" ("currency", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rate", "valid_from") SELECT new_values."currency", new_values."id", _pgh_attached_context.value, CLOCK_TIMESTAMP(), \'insert\', new_values."id", new_values."rate", new_values."valid_from" FROM ( SELECT new_values.* FROM new_values  ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='93a577f8fb9dff2b9cfb3fd674e4e7d030c1b4bf', level='STATEMENT', operation='INSERT', pgid='pgtrigger_insert_insert_f0957', referencing='REFERENCING NEW TABLE AS new_values ', table='partners_exchangerate', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='exchangerate',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "partners_exchangerateevent" ("currency", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rate", "valid_from") SELECT new_values."currency", new_values."id", _pgh_attached_context.value, CLOCK_TIMESTAMP(), \'update\', new_values."id", new_values."rate", new_values."valid_from" FROM ( SELECT new_values.* FROM old_values JOIN new_values ON (old_values."id") = (new_values."id") WHERE (old_values.* IS DISTINCT FROM new_values.*) ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='f1d4ef4d210266baf5509b5c8a1b9d9e5ec1c0f3', level='STATEMENT', operation='UPDATE', pgid='pgtrigger_update_update_8b13c', referencing='REFERENCING OLD TABLE AS old_values  NEW TABLE AS new_values ', table='partners_exchangerate', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='exchangerate',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "partners_exchangerateevent" ("currency", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rate", "valid_from") SELECT old_values."currency", old_values."id", _pgh_attached_context.value, CLOCK_TIMESTAMP(), \'delete\', old_values."id", old_values."rate", old_values."valid_from" FROM ( SELECT old_values.* FROM old_values  ) AS old_values, _pgh_attached_context; RETURN NULL;', hash='96c7d30f9dbbc54f2f22456d957f410660c0ae71', level='STATEMENT', operation='DELETE', pgid='pgtrigger_delete_delete_b9971', referencing='REFERENCING OLD TABLE AS old_values ', table='partners_exchangerate', when='AFTER')),
        ),
    ]
