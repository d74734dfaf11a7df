"""What the rules say: the ledger amount every (partner, rule, source, component) should add up to.

Pure Python over plain facts, with no ORM import, so that the calculation
(which writes the differences) and the reconciliation (which reports them)
compute exactly the same thing, and so that it can be tested without a
database.

Rounding happens once, at one documented step: the earning of one rule for one
source is worked out at full precision (conversion at the rate of the fact's
day, times the rate or band), then rounded half up to the minor unit of the
rule's currency when the ledger amount is produced (``round_amount``). A split
payout rounds the whole earning, then the part paid on signing; the held part
is the difference, so the two parts always add up to the rounded whole. A
rebate rounds the period's total once, not band by band. Points round to whole
points.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Protocol

from core.money import minor_unit_exponent
from incentives.periods import Period

POINTS = "PTS"
HUNDRED = Decimal(100)
ZERO = Decimal(0)

# Rule kinds, source types and components, as stored (see incentives.models).
MARGIN, COMMISSION, REBATE, SPIF, POINTS_KIND = "margin", "commission", "rebate", "spif", "points"
DEAL, ACTIVITY, CERTIFICATION, PERIOD, REDEMPTION = (
    "deal",
    "activity",
    "certification",
    "period",
    "redemption",
)
EARNING, SIGNING, HELD, POINTS_COMPONENT, REWARD = "earning", "signing", "held", "points", "reward"
SPIF_DEAL, SPIF_FIRST_IN_LINE, SPIF_CERTIFICATION, SPIF_ACTIVITY = (
    "deal",
    "first_deal_in_line",
    "certification",
    "activity",
)
WHOLE = "whole"


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """The one rounding step: half up to the currency's minor unit (whole points for PTS)."""
    quantum = Decimal(1) if currency == POINTS else minor_unit_exponent(currency)
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DealFact:
    id: int
    partner_id: int
    won: bool
    closed_on: datetime.date | None
    amount: Decimal
    currency: str
    product_line_id: int | None
    sourced_by: str
    closed_by: str
    customer: str = ""
    sale_id: int | None = None
    activated_on: datetime.date | None = None


@dataclass(frozen=True)
class SaleFact:
    id: int
    partner_id: int
    amount: Decimal
    currency: str
    product_line_id: int | None
    closed_on: datetime.date


@dataclass(frozen=True)
class ActivityFact:
    id: int
    partner_id: int
    activity_type_id: int
    points: int
    occurred_on: datetime.date
    name: str = ""


@dataclass(frozen=True)
class CertificationFact:
    id: int
    partner_id: int
    certification_type_id: int
    issued_on: datetime.date
    name: str = ""


@dataclass(frozen=True)
class RedemptionFact:
    id: int
    partner_id: int
    rule_id: int
    points: int
    amount: Decimal
    currency: str
    redeemed_on: datetime.date
    reward: str = ""


@dataclass(frozen=True)
class Band:
    lower: Decimal
    upper: Decimal | None
    percent: Decimal


