"""Tier movement, read from the tier history (``TierChange``): the distribution over time, the
migration between two dates, and the time partners took to reach each tier from joining.

The history gives each partner's tier as spans: a change holds from its
``effective_on`` until the partner's next change (a window function, ``LEAD``).
Each figure is one GROUP BY over those spans; no partner is visited alone.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from analytics.filters import Filters
from analytics.sql import fetch, subquery
from programs.models import Program, Tier

NO_TIER = "No tier"


@dataclass
class MigrationCell:
    from_tier_id: int | None
    from_name: str
    to_tier_id: int | None
    to_name: str
    partners: int


@dataclass
class TimeToTier:
    tier_name: str
    partners: int
    median_days: Decimal | None
    average_days: Decimal | None


@dataclass
class TierMovement:
    program: Program | None
    days: list[datetime.date] = field(default_factory=list)
    series: list[tuple[str, list[int]]] = field(default_factory=list)
    start: datetime.date | None = None
    end: datetime.date | None = None
    matrix: list[MigrationCell] = field(default_factory=list)
    time_to_tier: list[TimeToTier] = field(default_factory=list)


# The most periods a distribution shows: the last ones up to the end.
MAX_PERIODS = 120


def _period_ends(start: datetime.date, end: datetime.date, step: str) -> list[datetime.date]:
    """The last day of each month (or quarter) from ``start``'s to ``end``'s, ``end`` itself last;
    at most ``MAX_PERIODS``, the latest."""
    months = 3 if step == "quarter" else 1
    first = start.year * 12 + start.month - 1
    if step == "quarter":
        first -= first % 3
    last_month = end.year * 12 + end.month - 1
    if first < last_month - (MAX_PERIODS - 1) * months:
        first = last_month - (MAX_PERIODS - 1) * months
        first += -first % months  # a quarter starts in January, April, July or October
    days = []
    for index in range(first, last_month + 1, months):
        following = index + months
        if following // 12 > datetime.MAXYEAR:
            break
        period_end = datetime.date(following // 12, following % 12 + 1, 1) - datetime.timedelta(days=1)
        if period_end >= end:
            break
        days.append(period_end)
    days.append(end)
    return days


_SPANS = """
WITH spans AS (
  SELECT c.partner_id, c.to_tier_id, c.effective_on AS starts,
         LEAD(c.effective_on) OVER (
           PARTITION BY c.partner_id ORDER BY c.effective_on, c.changed_at, c.id
         ) AS ends
  FROM gates_tierchange c
  WHERE c.program_id = %s AND c.partner_id IN ({scope})
)
"""


def tier_movement(principal, filters: Filters, *, today: datetime.date | None = None) -> TierMovement:
    """The program's tier movement over the filtered partners the principal sees. Five queries:
    the program, its tiers, the distribution, the migration matrix, the time to each tier."""
    today = today or timezone.localdate()
    if filters.matches_nothing:
        return TierMovement(program=None)
    program = filters.program
    if program is None:
        program = Program.objects.visible_to(principal).filter(tiers__isnull=False).order_by("name").first()
    end = filters.end or today
    start = filters.start or datetime.date(max(end.year - 1, datetime.MINYEAR), end.month, 1)
    movement = TierMovement(program=program, start=start, end=end)
    if program is None:
        return movement
    tier_list = list(Tier.objects.filter(program=program).order_by("rank"))
    names = {tier.pk: tier.name for tier in tier_list}
    scope = subquery(filters.partners(principal).values("pk"))
    movement.days = _period_ends(start, end, filters.step)
    counts: dict[int, list[int]] = {tier.pk: [0] * len(movement.days) for tier in tier_list}
    if scope is None:
        movement.series = [(names[tier_id], values) for tier_id, values in counts.items()]
        return movement
    scope_sql, scope_params = scope
    spans = _SPANS.format(scope=scope_sql)
    base_params = [program.pk, *scope_params]

    day_values = ", ".join(["(%s::int, %s::date)"] * len(movement.days))
    distribution = fetch(
        spans
        + f"""
, days(position, day) AS (VALUES {day_values})
SELECT d.position, s.to_tier_id, count(*)
FROM days d JOIN spans s ON s.starts <= d.day AND (s.ends IS NULL OR s.ends > d.day)
WHERE s.to_tier_id IS NOT NULL
GROUP BY d.position, s.to_tier_id
""",
        [*base_params, *[value for position, day in enumerate(movement.days) for value in (position, day)]],
    )
    for position, tier_id, partners in distribution:
        if tier_id in counts:
            counts[tier_id][position] = partners
    movement.series = [(names[tier_id], values) for tier_id, values in counts.items()]

    matrix = fetch(
        spans
        + """
