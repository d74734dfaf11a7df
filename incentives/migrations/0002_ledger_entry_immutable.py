"""The database itself refuses to change what a ledger entry says (and, on PostgreSQL, to delete one).

Only the state, its timestamp, the payout and the links that may be nulled
(deal, actor) may change. SQLite rebuilds a table to alter it and drops its
triggers on the way: a later migration that alters ``incentives_ledgerentry``
must run ``create_triggers`` again.
"""

from django.db import migrations

FROZEN_COLUMNS = [
    "partner_id",
    "rule_id",
    "source_type",
    "source_id",
    "component",
    "revision",
    "entry_type",
    "reverses_id",
    "amount",
    "currency",
    "event_on",
    "period",
    "held_until",
    "tier_id",
    "description",
    "posted_at",
]
MESSAGE = "incentive ledger entries are immutable: write a reversing or adjusting entry instead"


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
        changed += " OR NEW.basis::text IS DISTINCT FROM OLD.basis::text"
        schema_editor.execute(
            f"""
            CREATE OR REPLACE FUNCTION incentives_ledger_entry_immutable() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'incentive ledger entries are never deleted: write a reversing entry instead';
              END IF;
              IF {changed} THEN
                RAISE EXCEPTION '{MESSAGE}';
              END IF;
              RETURN NEW;
            END
            $$ LANGUAGE plpgsql;
            """
        )
        schema_editor.execute("DROP TRIGGER IF EXISTS incentives_ledger_entry_immutable ON incentives_ledgerentry")
        schema_editor.execute(
            "CREATE TRIGGER incentives_ledger_entry_immutable BEFORE UPDATE OR DELETE ON incentives_ledgerentry "
            "FOR EACH ROW EXECUTE FUNCTION incentives_ledger_entry_immutable()"
        )
    elif vendor == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in [*FROZEN_COLUMNS, "basis"])
        schema_editor.execute("DROP TRIGGER IF EXISTS incentives_ledger_entry_immutable")
        schema_editor.execute(
            "CREATE TRIGGER incentives_ledger_entry_immutable BEFORE UPDATE ON incentives_ledgerentry "
            f"FOR EACH ROW WHEN {changed} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS incentives_ledger_entry_immutable ON incentives_ledgerentry")
        schema_editor.execute("DROP FUNCTION IF EXISTS incentives_ledger_entry_immutable()")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS incentives_ledger_entry_immutable")


class Migration(migrations.Migration):
    dependencies = [("incentives", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
