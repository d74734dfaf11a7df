"""Every event type the product emits, with its versioned payload schema.

A schema is the list of the fields of ``data`` with their JSON types; the
OpenAPI document's ``webhooks`` section is built from it, and the tests check
that each emitted payload has exactly these fields. A change that removes or
retypes a field is a new version: bump ``version`` and say so in the
description (receivers read ``version`` in the envelope).
"""

from dataclasses import dataclass

# The JSON type of each field: "integer", "string", "decimal" (a string holding a
# number), "date", "date-time", "boolean", "object", "array"; a trailing "?" means nullable.
Fields = dict[str, str]


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    summary: str
    fields: Fields
    # Whether events of this type are about one partner (and so reach only those who see it).
    about_partner: bool = True
    # Emitted today; False for types defined ahead of the feature that will emit them.
    emitted: bool = True


_PARTNER = {"partner_id": "integer", "partner_name": "string"}
_GATE = {
    **_PARTNER,
    "gate_id": "integer",
    "gate_name": "string",
    "program_id": "integer?",
    "from_status": "string",
    "to_status": "string",
    "changed_at": "date-time",
}
_TIER = {
    **_PARTNER,
    "program_id": "integer",
    "from_tier_id": "integer?",
    "from_tier_name": "string?",
    "to_tier_id": "integer?",
    "to_tier_name": "string?",
    "reason": "string",
    "effective_on": "date",
}
_DEAL = {
    **_PARTNER,
    "deal_id": "integer",
    "reference": "string",
    "status": "string",
    "customer_name": "string",
    "customer_domain": "string",
    "expected_value": "decimal",
    "currency": "string",
    "expected_close": "date?",
    "protected_until": "date?",
}
_MDF = {
    **_PARTNER,
    "mdf_request_id": "integer",
    "status": "string",
    "title": "string",
    "amount": "decimal",
    "approved_amount": "decimal?",
    "claimed_amount": "decimal?",
    "currency": "string",
}
_FORECAST = {
    **_PARTNER,
    "gate_id": "integer",
    "gate_name": "string",
    "program_id": "integer?",
    "fails_on": "date?",
    "criterion": "string",
    "shortfall": "string",
    "fix": "string",
    # The gate's tier: the first day the partner would no longer hold it (after grace and any
    # override), the last day of the override holding it, and the last day of a running grace.
    "tier_id": "integer?",
    "tier_name": "string",
    "tier_lost_on": "date?",
    "override_until": "date?",
    "grace_until": "date?",
}

EVENT_TYPES: dict[str, EventType] = {
    event.name: event
    for event in [
        EventType("gate.passed", 1, "A partner now passes a gate.", _GATE),
        EventType("gate.failed", 1, "A partner that passed a gate no longer does.", _GATE),
        EventType(
            "gate.at_risk",
            1,
            "A gate passed today would fail within its forecast horizon if nothing new arrived: "
            "the first day it would fail, the criterion, the shortfall and the fix, and when the gate's tier "
            "would be lost after grace and any override.",
            _FORECAST,
        ),
        EventType(
            "gate.recovered",
            1,
            "A gate at risk is safe again: it passes through its whole horizon.",
            _FORECAST,
        ),
        EventType("tier.changed", 1, "The tier a partner holds in a program changed.", _TIER),
        EventType("tier.grace_started", 1, "A partner no longer qualifies for its tier: grace began.", _TIER),
        EventType(
            "tier.grace_ended",
            1,
            "A grace period ended: the partner recovered (reason grace_recovered) or was demoted.",
            _TIER,
        ),
        EventType("deal.submitted", 1, "A partner registered a deal.", _DEAL),
        EventType("deal.approved", 1, "A deal registration was approved.", _DEAL),
        EventType(
            "deal.rejected", 1, "A deal registration was rejected.", {**_DEAL, "rejection_reason": "string"}
        ),
        EventType(
            "deal.won",
            1,
            "A deal was won; its sale was recorded.",
            {**_DEAL, "amount": "decimal", "closed_on": "date", "sale_id": "integer"},
        ),
        EventType("deal.expired", 1, "An approved registration's protection ended.", _DEAL),
        EventType("mdf.requested", 1, "A partner requested market development funds.", _MDF),
        EventType("mdf.approved", 1, "A fund request was approved.", _MDF),
        EventType(
            "mdf.rejected",
            1,
            "A fund request was rejected; its amount returned to the allowance.",
            {**_MDF, "rejection_reason": "string"},
        ),
        EventType("mdf.claimed", 1, "A partner claimed approved funds with proof of performance.", _MDF),
        EventType("mdf.paid", 1, "A claim was paid.", {**_MDF, "payment_reference": "string"}),
        EventType(
            "ledger.entry_created",
            1,
            "An incentive ledger entry (earning, reversal or adjustment) was written.",
            {
                **_PARTNER,
                "entry_id": "integer",
                "rule_id": "integer",
                "program_id": "integer?",
                "entry_type": "string",
                "component": "string",
                "amount": "decimal",
                "currency": "string",
                "period": "string",
                "event_on": "date",
                "state": "string",
            },
        ),
        EventType(
            "statement.closed",
            1,
            "A quarter closed: the partner's statement for it is final.",
            {**_PARTNER, "period": "string", "closed_at": "date-time", "entries": "integer"},
        ),
        EventType(
            "partner.created",
            1,
            "A partner joined the program.",
            {
                **_PARTNER,
                "partner_type": "string",
                "region": "string",
                "country": "string",
                "status": "string",
            },
        ),
        EventType(
            "partner.status_changed",
            1,
            "A partner's lifecycle status changed.",
            {**_PARTNER, "from_status": "string", "to_status": "string"},
        ),
    ]
}


def event_type(name: str) -> EventType:
    """The type called ``name``; an unknown name is a programming mistake and raises."""
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise ValueError(f"Unknown event type {name!r}.") from None


def webhook_schema_name(name: str) -> str:
    """The Python name of an event type's OpenAPI webhook (``gate.passed`` -> ``gate_passed``)."""
    return name.replace(".", "_")
