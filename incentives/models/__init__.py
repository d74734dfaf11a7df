"""Incentive rules a channel manager configures, and the ledger of what partners earn under them.

Rules (``IncentiveRule`` and its rates, bands and rewards) say what a fact is
worth: a won deal, a period's sales, an engagement activity, a certification.
The calculation (``incentives.services``) turns facts into ``LedgerEntry``
rows. Entries are immutable: their amount, currency, partner, rule and source
never change after they are written (the model refuses it, and so does a
database trigger). A correction is a new entry that reverses or adjusts, under
the next ``revision`` of the same key, and the key

    (partner, rule, source type, source id, component, revision)

is unique, so that re-running the calculation, or two calculations racing on
the same deal, can never pay twice. Only an entry's state moves, forward:
accrued → payable → paid, or accrued/payable → reversed, and every move is
recorded in ``LedgerTransition``.

A rule never rewrites the past: each applies to facts dated within its
effective dates, and once it has started or earned anything its terms are
locked; a change is a new version from a date on (``services.rule_new_version``).

The models live in ``rules``, ``payouts`` and ``ledger``; every one is imported here,
so ``incentives.models.X`` names them all.
"""

from incentives.models.ledger import (
    MUTABLE_ENTRY_FIELDS,
    POINTS,
    STATE_MOVES,
    Component,
    EntryState,
    EntryType,
    ImmutableEntryError,
    LedgerEntry,
    LedgerEntryQuerySet,
    LedgerTransition,
    LedgerTransitionQuerySet,
    SourceType,
)
from incentives.models.payouts import (
    ActivationQuerySet,
    CustomerActivation,
    IncentivePeriod,
    Payout,
    Redemption,
)
from incentives.models.rules import (
    DEAL_KINDS,
    BandMethod,
    BudgetPeriod,
    CommissionRate,
    IncentiveRule,
    IncentiveRuleQuerySet,
    MarginRate,
    RebateBand,
    RebatePeriod,
    Reward,
    RuleKind,
    SpifTrigger,
)

__all__ = [
    "DEAL_KINDS",
    "MUTABLE_ENTRY_FIELDS",
    "POINTS",
    "STATE_MOVES",
    "ActivationQuerySet",
    "BandMethod",
    "BudgetPeriod",
    "CommissionRate",
    "Component",
    "CustomerActivation",
    "EntryState",
    "EntryType",
    "ImmutableEntryError",
    "IncentivePeriod",
    "IncentiveRule",
    "IncentiveRuleQuerySet",
    "LedgerEntry",
    "LedgerEntryQuerySet",
    "LedgerTransition",
    "LedgerTransitionQuerySet",
    "MarginRate",
    "Payout",
    "RebateBand",
    "RebatePeriod",
    "Redemption",
    "Reward",
    "RuleKind",
    "SourceType",
    "SpifTrigger",
]
