"""Validation of criteria trees against the metric registry and the reference data.

The pure parser checks structure, metrics, comparisons, targets and
currencies; this module adds what needs the database: that the product
lines, certification types, activity types, offerings, programs and tiers a
tree names exist. Gates, segments, the admin and the API all validate here.
"""

from typing import Any

from core.money import is_currency
from gates.criteria import Criteria, CriteriaError, parse
from gates.metrics import SPECS, References

_REFERENCE_PARAMS = {
    "product_lines": ("product_lines", "product line"),
    "certification_types": ("certification_types", "certification type"),
    "activity_types": ("activity_types", "activity type"),
    "offerings": ("offerings", "service offering"),
}


def parse_criteria(
    data: Any, *, default_currency: str | None, references: References | None = None
) -> Criteria:
    """Parse and check a tree completely; raises ``CriteriaError`` naming every problem."""
    criteria = parse(data, metrics=SPECS, default_currency=default_currency, currencies=is_currency)
    refs = references or References.load()
    errors: list[str] = []
    for leaf in criteria.leaves:
        for param, (attribute, noun) in _REFERENCE_PARAMS.items():
            known = getattr(refs, attribute)
            for code in leaf.params.get(param, ()):
                if code not in known:
                    errors.append(f"{leaf.path}.{param}: no {noun} has the code {code!r}.")
        if leaf.metric == "current_tier":
            slug = leaf.params["program"]
            program_id = refs.programs.get(slug)
            if program_id is None:
                errors.append(f"{leaf.path}.program: no program has the slug {slug!r}.")
            elif leaf.target and (program_id, leaf.target) not in refs.tier_names:
                errors.append(f"{leaf.path}.target: program {slug!r} has no tier of rank {leaf.target}.")
    if errors:
        raise CriteriaError(errors)
    return criteria


def criteria_errors(data: Any, *, default_currency: str | None) -> list[str]:
    try:
        parse_criteria(data, default_currency=default_currency)
    except CriteriaError as exc:
        return exc.errors
    return []
