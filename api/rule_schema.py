"""The incentive rule's request bodies as one schema per kind of rule.

A rule's fields depend on its kind, as ``IncentiveRule.clean`` has it: a margin
pays rates per tier and may hold part of each payout until the customer
activates; a commission pays rates by who sourced and who closed; a rebate runs
over a period with volume bands; a SPIF is time-boxed and pays a bonus per
trigger (a certification SPIF may name its certification); a points rule
multiplies activity points and offers rewards. Each kind gets a variant with
the bounds of every rate and amount, so that a client building a body from the
schema alone sends one the API accepts. A variant names every field: those of
another kind only with their empty value (no rows, a blank choice, null),
which is all the API accepts there.

What JSON Schema cannot say is still refused, with a reason per field: a tier
of another program, bands that overlap, two rates for one tier, a last day
before the first, terms changed once the rule has started (a 409).
"""

from copy import deepcopy

from api.patterns import decimal_pattern
from core.serializers import PositiveDecimalField

# Percentages: 0 to 100 with up to three places; "held" is below 100 (part of the payout waits
# for the customer's activation), "in full" is exactly 100.
PERCENT = r"^(?:100(?:\.0{0,3})?|\d{1,2}(?:\.\d{0,3})?|\.\d{1,3})$"
HELD_PERCENT = r"^(?:\d{1,2}(?:\.\d{0,3})?|\.\d{1,3})$"
IN_FULL = r"^100(?:\.0{0,3})?$"
# Amounts of money (16 digits, 4 places): above zero; a band's lower bound may be zero.
NOT_NEGATIVE = r"^(?:\d{1,12}(?:\.\d{0,4})?|\.\d{1,4})$"
# Points multipliers (7 digits, 3 places): above zero.
MULTIPLIER_DIGITS = {"max_digits": 7, "decimal_places": 3}
AMOUNT_DIGITS = {"max_digits": 16, "decimal_places": 4}

# What a field of another kind must be, if sent at all: the API refuses anything else there.
ABSENT = {
    "margin_rates": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/MarginRateRequest"},
        "maxItems": 0,
    },
    "commission_rates": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/CommissionRateRequest"},
        "maxItems": 0,
    },
    "rebate_bands": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/RebateBandRequest"},
        "maxItems": 0,
    },
    "rewards": {"type": "array", "items": {"$ref": "#/components/schemas/RewardRequest"}, "maxItems": 0},
    "rebate_period": {"type": "string", "enum": [""]},
    "spif_trigger": {"type": "string", "enum": [""]},
    "spif_amount": {"type": "string", "nullable": True, "enum": [None]},
    "points_multiplier": {"type": "string", "nullable": True, "enum": [None]},
    "certification_type": {"type": "integer", "nullable": True, "enum": [None]},
    "activation_days": {"type": "integer", "nullable": True, "enum": [None]},
    "paid_on_signing_percent": {"type": "string", "format": "decimal", "pattern": IN_FULL},
}
OWN = {
    "margin": {"margin_rates", "paid_on_signing_percent", "activation_days"},
    "commission": {"commission_rates", "paid_on_signing_percent", "activation_days"},
    "rebate": {"rebate_bands", "rebate_period"},
    "spif": {"spif_trigger", "spif_amount", "certification_type"},
    "points": {"points_multiplier", "rewards"},
}


def _positive(digits: dict) -> str:
    return decimal_pattern(PositiveDecimalField(**digits))


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _rows(component: str) -> dict:
    return {"type": "array", "items": _ref(component), "minItems": 1}


def _variant(base: dict, kind: str, title: str, own: dict, required: list[str]) -> dict:
    properties = deepcopy(base["properties"])
    for name, empty in ABSENT.items():
        if name not in OWN[kind]:
            properties[name] = deepcopy(empty)
    # Every amount the rule produces is in its currency: blank is refused.
    properties["currency"] = _ref("CurrencyEnum")
    properties["budget"] = {
        "type": "string",
        "format": "decimal",
        "pattern": _positive(AMOUNT_DIGITS),
        "nullable": True,
    }
    properties["kind"] = {"type": "string", "enum": [kind]}
    properties.update(own)
    return {
        "type": "object",
        "title": title,
        "properties": properties,
        "required": sorted({"name", "kind", "program", "currency", "effective_from", *required}),
    }


