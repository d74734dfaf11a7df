"""A partner's own figures: its revenue, points, certifications and deals over time, and where it
stands against the median of its peers.

- *Revenue*: won sales (``Sale``) by close date, in the reference currency at the rate in force on
  each sale's day (as the leaderboards convert); a sale without a rate for its day is left out and
  its currency named.
- *Points*: engagement points (``PTS``) earned, by event day; points spent are not subtracted.
- *Certifications*: certifications issued to the partner's people.
- *Deals*: deal registrations by their registration day, and deals won by their close day.

Per month or quarter (``step``) from ``start`` (a year before ``end`` by default) to ``end`` (today),
at most the last ``analytics.roi.MAX_PERIODS``.

**Peers.** For each tier the partner holds now, its peers are the *other* partners holding that tier
with the same partner type. Their median of each figure over the period is shown only when there
are at least ``MIN_PEERS`` of them; with fewer, the query returns the count alone, so no median
(which could be one peer's own figure in a small group) leaves the database. The peers are read
outside the door on purpose: the partner learns a median of five or more, never whom it describes.

Three queries: the series (one ``GROUP BY`` per fact over the partner's rows) and the peer medians
(``percentile_cont`` over every peer group at once), then the programs open to the partner.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from analytics.filters import Filters
from analytics.roi import period_starts, table
from core.exchange import reference_currency
from core.models import ExchangeRate
from core.money import round_money
from deals.models import Deal, DealStatus
from gates.models import PartnerTier
from incentives.models import LedgerEntry
from incentives.models.ledger import POINTS
from partners.models import Partner
from partners.models.facts import Certification, Person, Sale
from programs.models import Program, Tier, program_open_to

MIN_PEERS = 5
FIGURES = ("revenue", "points", "certifications", "deals_registered", "deals_won")
TOO_FEW_PEERS = "Too few peers to compare"


@dataclass
class PeriodFigures:
    label: str
    revenue: Decimal = Decimal(0)
    points: Decimal = Decimal(0)
    certifications: int = 0
    deals_registered: int = 0
    deals_won: int = 0


@dataclass
class PeerComparison:
    program: str
    tier: str
    peers: int
    # The peers' median of each figure (``FIGURES``); None when there are fewer than ``MIN_PEERS``.
    medians: dict[str, Decimal] | None = None

    @property
    def shown(self) -> bool:
        return self.medians is not None


@dataclass
class PartnerFigures:
    partner: Partner | None = None
    currency: str = ""
    start: datetime.date | None = None
    end: datetime.date | None = None
    step: str = "month"
    periods: list[PeriodFigures] = field(default_factory=list)
    total: PeriodFigures = field(default_factory=lambda: PeriodFigures("total"))
    peers: list[PeerComparison] = field(default_factory=list)
    unconverted: list[str] = field(default_factory=list)
    min_peers: int = MIN_PEERS


# The converted sales of the partners ``{who}`` names, in the period.
_SALES = """
  SELECT s.partner_id, s.closed_on AS day, s.currency,
         CASE WHEN s.currency = %(currency)s THEN s.amount
              ELSE s.amount
                   * CASE WHEN s.currency = %(reference)s THEN 1 ELSE from_rate.rate END
                   / CASE WHEN %(currency)s = %(reference)s THEN 1 ELSE to_rate.rate END
         END AS amount
  FROM {sale} s
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x WHERE x.currency = s.currency AND x.valid_from <= s.closed_on
    ORDER BY x.valid_from DESC LIMIT 1
  ) from_rate ON TRUE
  LEFT JOIN LATERAL (
    SELECT x.rate FROM {rate} x WHERE x.currency = %(currency)s AND x.valid_from <= s.closed_on
    ORDER BY x.valid_from DESC LIMIT 1
  ) to_rate ON TRUE
  WHERE s.partner_id IN ({who}) AND s.closed_on BETWEEN %(start)s AND %(end)s
