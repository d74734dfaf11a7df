"""What a simulated tier movement would cost in incentives: the what-if report's incentive figure.

The gates' what-if (``gates.whatif``) says which partners would move from
which tier to which; the incentive rules are a layer above, so they price the
moves here and register the pricing with the gates (``IncentivesConfig.ready``).

Every rule whose earning depends on the tier is priced: tier margins (the rate
is the tier's), and commissions, rebates, SPIFs and points rules open only from
a minimum tier. The period is the quarter of the simulation's day, up to that
day (a yearly rebate: the year to that day). The movers' facts of the period
are priced by the engine itself (``engine.expected_entries``, the ledger's own
arithmetic and rounding) twice: once with the tier each mover holds today and
once with the tier the simulation gives it, as if it had held that tier all
period. So each deal, activity or bonus is rounded once, as its ledger entry
would be, and a split payout counts what the ledger would pay (a held part
already forfeited counts nothing). A rebate is priced on the movers' sales of
the period so far, as if the period closed on the day.

A SPIF's budget is shared by every partner: it is allocated over everything
that qualified in the rule's life up to the day, every other partner at the
tier its history gives it, so that a mover who newly qualifies is paid only
what the budget leaves, and a partner it displaces is counted too.

A rule's figures are in its currency; points rules report points (``PTS``),
totalled apart from money.
"""

import datetime
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Q

from incentives import engine
from incentives.facts import (
    ExchangeRateBook,
    HistoryTierBook,
    activity_facts,
    certification_facts,
    deal_facts,
    first_sales,
    rule_specs,
    sale_facts,
    won_deals,
)
from incentives.models import IncentiveRule
from incentives.periods import Period, quarter_of, year
from partners.models import Certification, EngagementActivity, Sale

# (partner, program, tier held today, tier after the simulated run); None is no tier.
TierMoveRow = tuple[int, int, int | None, int | None]

# What a rule's count counts, by kind (a SPIF: by trigger); a rebate counts partners' periods.
_COUNTED = {
    engine.MARGIN: "deal",
    engine.COMMISSION: "deal",
    engine.REBATE: "partner",
    engine.POINTS_KIND: "activity",
}


class _HeldTiers:
    """The tier history, with each mover holding one tier from the period's start on."""

    def __init__(
        self, history: HistoryTierBook, held: dict[tuple[int, int], int | None], start: datetime.date
    ) -> None:
        self.history = history
        self.held = held
        self.start = start

    def tier_on(self, partner_id: int, program_id: int, day: datetime.date) -> int | None:
        key = (partner_id, program_id)
        if day >= self.start and key in self.held:
            return self.held[key]
        return self.history.tier_on(partner_id, program_id, day)

    def rank(self, tier_id: int | None) -> int | None:
        return self.history.rank(tier_id)

    def name(self, tier_id: int | None) -> str:
        return self.history.name(tier_id)


def depends_on_tier(rule: engine.RuleSpec) -> bool:
    """A margin's rate is the tier's; any other rule depends on the tier through its minimum tier."""
    return rule.kind == engine.MARGIN or rule.min_tier_rank is not None


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def _figures(before: Decimal, after: Decimal) -> dict[str, str]:
    return {"before": _text(before), "after": _text(after), "difference": _text(after - before)}


def _currency(rule: engine.RuleSpec) -> str:
    """Points rules earn points; the rule's currency is its rewards'."""
    return engine.POINTS if rule.kind == engine.POINTS_KIND else rule.currency


def _counted(rule: engine.RuleSpec) -> str:
    if rule.kind == engine.SPIF:
        if rule.spif_trigger == engine.SPIF_CERTIFICATION:
            return "certification"
        return "activity" if rule.spif_trigger == engine.SPIF_ACTIVITY else "deal"
    return _COUNTED[rule.kind]


