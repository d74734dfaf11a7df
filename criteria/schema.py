"""The criteria language as a JSON Schema, built from metric specifications.

Pure Python like the rest of the language: the caller passes the metric
specifications (the gates' registry) and the currencies, so that a metric added
to the registry appears in the schema, and so in the API documentation, with
nothing else to edit.

The schema keeps to the keywords JSON Schema 2020-12 and OpenAPI 3.0 share
(``enum`` rather than ``const``, no ``if``/``then``), so the same definitions
serve the standalone document (``$defs``) and the OpenAPI components. It states
what the parser checks on its own: structure, metrics, comparisons, target
types, parameters with their static choices, windows and currencies. What needs
the reference data (that a product line code exists) and the tree's size limits
are left to the validation, which names the place of each problem.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import product
from typing import Any

from criteria.tree import (
    EQUALITY_OPS,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_LEAVES,
    MAX_MONEY,
    SET_OPS,
    MetricSpec,
    Param,
)
from criteria.windows import MAX_ROLLING_DAYS, MAX_ROLLING_MONTHS, WINDOW_KINDS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ROOT = "Criteria"
FISCAL_KINDS = ("quarter_to_date", "last_quarter", "year_to_date", "last_year")
# An amount as the parser reads it from a string: digits with an optional fraction.
MONEY_PATTERN = r"^\s*\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"


def component_name(metric: str) -> str:
    """``sales_amount`` → ``CriteriaLeafSalesAmount``."""
    return "CriteriaLeaf" + "".join(part.capitalize() for part in re.split(r"[_\-\s]+", metric) if part)


def definitions(
    metrics: Mapping[str, MetricSpec], *, currencies: Iterable[str], ref_prefix: str
) -> dict[str, dict[str, Any]]:
    """Every named schema of the language, with references under ``ref_prefix``.

    ``ref_prefix`` is ``#/$defs/`` for a standalone document and
    ``#/components/schemas/`` for an OpenAPI one.
    """

    def ref(name: str) -> dict[str, str]:
        return {"$ref": ref_prefix + name}

    currency_codes = sorted(currencies)
    leaf_names = {name: component_name(name) for name in sorted(metrics)}
    schemas: dict[str, dict[str, Any]] = {
        ROOT: {
            "title": "Criteria",
            "description": (
                "A criteria tree: a branch (all, any, not) or a leaf naming a metric, a comparison and a "
                f"target. At most {MAX_DEPTH} levels and {MAX_LEAVES} leaves; the codes a leaf names "
                "(product lines, certification types...) must exist. Errors name their place in the "
                "tree, e.g. criteria.all[1].target."
            ),
            "oneOf": [ref("CriteriaAll"), ref("CriteriaAny"), ref("CriteriaNot"), ref("CriteriaLeaf")],
        },
        "CriteriaAll": _branch_list("all", "Every condition holds.", ref(ROOT)),
        "CriteriaAny": _branch_list("any", "At least one condition holds.", ref(ROOT)),
        "CriteriaNot": {
            "type": "object",
            "description": "The condition does not hold.",
            "properties": {"not": ref(ROOT)},
            "required": ["not"],
            "additionalProperties": False,
        },
        "CriteriaLeaf": {
            "description": "One condition on a measured value; the metric decides the other fields.",
            "oneOf": [ref(leaf_names[name]) for name in sorted(metrics)],
            "discriminator": {
                "propertyName": "metric",
                "mapping": {name: ref_prefix + leaf_names[name] for name in sorted(metrics)},
            },
        },
        "CriteriaWindow": window_schema(),
    }
    for name in sorted(metrics):
        schemas[leaf_names[name]] = leaf_schema(
            metrics[name], currencies=currency_codes, window_ref=ref("CriteriaWindow")
        )
    return schemas


def document(
    metrics: Mapping[str, MetricSpec], *, currencies: Iterable[str], schema_id: str | None = None
) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) whose root is a criteria tree."""
    defs = definitions(metrics, currencies=currencies, ref_prefix="#/$defs/")
    doc: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    if schema_id:
        doc["$id"] = schema_id
    doc.update({"title": "Criteria", "$ref": f"#/$defs/{ROOT}", "$defs": defs})
    return doc


def _branch_list(kind: str, description: str, node: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {kind: {"type": "array", "minItems": 1, "items": node}},
        "required": [kind],
        "additionalProperties": False,
    }


# --- windows -------------------------------------------------------------------------------


