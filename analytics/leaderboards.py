"""Leaderboards: the top partners and distributors by revenue, growth, certifications gained and
points earned, over the filtered partners the principal sees.

- *Revenue*: won sales (``Sale``) closed in the period, converted into one currency (the
  program's base currency when a program is chosen, else the reference currency) at the rate
  in force on each sale's day; a sale without a rate for its day is left out.
- *Growth*: the period's revenue over the previous period of the same length, in %; a partner
  that sold nothing then has no growth (it is not infinitely better than the others).
- *Certifications gained*: certifications issued to the partner's people in the period.
- *Points*: engagement points (``PTS``) earned in the period; points spent are not subtracted.

A program narrows the partners to those holding one of its tiers now and the points to its
rules. A distributor's figures add up the partners in sight that buy through it.

One query: every figure per partner, summed per distributor, ranked in SQL by window
functions, and only the top rows of each board returned.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from analytics.filters import Filters
from analytics.roi import named_parameters, table
from analytics.sql import subquery
from core.exchange import reference_currency
from core.models import ExchangeRate
from core.money import round_money
from gates.models import PartnerTier
from incentives.models import IncentiveRule, LedgerEntry
from incentives.models.ledger import POINTS
from partners.models import Distributor, Partner
from partners.models.facts import Certification, Person, Sale

BOARDS = ("revenue", "growth", "certifications", "points")
TOP = 10
GROWTH_PLACES = Decimal("0.1")


@dataclass
class Entry:
    rank: int
    id: int
    name: str
    revenue: Decimal
    previous_revenue: Decimal
    growth_percent: Decimal | None
    certifications: int
    points: Decimal


@dataclass
class Leaderboards:
    currency: str = ""
    start: datetime.date | None = None
    end: datetime.date | None = None
    previous_start: datetime.date | None = None
    previous_end: datetime.date | None = None
    partners: dict[str, list[Entry]] = field(default_factory=lambda: {board: [] for board in BOARDS})
    distributors: dict[str, list[Entry]] = field(default_factory=lambda: {board: [] for board in BOARDS})


_SQL = """
WITH scope AS (
  SELECT p.id, p.name, p.distributor_id FROM {partner} p
  WHERE p.id IN ({scope}) AND (%(program)s::bigint IS NULL OR p.id IN (
    SELECT t.partner_id FROM {partner_tier} t WHERE t.program_id = %(program)s AND t.tier_id IS NOT NULL
  ))
),
sales AS (
  SELECT s.partner_id, s.closed_on >= %(start)s AS current,
         CASE WHEN s.currency = %(currency)s THEN s.amount
              ELSE s.amount
                   * CASE WHEN s.currency = %(reference)s THEN 1 ELSE from_rate.rate END
                   / CASE WHEN %(currency)s = %(reference)s THEN 1 ELSE to_rate.rate END
         END AS amount
  FROM {sale} s JOIN scope sc ON sc.id = s.partner_id
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x WHERE x.currency = s.currency AND x.valid_from <= s.closed_on
    ORDER BY x.valid_from DESC LIMIT 1
  ) from_rate ON TRUE
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x WHERE x.currency = %(currency)s AND x.valid_from <= s.closed_on
    ORDER BY x.valid_from DESC LIMIT 1
  ) to_rate ON TRUE
  WHERE s.closed_on BETWEEN %(previous_start)s AND %(end)s
),
revenue AS (
  SELECT partner_id, sum(amount) FILTER (WHERE current) AS revenue,
         sum(amount) FILTER (WHERE NOT current) AS previous
  FROM sales GROUP BY partner_id
),
certifications AS (
  SELECT pe.partner_id, count(*) AS gained
  FROM {certification} c JOIN {person} pe ON pe.id = c.person_id JOIN scope sc ON sc.id = pe.partner_id
  WHERE c.issued_on BETWEEN %(start)s AND %(end)s
  GROUP BY pe.partner_id
),
points AS (
  SELECT e.partner_id, sum(e.amount) AS earned
  FROM {ledger} e JOIN {rule} r ON r.id = e.rule_id JOIN scope sc ON sc.id = e.partner_id
  WHERE e.currency = %(points)s AND e.amount > 0 AND e.event_on BETWEEN %(start)s AND %(end)s
    AND (%(program)s::bigint IS NULL OR r.program_id = %(program)s)
  GROUP BY e.partner_id
),
per_partner AS (
  SELECT sc.id, sc.name, sc.distributor_id,
         COALESCE(rv.revenue, 0) AS revenue, COALESCE(rv.previous, 0) AS previous,
         COALESCE(ce.gained, 0) AS certifications, COALESCE(pt.earned, 0) AS points
  FROM scope sc
  LEFT JOIN revenue rv ON rv.partner_id = sc.id
  LEFT JOIN certifications ce ON ce.partner_id = sc.id
  LEFT JOIN points pt ON pt.partner_id = sc.id
),
entities AS (
  SELECT 'partner' AS kind, id, name, revenue, previous, certifications, points FROM per_partner
  UNION ALL
  SELECT 'distributor', d.id, d.name, sum(pp.revenue), sum(pp.previous), sum(pp.certifications), sum(pp.points)
  FROM per_partner pp JOIN {distributor} d ON d.id = pp.distributor_id
  GROUP BY d.id, d.name
),
ranked AS (
  SELECT e.*, CASE WHEN previous > 0 THEN (revenue - previous) * 100 / previous END AS growth
  FROM entities e
),
placed AS (
  SELECT r.*,
    row_number() OVER (PARTITION BY kind ORDER BY revenue DESC, name, id) AS by_revenue,
    row_number() OVER (PARTITION BY kind ORDER BY growth DESC NULLS LAST, name, id) AS by_growth,
    row_number() OVER (PARTITION BY kind ORDER BY certifications DESC, name, id) AS by_certifications,
    row_number() OVER (PARTITION BY kind ORDER BY points DESC, name, id) AS by_points
  FROM ranked r
)
SELECT kind, id, name, revenue, previous, growth, certifications, points,
       by_revenue, by_growth, by_certifications, by_points
