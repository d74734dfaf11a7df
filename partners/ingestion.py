"""Idempotent bulk ingestion of facts: sales, certifications and engagement activities.

Integrations (CRMs, learning systems, billing) send batches of records, each
with the external id it has in the sending system. A record is keyed on
``(source, external_id)``, so

* re-sending a batch (a retry after a timeout) changes nothing: every record
  reports ``unchanged`` and nothing is counted twice;
* a record sent again with different values updates the stored fact;
* a record that cannot be stored is ``rejected`` with the reason per field,
  and the rest of the batch is stored all the same.

Each batch runs in one transaction, holding a lock on its source so that two
batches of the same source take turns: nothing is half-written, and two
retries racing each other cannot create the same record twice. After the
batch commits, the partners whose facts changed are re-evaluated once
(``gates.services.request_reevaluation``).

The records are plain dicts as decoded from JSON. Amounts must arrive as
strings or ``Decimal`` (never floats), dates as ``YYYY-MM-DD`` strings.
"""

import calendar
import datetime
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, models, transaction
from django.db.models import Min
from django.db.models.functions import Lower
from django.utils import timezone

from partners.models import (
    EARLIEST_FACT_DATE,
    ActivityType,
    AuditEntry,
    Certification,
    CertificationType,
    EngagementActivity,
    ExchangeRate,
    Partner,
    Person,
    ProductLine,
    Region,
    Sale,
)
from prm.ids import MAX_ID
from prm.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, is_currency, minor_unit_exponent
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


# --- the pipeline ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    index: int
    external_id: str | None
    raw: dict
    clean: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # model field -> value, once resolved

    def reject(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)


