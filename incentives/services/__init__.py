"""Incentive services: calculate earnings into the ledger, close periods, activations, rewards, payouts.

One module per concern: ``calculation``, ``closing``, ``payouts`` (with activations and
rewards) and ``rules``; callers use the names re-exported here.

The calculation is one function, ``calculate``, over a scope (some deals, some
partners, a period, everything). The Celery tasks, the period close and the
``calculate_incentives`` command all call it, so they cannot disagree. It

1. loads the rules and the facts in scope in bulk (``incentives.facts``),
2. works out what the rules say (``incentives.engine``), at full precision,
   rounding once per rule and source,
3. compares with the ledger key by key and writes only the differences
   (``incentives.ledger``), each as a new immutable entry under a unique key.

Per-partner rules are calculated a chunk of partners per transaction. A SPIF's
budget is shared by every partner, so each SPIF is allocated as a whole, in a
transaction holding its rule's row lock: concurrent calculations cannot
overspend it.
"""

from incentives.services.calculation import (
    CalculationSummary,
    Context,
    Plan,
    Scope,
    calculate,
    calculate_activities,
    calculate_deal,
    load_context,
    partner_chunks,
    plan_partners,
    plan_spif,
    spif_rules_in_scope,
)
from incentives.services.closing import (
    CloseSummary,
    forfeit_due,
    incentives_daily,
    period_close,
    periods_due,
    release_payable,
)
from incentives.services.payouts import (
    activation_problems,
    activation_record,
    payout_problems,
    payout_record,
    points_balance,
    reward_redeem,
)
from incentives.services.rules import rule_new_version, rule_save

__all__ = [
    "CalculationSummary",
    "CloseSummary",
    "Context",
    "Plan",
    "Scope",
    "activation_problems",
    "activation_record",
    "calculate",
    "calculate_activities",
    "calculate_deal",
    "forfeit_due",
    "incentives_daily",
    "load_context",
    "partner_chunks",
    "payout_problems",
    "payout_record",
    "period_close",
    "periods_due",
    "plan_partners",
    "plan_spif",
    "points_balance",
    "release_payable",
    "reward_redeem",
    "rule_new_version",
    "rule_save",
    "spif_rules_in_scope",
]
