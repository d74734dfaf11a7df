"""The checks of a parsed tree against the reference data: every code it names must exist."""

from criteria.references import References
from criteria.tree import Criteria

_REFERENCE_PARAMS = {
    "product_lines": ("product_lines", "product line"),
    "certification_types": ("certification_types", "certification type"),
    "activity_types": ("activity_types", "activity type"),
    "offerings": ("offerings", "service offering"),
    "customer_segments": ("customer_segments", "customer segment"),
    "courses": ("courses", "course"),
}


def reference_errors(criteria: Criteria, refs: References) -> list[str]:
    """What a parsed tree names that the references do not know (product lines, programs, tiers...)."""
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
    return errors
