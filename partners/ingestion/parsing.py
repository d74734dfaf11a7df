"""Reading one record: each field's parser returns the clean value or raises ``_RowError``;
the batch's report and the errors that refuse a whole batch."""

import calendar
import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from django import forms
from django.conf import settings

from core.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from partners.models import (
    EARLIEST_FACT_DATE,
    Region,
)
from prm.ids import MAX_ID
from prm.text import scrub, storable_problem

Outcome = Literal["created", "updated", "unchanged", "rejected"]

SOURCE_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT_PATTERN = re.compile(r"^\s*\d{1,16}(\.\d+)?\s*$")
MAX_POINTS = 2**31 - 1
MAX_AMOUNT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES) - Decimal(1).scaleb(
    -AMOUNT_DECIMAL_PLACES
)
# External ids are looked up this many at a time.
LOOKUP_CHUNK = 2000
WRITE_BATCH = 1000
_REGIONS = frozenset(Region.values)
# Addresses are checked by the form field the portal and the admin use (Django's
# EmailValidator, which refuses what the schema's ``format: email`` refuses).
EMAIL_FIELD = forms.EmailField(max_length=254)


def max_batch_rows() -> int:
    return getattr(settings, "PRM_INGESTION_MAX_ROWS", 5000)


class BatchError(ValueError):
    """The batch as a whole cannot be taken (no source, too many records...): nothing is stored."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


class BatchConflict(RuntimeError):
    """The database refused the batch at commit (e.g. a partner deleted meanwhile); nothing is stored."""


@dataclass(slots=True)
class RowResult:
    index: int
    external_id: str | None
    result: Outcome
    id: int | None = None
    errors: dict[str, list[str]] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "external_id": self.external_id, "result": self.result}
        if self.id is not None:
            data["id"] = self.id
        if self.errors:
            data["errors"] = self.errors
        return data


@dataclass
class IngestionReport:
    kind: str
    source: str
    results: list[RowResult]
    partner_ids: set[int] = field(default_factory=set)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.results if row.result == outcome)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for row in self.results:
            counts[row.result] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "received": len(self.results),
            **self.counts,
            "results": [row.as_dict() for row in self.results],
        }


class _RowError(Exception):
    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.message = message


# --- value parsers: each returns the clean value or raises _RowError ------------------------------


def _text(row: dict, name: str, *, max_length: int, required: bool = False) -> str:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise _RowError(name, "This field is required.")
        return ""
    if not isinstance(value, str):
        raise _RowError(name, "Expected a string.")
    value = value.strip()
    if required and not value:
        raise _RowError(name, "This field is required.")
    problem = storable_problem(value)
    if problem:
        raise _RowError(name, problem)
    if len(value) > max_length:
        raise _RowError(name, f"At most {max_length} characters.")
    return value


def _id(row: dict, name: str) -> int:
    value = row.get(name)
    if value is None:
        raise _RowError(name, "This field is required.")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _RowError(name, "Expected an id (a whole number).")
    if not 1 <= value <= MAX_ID:
        raise _RowError(name, "No such id.")
    return value


def _date(
    row: dict, name: str, *, latest: datetime.date | None = None, required: bool = True
) -> datetime.date | None:
    """A YYYY-MM-DD day; a fact's day (``latest`` given) lies between 2000 and tomorrow."""
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise _RowError(name, "This field is required.")
        return None
    if not isinstance(value, str) or not _DATE_PATTERN.match(value):
        raise _RowError(name, "Expected a date as YYYY-MM-DD.")
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise _RowError(name, "This is not a date in the calendar.") from exc
    if latest is not None:
        if day < EARLIEST_FACT_DATE:
            raise _RowError(name, f"Dates before {EARLIEST_FACT_DATE:%d %B %Y} are not accepted.")
        if day > latest:
            raise _RowError(name, "A fact cannot be dated in the future.")
    return day


def _amount(row: dict, name: str) -> Decimal:
    value = row.get(name)
    if value is None or value == "":
        raise _RowError(name, "This field is required.")
    if isinstance(value, bool | float):
        raise _RowError(name, 'Send the amount as a decimal string, e.g. "1234.50", never a float.')
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        if not _AMOUNT_PATTERN.match(value):
            if value.strip().startswith("-"):
                raise _RowError(name, "The amount must be greater than zero.")
            raise _RowError(name, 'Expected a decimal number such as "1234.50".')
        try:
            amount = Decimal(value.strip())
        except InvalidOperation as exc:
            raise _RowError(name, 'Expected a decimal number such as "1234.50".') from exc
    else:
        raise _RowError(name, 'Expected a decimal number such as "1234.50".')
    if not amount.is_finite():
        raise _RowError(name, "Expected a finite amount.")
    if amount <= 0:
        raise _RowError(name, "The amount must be greater than zero.")
    if amount > MAX_AMOUNT:
        raise _RowError(name, f"The amount must not exceed {MAX_AMOUNT:,}.")
    return amount


def _check_keys(row: Any, allowed: frozenset[str]) -> dict:
    if not isinstance(row, dict):
        raise _RowError("non_field_errors", "Each record must be a JSON object.")
    unknown = sorted(scrub(str(key)) for key in row if key not in allowed)
    if unknown:
        raise _RowError("non_field_errors", f"Unknown field(s): {', '.join(unknown)}.")
    return row


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class _RowErrors(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors


def _collect(row: dict, parsers: dict[str, Any]) -> dict[str, Any]:
    """Run every field's parser, gathering all the row's errors rather than the first."""
    clean: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for name, parser in parsers.items():
        try:
            clean[name] = parser(row)
        except _RowError as error:
            errors.append((error.field, error.message))
    if errors:
        raise _RowErrors(errors)
    return clean


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