class _Ingestion:
    """The steps shared by every kind of fact; subclasses say how their records read and compare."""

    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    fields: ClassVar[frozenset[str]]
    # Model fields compared to tell "unchanged" from "updated", and written on update.
    compared: ClassVar[tuple[str, ...]]
    partner_path: ClassVar[str] = "partner_id"

    def __init__(self, *, actor, source: str, partners, audit_data: dict | None = None):
        self.actor = actor
        self.source = source
        self.partners = partners
        self.audit_data = audit_data or {}
        # Facts may be dated up to tomorrow (time zones); read the clock once per batch.
        self.latest = timezone.localdate() + datetime.timedelta(days=1)
        self._parsers = self.parsers()

    # subclass hooks
    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        """Each field's parser: returns the clean value or raises ``_RowError``."""
        raise NotImplementedError

    def parse(self, row: dict) -> dict[str, Any]:
        return _collect(row, self._parsers)

    def load_references(self, rows: list[_Row], partner_regions: dict[int, str]) -> None:
        """Look up, once for the batch, what the rows name (codes, rates, people)."""

    def resolve(self, row: _Row, partner_regions: dict[int, str]) -> None:
        """Turn the parsed record into model values (``row.values``), or reject it."""
        raise NotImplementedError

    def before_write(self, rows: list[_Row]) -> None:
        """Create what the new rows need (certifications create missing people)."""

    def partner_of_values(self, values: dict[str, Any]) -> int:
        return values["partner_id"]

    # the run
    def run(self, records: Any) -> IngestionReport:
        if not isinstance(self.source, str) or not SOURCE_PATTERN.match(self.source):
            raise BatchError({"source": ["Name the source in letters, digits, - and _ (at most 50)."]})
        if not isinstance(records, list):
            raise BatchError({"records": ["Expected a list of records."]})
        if not records:
            raise BatchError({"records": ["Send at least one record."]})
        limit = max_batch_rows()
        if len(records) > limit:
            raise BatchError({"records": [f"Send at most {limit:,} records per batch; split the rest."]})

        rows = self._parse_all(records)
        try:
            with transaction.atomic():
                self._lock_source()
                changed_partners = self._apply(rows)
        except IntegrityError as exc:
            # Raised at commit by deferred constraints (a partner deleted meanwhile).
            raise BatchConflict("The batch conflicts with a concurrent change; send it again.") from exc
        report = IngestionReport(
            kind=self.kind,
            source=self.source,
            results=[self._result(row) for row in rows],
            partner_ids=changed_partners,
        )
        if changed_partners:
            from gates.services import request_reevaluation

            request_reevaluation(changed_partners)
        return report

    def _parse_all(self, records: list) -> list[_Row]:
        rows: list[_Row] = []
        seen: dict[str, int] = {}
        for index, record in enumerate(records):
            external_id = record.get("external_id") if isinstance(record, dict) else None
            if not isinstance(external_id, str) or storable_problem(external_id):
                external_id = None  # the report echoes it: it must be text a response can carry
            row = _Row(index=index, external_id=external_id, raw={})
            rows.append(row)
            try:
                row.raw = _check_keys(record, self.fields)
            except _RowError as error:
                row.reject(error.field, error.message)
                continue
            try:
                row.external_id = _text(row.raw, "external_id", max_length=100, required=True)
            except _RowError as error:
                row.reject(error.field, error.message)
            try:
                row.clean = self.parse(row.raw)
            except _RowErrors as errors:
                for name, message in errors.errors:
                    row.reject(name, message)
            if row.external_id and not row.errors:
                first = seen.setdefault(row.external_id, index)
                if first != index:
                    row.reject(
                        "external_id", f"The same external id is already in this batch at index {first}."
                    )
        return rows

    def _lock_source(self) -> None:
        if connection.vendor != "postgresql":
            return  # SQLite writes one transaction at a time anyway
        digest = hashlib.sha256(f"prm.ingest:{self.kind}:{self.source}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])

    def _existing(self, rows: list[_Row]) -> dict[str, dict[str, Any]]:
        wanted = [row.external_id for row in rows if not row.errors and row.external_id]
        existing: dict[str, dict[str, Any]] = {}
        columns = ("id", "external_id", self.partner_path, *self.compared)
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            # ``exclude(external_id="")`` repeats the unique index's condition, so that
            # PostgreSQL uses the index for a long IN list (it cannot infer it past 100 values).
            found = (
                self.model._default_manager.filter(source=self.source, external_id__in=chunk)
                .exclude(external_id="")
                .order_by()
            )
            for values in found.values(*columns):
                existing[values["external_id"]] = values
        return existing

    def _apply(self, rows: list[_Row]) -> set[int]:
        existing = self._existing(rows)
        wanted_partners = {row.clean["partner"] for row in rows if not row.errors}
        wanted_partners |= {values[self.partner_path] for values in existing.values()}
        partner_regions = dict(self.partners.filter(id__in=wanted_partners).values_list("id", "region"))
        live = [row for row in rows if not row.errors]
        self.load_references(live, partner_regions)

        creates: list[_Row] = []
        updates: list[tuple[_Row, dict[str, Any]]] = []
        changed_partners: set[int] = set()
        for row in live:
            if row.clean["partner"] not in partner_regions:
                row.reject("partner", "No partner with this id that you may send facts for.")
                continue
            stored = existing.get(row.external_id)  # type: ignore[arg-type]
            if stored is not None and stored[self.partner_path] not in partner_regions:
                row.reject("external_id", "This external id belongs to a record you may not change.")
                continue
            self.resolve(row, partner_regions)
            if row.errors:
                continue
            if stored is None:
                creates.append(row)
            elif any(stored[name] != row.values[name] for name in self.compared if name in row.values):
                updates.append((row, stored))
            else:
                row.values["id"] = stored["id"]
                row.values["_outcome"] = "unchanged"

        self.before_write(creates + [row for row, _ in updates])
        creates = [row for row in creates if not row.errors]
        updates = [(row, stored) for row, stored in updates if not row.errors]
        self._write(creates, updates)
        for row in creates:
            if row.values.get("_outcome") == "created":
                changed_partners.add(self.partner_of_values(row.values))
        for row, stored in updates:
            if row.values.get("_outcome") == "updated":
                changed_partners.add(self.partner_of_values(row.values))
                changed_partners.add(stored[self.partner_path])
        self._audit(rows)
        return changed_partners

    def _instance(self, row: _Row) -> models.Model:
        fields = {name: value for name, value in row.values.items() if not name.startswith("_")}
        return self.model(source=self.source, external_id=row.external_id, **fields)

    def _write(self, creates: list[_Row], updates: list[tuple[_Row, dict[str, Any]]]) -> None:
        now = timezone.now()
        update_fields = [name for name in self.compared if not name.startswith("_")] + ["updated_at"]
        try:
            with transaction.atomic():
                ids = self._insert_new(creates, now)
                if updates:
                    self._update_changed(updates, update_fields, now)
        except (IntegrityError, DataError):
            # Something the validation did not foresee: store row by row so that
            # only the records the database refuses are lost.
            self._write_one_by_one(creates, updates, update_fields, now)
            return
        for row, pk in zip(creates, ids, strict=True):
            row.values["id"] = pk
            row.values["_outcome"] = "created"
        for row, stored in updates:
            row.values["id"] = stored["id"]
            row.values["_outcome"] = "updated"

    # PostgreSQL takes a whole batch as one JSON document expanded by
    # jsonb_to_recordset: one statement, encoded by the json module's C code,
    # with no per-row SQL to compose, which keeps the API near the rate of a
    # plain insert. Other databases use the ORM. The SQL names only the
    # model's own table, columns and types; every value travels as a parameter.

    def _value_columns(self, names: list[str]) -> list[tuple[str, str, str]]:
        """(attribute, column, column type) of the named fields."""
        fields = {field.attname: field for field in self.model._meta.concrete_fields}
        return [(name, str(fields[name].column), str(fields[name].db_type(connection))) for name in names]

    def _written(self) -> list[str]:
        return [name for name in self.compared if not name.startswith("_")]

    @staticmethod
    def _json_document(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
        # Amounts and days as their exact text: JSON numbers would be floats.
        as_text = [name for name, _, db_type in columns if db_type.startswith(("numeric", "date"))]
        for values in rows:
            for name in as_text:
                if values[name] is not None:
                    values[name] = str(values[name])
        return json.dumps(rows, separators=(",", ":"))

    def _insert_new(self, rows: list[_Row], now) -> list[int]:
        """Insert the new records; returns their ids, in order."""
        if not rows:
            return []
        if connection.vendor != "postgresql":
            instances = [self._instance(row) for row in rows]
            self.model._default_manager.bulk_create(instances, batch_size=WRITE_BATCH)
            return [instance.pk for instance in instances]
        written = self._written()
        columns = self._value_columns([*written, "external_id"])
        document = self._json_document(
            [
                {**{name: row.values[name] for name in written}, "external_id": row.external_id}
                for row in rows
            ],
            columns,
        )
        quote = connection.ops.quote_name
        meta = self.model._meta
        stamps = self._value_columns(["source", "created_at", "updated_at"])
        sql = (
            f"INSERT INTO {quote(meta.db_table)} "
            f"({', '.join(quote(column) for _, column, _ in columns + stamps)}) "
            f"SELECT {', '.join(f'v.{quote(name)}' for name, _, _ in columns)}, %s, %s, %s "
            f"FROM jsonb_to_recordset(%s::jsonb) "
            f"AS v({', '.join(f'{quote(name)} {db_type}' for name, _, db_type in columns)}) "
            f"RETURNING {quote(str(meta.pk.column))}, {quote('external_id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.source, now, now, document])
            ids = {external_id: pk for pk, external_id in cursor.fetchall()}
        return [ids[row.external_id] for row in rows]

    def _update_changed(
        self, updates: list[tuple[_Row, dict[str, Any]]], update_fields: list[str], now
    ) -> None:
        if connection.vendor != "postgresql":
            changed = []
            for row, stored in updates:
                instance = self._instance(row)
                instance.pk = stored["id"]
                instance.updated_at = now  # type: ignore[attr-defined]
                changed.append(instance)
            self.model._default_manager.bulk_update(changed, update_fields, batch_size=WRITE_BATCH)
            return
        columns = self._value_columns(self._written())
        document = self._json_document(
            [
                {"pk": stored["id"], **{name: row.values[name] for name, _, _ in columns}}
                for row, stored in updates
            ],
            columns,
        )
        quote = connection.ops.quote_name
        pk = self.model._meta.pk
        sql = (
            f"UPDATE {quote(self.model._meta.db_table)} AS t SET "
            + ", ".join(f"{quote(column)} = v.{quote(name)}" for name, column, _ in columns)
            + f", {quote('updated_at')} = %s"
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
            cursor.execute(sql, [now, document])

    def _write_one_by_one(self, creates, updates, update_fields, now) -> None:
        for row in creates:
            instance = self._instance(row)
            try:
                with transaction.atomic():
                    instance.save(force_insert=True)
            except (IntegrityError, DataError) as exc:
                row.reject("non_field_errors", f"The database refused this record: {_first_line(exc)}")
                continue
            row.values["id"] = instance.pk
            row.values["_outcome"] = "created"
        for row, stored in updates:
            instance = self._instance(row)
            instance.pk = stored["id"]
            instance.updated_at = now  # type: ignore[attr-defined]
            try:
                with transaction.atomic():
                    instance.save(update_fields=update_fields)
            except (IntegrityError, DataError) as exc:
                row.reject("non_field_errors", f"The database refused this record: {_first_line(exc)}")
                continue
            row.values["id"] = stored["id"]
            row.values["_outcome"] = "updated"

    def _result(self, row: _Row) -> RowResult:
        if row.errors:
            return RowResult(row.index, row.external_id, "rejected", errors=row.errors)
        return RowResult(row.index, row.external_id, row.values["_outcome"], id=row.values["id"])

    def _audit(self, rows: list[_Row]) -> None:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for row in rows:
            counts["rejected" if row.errors else row.values["_outcome"]] += 1
        AuditEntry.objects.create(
            actor=self.actor if getattr(self.actor, "is_authenticated", False) else None,
            action=f"{self.kind}.ingested",
            target_type=self.model._meta.label_lower,
            target_id=self.source,
            data={**counts, **self.audit_data},
        )


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


# --- sales ----------------------------------------------------------------------------------------


class SalesIngestion(_Ingestion):
    kind = "sales"
    model = Sale
    fields = frozenset(
        {
            "external_id",
            "partner",
            "amount",
            "currency",
            "product_line",
            "region",
            "closed_on",
            "customer_name",
        }
    )
    compared = ("partner_id", "amount", "currency", "product_line_id", "region", "closed_on", "customer_name")

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        return {
            "partner": lambda r: _id(r, "partner"),
            "amount": lambda r: _amount(r, "amount"),
            "currency": lambda r: _text(r, "currency", max_length=3, required=True).upper(),
            "product_line": lambda r: _text(r, "product_line", max_length=50, required=True),
            "region": lambda r: _text(r, "region", max_length=8),
            "closed_on": lambda r: _date(r, "closed_on", latest=self.latest),
            "customer_name": lambda r: _text(r, "customer_name", max_length=200),
        }

    def load_references(self, rows, partner_regions) -> None:
        codes = {row.clean["product_line"] for row in rows}
        self.product_lines = dict(ProductLine.objects.filter(code__in=codes).values_list("code", "id"))
        currencies = {row.clean["currency"] for row in rows} - {settings.PRM_REFERENCE_CURRENCY}
        self.first_rates = dict(
            ExchangeRate.objects.filter(currency__in=currencies)
            .values("currency")
            .annotate(first=Min("valid_from"))
            .values_list("currency", "first")
        )

    def resolve(self, row, partner_regions) -> None:
        clean = row.clean
        currency = clean["currency"]
        if not is_currency(currency):
            row.reject("currency", f"{currency} is not an ISO 4217 currency code.")
        else:
            quantum = minor_unit_exponent(currency)
            if clean["amount"] != clean["amount"].quantize(quantum):
                places = -int(quantum.as_tuple().exponent)
                row.reject("amount", f"{currency} amounts have at most {places} decimal places.")
            if currency != settings.PRM_REFERENCE_CURRENCY:
                first = self.first_rates.get(currency)
                if first is None or first > clean["closed_on"]:
                    row.reject(
                        "currency",
                        f"There is no {currency} exchange rate on or before {clean['closed_on']:%d %b %Y}; "
                        f"add one before recording amounts in {currency}.",
                    )
        product_line_id = self.product_lines.get(clean["product_line"])
        if product_line_id is None:
            row.reject("product_line", f"No product line has the code {clean['product_line']!r}.")
        region = clean["region"] or partner_regions[clean["partner"]]
        if region not in _REGIONS:
            row.reject("region", f"{region!r} is not one of {', '.join(Region.values)}.")
        if row.errors:
            return
        row.values = {
            "partner_id": clean["partner"],
            "amount": clean["amount"],
            "currency": currency,
            "product_line_id": product_line_id,
            "region": region,
            "closed_on": clean["closed_on"],
            "customer_name": clean["customer_name"],
        }


# --- engagement activities -------------------------------------------------------------------------


class ActivitiesIngestion(_Ingestion):
    kind = "activities"
    model = EngagementActivity
    fields = frozenset({"external_id", "partner", "activity_type", "points", "occurred_on", "description"})
    compared = ("partner_id", "activity_type_id", "points", "occurred_on", "description")

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        def points(r):
            value = r.get("points")
            if value is None:
                return None
            if not isinstance(value, int) or isinstance(value, bool):
                raise _RowError("points", "Expected a whole number of points.")
            if not 0 <= value <= MAX_POINTS:
                raise _RowError("points", f"Points lie between 0 and {MAX_POINTS:,}.")
            return value

        return {
            "partner": lambda r: _id(r, "partner"),
            "activity_type": lambda r: _text(r, "activity_type", max_length=50, required=True),
            "points": points,
            "occurred_on": lambda r: _date(r, "occurred_on", latest=self.latest),
            "description": lambda r: _text(r, "description", max_length=300),
        }

    def load_references(self, rows, partner_regions) -> None:
        codes = {row.clean["activity_type"] for row in rows}
        self.types = {
            code: (type_id, points)
            for code, type_id, points in ActivityType.objects.filter(code__in=codes).values_list(
                "code", "id", "default_points"
            )
        }

    def resolve(self, row, partner_regions) -> None:
        clean = row.clean
        found = self.types.get(clean["activity_type"])
        if found is None:
            row.reject("activity_type", f"No activity type has the code {clean['activity_type']!r}.")
            return
        type_id, default_points = found
        row.values = {
            "partner_id": clean["partner"],
            "activity_type_id": type_id,
            "points": default_points if clean["points"] is None else clean["points"],
            "occurred_on": clean["occurred_on"],
            "description": clean["description"],
        }


# --- certifications --------------------------------------------------------------------------------


class CertificationsIngestion(_Ingestion):
    """Certifications name their holder by e-mail within the partner.

    A holder not yet known is added when the record gives the first and last
    name; otherwise the record is rejected. Without an expiry date, a
    certification expires after its type's validity (never, for types without one).
    """

    kind = "certifications"
    model = Certification
    fields = frozenset(
        {
            "external_id",
            "partner",
            "person_email",
            "person_first_name",
            "person_last_name",
            "certification_type",
            "issued_on",
            "expires_on",
        }
    )
    compared = ("person_id", "certification_type_id", "issued_on", "expires_on")
    partner_path = "person__partner_id"

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        def email(r):
            value = _text(r, "person_email", max_length=254, required=True).lower()
            try:
                return EMAIL_FIELD.clean(value)
            except ValidationError as exc:
                raise _RowError("person_email", " ".join(exc.messages)) from exc

        return {
            "partner": lambda r: _id(r, "partner"),
            "person_email": email,
            "person_first_name": lambda r: _text(r, "person_first_name", max_length=100),
            "person_last_name": lambda r: _text(r, "person_last_name", max_length=100),
            "certification_type": lambda r: _text(r, "certification_type", max_length=50, required=True),
            "issued_on": lambda r: _date(r, "issued_on", latest=self.latest),
            "expires_on": lambda r: _date(r, "expires_on", required=False),
        }

    def load_references(self, rows, partner_regions) -> None:
        codes = {row.clean["certification_type"] for row in rows}
        self.types = {
            code: (type_id, months)
            for code, type_id, months in CertificationType.objects.filter(code__in=codes).values_list(
                "code", "id", "validity_months"
            )
        }
        partner_ids = {row.clean["partner"] for row in rows} & set(partner_regions)
        emails = sorted({row.clean["person_email"] for row in rows})
        self.people: dict[tuple[int, str], int] = {}
        for start in range(0, len(emails), LOOKUP_CHUNK):
            chunk = emails[start : start + LOOKUP_CHUNK]
            for partner_id, email, person_id in (
                Person.objects.filter(partner_id__in=partner_ids)
                .annotate(email_lower=Lower("email"))
                .filter(email_lower__in=chunk)
                .values_list("partner_id", "email_lower", "id")
            ):
                self.people[(partner_id, email)] = person_id

    def resolve(self, row, partner_regions) -> None:
        clean = row.clean
        found = self.types.get(clean["certification_type"])
        if found is None:
            row.reject(
                "certification_type", f"No certification type has the code {clean['certification_type']!r}."
            )
            return
        type_id, months = found
        expires_on = clean["expires_on"]
        if expires_on is None and months:
            expires_on = _add_months(clean["issued_on"], months)
        if expires_on is not None and expires_on < clean["issued_on"]:
            row.reject("expires_on", "The expiry date is before the issue date.")
            return
        person_id = self.people.get((clean["partner"], clean["person_email"]))
        if person_id is None and not (clean["person_first_name"] and clean["person_last_name"]):
            row.reject(
                "person_email",
                "Nobody with this e-mail works for the partner; send person_first_name and "
                "person_last_name to add them.",
            )
            return
        row.values = {
            "person_id": person_id,
            "certification_type_id": type_id,
            "issued_on": clean["issued_on"],
            "expires_on": expires_on,
            "_partner_id": clean["partner"],
        }

    def before_write(self, rows) -> None:
        """Add the holders not yet known, once each, and point their certifications at them."""
        missing: dict[tuple[int, str], _Row] = {}
        for row in rows:
            if row.values["person_id"] is None:
                missing.setdefault((row.clean["partner"], row.clean["person_email"]), row)
        if missing:
            Person.objects.bulk_create(
                [
                    Person(
                        partner_id=partner_id,
                        email=email,
                        first_name=row.clean["person_first_name"],
                        last_name=row.clean["person_last_name"],
                    )
                    for (partner_id, email), row in missing.items()
                ],
                batch_size=WRITE_BATCH,
                ignore_conflicts=True,  # added meanwhile by another source: use theirs
            )
            partner_ids = {partner_id for partner_id, _ in missing}
            emails = sorted({email for _, email in missing})
            for start in range(0, len(emails), LOOKUP_CHUNK):
                for partner_id, email, person_id in (
                    Person.objects.filter(partner_id__in=partner_ids)
                    .annotate(email_lower=Lower("email"))
                    .filter(email_lower__in=emails[start : start + LOOKUP_CHUNK])
                    .values_list("partner_id", "email_lower", "id")
                ):
                    self.people[(partner_id, email)] = person_id
        for row in rows:
            if row.values["person_id"] is None:
                holder = self.people.get((row.clean["partner"], row.clean["person_email"]))
                if holder is None:
                    row.reject("person_email", "The holder could not be added; send the record again.")
                else:
                    row.values["person_id"] = holder

    def partner_of_values(self, values) -> int:
        return values["_partner_id"]


def _writable_partners(actor, partners):
    return partners if partners is not None else Partner.objects.visible_to(actor)


def ingest_sales(
    *, actor, source: str, records: Sequence[Any], partners=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update won sales by ``(source, external_id)``; see the module docstring.

    ``partners`` is the queryset of partners the actor may send facts for
    (by default those it can see). Raises ``BatchError`` when the batch as a
    whole is refused and ``BatchConflict`` when it must be sent again.
    """
    return SalesIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, partners), audit_data=audit_data
    ).run(records)


def ingest_certifications(
    *, actor, source: str, records: Sequence[Any], partners=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update certifications by ``(source, external_id)``, adding unknown holders."""
    return CertificationsIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, partners), audit_data=audit_data
    ).run(records)


def ingest_activities(
    *, actor, source: str, records: Sequence[Any], partners=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update engagement activities by ``(source, external_id)``."""
    return ActivitiesIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, partners), audit_data=audit_data
    ).run(records)


def fact_delete(*, actor, fact: models.Model) -> None:
    """Delete one fact (a cancelled sale, a revoked certification) and re-evaluate its partner."""
    from gates.services import request_reevaluation
    from partners.audit import audit

    partner_id = fact.person.partner_id if isinstance(fact, Certification) else fact.partner_id  # type: ignore[attr-defined]
    with transaction.atomic():
        audit(
            actor=actor,
            action=f"{fact._meta.model_name}.deleted",
            target=fact,
            source=getattr(fact, "source", ""),
            external_id=getattr(fact, "external_id", ""),
        )
        fact.delete()
        request_reevaluation([partner_id])


__all__ = [
    "BatchConflict",
    "BatchError",
    "IngestionReport",
    "RowResult",
    "fact_delete",
    "ingest_activities",
    "ingest_certifications",
    "ingest_sales",
]
