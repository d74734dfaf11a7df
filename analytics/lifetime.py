"""Partner lifetime value: what a partner brought in, less what the program paid it, by its age.

Sales carry no margin in the data model, so a partner's *lifetime value* is its cumulative won-sales
revenue (``Sale``) less what the program paid it: the incentive ledger (incentives, SPIFs and the
money value of rewards redeemed, net of reversals) and the MDF paid, counted from the same rows as
program ROI (``analytics.roi.COST_FACTS_SQL``), so the two never disagree on cost. A margin per
product line would refine it: revenue would become gross margin.

- Every amount is converted into one currency (the program's base currency when a program is
  chosen, else the reference currency) at the rate in force on the fact's own day, as ROI converts;
  an amount without a rate for its day is left out and its currency named.
- A fact counts at the partner's *age* on its day: the whole months since its join date (a fact
  before joining counts at month 0).
- The partners counted are the filtered partners in sight that joined from ``start`` to ``end``
  (by default the last three years); a program narrows them to those holding one of its tiers now
  and the ledger to its rules. Facts count up to ``end``.
- Per join-quarter cohort, the *average curve*: at month m, the average cumulative value at m of
  the cohort's partners old enough at ``end`` to have reached m (a partner that joined last month
  does not drag month 12 down to nothing), with how many that is.
- The top and bottom partners by lifetime value at ``end``.

One query besides the door's and the programs': the facts are converted and summed per partner, and
per (cohort, age of the fact, age of the partner), from which the curves are read (a few hundred
sums, not a row per partner and month); ranks are window functions. No partner is visited alone.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from analytics.filters import FilterError, Filters
from analytics.roi import COST_KINDS, cost_facts_sql, cost_parameters, named_parameters, table
from analytics.sql import subquery
from core.exchange import reference_currency
from core.models import ExchangeRate
from core.money import round_money
from gates.models import PartnerTier
from partners.models import Partner
from partners.models.facts import Sale
from programs.models import Program

TOP = 10
MAX_TOP = 100
# The longest curve drawn, in months since joining.
MAX_MONTHS = 120
DEFAULT_YEARS = 3

DEFINITION = (
    "Lifetime value is a partner's cumulative won-sales revenue less what the program paid it "
    "(incentive ledger entries, SPIFs, rewards redeemed and MDF paid, counted as program ROI counts "
    "cost), by whole months since its join date. Sales carry no margin here; a margin per product "
    "line would refine it."
)


@dataclass
class CurvePoint:
    month: int
    partners: int  # the cohort's partners old enough at ``end`` to have reached this month
    value: Decimal | None  # their average cumulative lifetime value at this month


@dataclass
class Cohort:
    quarter: datetime.date  # the first day of the join quarter
    partners: int
    curve: list[CurvePoint] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.quarter.year}-Q{(self.quarter.month - 1) // 3 + 1}"


@dataclass
class PartnerValue:
    rank: int
    id: int
    name: str
    joined_on: datetime.date
    age_months: int
    revenue: Decimal
    cost: Decimal

    @property
    def value(self) -> Decimal:
        return self.revenue - self.cost


@dataclass
class Lifetime:
    currency: str = ""
    start: datetime.date | None = None
    end: datetime.date | None = None
    top_count: int = TOP
    partners: int = 0
    months: int = 0  # the longest curve's last month
    cohorts: list[Cohort] = field(default_factory=list)
    top: list[PartnerValue] = field(default_factory=list)
    bottom: list[PartnerValue] = field(default_factory=list)
    # Currencies of amounts left out for want of a rate on their day.
    unconverted: list[str] = field(default_factory=list)
    definition: str = DEFINITION


_MONTHS = (
    "(extract(year FROM age({later}, {earlier})) * 12 + extract(month FROM age({later}, {earlier})))::int"
)

_SQL = """
WITH scope AS (
  SELECT p.id, p.name, p.joined_on, date_trunc('quarter', p.joined_on)::date AS cohort,
         {partner_age} AS age
  FROM {partner} p
  WHERE p.id IN ({scope}) AND p.joined_on BETWEEN %(joined_from)s AND %(end)s
    AND (%(program)s::bigint IS NULL OR p.id IN (
      SELECT t.partner_id FROM {partner_tier} t WHERE t.program_id = %(program)s AND t.tier_id IS NOT NULL
    ))
),
facts AS (
  SELECT 'sale' AS kind, s.partner_id, s.closed_on AS day, s.amount, s.currency
  FROM {sale} s WHERE s.partner_id IN (SELECT id FROM scope) AND s.closed_on <= %(end)s
  UNION ALL
  SELECT cost.kind, cost.partner_id, cost.day, -cost.amount, cost.currency
  FROM ({cost_facts}) AS cost(kind, partner_id, program_id, tier_id, day, amount, currency)
  WHERE cost.kind = ANY(%(cost_kinds)s)
),
converted AS (
  SELECT f.partner_id, f.kind, f.currency, sc.cohort, sc.age,
         LEAST(GREATEST({fact_age}, 0), sc.age) AS month,
         CASE WHEN f.currency = %(currency)s THEN f.amount
              ELSE f.amount
                   * CASE WHEN f.currency = %(reference)s THEN 1 ELSE from_rate.rate END
                   / CASE WHEN %(currency)s = %(reference)s THEN 1 ELSE to_rate.rate END
         END AS value
  FROM facts f JOIN scope sc ON sc.id = f.partner_id
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x
    WHERE f.currency <> %(currency)s AND x.currency = f.currency AND x.valid_from <= f.day
    ORDER BY x.valid_from DESC LIMIT 1
  ) from_rate ON TRUE
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x
    WHERE %(currency)s <> %(reference)s AND x.currency = %(currency)s AND x.valid_from <= f.day
    ORDER BY x.valid_from DESC LIMIT 1
  ) to_rate ON TRUE
),
per_partner AS (
  SELECT sc.id, sc.name, sc.joined_on, sc.age,
         COALESCE(sum(c.value) FILTER (WHERE c.kind = 'sale'), 0) AS revenue,
         COALESCE(-sum(c.value) FILTER (WHERE c.kind <> 'sale'), 0) AS cost
  FROM scope sc LEFT JOIN converted c ON c.partner_id = sc.id
  GROUP BY sc.id, sc.name, sc.joined_on, sc.age
),
ranked AS (
  SELECT pp.*,
         row_number() OVER (ORDER BY revenue - cost DESC, name, id) AS top_rank,
         row_number() OVER (ORDER BY revenue - cost ASC, name, id) AS bottom_rank
  FROM per_partner pp
)
-- The cohort's value by the age of each fact and the age of its partner at the end, and its
-- partners by age: the curves are read from these few rows (``_curve``).
SELECT 'cell' AS row_kind, cohort, month, age::bigint, sum(value),
       NULL::bigint, NULL::text, NULL::date, NULL::bigint, NULL::bigint, NULL::text[]