def rule_variants(base: dict) -> list[dict]:
    """The variants of ``IncentiveRuleRequest`` (``base``), one or two per kind."""
    days = {"type": "integer", "minimum": 1, "maximum": 3650}
    in_full = {"type": "string", "format": "decimal", "pattern": IN_FULL}
    held = {"type": "string", "format": "decimal", "pattern": HELD_PERCENT}
    positive = {"type": "string", "format": "decimal", "pattern": _positive(AMOUNT_DIGITS)}
    multiplier = {"type": "string", "format": "decimal", "pattern": _positive(MULTIPLIER_DIGITS)}
    last_day = {"type": "string", "format": "date"}
    variants = []
    for kind, rows, component in (
        ("margin", "margin_rates", "MarginRateRequest"),
        ("commission", "commission_rates", "CommissionRateRequest"),
    ):
        variants.append(
            _variant(
                base,
                kind,
                f"A {kind} paid in full when the deal is won",
                {
                    rows: _rows(component),
                    "paid_on_signing_percent": in_full,
                    "activation_days": ABSENT["activation_days"],
                },
                [rows],
            )
        )
        variants.append(
            _variant(
                base,
                kind,
                f"A {kind} holding part of each payout until the customer activates",
                {rows: _rows(component), "paid_on_signing_percent": held, "activation_days": days},
                [rows, "paid_on_signing_percent", "activation_days"],
            )
        )
    variants.append(
        _variant(
            base,
            "rebate",
            "A volume rebate over a quarter or a year",
            {
                "rebate_bands": _rows("RebateBandRequest"),
                "rebate_period": _ref("RebatePeriodEnum"),
                "band_method": _ref("BandMethodEnum"),
            },
            ["rebate_bands", "rebate_period"],
        )
    )
    spif = {"spif_amount": positive, "effective_to": last_day}
    variants.append(
        _variant(
            base,
            "spif",
            "A SPIF on won deals, or on first deals in a line",
            {
                **spif,
                "spif_trigger": {"type": "string", "enum": ["deal", "first_deal_in_line"]},
                "certification_type": ABSENT["certification_type"],
            },
            ["spif_trigger", "spif_amount", "effective_to"],
        )
    )
    variants.append(
        _variant(
            base,
            "spif",
            "A SPIF on certifications, of one type or any",
            {**spif, "spif_trigger": {"type": "string", "enum": ["certification"]}},
            ["spif_trigger", "spif_amount", "effective_to"],
        )
    )
    variants.append(
        _variant(
            base,
            "spif",
            "A SPIF on engagement activities (a course completed), of some types or any",
            {
                **spif,
                "spif_trigger": {"type": "string", "enum": ["activity"]},
                "certification_type": ABSENT["certification_type"],
            },
            ["spif_trigger", "spif_amount", "effective_to"],
        )
    )
    variants.append(
        _variant(
            base,
            "points",
            "Engagement points, with the rewards they buy",
            {"points_multiplier": multiplier, "rewards": {"type": "array", "items": _ref("RewardRequest")}},
            ["points_multiplier"],
        )
    )
    return variants


def tighten_rows(schemas: dict) -> None:
    """The bounds of the rows' rates and amounts, and of a rule's own numbers when patched."""
    percent = {"pattern": PERCENT}
    for name in ("MarginRateRequest", "CommissionRateRequest", "RebateBandRequest"):
        if name in schemas:
            schemas[name]["properties"]["percent"].update(percent)
    if "RebateBandRequest" in schemas:
        bands = schemas["RebateBandRequest"]["properties"]
        bands["lower_bound"]["pattern"] = NOT_NEGATIVE
        bands["upper_bound"]["pattern"] = _positive(AMOUNT_DIGITS)
    if "RewardRequest" in schemas:
        reward = schemas["RewardRequest"]["properties"]
        reward["amount"]["pattern"] = _positive(AMOUNT_DIGITS)
        reward["points_cost"].update(minimum=1, maximum=2_147_483_647)
        reward["points_cost"].pop("format", None)
    patched = schemas.get("PatchedIncentiveRuleRequest", {}).get("properties", {})
    if patched:
        patched["paid_on_signing_percent"]["pattern"] = PERCENT
        for name in ("spif_amount", "budget"):
            patched[name]["pattern"] = _positive(AMOUNT_DIGITS)
        patched["points_multiplier"]["pattern"] = _positive(MULTIPLIER_DIGITS)
        patched["activation_days"].update(minimum=1, maximum=3650)
        patched["activation_days"].pop("format", None)
        patched["currency"] = _ref("CurrencyEnum")


def rule_request_schema(schemas: dict) -> None:
    """Replace ``IncentiveRuleRequest`` with its variants, discriminated by ``kind``."""
    base = schemas.get("IncentiveRuleRequest")
    if base is None or "oneOf" in base:
        return
    tighten_rows(schemas)
    schemas["IncentiveRuleRequest"] = {
        "description": base.get("description", ""),
        "oneOf": rule_variants(base),
    }
