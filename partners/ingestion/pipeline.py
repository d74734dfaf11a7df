"""The steps shared by every kind of fact: parse, look up, compare, write in bulk, audit."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone

from core.bulk import insert_json, update_json
from core.locks import transaction_lock
from core.models import AuditEntry
from history.fallback import record_rows
from partners.ingestion.parsing import (
    LOOKUP_CHUNK,
    SOURCE_PATTERN,
    WRITE_BATCH,
    BatchConflict,
    BatchError,
    IngestionReport,
    RowResult,
    _check_keys,
    _collect,
    _first_line,
    _RowError,
    _RowErrors,
    _text,
    max_batch_rows,
)
from partners.signals import facts_changed
from prm.text import storable_problem


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
    # Whether the model stores the source (people do not: one person is one person, whoever sends it).
    has_source: ClassVar[bool] = True
    # The moments a new row is stamped with: when it was first stored, and last changed.
    stamps: ClassVar[tuple[str, ...]] = ("created_at", "updated_at")

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

    def batch_key(self, row: _Row) -> Any:
        """What two records of one batch must not share: the external id (people: within a partner)."""
        return row.external_id

    def stored_key(self, row: _Row) -> Any:
        """The key ``_existing()`` finds the row's stored record under."""
        return row.external_id

    def feeds_gates(self, row: _Row, stored: dict[str, Any] | None) -> bool:
        """Whether storing the row may change what gates measure, so its partner is re-evaluated."""
        return True

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
            facts_changed.send(sender=self.model, partner_ids=changed_partners)
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
                first = seen.setdefault(self.batch_key(row), index)
                if first != index:
                    row.reject(
                        "external_id", f"The same external id is already in this batch at index {first}."
                    )
        return rows

    # Whether records of different sources may name the same row (a proficiency is one per partner
    # and offering, a person one per partner and e-mail): then batches of every source take turns.
    lock_across_sources: ClassVar[bool] = False

    def _lock_source(self) -> None:
        if self.lock_across_sources:
            transaction_lock(f"prm.ingest:{self.kind}")
        else:
            transaction_lock(f"prm.ingest:{self.kind}:{self.source}")

    def _existing(self, rows: list[_Row]) -> dict[Any, dict[str, Any]]:
        wanted = [row.external_id for row in rows if not row.errors and row.external_id]
        existing: dict[Any, dict[str, Any]] = {}
        columns = dict.fromkeys(("id", "external_id", self.partner_path, *self.compared))
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
        # Kept for the subclasses' look-ups (``load_references``, ``resolve``).
        self.existing = existing = self._existing(rows)
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
            stored = existing.get(self.stored_key(row))
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
            if row.values.get("_outcome") == "created" and self.feeds_gates(row, None):
                changed_partners.add(self.partner_of_values(row.values))
        for row, stored in updates:
            if row.values.get("_outcome") == "updated" and self.feeds_gates(row, stored):
                changed_partners.add(self.partner_of_values(row.values))
                changed_partners.add(stored[self.partner_path])
        self._audit(rows)
        return changed_partners

    def _instance(self, row: _Row) -> models.Model:
        fields = {name: value for name, value in row.values.items() if not name.startswith("_")}
        fields["external_id"] = row.external_id
        if self.has_source:
            fields["source"] = self.source
        return self.model(**fields)

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

    # PostgreSQL takes a whole batch as one JSON document (core.bulk), which
    # keeps the API near the rate of a plain insert. Other databases use the ORM.

    def _written(self) -> list[str]:
        return [name for name in self.compared if not name.startswith("_")]

    def _insert_new(self, rows: list[_Row], now) -> list[int]:
        """Insert the new records; returns their ids, in order."""
        if not rows:
            return []
        if connection.vendor != "postgresql":
            instances = [self._instance(row) for row in rows]
            self.model._default_manager.bulk_create(instances, batch_size=WRITE_BATCH)
            # PostgreSQL's triggers record the rows; here the history is told.
            record_rows(self.model, instances, "insert")
            return [instance.pk for instance in instances]
        written = self._written()
        ids = insert_json(
            self.model,
            [
                {**{name: row.values[name] for name in written}, "external_id": row.external_id}
                for row in rows
            ],
            constants={
                **({"source": self.source} if self.has_source else {}),
                **dict.fromkeys(self.stamps, now),
            },
            key="external_id",
        )
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
            # The whole rows as stored, for the history (PostgreSQL's triggers see them themselves).
            stored_rows = self.model._default_manager.filter(pk__in=[instance.pk for instance in changed])
            record_rows(self.model, stored_rows, "update")
            return
        written = self._written()
        update_json(
            self.model,
            [{"pk": stored["id"], **{name: row.values[name] for name in written}} for row, stored in updates],
            constants={"updated_at": now},
        )

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
