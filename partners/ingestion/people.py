"""People of partners, by their external id within the partner, or else by e-mail."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from partners.ingestion.parsing import EMAIL_FIELD, LOOKUP_CHUNK, _id, _RowError, _text
from partners.ingestion.pipeline import _Ingestion, _Row
from partners.models import Person


class PeopleIngestion(_Ingestion):
    """People are keyed on ``(partner, external_id)``, as the model keeps them.

    A person is one person whichever system sends them, so the source names the
    batch (audited) but is not part of the key. A record whose external id is not
    yet known takes over the partner's person with the same e-mail (in any case)
    if that person has no external id yet (added by hand, or as the holder of a
    certification); a person under another external id is never taken over.
    Only ``is_active`` feeds the gates (an inactive person's certifications do
    not count), so only a change to it re-evaluates the partner.
    """

    kind = "people"
    model = Person
    fields = frozenset(
        {"external_id", "partner", "email", "first_name", "last_name", "job_title", "is_active"}
    )
    compared = ("partner_id", "external_id", "email", "first_name", "last_name", "job_title", "is_active")
    has_source = False
    # A person is one per partner and e-mail across sources: batches of all sources take turns.
    lock_across_sources = True

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        def email(r):
            value = _text(r, "email", max_length=254, required=True).lower()
            try:
                return EMAIL_FIELD.clean(value)
            except ValidationError as exc:
                raise _RowError("email", " ".join(exc.messages)) from exc

        def is_active(r):
            value = r.get("is_active", True)
            if not isinstance(value, bool):
                raise _RowError("is_active", "Expected true or false.")
            return value

        return {
            "partner": lambda r: _id(r, "partner"),
            "email": email,
            "first_name": lambda r: _text(r, "first_name", max_length=100, required=True),
            "last_name": lambda r: _text(r, "last_name", max_length=100, required=True),
            "job_title": lambda r: _text(r, "job_title", max_length=120),
            "is_active": is_active,
        }

    def batch_key(self, row: _Row) -> Any:
        return (row.clean["partner"], row.external_id)

    def stored_key(self, row: _Row) -> Any:
        return (row.clean["partner"], row.external_id)

    def _columns(self) -> list[str]:
        return list(dict.fromkeys(("id", *self.compared)))

    def _existing(self, rows: list[_Row]) -> dict[Any, dict[str, Any]]:
        live = [row for row in rows if not row.errors and row.external_id]
        partner_ids = {row.clean["partner"] for row in live}
        wanted = sorted({row.external_id for row in live})  # type: ignore[type-var]
        existing: dict[Any, dict[str, Any]] = {}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            # Below the door: the pipeline asked it once for the batch (send_facts), and a row
            # naming a partner it refused is rejected whatever this finds.
            found = (
                Person.objects.filter(
                    partner_id__in=partner_ids, external_id__in=wanted[start : start + LOOKUP_CHUNK]
                )
                .exclude(external_id="")
                .order_by()
            )
            for values in found.values(*self._columns()):
                existing[(values["partner_id"], values["external_id"])] = values
        return existing

    def load_references(self, rows, partner_regions) -> None:
        """The partners' people with the batch's e-mails; unknown external ids take over a match."""
        partner_ids = {row.clean["partner"] for row in rows} & set(partner_regions)
        emails = sorted({row.clean["email"] for row in rows})
        self.by_email: dict[tuple[int, str], dict[str, Any]] = {}
        for start in range(0, len(emails), LOOKUP_CHUNK):
            # partner_regions holds only the partners the door let the batch send facts for.
            for values in (
                Person.objects.filter(partner_id__in=partner_ids)
                .annotate(email_lower=Lower("email"))
                .filter(email_lower__in=emails[start : start + LOOKUP_CHUNK])
                .order_by()
                .values("email_lower", *self._columns())
            ):
                self.by_email[(values["partner_id"], values.pop("email_lower"))] = values
        for row in rows:
            key = self.stored_key(row)
            match = self.by_email.get((row.clean["partner"], row.clean["email"]))
            if key not in self.existing and match is not None and not match["external_id"]:
                self.existing[key] = match  # the record names this person from now on
        self.claimed: dict[tuple[int, str], int] = {}  # (partner, e-mail) -> index in this batch

    def resolve(self, row: _Row, partner_regions) -> None:
        clean = row.clean
        stored = self.existing.get(self.stored_key(row))
        match = self.by_email.get((clean["partner"], clean["email"]))
        if match is not None and (stored is None or match["id"] != stored["id"]):
            row.reject("email", "Another person of this partner has this e-mail, under another external id.")
            return
        first = self.claimed.setdefault((clean["partner"], clean["email"]), row.index)
        if first != row.index:
            row.reject(
                "email", f"The same e-mail for this partner is already in this batch at index {first}."
            )
            return
        email = clean["email"]
        if stored is not None and stored["email"].lower() == email:
            email = stored["email"]  # the same address: its spelling is no change
        row.values = {
            "partner_id": clean["partner"],
            "external_id": row.external_id,
            "email": email,
            "first_name": clean["first_name"],
            "last_name": clean["last_name"],
            "job_title": clean["job_title"],
            "is_active": clean["is_active"],
        }

    def feeds_gates(self, row: _Row, stored: dict[str, Any] | None) -> bool:
        # A new person holds no certification yet; among a person's fields, gates read is_active.
        return stored is not None and stored["is_active"] != row.values["is_active"]
