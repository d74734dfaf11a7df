"""Validation of criteria trees against the metric registry and the reference data.

The pure parser checks structure, metrics, comparisons, targets and
currencies; this module adds what needs the database: that the product
lines, certification types, activity types, offerings, programs and tiers a
tree names exist. Gates, segments, the admin and the API all validate here.
"""

from typing import Any

from core.money import is_currency
from criteria.tree import Criteria, CriteriaError, parse
from criteria.validation import reference_errors
from gates.metrics import SPECS, References, load_references


def parse_criteria(
    data: Any, *, default_currency: str | None, references: References | None = None
) -> Criteria:
    """Parse and check a tree completely; raises ``CriteriaError`` naming every problem."""
    criteria = parse(data, metrics=SPECS, default_currency=default_currency, currencies=is_currency)
    errors = reference_errors(criteria, references or load_references())
    if errors:
        raise CriteriaError(errors)
    return criteria


def criteria_errors(data: Any, *, default_currency: str | None) -> list[str]:
    try:
        parse_criteria(data, default_currency=default_currency)
    except CriteriaError as exc:
        return exc.errors
    return []