@dataclass(frozen=True)
class RuleSpec:
    id: int
    name: str
    kind: str
    program_id: int
    currency: str
    effective_from: datetime.date
    effective_to: datetime.date | None = None
    product_line_id: int | None = None
    min_tier_rank: int | None = None
    signing_percent: Decimal = HUNDRED
    activation_days: int | None = None
    rebate_period: str = ""
    band_method: str = "marginal"
    bands: tuple[Band, ...] = ()
    margin_rates: dict[tuple[int, int | None], Decimal] = field(default_factory=dict)
    commission_rates: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    spif_trigger: str = ""
    spif_amount: Decimal | None = None
    certification_type_id: int | None = None
    budget: Decimal | None = None
    points_multiplier: Decimal | None = None
    activity_type_ids: frozenset[int] = frozenset()

    def covers(self, day: datetime.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    @property
    def splits(self) -> bool:
        return self.kind in (MARGIN, COMMISSION) and self.signing_percent < HUNDRED


class TierBook(Protocol):
    def tier_on(self, partner_id: int, program_id: int, day: datetime.date) -> int | None: ...

    def rank(self, tier_id: int | None) -> int | None: ...

    def name(self, tier_id: int | None) -> str: ...


class RateBook(Protocol):
    def convert(
        self, amount: Decimal, from_currency: str, to_currency: str, day: datetime.date
    ) -> Decimal: ...


@dataclass
class Facts:
    """What a calculation looks at. Absent facts earn nothing."""

    as_of: datetime.date
    deals: list[DealFact] = field(default_factory=list)
    sales: list[SaleFact] = field(default_factory=list)
    activities: list[ActivityFact] = field(default_factory=list)
    certifications: list[CertificationFact] = field(default_factory=list)
    redemptions: list[RedemptionFact] = field(default_factory=list)
    # Periods whose rebates are settled (closed quarters; a year once its last quarter closed).
    settled_periods: list[Period] = field(default_factory=list)
    # (partner, product line) -> (day, sale id) of the partner's first sale in the line.
    first_sales: dict[tuple[int, int], tuple[datetime.date, int]] = field(default_factory=dict)


# --- outputs -------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Key:
    partner_id: int
    rule_id: int
    source_type: str
    source_id: str
    component: str


@dataclass
class Expected:
    key: Key
    amount: Decimal
    currency: str
    event_on: datetime.date
    tier_id: int | None = None
    deal_id: int | None = None
    held_until: datetime.date | None = None
    description: str = ""
    basis: dict = field(default_factory=dict)
    # Why nothing (or less) is due, when the rules know: a forfeit, an exhausted budget.
    reason: str = ""


@dataclass(frozen=True)
class Problem:
    rule_id: int
    partner_id: int | None
    source: str
    message: str


@dataclass
class Outcome:
    expected: dict[Key, Expected] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, item: Expected) -> None:
        self.expected[item.key] = item


# --- the rules -----------------------------------------------------------------------------


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _eligible(rule: RuleSpec, tiers: TierBook, tier_id: int | None) -> bool:
    if rule.min_tier_rank is None:
        return True
    rank = tiers.rank(tier_id)
    return rank is not None and rank >= rule.min_tier_rank


def band_rebate(volume: Decimal, bands: Iterable[Band], method: str) -> tuple[Decimal, list[dict]]:
    """The rebate on ``volume`` at full precision, with each band's share for the statement.

    A band covers ``lower <= volume < upper``. ``marginal``: each band's rate on
    the part of the volume inside it. ``whole``: the rate of the band the volume
    falls in, on all of it (nothing in a gap or below the first band).
    """
    ordered = sorted(bands, key=lambda band: band.lower)
    if method == WHOLE:
        for band in ordered:
            if band.lower <= volume and (band.upper is None or volume < band.upper):
                amount = volume * band.percent / HUNDRED
                return amount, [_band_share(band, volume, amount)]
        return ZERO, []
    total = ZERO
    shares = []
    for band in ordered:
        top = volume if band.upper is None else min(volume, band.upper)
        inside = top - band.lower
        if inside <= 0:
            continue
        amount = inside * band.percent / HUNDRED
        total += amount
        shares.append(_band_share(band, inside, amount))
    return total, shares


def _band_share(band: Band, volume: Decimal, amount: Decimal) -> dict:
    return {
        "from": _text(band.lower),
        "to": _text(band.upper) if band.upper is not None else None,
        "percent": _percent(band.percent),
        "volume": _text(volume),
        "amount": _text(amount),
    }


def _deal_earning(rule: RuleSpec, deal: DealFact, tiers: TierBook) -> tuple[Decimal, int | None, dict] | None:
    """The rate a won deal earns under a margin or commission rule, or None."""
    assert deal.closed_on is not None
    tier_id = tiers.tier_on(deal.partner_id, rule.program_id, deal.closed_on)
    if not _eligible(rule, tiers, tier_id):
        return None
    if rule.kind == MARGIN:
        if tier_id is None:
            return None
        rate = rule.margin_rates.get((tier_id, deal.product_line_id))
        if rate is None:
            rate = rule.margin_rates.get((tier_id, None))
        if rate is None:
            return None
        return rate, tier_id, {"tier": tiers.name(tier_id), "rate_percent": _percent(rate)}
    rate = rule.commission_rates.get((deal.sourced_by, deal.closed_by))
    if rate is None:
        return None
    return (
        rate,
        tier_id,
        {"sourced_by": deal.sourced_by, "closed_by": deal.closed_by, "rate_percent": _percent(rate)},
    )