def _facts(
    rules: list[engine.RuleSpec], movers: set[int], period: Period, as_of: datetime.date
) -> engine.Facts:
    """The movers' facts of the period, and everything the SPIFs allocate their budgets over.

    A fixed number of queries whatever the movers: at most one load per kind of fact.
    """
    kinds = {rule.kind for rule in rules}
    spifs = [rule for rule in rules if rule.kind == engine.SPIF]
    deal_spifs = [
        rule for rule in spifs if rule.spif_trigger in (engine.SPIF_DEAL, engine.SPIF_FIRST_IN_LINE)
    ]
    activity_spifs = [rule for rule in spifs if rule.spif_trigger == engine.SPIF_ACTIVITY]
    in_period = Q(partner_id__in=movers, closed_on__gte=period.start, closed_on__lte=as_of)
    deals = Q(pk__in=[])
    if kinds & {engine.MARGIN, engine.COMMISSION}:
        deals |= in_period
    if deal_spifs:
        deals |= Q(closed_on__gte=min(rule.effective_from for rule in deal_spifs), closed_on__lte=as_of)
    data = engine.Facts(as_of=as_of)
    if kinds & {engine.MARGIN, engine.COMMISSION} or deal_spifs:
        data.deals = deal_facts(won_deals().filter(deals))
    if any(rule.spif_trigger == engine.SPIF_FIRST_IN_LINE for rule in deal_spifs):
        data.first_sales = first_sales({deal.partner_id for deal in data.deals})
    rebates = [rule for rule in rules if rule.kind == engine.REBATE]
    if rebates:
        # Each rebate's period to the day, settled as if it closed today.
        periods = {year(as_of.year) if rule.rebate_period == "year" else period for rule in rebates}
        data.settled_periods = sorted(periods)
        data.sales = sale_facts(
            Sale.objects.filter(
                partner_id__in=movers,
                closed_on__gte=min(settled.start for settled in periods),
                closed_on__lte=as_of,
            )
        )
    activities = Q(pk__in=[])
    if engine.POINTS_KIND in kinds:
        activities |= Q(partner_id__in=movers, occurred_on__gte=period.start, occurred_on__lte=as_of)
    if activity_spifs:
        # Everything the activity SPIFs allocate their budgets over, like the deal SPIFs' deals.
        activities |= Q(
            occurred_on__gte=min(rule.effective_from for rule in activity_spifs), occurred_on__lte=as_of
        )
    if engine.POINTS_KIND in kinds or activity_spifs:
        data.activities = activity_facts(EngagementActivity.objects.filter(activities))
    certification_spifs = [rule for rule in spifs if rule.spif_trigger == engine.SPIF_CERTIFICATION]
    if certification_spifs:
        data.certifications = certification_facts(
            Certification.objects.filter(
                issued_on__gte=min(rule.effective_from for rule in certification_spifs),
                issued_on__lte=as_of,
            )
        )
    return data


