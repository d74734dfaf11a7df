"""Certifications, naming their holder by e-mail within the partner."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from partners.ingestion.parsing import (
    EMAIL_FIELD,
    LOOKUP_CHUNK,
    WRITE_BATCH,
    _add_months,
    _date,
    _id,
    _RowError,
    _text,
)
from partners.ingestion.pipeline import _Ingestion, _Row
from partners.models import (
    Certification,
    CertificationType,
    Person,
)


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
