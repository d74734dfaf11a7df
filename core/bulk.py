"""The bulk writer: evaluation results, and ingested facts.

Evaluation results (``insert_rows``, ``upsert_rows``): on PostgreSQL rows
travel with COPY, which is an order of magnitude quicker than INSERT
statements for the hundreds of thousands of rows of a first evaluation;
upserts go through a temporary table. Elsewhere (SQLite, the demo and the
test suite) they fall back to the ORM's bulk operations. Rows are plain
tuples: building a model instance per row costs more than writing it.

Ingested facts (``insert_json``, ``update_json``, PostgreSQL only; their
callers use the ORM elsewhere): a whole batch travels as one JSON document
expanded by jsonb_to_recordset: one statement, encoded by the json module's
C code, with no per-row SQL to compose, and the new rows' ids come back.

The SQL names only the model's own table, columns and types; every value
travels as a parameter (COPY rows, or the JSON document).
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
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                f"SELECT {column_list} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {staging}")
            _copy(cursor.cursor, staging, columns, rows)
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "
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


def _value_columns(model: type[models.Model], names: Sequence[str]) -> list[tuple[str, str, str]]:
    """(attribute, column, column type) of the named fields."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    return [(name, str(fields[name].column), str(fields[name].db_type(connection))) for name in names]


def _json_document(rows: Sequence[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    # Amounts and days as their exact text: JSON numbers would be floats.
    as_text = [name for name, _, db_type in columns if db_type.startswith(("numeric", "date"))]
    for values in rows:
        for name in as_text:
            if values[name] is not None:
                values[name] = str(values[name])
    return json.dumps(rows, separators=(",", ":"))


def insert_json(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, constants: dict[str, Any], key: str
) -> dict[Any, int]:
    """Insert ``rows`` (attribute -> value, the same attributes each) with ``constants`` in every row.

    Returns the new ids by each row's ``key`` attribute (unique in the batch).
    """
    quote = connection.ops.quote_name
    meta = model._meta
    columns = _value_columns(model, list(rows[0]))
    stamps = _value_columns(model, list(constants))
    document = _json_document(rows, columns)
    key_column = next(column for name, column, _ in columns if name == key)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(column) for _, column, _ in columns + stamps)}) "
        f"SELECT {', '.join(f'v.{quote(name)}' for name, _, _ in columns)}, {', '.join(['%s'] * len(stamps))} "
        f"FROM jsonb_to_recordset(%s::jsonb) "
        f"AS v({', '.join(f'{quote(name)} {db_type}' for name, _, db_type in columns)}) "
        f"RETURNING {quote(str(meta.pk.column))}, {quote(key_column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants.values(), document])
        return {row_key: pk for pk, row_key in cursor.fetchall()}


def update_json(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, constants: dict[str, Any]
) -> None:
    """Update rows by primary key: each row is ``{"pk": id, attribute: value...}``; ``constants`` go to every row."""
    quote = connection.ops.quote_name
    columns = _value_columns(model, [name for name in rows[0] if name != "pk"])
    stamps = _value_columns(model, list(constants))
    document = _json_document(rows, columns)
    pk = model._meta.pk
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET "
        + ", ".join(
            [f"{quote(column)} = v.{quote(name)}" for name, column, _ in columns]
            + [f"{quote(column)} = %s" for _, column, _ in stamps]
        )
        + " FROM jsonb_to_recordset(%s::jsonb) AS v("
        + ", ".join(
            [
                f"pk {pk.db_type(connection)}",
                *(f"{quote(name)} {db_type}" for name, _, db_type in columns),
            ]
        )
        + f") WHERE t.{quote(str(pk.column))} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants.values(), document])