"""

# Every fact of the partners ``{who}`` names, as (partner_id, day, figure, amount, currency).
_FACTS = """
  SELECT partner_id, day, 'revenue' AS figure, amount, currency FROM ({sales}) sales
  UNION ALL
  SELECT e.partner_id, e.event_on, 'points', e.amount, NULL FROM {ledger} e
  WHERE e.partner_id IN ({who}) AND e.currency = %(points)s AND e.amount > 0
    AND e.event_on BETWEEN %(start)s AND %(end)s
  UNION ALL
  SELECT pe.partner_id, c.issued_on, 'certifications', 1, NULL
  FROM {certification} c JOIN {person} pe ON pe.id = c.person_id
  WHERE pe.partner_id IN ({who}) AND c.issued_on BETWEEN %(start)s AND %(end)s
  UNION ALL
  SELECT d.partner_id, d.registered_on, 'deals_registered', 1, NULL FROM {deal} d
  WHERE d.partner_id IN ({who}) AND d.registered_on BETWEEN %(start)s AND %(end)s
  UNION ALL
  SELECT d.partner_id, d.closed_on, 'deals_won', 1, NULL FROM {deal} d
  WHERE d.partner_id IN ({who}) AND d.status = %(won)s AND d.closed_on BETWEEN %(start)s AND %(end)s
"""

_SERIES_SQL = """
SELECT date_trunc(%(step)s, day)::date AS period, figure, sum(amount),
       array_agg(DISTINCT currency) FILTER (WHERE figure = 'revenue' AND amount IS NULL)
FROM ({facts}) facts
GROUP BY period, figure
"""

_PEERS_SQL = """
WITH groups AS (
  SELECT t.tier_id FROM {partner_tier} t WHERE t.partner_id = %(partner)s AND t.tier_id IS NOT NULL
),
members AS (
  SELECT g.tier_id, t.partner_id FROM groups g
  JOIN {partner_tier} t ON t.tier_id = g.tier_id
  JOIN {partner} p ON p.id = t.partner_id
  WHERE p.partner_type = %(partner_type)s AND p.id <> %(partner)s
),
per_peer AS (
  SELECT partner_id,
         COALESCE(sum(amount) FILTER (WHERE figure = 'revenue'), 0) AS revenue,
         COALESCE(sum(amount) FILTER (WHERE figure = 'points'), 0) AS points,
         COALESCE(sum(amount) FILTER (WHERE figure = 'certifications'), 0) AS certifications,
         COALESCE(sum(amount) FILTER (WHERE figure = 'deals_registered'), 0) AS deals_registered,
         COALESCE(sum(amount) FILTER (WHERE figure = 'deals_won'), 0) AS deals_won
  FROM ({facts}) facts GROUP BY partner_id
),
figures AS (
  SELECT m.tier_id,
         COALESCE(pp.revenue, 0) AS revenue, COALESCE(pp.points, 0) AS points,
         COALESCE(pp.certifications, 0) AS certifications,
         COALESCE(pp.deals_registered, 0) AS deals_registered, COALESCE(pp.deals_won, 0) AS deals_won
  FROM members m LEFT JOIN per_peer pp ON pp.partner_id = m.partner_id
),
medians AS (
  SELECT tier_id, count(*) AS peers,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY revenue::float8) AS revenue,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY points::float8) AS points,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY certifications::float8) AS certifications,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY deals_registered::float8) AS deals_registered,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY deals_won::float8) AS deals_won
  FROM figures GROUP BY tier_id
)
-- A group of fewer than %(min_peers)s peers answers its count alone.
SELECT pg.id, pg.name, ti.name, COALESCE(md.peers, 0),
       CASE WHEN md.peers >= %(min_peers)s THEN md.revenue END,
       CASE WHEN md.peers >= %(min_peers)s THEN md.points END,
       CASE WHEN md.peers >= %(min_peers)s THEN md.certifications END,
       CASE WHEN md.peers >= %(min_peers)s THEN md.deals_registered END,
       CASE WHEN md.peers >= %(min_peers)s THEN md.deals_won END
