"""Schemathesis hooks for the fuzzing run (loaded by the CLI through SCHEMATHESIS_HOOKS).

The OpenAPI document states every rule a request must meet on its own; what it
cannot state is which objects exist in the database under test. The fuzzing
test writes those down (``PRM_FUZZ_WORLD``, a JSON file) and these hooks narrow
the schema the fuzzer reads to them:

- a path ``{id}`` is one of the objects of that collection the caller can see, and a
  definition's DELETE one of the objects set aside to be deleted (``spares``);
- a reference in a body (``partner``, ``program``, ``prerequisites``…) is one
  that exists, and a code (``product_line``, ``products``…) one that is defined;
- a gate's criteria tree is one of the world's valid trees (the language has
  its own validation, which names the place of each problem in the tree);
- an activation is dated today (it must fall between the deal's close and today);
- a batch names its source when the identity's token names none, and a
  registration or MDF request its partner when the identity is not a partner's;
- a partner is in its author's region and its website a URL Django accepts;
- a gate's or an incentive rule's program is the one the world's tiers belong to, a
  gate's prerequisite one that makes no cycle, their dates run forwards, and a new
  version of the world's rule starts tomorrow (it has paid for today's deal);
- a path id generated outside the world's stays outside it (see ``before_call``);
- a cursor is one the API hands out (any other is refused with a 400);
- an analytics cohort names a certification type that exists (and the other kinds);
- an analytics period's ``start`` comes before its ``end``;
- the country and currency lists are sampled (see ``SAMPLED``).

Negative testing still generates values outside these sets, which the API must
refuse. The identity's session cookie and CSRF token, if any, are added to
every call.
"""

import json
import os
from pathlib import Path

import schemathesis

WORLD = json.loads(Path(os.environ["PRM_FUZZ_WORLD"]).read_text()) if "PRM_FUZZ_WORLD" in os.environ else {}

# Body properties that name another object: (property, JSON type) → the world's key.
REFERENCES = {
    ("partner", "integer"): "partners",
    ("deal", "integer"): "deals",
    ("program", "integer"): "programs",
    ("gate", "integer"): "gates",
    ("prerequisites", "integer"): "gates",
    ("unlocks_tier", "integer"): "tiers",
    ("tiers", "integer"): "tiers",
    ("segment", "integer"): "segments",
    ("parent", "integer"): "programs",
    ("min_tier", "integer"): "tiers",
    ("tier", "integer"): "tiers",
    ("unlocks_benefits", "integer"): "benefits",
    ("product_line", "integer"): "product-lines",
    ("certification_type", "integer"): "certification-types",
    ("activity_types", "integer"): "activity-types",
    ("product_line", "string"): "product-line-codes",
    ("products", "string"): "product-line-codes",
    ("certification_type", "string"): "certification-type-codes",
    ("activity_type", "string"): "activity-type-codes",
    ("customer_segment", "string"): "customer-segment-codes",
    ("activated_on", "string"): "today",
    ("criteria", "object"): "criteria",
    ("distributor", "integer"): "distributors",
    ("channel_manager", "integer"): "staff",
    ("offering", "string"): "service-offering-codes",
}


# Properties of one body only: a gate's or a rule's program is the one whose tiers the world's
# tiers are (a tier of another program is refused), a gate's prerequisite is a gate that
# cannot make a cycle with it, their dates run forwards, and a new version of the world's
# rule starts after the day it last paid for.
COMPONENT_REFERENCES = {
    ("NewVersionRequest", "effective_from"): "tomorrow",
    # A program's parent is one that is nobody's child (a program cannot be its own ancestor).
    ("ProgramRequest", "parent"): "parent-programs",
    ("PatchedProgramRequest", "parent"): "parent-programs",
    # A rate starts between 2000 and next year (the daily table has a row for every day).
    ("ExchangeRateRequest", "valid_from"): "rate-days",
    ("PatchedExchangeRateRequest", "valid_from"): "rate-days",
    # A benefit's tiers are tiers of its program: the program whose tiers the world's are.
    ("BenefitRequest", "program"): "tiered-programs",
    # A tier is pinned in its own program, until a day still to come.
    ("TierOverrideRequest", "program"): "tiered-programs",
    ("TierOverrideRequest", "expires_on"): "next-year",
    # A version is published to take effect today or later, never in the past.
    ("GatePublishRequestRequest", "effective_from"): "today",
    ("SegmentPublishRequestRequest", "effective_from"): "today",
    # A partner stays in its author's coverage (a region he covers), and its website is a URL
    # Django's validator takes (the schema's "uri" format admits many it does not).
    **{
        (component, name): key
        for component in ("PartnerRequest", "PatchedPartnerRequest")
        for name, key in (("region", "covered-regions"), ("website", "websites"))
    },
    **{
        (component, name): key
        for component in (
            "GateRequest",
            "PatchedGateRequest",
            "IncentiveRuleRequest",
            "PatchedIncentiveRuleRequest",
        )
        for name, key in (
            ("program", "tiered-programs"),
            ("prerequisites", "prerequisite-gates"),
            ("effective_from", "today"),
            ("effective_to", "next-year"),
        )
    },
}


