"""Program ROI: what the partners of each program sold against what the program cost.

Revenue is the won sales (``Sale``) of the partners holding one of the program's
tiers on the sale's close date (the tier history, as ``analytics.tiers`` reads it).
The data model records sourcing on the deal registration a sale came from
(``Deal.sourced_by``), so a sale is:

- *partner-sourced* when its deal was sourced by the partner,
- *partner-influenced* when its deal was sourced by the vendor (the partner
  registered and worked it),
- *unregistered* when no deal stands behind it (a sale the partner reported).

The program's cost is:

- its incentive ledger (``LedgerEntry`` under the program's rules, net of
  reversals and adjustments): margins, commissions and rebates as *incentives*,
  SPIF rules as *SPIFs*, and the money value of rewards redeemed as *rewards*;
- the MDF paid (``MdfLedgerEntry`` into the paid bucket) to partners holding one
  of its tiers on the day of payment. MDF is not tied to a program in the data
  model: a partner holding tiers in two programs counts its MDF in both.

Engagement points (``PTS``) are not money: earned and redeemed points are shown
beside the money, never added to it.

Every amount is converted into the program's base currency at the rates in
force on the fact's own day (close date, earning date, payment date), read from
the exchange rates (``ExchangeRate``) as ``core.exchange.convert`` does; an amount
without a rate for its day is left out and its currency named. Sums are kept at
full precision and rounded once.

A ledger entry counts under the tier it records (the tier the partner held on the day that
counted, as ``incentives.selectors.program_cost`` reads it), by its event day rather than its
statement quarter. Each figure is one query: the facts are placed on the tier spans and summed with
``GROUPING SETS`` (program, period, tier, partner type, region); no partner or
fact is visited alone.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from analytics.filters import Filters
from analytics.sql import subquery
from core.exchange import reference_currency
from core.models import ExchangeRate
from core.money import round_money
from deals.models import Deal, MdfLedgerEntry, MdfPeriod, SalesRole
from gates.models import TierChange
from incentives.models import IncentiveRule, LedgerEntry
from incentives.models.ledger import POINTS, Component
from incentives.models.rules import RuleKind
from partners.models import Partner, PartnerType, Region
from partners.models.facts import Sale
from programs.models import Program, Tier

REVENUE_KINDS = ("sourced", "influenced", "unregistered")
COST_KINDS = ("incentives", "spifs", "rewards", "mdf")
POINT_KINDS = ("points_earned", "points_redeemed")
NO_TIER = "No tier"
# The most periods a trend shows: the last ones up to the end.
MAX_PERIODS = 60
RATIO_PLACES = Decimal("0.01")


@dataclass
class Figures:
    """Revenue and cost of one slice of a program, in the program's base currency."""

    label: str
    currency: str
    sourced: Decimal = Decimal(0)
    influenced: Decimal = Decimal(0)
    unregistered: Decimal = Decimal(0)
    incentives: Decimal = Decimal(0)
    spifs: Decimal = Decimal(0)
    rewards: Decimal = Decimal(0)
    mdf: Decimal = Decimal(0)
    points_earned: Decimal = Decimal(0)
    points_redeemed: Decimal = Decimal(0)

    @property
    def revenue(self) -> Decimal:
        return self.sourced + self.influenced + self.unregistered

    @property
    def cost(self) -> Decimal:
        return self.incentives + self.spifs + self.rewards + self.mdf

    @property
    def sourced_return(self) -> Decimal | None:
        """Partner-sourced revenue per unit of cost; None without cost."""
        return (self.sourced / self.cost).quantize(RATIO_PLACES) if self.cost else None

    @property
    def revenue_return(self) -> Decimal | None:
        """All the partners' revenue (sourced, influenced, unregistered) per unit of cost."""
        return (self.revenue / self.cost).quantize(RATIO_PLACES) if self.cost else None


@dataclass
class ProgramRoi:
    program: Program
    total: Figures
    periods: list[Figures] = field(default_factory=list)
    tiers: list[Figures] = field(default_factory=list)
    partner_types: list[Figures] = field(default_factory=list)
    regions: list[Figures] = field(default_factory=list)
    # Currencies of amounts left out for want of a rate on their day.
    unconverted: list[str] = field(default_factory=list)