FROM converted GROUP BY cohort, month, age
UNION ALL
SELECT 'size', cohort, NULL, age, count(*), NULL, NULL, NULL, NULL, NULL, NULL FROM scope GROUP BY cohort, age
UNION ALL
SELECT 'partner', NULL, age, NULL, revenue, id, name, joined_on, top_rank, bottom_rank, ARRAY[cost::text]
FROM ranked WHERE top_rank <= %(top)s OR bottom_rank <= %(top)s
UNION ALL
SELECT 'unconverted', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       array_agg(DISTINCT currency) FILTER (WHERE value IS NULL)
FROM converted
"""


def parse_top(params) -> int:
    """How many partners the top and bottom lists hold, from ``top`` (1-100, 10 by default)."""
    text = str(params.get("top", "")).strip()
    if "top" in params and not text:
        raise FilterError({"top": "Give a value or leave the parameter out."})
    if not text:
        return TOP
    if not (text.isdigit() and len(text) <= 3 and 1 <= int(text) <= MAX_TOP):
        raise FilterError({"top": f"Expected a whole number from 1 to {MAX_TOP}."})
    return int(text)


def default_start(end: datetime.date) -> datetime.date:
    """The first day of the quarter three years before ``end``'s (twelve cohorts and this one)."""
    year = max(end.year - DEFAULT_YEARS, datetime.MINYEAR)
    return datetime.date(year, (end.month - 1) // 3 * 3 + 1, 1)


def lifetime_value(
    principal, filters: Filters, *, top: int = TOP, today: datetime.date | None = None
) -> Lifetime:
    """Lifetime value of the filtered partners the principal sees that joined from ``start`` (three
    years before ``end`` by default) to ``end`` (today): the cohorts' curves and the ``top`` best and
    worst partners. Two queries besides the door's: the programs whose ledger counts, the figures."""
    today = today or timezone.localdate()
    end = filters.end or today
    start = filters.start or default_start(end)
    currency = filters.program.base_currency if filters.program is not None else reference_currency()
    figures = Lifetime(currency=currency, start=start, end=end, top_count=top)
    if filters.matches_nothing:
        return figures
    scope = subquery(filters.partners(principal).values("pk"))
    if scope is None:
        return figures
    if filters.program is not None:
        programs = [filters.program.pk]
    else:
        programs = list(Program.objects.visible_to(principal).values_list("pk", flat=True))
    named_scope, named_params = named_parameters(*scope)
    sql = _SQL.format(
        scope=named_scope,
        partner=table(Partner),
        partner_tier=table(PartnerTier),
        sale=table(Sale),
        rate=table(ExchangeRate),
        cost_facts=cost_facts_sql("SELECT id FROM scope"),
        partner_age=_MONTHS.format(later="%(end)s::date", earlier="p.joined_on"),
        fact_age=_MONTHS.format(later="f.day", earlier="sc.joined_on"),
    )
    params = {
        **named_params,
        # Cost from the first day: lifetime value counts everything up to ``end``.
        **cost_parameters(programs, datetime.date.min, end),
        "joined_from": start,
        "program": filters.program.pk if filters.program is not None else None,
        "cost_kinds": list(COST_KINDS),
        "currency": currency,
        "reference": reference_currency(),
        "top": top,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    _fill(figures, rows)
    return figures


def _fill(figures: Lifetime, rows) -> None:
    cells: dict[datetime.date, dict[tuple[int, int], Decimal]] = defaultdict(dict)
    sizes: dict[datetime.date, dict[int, int]] = defaultdict(dict)
    currency = figures.currency
    for (
        row_kind,
        cohort,
        month,
        age,
        value,
        partner_id,
        name,
        joined_on,
        top_rank,
        bottom_rank,
        extra,
    ) in rows:
        if row_kind == "cell":
            cells[cohort][(month, age)] = Decimal(value or 0)
        elif row_kind == "size":
            sizes[cohort][age] = int(value)
        elif row_kind == "partner":
            revenue = round_money(Decimal(value), currency)
            cost = round_money(Decimal(extra[0]), currency)
            for rank, target in ((top_rank, figures.top), (bottom_rank, figures.bottom)):
                if rank <= figures.top_count:
                    target.append(
                        PartnerValue(
                            rank=rank,
                            id=partner_id,
                            name=name,
                            joined_on=joined_on,
                            age_months=month,
                            revenue=revenue,
                            cost=cost,
                        )
                    )
        elif row_kind == "unconverted":
            figures.unconverted = sorted(extra or [])
    figures.cohorts = [
        Cohort(quarter=quarter, partners=sum(by_age.values()), curve=_curve(by_age, cells[quarter], currency))
        for quarter, by_age in sorted(sizes.items())
    ]
    figures.partners = sum(entry.partners for entry in figures.cohorts)
    figures.months = max((len(entry.curve) - 1 for entry in figures.cohorts), default=0)
    figures.top.sort(key=lambda entry: entry.rank)
    figures.bottom.sort(key=lambda entry: entry.rank)


def _curve(sizes: dict[int, int], cells: dict[tuple[int, int], Decimal], currency: str) -> list[CurvePoint]:
    """A cohort's average curve from its sums per (age of the fact, age of the partner) and its
    partners per age: at month m, the facts up to m of the partners at least m months old, over
    how many they are. Arithmetic over a few hundred sums, not over partners."""
    last = min(max(sizes), MAX_MONTHS)
    # up_to[age][m]: the value of the partners aged ``age`` from their facts of months 0..m.
    up_to: dict[int, list[Decimal]] = {}
    for age in sizes:
        running, column = Decimal(0), []
        for month in range(last + 1):
            running += cells.get((month, age), Decimal(0))
            column.append(running)
        up_to[age] = column
    curve = []
    for month in range(last + 1):
        old_enough = [age for age in sizes if age >= month]
        reached = sum(sizes[age] for age in old_enough)
        value = sum((up_to[age][month] for age in old_enough), Decimal(0))
        curve.append(CurvePoint(month=month, partners=reached, value=round_money(value / reached, currency)))
    return curve
