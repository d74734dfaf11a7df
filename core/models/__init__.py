"""The models every app may use: the audit trail, and exchange rates."""

from core.models.audit import (  # noqa: F401
    AuditEntry,
)
from core.models.exchange import (  # noqa: F401
    DailyRate,
    ExchangeRate,
    rate_missing_message,
    rate_on,
)