def _deal_items(
    rule: RuleSpec, deal: DealFact, exact: Decimal, tier_id: int | None, basis: dict, as_of: datetime.date
) -> list[Expected]:
    assert deal.closed_on is not None
    closed_on = deal.closed_on

    def item(component: str, amount: Decimal, basis: dict, **extra) -> Expected:
        return Expected(
            Key(deal.partner_id, rule.id, DEAL, str(deal.id), component),
            amount,
            rule.currency,
            event_on=closed_on,
            tier_id=tier_id,
            deal_id=deal.id,
            description=f"{deal.customer or 'Deal'} (deal {deal.id})",
            basis=basis,
            **extra,
        )

    total = round_amount(exact, rule.currency)
    if not rule.splits:
        return [item(EARNING, total, basis)]
    signing = round_amount(exact * rule.signing_percent / HUNDRED, rule.currency)
    held = total - signing
    deadline = closed_on + datetime.timedelta(days=rule.activation_days or 0)
    split_basis = {
        **basis,
        "signing_percent": _percent(rule.signing_percent),
        "activation_deadline": str(deadline),
    }
    items = [item(SIGNING, signing, split_basis)]
    if deal.activated_on is not None and deal.activated_on <= deadline:
        items.append(
            item(HELD, held, {**split_basis, "activated_on": str(deal.activated_on)}, held_until=deadline)
        )
    elif as_of <= deadline:
        items.append(item(HELD, held, split_basis, held_until=deadline))
    else:
        reason = f"Forfeited: the customer did not activate by {deadline:%d %b %Y}."
        items.append(item(HELD, ZERO, split_basis, held_until=deadline, reason=reason))
    return items


def _deals(rules: list[RuleSpec], facts: Facts, tiers: TierBook, rates: RateBook, outcome: Outcome) -> None:
    deal_rules = [rule for rule in rules if rule.kind in (MARGIN, COMMISSION)]
    for deal in facts.deals:
        if not deal.won or deal.closed_on is None:
            continue
        for rule in deal_rules:
            if not rule.covers(deal.closed_on):
                continue
            if rule.product_line_id is not None and deal.product_line_id != rule.product_line_id:
                continue
            earning = _deal_earning(rule, deal, tiers)
            if earning is None:
                continue
            rate, tier_id, basis = earning
            try:
                base = rates.convert(deal.amount, deal.currency, rule.currency, deal.closed_on)
            except LookupError as exc:
                outcome.problems.append(Problem(rule.id, deal.partner_id, f"deal {deal.id}", str(exc)))
                continue
            exact = base * rate / HUNDRED
            basis = {
                **basis,
                "deal_value": _text(deal.amount),
                "deal_currency": deal.currency,
                "value_in_rule_currency": _text(base),
            }
            for item in _deal_items(rule, deal, exact, tier_id, basis, facts.as_of):
                outcome.add(item)


def _rebates(rules: list[RuleSpec], facts: Facts, tiers: TierBook, rates: RateBook, outcome: Outcome) -> None:
    for rule in rules:
        if rule.kind != REBATE:
            continue
        wants_year = rule.rebate_period == "year"
        for period in facts.settled_periods:
            if period.is_year != wants_year or not rule.covers(period.end):
                continue
            volumes: dict[int, Decimal] = defaultdict(Decimal)
            failed: set[int] = set()
            for sale in facts.sales:
                if not period.contains(sale.closed_on):
                    continue
                if rule.product_line_id is not None and sale.product_line_id != rule.product_line_id:
                    continue
                try:
                    volumes[sale.partner_id] += rates.convert(
                        sale.amount, sale.currency, rule.currency, sale.closed_on
                    )
                except LookupError as exc:
                    failed.add(sale.partner_id)
                    outcome.problems.append(Problem(rule.id, sale.partner_id, f"sale {sale.id}", str(exc)))
            for partner_id, volume in sorted(volumes.items()):
                if partner_id in failed:
                    continue
                tier_id = tiers.tier_on(partner_id, rule.program_id, period.end)
                if not _eligible(rule, tiers, tier_id):
                    continue
                exact, shares = band_rebate(volume, rule.bands, rule.band_method)
                amount = round_amount(exact, rule.currency)
                if amount == 0:
                    continue
                outcome.add(
                    Expected(
                        Key(partner_id, rule.id, PERIOD, period.code, EARNING),
                        amount,
                        rule.currency,
                        event_on=period.end,
                        tier_id=tier_id,
                        description=f"Sales of {period.label()}",
                        basis={
                            "volume": _text(volume),
                            "method": rule.band_method,
                            "bands": shares,
                            "tier": tiers.name(tier_id),
                        },
                    )
                )


