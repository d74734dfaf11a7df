"""The criteria language's JSON Schema, from the metric registry.

``criteria.schema`` builds the schema from specifications; this module hands
it the registry (``gates.metrics.SPECS``) and the currencies, read at each
call, so that a metric added to the registry is in the schema, the OpenAPI
document and the validation at once.
"""

from typing import Any

from core.money import CURRENCY_CODES
from criteria import schema
from gates.metrics import SPECS


def criteria_json_schema(*, schema_id: str | None = None) -> dict[str, Any]:
    """A standalone JSON Schema (draft 2020-12) of a criteria tree."""
    return schema.document(SPECS, currencies=CURRENCY_CODES, schema_id=schema_id)


def criteria_openapi_components() -> dict[str, dict[str, Any]]:
    """The same definitions as OpenAPI components, ``Criteria`` being the tree."""
    return schema.definitions(SPECS, currencies=CURRENCY_CODES, ref_prefix="#/components/schemas/")
