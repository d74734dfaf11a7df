"""Helpers for the figures' SQL: a queryset as a subquery, and rows as dictionaries."""

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet


def subquery(queryset: QuerySet) -> tuple[str, tuple] | None:
    """The SQL and parameters of ``queryset``; None when it can match nothing (``.none()``).

    The model's default ordering is dropped: inside ``IN (...)`` it orders nothing, and a sorted
    subquery keeps PostgreSQL from hashing it, so each outer row would rescan the sorted list.
    """
    try:
        sql, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, tuple(params)


def fetch(sql: str, params: tuple | list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def supported() -> bool:
    """The figures use PostgreSQL's JSON, array and window functions; SQLite shows a notice instead."""
    return connection.vendor == "postgresql"