def _narrow(schema: dict, component: str) -> None:
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        _narrow(branch, component)
    for name, prop in schema.get("properties", {}).items():
        target = prop["items"] if prop.get("type") == "array" else prop
        # A criteria tree refers to the Criteria component, an object (wrapped in an allOf where
        # the field has a description of its own).
        refs = [target.get("$ref", ""), *(branch.get("$ref", "") for branch in target.get("allOf", []))]
        kind = "object" if any(ref.endswith("/Criteria") for ref in refs) else target.get("type")
        key = COMPONENT_REFERENCES.get((component, name)) or REFERENCES.get((name, kind))
        values = WORLD.get("known", {}).get(key) if key else None
        if values:
            for constraint in (
                "$ref",
                "allOf",
                "minimum",
                "maximum",
                "minLength",
                "maxLength",
                "pattern",
                "format",
            ):
                target.pop(constraint, None)
            target["enum"] = [*values, None] if target.get("nullable") else values
    for name in WORLD.get("required", {}).get(component, []):
        schema["required"] = sorted({*schema.get("required", []), name})


# Long code lists, sampled: each value takes the same path through the API, and the coverage
# phase would otherwise send one request per country and per currency to every operation.
SAMPLED = {
    "CountryEnum": ["GB", "US", "DE", "IN"],
    "CurrencyEnum": ["USD", "EUR", "GBP", "JPY"],
    "RatedCurrencyEnum": ["EUR", "GBP", "JPY"],
}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    schemas = raw_schema.get("components", {}).get("schemas", {})
    for name, sample in SAMPLED.items():
        if name in schemas:
            values = schemas[name]["enum"]
            schemas[name]["enum"] = [values[0], *[value for value in sample if value in values], values[-1]]
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _narrow(schema, name)
    for path, operations in raw_schema.get("paths", {}).items():
        collection = path.split("/")[3] if path.count("/") > 3 else ""
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            # A definition is deleted among those set aside for it: the world's own stay for
            # the operations that read or change them.
            spares = WORLD.get("spares", {}).get(collection) if method == "delete" else None
            ids = spares or WORLD.get("ids", {}).get(collection)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] == "id" and ids:
                    parameter["schema"] = {"type": "integer", "enum": ids}
                elif (
                    parameter.get("in") == "query" and parameter["name"] == "cursor" and WORLD.get("cursors")
                ):
                    parameter["schema"] = {"type": "string", "enum": WORLD["cursors"]}
                elif (
                    parameter.get("in") == "query" and parameter["name"] == "cohort" and WORLD.get("cohorts")
                ):
                    parameter["schema"] = {"type": "string", "enum": WORLD["cohorts"]}


# An id no run reaches (the database's integer ids go far beyond it, the world's stay small).
NEVER_AN_ID = 2_000_000_000


@schemathesis.hook
def before_call(context, case, kwargs):
    # An analytics period runs forwards (``end`` before ``start`` is refused, naming ``end``),
    # which a schema cannot say of two parameters.
    query = case.query or {}
    if case.path.startswith("/api/v1/analytics/") and isinstance(query.get("start"), str):
        start, end = query["start"], query.get("end")
        if isinstance(end, str) and end < start:
            case.query = {**query, "start": end, "end": start}
    # An id generated to be wrong stays wrong: the run creates partners (and gates, deals…) of its
    # own, whose small ids a generated "not one of the world's" id would otherwise hit.
    path_parameters = case.path_parameters or {}
    collection = case.path.split("/")[3] if case.path.count("/") > 3 else ""
    known_ids = WORLD.get("ids", {}).get(collection, []) + WORLD.get("spares", {}).get(collection, [])
    wrong = path_parameters.get("id")
    generated_wrong = isinstance(wrong, int) and not isinstance(wrong, bool) and 0 < wrong < NEVER_AN_ID
    if known_ids and generated_wrong and wrong not in known_ids:
        case.path_parameters = {**path_parameters, "id": NEVER_AN_ID}
    session = WORLD.get("session")
    if session:
        case.cookies = {**(case.cookies or {}), **session["cookies"]}
        case.headers = {**(case.headers or {}), **session["headers"]}