def _points(rules: list[RuleSpec], facts: Facts, tiers: TierBook, outcome: Outcome) -> None:
    points_rules = [rule for rule in rules if rule.kind == POINTS_KIND]
    for activity in facts.activities:
        for rule in points_rules:
            if not rule.covers(activity.occurred_on):
                continue
            if rule.activity_type_ids and activity.activity_type_id not in rule.activity_type_ids:
                continue
            tier_id = tiers.tier_on(activity.partner_id, rule.program_id, activity.occurred_on)
            if not _eligible(rule, tiers, tier_id):
                continue
            multiplier = rule.points_multiplier or Decimal(1)
            points = round_amount(Decimal(activity.points) * multiplier, POINTS)
            if points == 0:
                continue
            outcome.add(
                Expected(
                    Key(activity.partner_id, rule.id, ACTIVITY, str(activity.id), POINTS_COMPONENT),
                    points,
                    POINTS,
                    event_on=activity.occurred_on,
                    tier_id=tier_id,
                    description=f"{activity.name or 'Activity'} on {activity.occurred_on:%d %b %Y}",
                    basis={"activity_points": activity.points, "multiplier": _percent(multiplier)},
                )
            )
    by_id = {rule.id: rule for rule in rules}
    for redemption in facts.redemptions:
        owner = by_id.get(redemption.rule_id)
        if owner is None:
            continue
        basis = {"points": redemption.points, "value": _text(redemption.amount)}
        description = f"Reward: {redemption.reward}"
        outcome.add(
            Expected(
                Key(redemption.partner_id, owner.id, REDEMPTION, str(redemption.id), POINTS_COMPONENT),
                -Decimal(redemption.points),
                POINTS,
                event_on=redemption.redeemed_on,
                description=description,
                basis=basis,
            )
        )
        outcome.add(
            Expected(
                Key(redemption.partner_id, owner.id, REDEMPTION, str(redemption.id), REWARD),
                round_amount(redemption.amount, redemption.currency),
                redemption.currency,
                event_on=redemption.redeemed_on,
                description=description,
                basis=basis,
            )
        )


