"""Bulk writes of evaluation results.

On PostgreSQL rows travel with COPY, which is an order of magnitude quicker
than INSERT statements for the hundreds of thousands of rows of a first
evaluation; upserts go through a temporary table. Elsewhere (SQLite, the demo
and the test suite) they fall back to the ORM's bulk operations. Rows are
plain tuples: building a model instance per row costs more than writing it.
"""

import json
import zlib
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

BATCH = 1000
STAGING_THRESHOLD = 500


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _copy(cursor, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert new rows; ``columns`` are database column names (``partner_id``...)."""
    if not rows:
        return
    if _is_postgresql():
        with connection.cursor() as cursor:
            _copy(cursor.cursor, model._meta.db_table, columns, rows)
        return
    model._default_manager.bulk_create(_instances(model, columns, rows), batch_size=BATCH)


def upsert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert rows, or update ``update`` columns where a row with the same ``conflict`` columns exists."""
    if not rows:
        return
    table = model._meta.db_table
    # A staging table pays off for big batches; a few rows go in one statement.
    if _is_postgresql() and len(rows) >= STAGING_THRESHOLD:
        staging = f"staging_{table}_{zlib.crc32(','.join(columns).encode()):x}"
        column_list = ", ".join(columns)
        with connection.cursor() as cursor:
            # Same column types, no constraints; emptied at commit.
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {column_list} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {staging}")
            _copy(cursor.cursor, staging, columns, rows)
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "  # noqa: S608
                f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
            )
            cursor.execute(f"TRUNCATE {staging}")
        return
    model._default_manager.bulk_create(
        _instances(model, columns, rows),
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=[_field(model, c).name for c in conflict],
        update_fields=[_field(model, c).name for c in update],
    )


def _instances(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple]
) -> list[models.Model]:
    fields = [_field(model, column) for column in columns]
    # JSON travels as text for COPY; the ORM wants the decoded value.
    decode = [isinstance(field, models.JSONField) for field in fields]
    return [
        model(
            **{
                field.attname: (json.loads(value) if is_json and isinstance(value, str) else value)
                for field, is_json, value in zip(fields, decode, row, strict=True)
            }
        )
        for row in rows
    ]


def _field(model: type[models.Model], column: str) -> Any:
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    raise LookupError(f"{model.__name__} has no column {column}")