def window_schema() -> dict[str, Any]:
    """A window as ``parse_window`` accepts it: nothing, a kind's name, or an object per kind."""
    fiscal_one = {
        "type": "integer",
        "enum": [1],
        "description": "Only quarters and years follow a fiscal year.",
    }
    fiscal_any = {
        "type": "integer",
        "minimum": 1,
        "maximum": 12,
        "description": "The month the fiscal year starts (1 = January, the default).",
    }
    variants: list[dict[str, Any]] = []
    for kind, text in WINDOW_KINDS.items():
        properties: dict[str, Any] = {"kind": {"type": "string", "enum": [kind], "description": text}}
        required = ["kind"]
        if kind == "rolling_days":
            properties["days"] = {"type": "integer", "minimum": 1, "maximum": MAX_ROLLING_DAYS}
            required.append("days")
        if kind == "rolling_months":
            properties["months"] = {"type": "integer", "minimum": 1, "maximum": MAX_ROLLING_MONTHS}
            required.append("months")
        properties["fiscal_year_start_month"] = fiscal_any if kind in FISCAL_KINDS else fiscal_one
        variants.append(
            {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
        )
    by_name = [kind for kind in WINDOW_KINDS if kind not in ("rolling_days", "rolling_months")]
    variants.append(
        {"type": "string", "enum": by_name, "description": "A window that takes no numbers, by name."}
    )
    return {
        "description": "Which facts count by date; all time when omitted.",
        "oneOf": variants,
    }


# --- leaves ----------------------------------------------------------------------------------


def param_schema(param: Param, window_ref: dict[str, str]) -> dict[str, Any]:
    """One parameter, as ``Param.parse`` accepts it."""
    schema: dict[str, Any]
    if param.kind == "window":
        return {**window_ref}
    if param.kind == "codes":
        code: dict[str, Any] = {"type": "string", "minLength": 1}
        if param.choices is not None:
            code = {"type": "string", "enum": list(param.choices())}
        # A single code is read as a list of one.
        schema = {"anyOf": [{"type": "array", "items": code}, code]}
    elif param.kind == "int":
        schema = {"type": "integer"}
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
    elif param.kind == "bool":
        schema = {"type": "boolean"}
    elif param.kind == "choice":
        schema = {"type": "string", "enum": list(param.choices()) if param.choices else []}
    else:
        schema = {"type": "string", "minLength": 1}
    if param.help:
        schema["description"] = param.help
    return schema


def target_schema(spec: MetricSpec) -> dict[str, Any]:
    """The target of a numeric metric (a choice metric's depends on its comparison)."""
    if spec.value_kind == "money":
        return {
            "description": 'An amount, best written as a decimal string such as "500000.00".',
            "anyOf": [
                {"type": "string", "pattern": MONEY_PATTERN},
                {"type": "number", "minimum": 0, "maximum": float(MAX_MONEY)},
            ],
        }
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_COUNT,
        "description": _TARGET_TEXT[spec.value_kind],
    }


_TARGET_TEXT = {
    "count": "A whole number.",
    "points": "Points, a whole number.",
    "months": "Whole months.",
    "rank": "A tier rank (0 for no tier).",
}


def _choice_targets(values: Sequence[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The target for ``in``/``not_in`` (a list, or one value) and for ``==``/``!=`` (one value)."""
    one: dict[str, Any] = {"type": "string"}
    if values is not None:
        one["enum"] = list(values)
    return {"anyOf": [{"type": "array", "minItems": 1, "items": one}, one]}, one


def leaf_schema(spec: MetricSpec, *, currencies: Sequence[str], window_ref: dict[str, str]) -> dict[str, Any]:
    """A leaf of one metric: a closed object, with one variant per comparison shape where the target's
    type depends on it, and per value of a required choice parameter where the targets do."""
    base: dict[str, Any] = {"metric": {"type": "string", "enum": [spec.name]}}
    required = ["metric", "op", "target"]
    for name, param in spec.params.items():
        base[name] = param_schema(param, window_ref)
        if param.required:
            required.append(name)
    if spec.uses_currency:
        base["currency"] = {
            "type": "string",
            "enum": list(currencies),
            "description": "ISO 4217; the gate's or segment's currency when omitted.",
        }
    title = spec.label
    description = f"{spec.label}: " + (
        "an attribute, compared with in, not_in, == or !=."
        if spec.value_kind == "choice"
        else f"a {spec.value_kind} value compared with a number."
    )

    def closed(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": properties,
            "required": sorted(set(required), key=required.index),
            "additionalProperties": False,
        }

    if spec.value_kind != "choice":
        properties = {
            **base,
            "op": {"type": "string", "enum": sorted(spec.ops)},
            "target": target_schema(spec),
        }
        return {"title": title, "description": description, **closed(properties)}

    # The targets a choice metric takes may depend on a required choice parameter (the attribute).
    keyed = [
        name
        for name, param in spec.params.items()
        if param.kind == "choice" and param.required and param.choices
    ]
    combinations: list[dict[str, str]] = [
        dict(zip(keyed, values, strict=True))
        for values in product(*(list(spec.params[name].choices()) for name in keyed))  # type: ignore[misc]
    ]
    variants = []
    for combination in combinations:
        allowed = list(spec.target_choices(combination)) if spec.target_choices else None
        set_target, one_target = _choice_targets(allowed)
        fixed = {name: {**base[name], "enum": [value]} for name, value in combination.items()}
        for ops, target in ((sorted(SET_OPS), set_target), (sorted(EQUALITY_OPS), one_target)):
            variants.append(
                closed({**base, **fixed, "op": {"type": "string", "enum": ops}, "target": target})
            )
    return {"title": title, "description": description, "oneOf": variants}
