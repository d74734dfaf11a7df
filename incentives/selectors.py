"""Reads of the ledger: partner statements, the statements index, and the program's cost against budget.

Every read starts from ``LedgerEntry.objects.visible_to(user)`` or from a
partner already fetched through ``Partner.objects.visible_to(user)``; the
number of queries is fixed whatever the number of entries.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from core.money import to_decimal
from incentives.engine import round_amount
from incentives.models import (
    POINTS,
    BudgetPeriod,
    Component,
    CustomerActivation,
    EntryState,
    IncentiveRule,
    LedgerEntry,
    Reward,
    RuleKind,
)
from incentives.periods import Period, month_starts, parse_period, quarter_of, year
from partners.models import Partner
from programs.models import Tier

CHART_MONTHS = 12


def _sum(value) -> Decimal:
    return to_decimal(value)


def _money_first(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    """Currencies in alphabetical order, engagement points last."""
    return dict(sorted(amounts.items(), key=lambda item: (item[0] == POINTS, item[0])))


@dataclass
class RuleTotal:
    rule_id: int
    name: str
    kind: str
    kind_label: str
    currency: str
    amount: Decimal
    entries: int


@dataclass
class MonthTotal:
    month: datetime.date
    amount: Decimal


@dataclass
class Statement:
    partner: Partner
    period: Period
    lines: list[LedgerEntry]
    totals: dict[str, Decimal]
    by_rule: list[RuleTotal]
    balances: dict[str, dict[str, Decimal]]  # currency -> state -> amount, all periods
    waiting: list[LedgerEntry]  # held parts still awaiting activation, all periods
    months: dict[str, list[MonthTotal]]  # currency -> the last twelve months, oldest first
    periods: list[Period]
    points_balance: int
    rewards: list[Reward] = field(default_factory=list)

    @property
    def money_currencies(self) -> list[str]:
        return sorted(currency for currency in self.balances if currency != POINTS)


def _waiting_for_activation() -> Q:
    activated = CustomerActivation.objects.filter(
        deal_id=OuterRef("deal_id"), activated_on__lte=OuterRef("held_until")
    )
    return Q(Q(component=Component.HELD, state=EntryState.ACCRUED), ~Exists(activated))


def statement_periods(partner: Partner, today: datetime.date) -> list[Period]:
    """Quarters the partner has entries in, and the current one, newest first."""
    codes = set(
        LedgerEntry.objects.filter(partner=partner).order_by().values_list("period", flat=True).distinct()
    )
    codes.add(quarter_of(today).code)
    return sorted((parse_period(code) for code in codes), reverse=True)


def statement_for(partner: Partner, period: Period, *, today: datetime.date | None = None) -> Statement:
    """A partner's statement for a quarter (or a year): seven queries whatever its size.

    Lines are the entries that appear in the period; balances, held parts and
    points are as of now, across every period.
    """
    today = today or timezone.localdate()
    codes = [quarter.code for quarter in period.quarters()]
    mine = LedgerEntry.objects.filter(partner=partner)
    lines = list(
        mine.filter(period__in=codes).select_related("rule", "tier", "deal").order_by("event_on", "id")
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    rules: dict[tuple[int, str], RuleTotal] = {}
    for line in lines:
        totals[line.currency] += line.amount
        key = (line.rule_id, line.currency)
        if key not in rules:
            rules[key] = RuleTotal(
                line.rule_id,
                line.rule.name,
                line.rule.kind,
                line.rule.get_kind_display(),
                line.currency,
                Decimal(0),
                0,
            )
        rules[key].amount += line.amount
        rules[key].entries += 1
    balances: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for currency, state, amount in (
        mine.order_by().values_list("currency", "state").annotate(total=Sum("amount"))
    ):
        balances[currency][state] = _sum(amount)
    waiting = list(
        mine.filter(_waiting_for_activation())
        .select_related("rule", "tier", "deal")
        .order_by("held_until", "id")
    )
    first_month = month_starts(period.end, CHART_MONTHS)[0]
    monthly: dict[str, dict[datetime.date, Decimal]] = defaultdict(dict)
    for month, currency, amount in (
        mine.filter(event_on__gte=first_month, event_on__lte=period.end)
        .annotate(month=TruncMonth("event_on"))
        .order_by()
        .values_list("month", "currency")
        .annotate(total=Sum("amount"))
    ):
        day = month if isinstance(month, datetime.date) else month.date()
        monthly[currency][day.replace(day=1)] = _sum(amount)
    months = {
        currency: [
            MonthTotal(start, round_amount(values.get(start, Decimal(0)), currency))
            for start in month_starts(period.end, CHART_MONTHS)
        ]
        for currency, values in monthly.items()
    }
    points = int(sum((state_totals for state_totals in balances.get(POINTS, {}).values()), Decimal(0)))
    rewards = list(
        Reward.objects.filter(is_active=True, rule__kind=RuleKind.POINTS)
        .filter(rule__effective_from__lte=today)
        .filter(Q(rule__effective_to__isnull=True) | Q(rule__effective_to__gte=today))
        .select_related("rule")
        .order_by("points_cost", "name")
    )
    return Statement(
        partner=partner,
        period=period,
        lines=lines,
        totals=_money_first(
            {currency: round_amount(amount, currency) for currency, amount in totals.items()}
        ),
        by_rule=sorted(rules.values(), key=lambda row: (row.kind, row.name, row.currency)),
        balances={
            currency: {state: round_amount(amount, currency) for state, amount in states.items()}
            for currency, states in sorted(balances.items())
        },
        waiting=waiting,
        months=dict(sorted(months.items())),
        periods=statement_periods(partner, today),
        points_balance=points,
        rewards=rewards,
    )


@dataclass
class PartnerRow:
    partner: Partner
    totals: dict[str, Decimal]
    payable: dict[str, Decimal]


def partner_rows(partners: list[Partner], period: Period) -> list[PartnerRow]:
    """Each partner with its totals for the period and what is payable now: two queries for all."""
    ids = [partner.pk for partner in partners]
    codes = [quarter.code for quarter in period.quarters()]
    totals: dict[int, dict[str, Decimal]] = defaultdict(dict)
    payable: dict[int, dict[str, Decimal]] = defaultdict(dict)
    entries = LedgerEntry.objects.filter(partner_id__in=ids)
    for partner_id, currency, amount in sums_by_partner(entries.filter(period__in=codes)):
        totals[partner_id][currency] = round_amount(amount, currency)
    for partner_id, currency, amount in sums_by_partner(entries.filter(state=EntryState.PAYABLE)):
        payable[partner_id][currency] = round_amount(amount, currency)
    return [
        PartnerRow(
            partner, dict(sorted(totals[partner.pk].items())), dict(sorted(payable[partner.pk].items()))
        )
        for partner in partners
    ]


# --- the manager's view of program cost ----------------------------------------------------


@dataclass
class CostRow:
    rule: IncentiveRule
    currency: str
    quarters: list[Decimal]  # Q1..Q4 of the year
    total: Decimal
    lifetime: Decimal
    budget: Decimal | None
    budget_scope: str  # what the budget is compared with
    used: Decimal | None  # the figure compared with the budget
    per_quarter_over: list[bool] = field(default_factory=list)

    @property
    def used_percent(self) -> int | None:
        if not self.budget or self.used is None:
            return None
        return int((self.used / self.budget * 100).to_integral_value())

    @property
    def over_budget(self) -> bool:
        return any(self.per_quarter_over) or (
            self.budget is not None and self.used is not None and self.used > self.budget
        )


NO_TIER = "No tier held"


@dataclass
class TierCost:
    label: str  # the tier's name (with its program's when several programs pay), or NO_TIER
    tier: Tier | None
    cells: list[tuple[str, Decimal]]  # (currency, amount) for every currency of the table


@dataclass
class ProgramCost:
    year: Period
    rows: list[CostRow]
    by_tier: list[TierCost]  # every tier of the paying programs, highest rank first, then NO_TIER
    tier_currencies: list[str]
    quarter_totals: dict[str, list[Decimal]]  # currency -> Q1..Q4
    years: list[int]


def _cost_by_tier(
    sums: dict[tuple[int | None, str], Decimal], rules: list[IncentiveRule]
) -> tuple[list[TierCost], list[str]]:
    """One row per tier of the programs the rules read, in rank order, zeros included; one query.

    Entries earned while the partner held no tier in the rule's program (rules
    open to every partner, reward redemptions) form the last row.
    """
    tier_ids = {tier_id for tier_id, _ in sums if tier_id is not None}
    program_ids = {rule.program_id for rule in rules if rule.program_id}
    tiers = list(
        Tier.objects.filter(Q(program_id__in=program_ids) | Q(pk__in=tier_ids))
        .select_related("program")
        .order_by("program__name", "-rank", "id")
    )
    several_programs = len({tier.program_id for tier in tiers}) > 1
    currencies = sorted(
        {currency for _, currency in sums} | {rule.currency for rule in rules},
        key=lambda currency: (currency == POINTS, currency),
    )

    def cells(tier_id: int | None) -> list[tuple[str, Decimal]]:
        return [
            (currency, round_amount(sums.get((tier_id, currency), Decimal(0)), currency))
            for currency in currencies
        ]

    rows = [
        TierCost(
            f"{tier.program.name} · {tier.name}" if several_programs else tier.name, tier, cells(tier.pk)
        )
        for tier in tiers
    ]
    if rows or any(tier_id is None for tier_id, _ in sums):
        rows.append(TierCost(NO_TIER, None, cells(None)))
    return rows, currencies


def program_cost(user, year_number: int) -> ProgramCost:
    """Earnings by rule, tier and quarter for a year, against each rule's budget: five queries.

    Only entries of partners the user may see count (a regional manager sees
    the cost of the region's partners); budgets are program-wide. Each entry
    counts under the tier the partner held on the day that counted; a
    reversal under the tier of the entry it reverses.
    """
    period = year(year_number)
    codes = [quarter.code for quarter in period.quarters()]
    entries = LedgerEntry.objects.visible_to(user).order_by()
    by_rule_quarter: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    by_tier: dict[tuple[int | None, str], Decimal] = defaultdict(Decimal)
    for rule_id, tier_id, period_code, currency, amount in (
        entries.filter(period__in=codes)
        # Reversals written before they carried a tier count under the tier of what they reverse.
        .annotate(earned_at_tier=Coalesce("tier_id", "reverses__tier_id"))
        .values_list("rule_id", "earned_at_tier", "period", "currency")
        .annotate(total=Sum("amount"))
    ):
        quarter_index = int(period_code[-1]) - 1
        by_rule_quarter[(rule_id, currency)][quarter_index] += _sum(amount)
        by_tier[(tier_id, currency)] += _sum(amount)
    lifetime = {
        (rule_id, currency): _sum(amount)
        for rule_id, currency, amount in entries.values_list("rule_id", "currency").annotate(
            total=Sum("amount")
        )
    }
    in_force = IncentiveRule.objects.overlapping(period.start, period.end).values("pk")
    rules = {
        rule.pk: rule
        for rule in IncentiveRule.objects.filter(
            Q(pk__in={rule_id for rule_id, _ in by_rule_quarter}) | Q(pk__in=in_force)
        )
    }
    rows = []
    quarter_totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    keys = set(by_rule_quarter) | {(rule.pk, rule.currency) for rule in rules.values()}
    for rule_id, currency in keys:
        rule = rules.get(rule_id)
        if rule is None:
            continue
        quarters = [round_amount(value, currency) for value in by_rule_quarter[(rule_id, currency)]]
        total = sum(quarters, Decimal(0))
        for index, value in enumerate(quarters):
            quarter_totals[currency][index] += value
        budget = rule.budget if currency == rule.currency else None
        scope, used, over = "", None, []
        if budget is not None:
            if rule.budget_period == BudgetPeriod.QUARTER:
                scope, used = "per quarter (the highest is shown)", max(quarters)
                over = [value > budget for value in quarters]
            elif rule.budget_period == BudgetPeriod.YEAR:
                scope, used = "this year", total
            else:
                scope, used = (
                    "over the rule's life",
                    round_amount(lifetime.get((rule_id, currency), Decimal(0)), currency),
                )
        rows.append(
            CostRow(
                rule=rule,
                currency=currency,
                quarters=quarters,
                total=total,
                lifetime=round_amount(lifetime.get((rule_id, currency), Decimal(0)), currency),
                budget=budget,
                budget_scope=scope,
                used=used,
                per_quarter_over=over,
            )
        )
    rows.sort(key=lambda row: (row.currency == POINTS, row.rule.kind, row.rule.name, row.currency))
    first = (
        LedgerEntry.objects.visible_to(user).order_by("event_on").values_list("event_on", flat=True).first()
    )
    today = timezone.localdate()
    years = list(range(today.year, (first.year if first else today.year) - 1, -1))
    tier_rows, tier_currencies = _cost_by_tier(by_tier, list(rules.values()))
    return ProgramCost(
        year=period,
        rows=rows,
        by_tier=tier_rows,
        tier_currencies=tier_currencies,
        quarter_totals=dict(sorted(quarter_totals.items(), key=lambda item: (item[0] == POINTS, item[0]))),
        years=years,
    )


def sums_by_partner(entries) -> list[tuple[int, str, Decimal]]:
    """(partner, currency, total) for a queryset of entries: one grouped query."""
    return [
        (partner_id, currency, _sum(amount))
        for partner_id, currency, amount in entries.order_by()
        .values_list("partner_id", "currency")
        .annotate(total=Sum("amount"))
    ]
