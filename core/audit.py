"""Recording business actions in the audit trail, from the services of every app."""

from typing import Any

from django.db import models

from core.models import AuditEntry


def audit(*, actor, action: str, target: models.Model, **data: Any) -> AuditEntry:
    """Record an action; call it inside the service's transaction so both land or neither."""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        data=data,
    )
