"""The entry points: one batch of one kind of fact, and the deletion of one fact."""

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models, transaction

from partners.audit import audit
from partners.ingestion.activities import ActivitiesIngestion
from partners.ingestion.certifications import CertificationsIngestion
from partners.ingestion.parsing import IngestionReport
from partners.ingestion.sales import SalesIngestion
from partners.models import (
    Certification,
    Partner,
)
from partners.signals import facts_changed


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


def fact_delete(*, actor, fact: models.Model, principal=None) -> None:
    """Delete one fact (a cancelled sale, a revoked certification) and re-evaluate its partner.

    Precondition: the door lets ``principal`` (the token the request came with, or
    the actor) delete the fact; otherwise ``PermissionDenied``, and nothing changes.
    """
    manager = type(fact)._default_manager
    if not manager.allows(principal if principal is not None else actor, "delete", fact):  # type: ignore[attr-defined]
        raise PermissionDenied("You may not delete this fact.")
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
        facts_changed.send(sender=type(fact), partner_ids=[partner_id])
