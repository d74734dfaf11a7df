"""The models every app may use: the audit trail."""

from core.models.audit import (  # noqa: F401
    AuditEntry,
)
