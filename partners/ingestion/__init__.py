"""Idempotent bulk ingestion of facts: sales, certifications, engagement activities,
service proficiencies, and the people of partners.

Integrations (CRMs, learning systems, billing) send batches of records, each
with the external id it has in the sending system. A record is keyed on
``(source, external_id)``, so

* re-sending a batch (a retry after a timeout) changes nothing: every record
  reports ``unchanged`` and nothing is counted twice;
* a record sent again with different values updates the stored fact;
* people are keyed on ``(partner, external_id)`` instead (one person is one
  person whichever system sends them), and found by e-mail when their external
  id is new;
* a record that cannot be stored is ``rejected`` with the reason per field,
  and the rest of the batch is stored all the same.

Each batch runs in one transaction, holding a lock on its source so that two
batches of the same source take turns (of any source, for proficiencies and
people, whose rows other sources may name too): nothing is half-written, and two
retries racing each other cannot create the same record twice. After the
batch commits, the partners whose facts changed are announced once
(``partners.signals.facts_changed``; the gates re-evaluate them).

The records are plain dicts as decoded from JSON. Amounts must arrive as
strings or ``Decimal`` (never floats), dates as ``YYYY-MM-DD`` strings.
"""

from partners.ingestion.activities import ActivitiesIngestion
from partners.ingestion.certifications import CertificationsIngestion
from partners.ingestion.parsing import (
    SOURCE_PATTERN,
    BatchConflict,
    BatchError,
    IngestionReport,
    RowResult,
    max_batch_rows,
)
from partners.ingestion.people import PeopleIngestion
from partners.ingestion.proficiencies import ProficienciesIngestion
from partners.ingestion.sales import SalesIngestion
from partners.ingestion.services import (
    fact_delete,
    ingest_activities,
    ingest_certifications,
    ingest_people,
    ingest_proficiencies,
    ingest_sales,
)

__all__ = [
    "SOURCE_PATTERN",
    "ActivitiesIngestion",
    "BatchConflict",
    "BatchError",
    "CertificationsIngestion",
    "IngestionReport",
    "PeopleIngestion",
    "ProficienciesIngestion",
    "RowResult",
    "SalesIngestion",
    "fact_delete",
    "ingest_activities",
    "ingest_certifications",
    "ingest_people",
    "ingest_proficiencies",
    "ingest_sales",
    "max_batch_rows",
]