FROM groups g JOIN {tier} ti ON ti.id = g.tier_id JOIN {program} pg ON pg.id = ti.program_id
LEFT JOIN medians md ON md.tier_id = g.tier_id
ORDER BY pg.name, ti.rank
"""


def _facts_sql(who: str) -> str:
    tables = {
        "sale": table(Sale),
        "rate": table(ExchangeRate),
        "ledger": table(LedgerEntry),
        "certification": table(Certification),
        "person": table(Person),
        "deal": table(Deal),
    }
    sales = _SALES.format(who=who, **tables)
    return _FACTS.format(who=who, sales=sales, **tables)


def partner_figures(
    partner: Partner, filters: Filters, *, today: datetime.date | None = None
) -> PartnerFigures:
    """The partner's own figures and its peer comparison. The caller decides that the partner is
    the viewer's own (a partner sees only itself); only ``start``, ``end`` and ``step`` are read
    from the filters. Three queries."""
    today = today or timezone.localdate()
    end = filters.end or today
    start = filters.start or datetime.date(max(end.year - 1, datetime.MINYEAR), end.month, 1)
    starts = period_starts(start, end, filters.step)
    start = max(start, starts[0])
    currency = reference_currency()
    figures = PartnerFigures(
        partner=partner,
        currency=currency,
        start=start,
        end=end,
        step=filters.step,
        periods=[PeriodFigures(day.isoformat(), revenue=round_money(Decimal(0), currency)) for day in starts],
        total=PeriodFigures("total", revenue=round_money(Decimal(0), currency)),
    )
    params: dict[str, Any] = {
        "partner": partner.pk,
        "partner_type": partner.partner_type,
        "start": start,
        "end": end,
        "step": filters.step,
        "currency": currency,
        "reference": reference_currency(),
        "points": POINTS,
        "won": DealStatus.WON,
        "min_peers": MIN_PEERS,
    }
    index = {day: position for position, day in enumerate(starts)}
    unconverted: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute(_SERIES_SQL.format(facts=_facts_sql("%(partner)s")), params)
        for period, figure, amount, missing in cursor.fetchall():
            unconverted.update(missing or [])
            if period in index:
                _add(figures.periods[index[period]], figure, amount, currency)
                _add(figures.total, figure, amount, currency)
        peers_sql = _PEERS_SQL.format(
            facts=_facts_sql("SELECT partner_id FROM members"),
            partner_tier=table(PartnerTier),
            partner=table(Partner),
            tier=table(Tier),
            program=table(Program),
        )
        cursor.execute(peers_sql, params)
        rows = cursor.fetchall()
    # Only the programs open to the partner: a tier held in a program outside its segments
    # (results the nightly run keeps) is never named to it.
    # door: program_open_to is the visibility rule between partners and programs itself
    open_programs = set(Program.objects.filter(program_open_to(partner)).values_list("pk", flat=True))
    for program_id, program_name, tier_name, peers, *medians in rows:
        if program_id not in open_programs:
            continue
        comparison = PeerComparison(program=program_name, tier=tier_name, peers=int(peers))
        if peers >= MIN_PEERS:
            comparison.medians = _medians(medians, currency)
        figures.peers.append(comparison)
    figures.unconverted = sorted(unconverted)
    return figures


def _add(target: PeriodFigures, figure: str, amount, currency: str) -> None:
    value = Decimal(0) if amount is None else Decimal(amount)
    if figure == "revenue":
        target.revenue = round_money(target.revenue + value, currency)
    elif figure == "points":
        target.points = (target.points + value).quantize(Decimal(1))
    else:
        setattr(target, figure, getattr(target, figure) + int(value))


def _medians(values: list, currency: str) -> dict[str, Decimal]:
    medians = dict(zip(FIGURES, (Decimal(str(value)) for value in values), strict=True))
    medians["revenue"] = round_money(medians["revenue"], currency)
    # A median of counts may fall between two (an even group): it keeps its half.
    for name in FIGURES[1:]:
        medians[name] = medians[name].quantize(Decimal("0.1"))
    return medians