def tier_moves_cost(moves: Sequence[TierMoveRow], as_of: datetime.date) -> dict[str, Any]:
    """The incentive cost of ``moves`` over the period to ``as_of``: per rule, before, after and the
    difference (amounts as decimal strings in the rule's currency, points for points rules), money
    totals per currency, and the points in total.

    A fixed number of queries whatever the movers: the rules with their rates,
    the tiers and the tier history, the exchange rates, and one load per kind
    of fact the rules read.
    """
    period = quarter_of(as_of)
    result: dict[str, Any] = {
        "period": period.label(),
        "from": period.start.isoformat(),
        "to": as_of.isoformat(),
        "rules": [],
        "totals": [],
        "points": None,
        "problems": [],
    }
    moved = [row for row in moves if row[2] != row[3]]
    if not moved:
        return result
    programs = {program_id for _, program_id, _, _ in moved}
    # A yearly rebate reads the year to the day, which starts before the quarter.
    starts = min(period.start, year(as_of.year).start)
    rules = [
        rule
        for rule in rule_specs(
            IncentiveRule.objects.filter(program_id__in=programs, effective_from__lte=as_of)
        )
        if depends_on_tier(rule) and (rule.effective_to is None or rule.effective_to >= starts)
    ]
    if not rules:
        return result
    movers_by_program: dict[int, set[int]] = defaultdict(set)
    for partner_id, program_id, _, _ in moved:
        movers_by_program[program_id].add(partner_id)
    movers = {partner for partner, _, _, _ in moved}
    data = _facts(rules, movers, period, as_of)
    involved = movers | {deal.partner_id for deal in data.deals}
    involved |= {item.partner_id for item in data.certifications}
    involved |= {item.partner_id for item in data.activities}
    history = HistoryTierBook(involved, programs)
    before = _HeldTiers(history, {(p, program): tier for p, program, tier, _ in moved}, period.start)
    after = _HeldTiers(history, {(p, program): tier for p, program, _, tier in moved}, period.start)
    rates = ExchangeRateBook()
    was = engine.expected_entries(rules, data, before, rates)
    now = engine.expected_entries(rules, data, after, rates)
    by_id = {rule.id: rule for rule in rules}

    def counts(item: engine.Expected) -> bool:
        rule = by_id[item.key.rule_id]
        if rule.kind == engine.SPIF:
            return item.event_on >= period.start
        return item.key.partner_id in movers_by_program[rule.program_id]

    amounts: dict[engine.Key, list[Decimal]] = {}
    for index, outcome in enumerate((was, now)):
        for key, item in outcome.expected.items():
            if counts(item):
                amounts.setdefault(key, [engine.ZERO, engine.ZERO])[index] += item.amount
    per_rule: dict[int, list[Decimal]] = {}
    sources: dict[int, set[tuple[int, str, str]]] = defaultdict(set)
    for key, (paid_before, paid_after) in amounts.items():
        rule = by_id[key.rule_id]
        mover = key.partner_id in movers_by_program[rule.program_id]
        # A SPIF counts the movers' bonuses and those its budget takes from, or gives to, others.
        if not mover and paid_before == paid_after:
            continue
        if paid_before or paid_after:
            sources[rule.id].add((key.partner_id, key.source_type, key.source_id))
        # Zero in the currency's minor unit, so that "0.00" reads as money; the entries add exactly.
        zero = engine.round_amount(engine.ZERO, _currency(rule))
        figures = per_rule.setdefault(rule.id, [zero, zero])
        figures[0] += paid_before
        figures[1] += paid_after
    totals: dict[str, list[Decimal]] = {}
    for rule in rules:
        if not sources[rule.id]:
            continue
        paid_before, paid_after = per_rule[rule.id]
        result["rules"].append(
            {
                "rule": rule.id,
                "name": rule.name,
                "kind": rule.kind,
                "currency": _currency(rule),
                "count": len(sources[rule.id]),
                "counted": _counted(rule),
                **_figures(paid_before, paid_after),
            }
        )
        total = totals.setdefault(_currency(rule), [engine.ZERO, engine.ZERO])
        total[0] += paid_before
        total[1] += paid_after
    points = totals.pop(engine.POINTS, None)
    if points is not None:
        result["points"] = _figures(*points)
    result["totals"] = [
        {"currency": currency, **_figures(*figures)} for currency, figures in sorted(totals.items())
    ]
    seen: set[tuple[int, str, str]] = set()
    for problem in was.problems + now.problems:
        rule = by_id[problem.rule_id]
        marker = (problem.rule_id, problem.source, problem.message)
        # The SPIFs' facts reach other partners: their problems name what the figures leave out.
        mover = problem.partner_id in movers_by_program[rule.program_id]
        if marker not in seen and (mover or rule.kind == engine.SPIF):
            seen.add(marker)
            result["problems"].append(f"{rule.name}, {problem.source}: {problem.message}")
    return result