, at_start AS (SELECT partner_id, to_tier_id FROM spans WHERE starts <= %s AND (ends IS NULL OR ends > %s)),
at_end AS (SELECT partner_id, to_tier_id FROM spans WHERE starts <= %s AND (ends IS NULL OR ends > %s))
SELECT a.to_tier_id, b.to_tier_id, count(*)
FROM at_start a FULL OUTER JOIN at_end b ON a.partner_id = b.partner_id
GROUP BY a.to_tier_id, b.to_tier_id
""",
        [*base_params, start, start, end, end],
    )
    ranks: dict[int | None, int] = {tier.pk: tier.rank for tier in tier_list}
    movement.matrix = sorted(
        (
            MigrationCell(
                from_id,
                names.get(from_id, NO_TIER) if from_id else NO_TIER,
                to_id,
                names.get(to_id, NO_TIER) if to_id else NO_TIER,
                partners,
            )
            for from_id, to_id, partners in matrix
            if from_id is not None or to_id is not None
        ),
        key=lambda cell: (ranks.get(cell.from_tier_id, 0), ranks.get(cell.to_tier_id, 0)),
    )

    reached = fetch(
        f"""
SELECT first.to_tier_id, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY first.reached - p.joined_on),
       avg(first.reached - p.joined_on)
FROM (
  SELECT c.partner_id, c.to_tier_id, min(c.effective_on) AS reached
  FROM gates_tierchange c
  WHERE c.program_id = %s AND c.to_tier_id IS NOT NULL AND c.partner_id IN ({scope_sql})
  GROUP BY c.partner_id, c.to_tier_id
) first JOIN partners_partner p ON p.id = first.partner_id
GROUP BY first.to_tier_id
""",
        base_params,
    )
    by_tier = {tier_id: (n, median, average) for tier_id, n, median, average in reached}
    for tier in tier_list:
        n, median, average = by_tier.get(tier.pk, (0, None, None))
        movement.time_to_tier.append(
            TimeToTier(
                tier.name,
                n,
                Decimal(str(median)).quantize(Decimal("0.1")) if median is not None else None,
                Decimal(str(average)).quantize(Decimal("0.1")) if average is not None else None,
            )
        )
    return movement


# Partners listed for one cell of the migration matrix, by name.
MOVED_LIMIT = 200


@dataclass
class MovedPartner:
    partner_id: int
    name: str


def moved_partners(
    principal,
    filters: Filters,
    *,
    from_tier_id: int | None,
    to_tier_id: int | None,
    today: datetime.date | None = None,
) -> tuple[TierMovement, list[MovedPartner]]:
    """The partners of one cell of the migration matrix (None is "no tier"), at most
    ``MOVED_LIMIT`` by name; with the movement's program and days. One query for the cell."""
    today = today or timezone.localdate()
    movement = TierMovement(program=None)
    if filters.matches_nothing:
        return movement, []
    program = filters.program
    if program is None:
        program = Program.objects.visible_to(principal).filter(tiers__isnull=False).order_by("name").first()
    end = filters.end or today
    start = filters.start or datetime.date(max(end.year - 1, datetime.MINYEAR), end.month, 1)
    movement = TierMovement(program=program, start=start, end=end)
    scope = subquery(filters.partners(principal).values("pk"))
    if program is None or scope is None:
        return movement, []
    scope_sql, scope_params = scope
    rows = fetch(
        _SPANS.format(scope=scope_sql)
        + """
, at_start AS (SELECT partner_id, to_tier_id FROM spans WHERE starts <= %s AND (ends IS NULL OR ends > %s)),
at_end AS (SELECT partner_id, to_tier_id FROM spans WHERE starts <= %s AND (ends IS NULL OR ends > %s))
SELECT p.id, p.name
FROM at_start a FULL OUTER JOIN at_end b ON a.partner_id = b.partner_id
JOIN partners_partner p ON p.id = COALESCE(a.partner_id, b.partner_id)
WHERE a.to_tier_id IS NOT DISTINCT FROM %s AND b.to_tier_id IS NOT DISTINCT FROM %s
ORDER BY p.name, p.id
LIMIT %s
""",
        [program.pk, *scope_params, start, start, end, end, from_tier_id, to_tier_id, MOVED_LIMIT],
    )
    return movement, [MovedPartner(partner_id, name) for partner_id, name in rows]