FROM placed
WHERE (by_revenue <= %(top)s AND revenue > 0) OR (by_growth <= %(top)s AND growth IS NOT NULL)
   OR (by_certifications <= %(top)s AND certifications > 0) OR (by_points <= %(top)s AND points > 0)
"""


def leaderboards(
    principal, filters: Filters, *, top: int = TOP, today: datetime.date | None = None
) -> Leaderboards:
    """The boards over the filtered partners the principal sees, from ``start`` (the first day of
    the month two months before ``end``'s, by default: three months) to ``end`` (today); the
    previous period is as many days just before. One query besides the door's."""
    today = today or timezone.localdate()
    end = filters.end or today
    start = filters.start
    if start is None:
        start = datetime.date(end.year, end.month, 1)
        for _ in range(2):
            if start > datetime.date.min:
                start = (start - datetime.timedelta(days=1)).replace(day=1)
    days = (end - start).days + 1
    # The previous period stops at the calendar's first day: a period from year 1 has none before it.
    earliest = datetime.date.min
    previous_end = start - datetime.timedelta(days=1) if start > earliest else earliest
    previous_start = start - datetime.timedelta(days=days) if (start - earliest).days >= days else earliest
    currency = filters.program.base_currency if filters.program is not None else reference_currency()
    boards = Leaderboards(
        currency=currency, start=start, end=end, previous_start=previous_start, previous_end=previous_end
    )
    if filters.matches_nothing:
        return boards
    scope = subquery(filters.partners(principal).values("pk"))
    if scope is None:
        return boards
    named_scope, named_params = named_parameters(*scope)
    sql = _SQL.format(
        scope=named_scope,
        partner=table(Partner),
        partner_tier=table(PartnerTier),
        sale=table(Sale),
        rate=table(ExchangeRate),
        certification=table(Certification),
        person=table(Person),
        ledger=table(LedgerEntry),
        rule=table(IncentiveRule),
        distributor=table(Distributor),
    )
    params = {
        **named_params,
        "program": filters.program.pk if filters.program is not None else None,
        "start": start,
        "end": end,
        "previous_start": previous_start,
        "currency": currency,
        "reference": reference_currency(),
        "points": POINTS,
        "top": top,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for row in rows:
        kind, entity_id, name, revenue, previous, growth, certifications, points, *ranks = row
        target = boards.partners if kind == "partner" else boards.distributors
        values = {
            "revenue": Decimal(revenue) > 0,
            "growth": growth is not None,
            "certifications": certifications > 0,
            "points": Decimal(points) > 0,
        }
        for board, rank in zip(BOARDS, ranks, strict=True):
            if rank <= top and values[board]:
                target[board].append(
                    Entry(
                        rank=rank,
                        id=entity_id,
                        name=name,
                        revenue=round_money(Decimal(revenue), currency),
                        previous_revenue=round_money(Decimal(previous), currency),
                        growth_percent=(
                            Decimal(growth).quantize(GROWTH_PLACES) if growth is not None else None
                        ),
                        certifications=int(certifications),
                        points=Decimal(points),
                    )
                )
    for target in (boards.partners, boards.distributors):
        for board in BOARDS:
            target[board].sort(key=lambda entry: entry.rank)
    return boards