@dataclass
class Roi:
    start: datetime.date | None = None
    end: datetime.date | None = None
    step: str = "month"
    programs: list[ProgramRoi] = field(default_factory=list)


def period_starts(start: datetime.date, end: datetime.date, step: str) -> list[datetime.date]:
    """The first day of each month (or quarter) from ``start``'s to ``end``'s, at most
    ``MAX_PERIODS``, the latest."""
    months = 3 if step == "quarter" else 1
    first = start.year * 12 + start.month - 1
    first -= first % months
    last = end.year * 12 + end.month - 1
    last -= last % months
    first = max(first, last - (MAX_PERIODS - 1) * months)
    return [datetime.date(index // 12, index % 12 + 1, 1) for index in range(first, last + 1, months)]


def table(model) -> str:
    """The model's table, for the figures' SQL."""
    return model._meta.db_table


# What the program paid the partners in scope, from ``start`` to ``end``, as (kind, partner_id,
# program_id, tier_id, day, amount, currency) rows: the ledger of the programs' rules, net of
# reversals (``incentives``, ``spifs``, ``rewards``, and the points apart), and the MDF paid (no
# program: ROI places it on the tier held on the day). Program ROI and partner lifetime value
# (``analytics.lifetime``) both count cost from these rows, so the two cannot disagree on it.
COST_FACTS_SQL = """
SELECT CASE WHEN e.currency = %(points)s THEN
                CASE WHEN e.amount < 0 THEN 'points_redeemed' ELSE 'points_earned' END
              WHEN e.component = %(reward)s THEN 'rewards'
              WHEN r.kind = %(spif)s THEN 'spifs' ELSE 'incentives' END,
         e.partner_id, r.program_id, COALESCE(e.tier_id, reversed.tier_id), e.event_on, e.amount, e.currency
  FROM {ledger} e JOIN {rule} r ON r.id = e.rule_id LEFT JOIN {ledger} reversed ON reversed.id = e.reverses_id
  WHERE r.program_id = ANY(%(programs)s) AND e.partner_id IN ({scope})
    AND e.event_on BETWEEN %(start)s AND %(end)s
  UNION ALL
  SELECT 'mdf', mp.partner_id, NULL::bigint, NULL::bigint, (m.at AT TIME ZONE %(zone)s)::date, m.amount, m.currency
  FROM {mdf_entry} m JOIN {mdf_period} mp ON mp.id = m.period_id
  WHERE m.to_bucket = 'paid' AND mp.partner_id IN ({scope})
    AND (m.at AT TIME ZONE %(zone)s)::date BETWEEN %(start)s AND %(end)s
"""


def cost_facts_sql(scope: str) -> str:
    """``COST_FACTS_SQL`` over the partners ``scope`` (SQL naming partner ids) selects."""
    return COST_FACTS_SQL.format(
        scope=scope,
        ledger=table(LedgerEntry),
        rule=table(IncentiveRule),
        mdf_entry=table(MdfLedgerEntry),
        mdf_period=table(MdfPeriod),
    )


def cost_parameters(programs: list[int], start: datetime.date, end: datetime.date) -> dict:
    """The parameters ``COST_FACTS_SQL`` names."""
    return {
        "programs": programs,
        "start": start,
        "end": end,
        "points": POINTS,
        "reward": Component.REWARD,
        "spif": RuleKind.SPIF,
        "zone": timezone.get_current_timezone_name(),
    }


# The facts of the partners in scope: a sale or an MDF payment is placed on the tier span holding
# on its day (a program each); a ledger entry is its rule's program's, under the tier it was
# earned at (a reversal under that of the entry it reverses), as the program cost page counts it.
# Each is converted at its day's rates.
_ROI_SQL = """
WITH spans AS (
  SELECT c.partner_id, c.program_id, c.to_tier_id, c.effective_on AS starts,
         LEAD(c.effective_on) OVER (
           PARTITION BY c.partner_id, c.program_id ORDER BY c.effective_on, c.changed_at, c.id
         ) AS ends
  FROM {tierchange} c
  WHERE c.program_id = ANY(%(programs)s) AND c.partner_id IN ({scope})
),
facts AS (
  SELECT CASE WHEN d.id IS NULL THEN 'unregistered'
              WHEN d.sourced_by = %(partner_role)s THEN 'sourced' ELSE 'influenced' END AS kind,
         s.partner_id, NULL::bigint AS program_id, NULL::bigint AS tier_id, s.closed_on AS day,
         s.amount, s.currency
  FROM {sale} s LEFT JOIN {deal} d ON d.id = s.deal_id
  WHERE s.partner_id IN ({scope}) AND s.closed_on BETWEEN %(start)s AND %(end)s
  UNION ALL
  {cost_facts}
),
placed AS (
  SELECT f.kind, f.partner_id, f.day, f.amount, f.currency,
         COALESCE(f.program_id, sp.program_id) AS program_id,
         CASE WHEN f.program_id IS NULL THEN sp.to_tier_id ELSE f.tier_id END AS tier_id
  FROM facts f LEFT JOIN spans sp
    ON f.program_id IS NULL AND sp.partner_id = f.partner_id AND sp.to_tier_id IS NOT NULL
   AND sp.starts <= f.day AND (sp.ends IS NULL OR sp.ends > f.day)
  WHERE f.program_id IS NOT NULL OR sp.program_id IS NOT NULL
),
converted AS (
  SELECT pl.*, p.partner_type, p.region,
         date_trunc(%(step)s, pl.day)::date AS period,
         CASE WHEN pl.currency = %(points)s OR pl.currency = pg.base_currency THEN pl.amount
              ELSE pl.amount
                   * CASE WHEN pl.currency = %(reference)s THEN 1 ELSE from_rate.rate END
                   / CASE WHEN pg.base_currency = %(reference)s THEN 1 ELSE to_rate.rate END
         END AS base_amount
  FROM placed pl
  JOIN {partner} p ON p.id = pl.partner_id
  JOIN {program} pg ON pg.id = pl.program_id
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x WHERE x.currency = pl.currency AND x.valid_from <= pl.day
    ORDER BY x.valid_from DESC LIMIT 1
  ) from_rate ON TRUE
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x WHERE x.currency = pg.base_currency AND x.valid_from <= pl.day
    ORDER BY x.valid_from DESC LIMIT 1
  ) to_rate ON TRUE
)
SELECT GROUPING(period, tier_id, partner_type, region) AS grouping, program_id, kind,
       period, tier_id, partner_type, region,
       sum(base_amount),
       array_agg(DISTINCT currency) FILTER (WHERE base_amount IS NULL)
FROM converted
GROUP BY GROUPING SETS (
  (program_id, kind), (program_id, kind, period), (program_id, kind, tier_id),
  (program_id, kind, partner_type), (program_id, kind, region)
)
"""

# GROUPING(period, tier_id, partner_type, region): a bit set for each column left out.
_BY_TOTAL, _BY_PERIOD, _BY_TIER, _BY_TYPE, _BY_REGION = 15, 7, 11, 13, 14


def program_roi(principal, filters: Filters, *, today: datetime.date | None = None) -> Roi:
    """ROI of each program the principal sees (or the one filtered), over the filtered partners
    the principal sees, from ``start`` (a year before ``end`` by default) to ``end`` (today).
    Three queries besides the door's: the programs, their tiers, the figures."""
    today = today or timezone.localdate()
    end = filters.end or today
    start = filters.start or datetime.date(max(end.year - 1, datetime.MINYEAR), end.month, 1)
    roi = Roi(start=start, end=end, step=filters.step)
    if filters.matches_nothing:
        return roi
    if filters.program is not None:
        program_list = [filters.program]
    else:
        program_list = list(Program.objects.visible_to(principal).order_by("name"))
    if not program_list:
        return roi
    tier_list = list(Tier.objects.filter(program__in=program_list).order_by("program_id", "rank"))
    starts = period_starts(start, end, filters.step)
    start = max(start, starts[0])
    roi.start = start
    reports = {
        program.pk: ProgramRoi(
            program=program,
            total=Figures(program.name, program.base_currency),
            periods=[Figures(day.isoformat(), program.base_currency) for day in starts],
            tiers=[
                Figures(tier.name, program.base_currency)
                for tier in tier_list
                if tier.program_id == program.pk
            ],
            partner_types=[Figures(label, program.base_currency) for _, label in PartnerType.choices],
            regions=[Figures(label, program.base_currency) for _, label in Region.choices],
        )
        for program in program_list
    }
    roi.programs = list(reports.values())
    scope = subquery(filters.partners(principal).values("pk"))
    if scope is None:
        return roi
    scope_sql, scope_params = scope
    # The scope's SQL uses %s placeholders; the figures' SQL names its parameters, so the scope
    # is spelt out with its own parameters named in order.
    named_scope, named_params = named_parameters(scope_sql, scope_params)
    sql = _ROI_SQL.format(
        scope=named_scope,
        tierchange=table(TierChange),
        sale=table(Sale),
        deal=table(Deal),
        ledger=table(LedgerEntry),
        rule=table(IncentiveRule),
        mdf_entry=table(MdfLedgerEntry),
        mdf_period=table(MdfPeriod),
        partner=table(Partner),
        program=table(Program),
        rate=table(ExchangeRate),
        cost_facts=cost_facts_sql(named_scope),
    )
    rows = _fetch_named(
        sql,
        {
            **named_params,
            **cost_parameters([program.pk for program in program_list], start, end),
            "partner_role": SalesRole.PARTNER,
            "step": filters.step,
            "reference": reference_currency(),
        },
    )
    _fill(reports, rows, starts, tier_list)
    return roi


def _fetch_named(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def named_parameters(sql: str, params: tuple) -> tuple[str, dict]:
    """A queryset's SQL with its ``%s`` placeholders named ``scope_0``, ``scope_1``..., so that it
    can stand several times in SQL whose parameters are named."""
    names = {f"scope_{index}": value for index, value in enumerate(params)}
    parts = sql.replace("%%", "\0").split("%s")
    if len(parts) != len(params) + 1:
        raise ValueError("The scope's SQL and parameters disagree.")
    text = parts[0]
    for index, part in enumerate(parts[1:]):
        text += f"%(scope_{index})s" + part
    return text.replace("\0", "%%"), names


def _fill(reports: dict[int, ProgramRoi], rows, starts: list[datetime.date], tier_list: list[Tier]) -> None:
    period_index = {day: index for index, day in enumerate(starts)}
    tier_index: dict[int, dict[int | None, int]] = defaultdict(dict)
    for program_id in reports:
        program_tiers = [tier for tier in tier_list if tier.program_id == program_id]
        tier_index[program_id] = {tier.pk: index for index, tier in enumerate(program_tiers)}
    type_index = {value: index for index, value in enumerate(PartnerType.values)}
    region_index = {value: index for index, value in enumerate(Region.values)}
    unconverted: dict[int, set[str]] = defaultdict(set)
    for grouping, program_id, kind, period, tier_id, partner_type, region, amount, missing in rows:
        report = reports.get(program_id)
        if report is None:
            continue
        if missing:
            unconverted[program_id].update(missing)
        target: Figures | None = None
        if grouping == _BY_TOTAL:
            target = report.total
        elif grouping == _BY_PERIOD and period in period_index:
            target = report.periods[period_index[period]]
        elif grouping == _BY_TIER:
            if tier_id is None:
                if not report.tiers or report.tiers[-1].label != NO_TIER:
                    report.tiers.append(Figures(NO_TIER, report.total.currency))
                target = report.tiers[-1]
            elif tier_id in tier_index[program_id]:
                target = report.tiers[tier_index[program_id][tier_id]]
        elif grouping == _BY_TYPE and partner_type in type_index:
            target = report.partner_types[type_index[partner_type]]
        elif grouping == _BY_REGION and region in region_index:
            target = report.regions[region_index[region]]
        if target is None:
            continue
        value = Decimal(0) if amount is None else Decimal(amount)
        if kind in POINT_KINDS:
            setattr(target, kind, value)
        else:
            setattr(target, kind, round_money(value, report.total.currency))
    for program_id, currencies in unconverted.items():
        reports[program_id].unconverted = sorted(currencies)
    for report in reports.values():
        report.partner_types = [row for row in report.partner_types if row.revenue or row.cost]
        report.regions = [row for row in report.regions if row.revenue or row.cost]