def spif_events(rule: RuleSpec, facts: Facts, tiers: TierBook) -> list[Expected]:
    """Everything that qualifies for a SPIF, uncapped, in the order the budget is spent.

    The budget goes to events by date, then by source id, so that the
    allocation is the same whenever and however often it is worked out.
    """
    events: list[tuple[tuple, Expected]] = []
    if rule.spif_trigger in (SPIF_DEAL, SPIF_FIRST_IN_LINE):
        for deal in facts.deals:
            if not deal.won or deal.closed_on is None or not rule.covers(deal.closed_on):
                continue
            if rule.product_line_id is not None and deal.product_line_id != rule.product_line_id:
                continue
            if rule.spif_trigger == SPIF_FIRST_IN_LINE and not _first_in_line(deal, facts):
                continue
            tier_id = tiers.tier_on(deal.partner_id, rule.program_id, deal.closed_on)
            if not _eligible(rule, tiers, tier_id):
                continue
            item = Expected(
                Key(deal.partner_id, rule.id, DEAL, str(deal.id), EARNING),
                ZERO,
                rule.currency,
                event_on=deal.closed_on,
                tier_id=tier_id,
                deal_id=deal.id,
                description=f"{deal.customer or 'Deal'} (deal {deal.id})",
            )
            events.append(((deal.closed_on, DEAL, deal.id), item))
    elif rule.spif_trigger == SPIF_CERTIFICATION:
        for certification in facts.certifications:
            if not rule.covers(certification.issued_on):
                continue
            if (
                rule.certification_type_id is not None
                and certification.certification_type_id != rule.certification_type_id
            ):
                continue
            tier_id = tiers.tier_on(certification.partner_id, rule.program_id, certification.issued_on)
            if not _eligible(rule, tiers, tier_id):
                continue
            item = Expected(
                Key(certification.partner_id, rule.id, CERTIFICATION, str(certification.id), EARNING),
                ZERO,
                rule.currency,
                event_on=certification.issued_on,
                tier_id=tier_id,
                description=certification.name or f"Certification {certification.id}",
            )
            events.append(((certification.issued_on, CERTIFICATION, certification.id), item))
    elif rule.spif_trigger == SPIF_ACTIVITY:
        # An activity of the rule's types (any, if none is chosen): a training completed, an event.
        for activity in facts.activities:
            if not rule.covers(activity.occurred_on):
                continue
            if rule.activity_type_ids and activity.activity_type_id not in rule.activity_type_ids:
                continue
            tier_id = tiers.tier_on(activity.partner_id, rule.program_id, activity.occurred_on)
            if not _eligible(rule, tiers, tier_id):
                continue
            item = Expected(
                Key(activity.partner_id, rule.id, ACTIVITY, str(activity.id), EARNING),
                ZERO,
                rule.currency,
                event_on=activity.occurred_on,
                tier_id=tier_id,
                description=f"{activity.name or 'Activity'} on {activity.occurred_on:%d %b %Y}",
            )
            events.append(((activity.occurred_on, ACTIVITY, activity.id), item))
    events.sort(key=lambda pair: pair[0])
    return [item for _, item in events]


def _first_in_line(deal: DealFact, facts: Facts) -> bool:
    if deal.product_line_id is None or deal.closed_on is None:
        return False
    first = facts.first_sales.get((deal.partner_id, deal.product_line_id))
    if first is None:
        return True
    if deal.sale_id is not None:
        return first == (deal.closed_on, deal.sale_id)
    return first[0] > deal.closed_on


def spif_allocation(rule: RuleSpec, facts: Facts, tiers: TierBook) -> list[Expected]:
    """Each qualifying event's bonus, until the budget (a hard cap, rounded down) runs out."""
    bonus = round_amount(rule.spif_amount or ZERO, rule.currency)
    remaining = None
    if rule.budget is not None:
        quantum = minor_unit_exponent(rule.currency)
        remaining = rule.budget.quantize(quantum, rounding=ROUND_DOWN)
    result = []
    for item in spif_events(rule, facts, tiers):
        amount = bonus if remaining is None else min(bonus, remaining)
        item.amount = amount
        item.basis = {"trigger": rule.spif_trigger, "bonus": _text(bonus)}
        if remaining is not None:
            remaining -= amount
            item.basis["budget"] = _text(rule.budget or ZERO)
            if amount < bonus:
                item.reason = "The SPIF's budget ran out." if amount == 0 else "Paid up to the SPIF's budget."
                item.basis["capped"] = True
        result.append(item)
    return result


def expected_entries(
    rules: list[RuleSpec],
    facts: Facts,
    tiers: TierBook,
    rates: RateBook,
    *,
    keep: Callable[[Key], bool] | None = None,
) -> Outcome:
    """Every amount the rules say is due on these facts, keyed for the ledger.

    ``keep`` filters the keys (a calculation limited to some partners still
    allocates a SPIF's budget over everything that qualifies).
    """
    outcome = Outcome()
    _deals(rules, facts, tiers, rates, outcome)
    _rebates(rules, facts, tiers, rates, outcome)
    _points(rules, facts, tiers, outcome)
    for rule in rules:
        if rule.kind == SPIF:
            for item in spif_allocation(rule, facts, tiers):
                outcome.add(item)
    if keep is not None:
        outcome.expected = {key: item for key, item in outcome.expected.items() if keep(key)}
    return outcome
