"""What a simulated tier movement would cost in incentives: the what-if report's incentive figure.

The gates' what-if (``gates.whatif``) says which partners would move from
which tier to which; the incentive rules are a layer above, so they price the
moves here and register the pricing with the gates (``IncentivesConfig.ready``).

Rules whose earning depends on the tier are priced: tier margins (the rate is
the tier's) and margins or commissions open only from a minimum tier. Each
mover's won deals of the period (the quarter of the simulation's day, up to
that day) are priced twice by the engine's own rule, once with the tier it
holds today and once with the tier the simulation gives it, as if it had
held that tier all period. Each deal's earning is rounded once, as its ledger
entry would be (``engine.deal_earning_total``); a rule's figures add those up,
in the rule's currency.
"""

import datetime
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from incentives import engine
from incentives.facts import ExchangeRateBook, TierNames, deal_facts, rule_specs, won_deals
from incentives.models import IncentiveRule
from incentives.periods import quarter_of

# (partner, program, tier held today, tier after the simulated run); None is no tier.
TierMoveRow = tuple[int, int, int | None, int | None]


class _HeldTiers(TierNames):
    """The engine's tier book with one tier per partner and program, held all period."""

    def __init__(self, held: dict[tuple[int, int], int | None]) -> None:
        super().__init__()
        self.held = held

    def tier_on(self, partner_id: int, program_id: int, day: datetime.date) -> int | None:
        return self.held.get((partner_id, program_id))


def _depends_on_tier(rule: engine.RuleSpec) -> bool:
    return rule.kind == engine.MARGIN or (rule.kind == engine.COMMISSION and rule.min_tier_rank is not None)


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def tier_moves_cost(moves: Sequence[TierMoveRow], as_of: datetime.date) -> dict[str, Any]:
    """The incentive cost of ``moves`` over the period to ``as_of``: per rule, before, after and the
    difference (amounts as decimal strings in the rule's currency), and totals per currency.

    A fixed number of queries whatever the movers: the rules with their rates,
    the tiers, the exchange rates, and the movers' won deals with their sales.
    """
    period = quarter_of(as_of)
    result: dict[str, Any] = {
        "period": period.label(),
        "from": period.start.isoformat(),
        "to": as_of.isoformat(),
        "rules": [],
        "totals": [],
        "problems": [],
    }
    moved = [row for row in moves if row[2] != row[3]]
    if not moved:
        return result
    programs = {program_id for _, program_id, _, _ in moved}
    rules = [
        rule
        for rule in rule_specs(
            IncentiveRule.objects.filter(
                kind__in=[engine.MARGIN, engine.COMMISSION],
                program_id__in=programs,
                effective_from__lte=as_of,
            )
        )
        if _depends_on_tier(rule) and (rule.effective_to is None or rule.effective_to >= period.start)
    ]
    if not rules:
        return result
    before = _HeldTiers({(partner, program): tier for partner, program, tier, _ in moved})
    after = _HeldTiers({(partner, program): tier for partner, program, _, tier in moved})
    movers_by_program: dict[int, set[int]] = defaultdict(set)
    for partner_id, program_id, _, _ in moved:
        movers_by_program[program_id].add(partner_id)
    deals = deal_facts(
        won_deals().filter(
            partner_id__in={partner for partner, _, _, _ in moved},
            closed_on__gte=period.start,
            closed_on__lte=as_of,
        )
    )
    rates = ExchangeRateBook()
    totals: dict[str, list[Decimal]] = {}
    for rule in rules:
        # Zero in the currency's minor unit, so that "0.00" reads as money; the deals add exactly.
        paid_before = paid_after = engine.round_amount(engine.ZERO, rule.currency)
        priced = 0
        for deal in deals:
            if deal.partner_id not in movers_by_program[rule.program_id]:
                continue
            try:
                was = engine.deal_earning_total(rule, deal, before, rates)
                now = engine.deal_earning_total(rule, deal, after, rates)
            except LookupError as exc:
                result["problems"].append(f"{rule.name}, deal {deal.id}: {exc}")
                continue
            if was or now:
                priced += 1
            paid_before += was
            paid_after += now
        if not priced:
            continue
        result["rules"].append(
            {
                "rule": rule.id,
                "name": rule.name,
                "currency": rule.currency,
                "deals": priced,
                "before": _text(paid_before),
                "after": _text(paid_after),
                "difference": _text(paid_after - paid_before),
            }
        )
        total = totals.setdefault(rule.currency, [engine.ZERO, engine.ZERO])
        total[0] += paid_before
        total[1] += paid_after
    result["totals"] = [
        {"currency": currency, "before": _text(was), "after": _text(now), "difference": _text(now - was)}
        for currency, (was, now) in sorted(totals.items())
    ]
    return result
