"""A benefit's request body as one schema per kind of benefit.

A benefit's fields depend on its kind, as ``Benefit.clean`` has it: a discount,
rebate or commission grants a percentage; an MDF allowance is an amount with its
currency per quarter or per year; co-selling, deal registration and content
access grant an access and carry no figure. Each kind gets a variant naming
every field, those of another kind only with their empty value (null or a blank
choice), which is all the API accepts there. A client building a body from the
schema alone then sends one the API takes.

A PATCH names some fields of a stored benefit whose kind the body may not say:
its schema stays the one object, and a value the stored kind refuses is a 400
with the reason on the field.
"""

from copy import deepcopy

from programs.models import ACCESS_KINDS, PERCENT_KINDS, AllowancePeriod, BenefitKind

NULL = {"type": "string", "nullable": True, "enum": [None]}
BLANK = {"type": "string", "enum": [""]}
PERIOD = {"type": "string", "enum": [period.value for period in AllowancePeriod]}


def _kinds(kinds) -> list[str]:
    """In the order of ``BenefitKind``, so the schema reads the same from run to run."""
    return [kind.value for kind in BenefitKind if kind in kinds]


def _variant(base: dict, title: str, kinds: list[str], own: dict, required: list[str]) -> dict:
    properties = deepcopy(base["properties"])
    properties.update(percent=NULL, amount=NULL, currency=BLANK, period=BLANK)
    properties["kind"] = {"type": "string", "enum": kinds}
    properties.update(own)
    return {
        "type": "object",
        "title": title,
        "properties": properties,
        "required": sorted({*base.get("required", []), *required}),
    }


def benefit_variants(base: dict) -> list[dict]:
    """The variants of ``BenefitRequest`` (``base``): a percentage, an allowance, an access."""
    percent = {key: value for key, value in base["properties"]["percent"].items() if key != "nullable"}
    amount = {key: value for key, value in base["properties"]["amount"].items() if key != "nullable"}
    return [
        _variant(
            base,
            "A percentage: a discount, a rebate or a commission rate",
            _kinds(PERCENT_KINDS),
            {"percent": percent},
            ["percent"],
        ),
        _variant(
            base,
            "An MDF allowance: an amount in its currency, per quarter or per year",
            [BenefitKind.MDF_ALLOWANCE.value],
            {
                "amount": amount,
                "currency": {"$ref": "#/components/schemas/CurrencyEnum"},
                "period": PERIOD,
            },
            ["amount", "currency", "period"],
        ),
        _variant(
            base,
            "An access: co-selling, deal registration or the content library",
            _kinds(ACCESS_KINDS),
            {},
            [],
        ),
    ]


def benefit_request_schema(schemas: dict) -> None:
    """Replace ``BenefitRequest`` (the body of a create and of a replace) with its variants."""
    base = schemas.get("BenefitRequest")
    if base is None or "oneOf" in base:
        return
    schemas["BenefitRequest"] = {
        "description": base.get("description", ""),
        "oneOf": benefit_variants(base),
    }
