"""The entry points: one batch of one kind of fact (or of people), and the deletion of one fact."""

from collections.abc import Sequence
from typing import Any

from django.db import models

from partners.ingestion.activities import ActivitiesIngestion
from partners.ingestion.certifications import CertificationsIngestion
from partners.ingestion.parsing import IngestionReport
from partners.ingestion.people import PeopleIngestion
from partners.ingestion.proficiencies import ProficienciesIngestion
from partners.ingestion.sales import SalesIngestion
from partners.models import Partner
from partners.services import facts_delete


def _writable_partners(actor, principal):
    """The partners facts may be sent for: the door's answer for the sender (a token or a user)."""
    return Partner.objects.actionable_by(principal if principal is not None else actor, "send_facts")


def ingest_sales(
    *, actor, source: str, records: Sequence[Any], principal=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update won sales by ``(source, external_id)``; see the module docstring.

    Records are accepted for the partners ``Partner.objects.actionable_by(principal,
    "send_facts")`` answers; ``principal`` is the token the batch came with, or
    the actor (the default). Raises ``BatchError`` when the batch as a
    whole is refused and ``BatchConflict`` when it must be sent again.
    """
    return SalesIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, principal), audit_data=audit_data
    ).run(records)


def ingest_certifications(
    *, actor, source: str, records: Sequence[Any], principal=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update certifications by ``(source, external_id)``, adding unknown holders."""
    return CertificationsIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, principal), audit_data=audit_data
    ).run(records)


def ingest_activities(
    *, actor, source: str, records: Sequence[Any], principal=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update engagement activities by ``(source, external_id)``."""
    return ActivitiesIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, principal), audit_data=audit_data
    ).run(records)


def ingest_proficiencies(
    *, actor, source: str, records: Sequence[Any], principal=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update service proficiencies by ``(source, external_id)``.

    A partner holds one proficiency per offering: a record naming a partner and
    an offering another record already holds is rejected.
    """
    return ProficienciesIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, principal), audit_data=audit_data
    ).run(records)


def ingest_people(
    *, actor, source: str, records: Sequence[Any], principal=None, audit_data: dict | None = None
) -> IngestionReport:
    """Create or update partners' people by ``(partner, external_id)``, or else by e-mail.

    A record whose external id the partner does not know yet takes over the
    partner's person with that e-mail if that person has no external id; the
    source is audited but is no part of the key. Partners are re-evaluated when a
    person's ``is_active`` changes (their certifications stop or start counting).
    """
    return PeopleIngestion(
        actor=actor, source=source, partners=_writable_partners(actor, principal), audit_data=audit_data
    ).run(records)


def fact_delete(*, actor, fact: models.Model, principal=None) -> None:
    """Delete one fact (a cancelled sale, a revoked certification) and re-evaluate its partner.

    Precondition: the door lets ``principal`` (the token the request came with, or
    the actor) delete the fact; otherwise ``PermissionDenied``, and nothing changes.
    """
    facts_delete(actor=actor, facts=[fact], principal=principal)
