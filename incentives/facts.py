"""Loading what the engine needs from the database, in bulk: rules, facts, tier history and rates.

Each loader issues a fixed number of queries whatever the number of rows, so
that a calculation over a chunk of partners, or the reconciliation over all of
them, costs the same handful of queries per chunk.
"""

import bisect
import datetime
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Min, Q, QuerySet

from core.exchange import reference_currency
from core.models import ExchangeRate
from deals.models import Deal, DealStatus
from gates.models import TierChange
from incentives import engine
from incentives.models import (
    CustomerActivation,
    IncentivePeriod,
    IncentiveRule,
    Redemption,
)
from incentives.periods import Period, parse_period, year
from partners.models import Certification, EngagementActivity, Sale
from programs.models import Tier

# The sale a won deal became (deals.services.deal_mark_won).
DEAL_SALE_SOURCE = "deal"


# --- rules ---------------------------------------------------------------------------------


def rule_specs(rules: QuerySet[IncentiveRule] | None = None) -> list[engine.RuleSpec]:
    """Every rule with its rates, bands and activity types: five queries."""
    queryset = (rules if rules is not None else IncentiveRule.objects.all()).select_related("min_tier")
    queryset = queryset.prefetch_related("margin_rates", "commission_rates", "rebate_bands", "activity_types")
    specs = []
    for rule in queryset.order_by("id"):
        specs.append(
            engine.RuleSpec(
                id=rule.id,
                name=rule.name,
                kind=rule.kind,
                program_id=rule.program_id,
                currency=rule.currency,
                effective_from=rule.effective_from,
                effective_to=rule.effective_to,
                product_line_id=rule.product_line_id,
                min_tier_rank=rule.min_tier.rank if rule.min_tier else None,
                signing_percent=rule.paid_on_signing_percent,
                activation_days=rule.activation_days,
                rebate_period=rule.rebate_period,
                band_method=rule.band_method or "marginal",
                bands=tuple(
                    engine.Band(band.lower_bound, band.upper_bound, band.percent)
                    for band in rule.rebate_bands.all()
                ),
                margin_rates={
                    (rate.tier_id, rate.product_line_id): rate.percent for rate in rule.margin_rates.all()
                },
                commission_rates={
                    (rate.sourced_by, rate.closed_by): rate.percent for rate in rule.commission_rates.all()
                },
                spif_trigger=rule.spif_trigger,
                spif_amount=rule.spif_amount,
                certification_type_id=rule.certification_type_id,
                budget=rule.budget,
                points_multiplier=rule.points_multiplier,
                activity_type_ids=frozenset(activity_type.id for activity_type in rule.activity_types.all()),
            )
        )
    return specs


# --- tier history --------------------------------------------------------------------------


class TierNames:
    def __init__(self) -> None:
        self._tiers = {
            tier_id: (rank, name) for tier_id, rank, name in Tier.objects.values_list("id", "rank", "name")
        }

    def rank(self, tier_id: int | None) -> int | None:
        return self._tiers[tier_id][0] if tier_id in self._tiers else None

    def name(self, tier_id: int | None) -> str:
        return self._tiers[tier_id][1] if tier_id in self._tiers else ""


class HistoryTierBook(TierNames):
    """The tier held on a day, read from the tier history in one query.

    Same answer as ``gates.selectors.tier_on`` (the last change effective on or
    before the day, the latest recorded winning a tie), for many partners at once.
    """

    def __init__(self, partner_ids: Iterable[int] | None, program_ids: Iterable[int]) -> None:
        super().__init__()
        changes = TierChange.objects.filter(program_id__in=set(program_ids))
        if partner_ids is not None:
            changes = changes.filter(partner_id__in=set(partner_ids))
        rows: dict[tuple[int, int], list[tuple]] = defaultdict(list)
        # Ordered as tier_on orders them, so the last change on or before a day is the one held.
        for partner_id, program_id, effective_on, to_tier_id in changes.values_list(
            "partner_id", "program_id", "effective_on", "to_tier_id"
        ).order_by("partner_id", "program_id", "effective_on", "changed_at", "id"):
            rows[(partner_id, program_id)].append((effective_on, to_tier_id))
        self._days = {key: [day for day, _ in value] for key, value in rows.items()}
        self._tiers_held = {key: [tier for _, tier in value] for key, value in rows.items()}

    def tier_on(self, partner_id: int, program_id: int, day: datetime.date) -> int | None:
        days = self._days.get((partner_id, program_id))
        if not days:
            return None
        index = bisect.bisect_right(days, day)
        return self._tiers_held[(partner_id, program_id)][index - 1] if index else None


# --- exchange rates ------------------------------------------------------------------------


class ExchangeRateBook:
    """Every exchange rate in one query; converts like ``core.exchange.convert``.

    A rate holds from its date until the next one of the same currency; the
    conversion keeps full precision (the engine rounds once, later).
    """

    def __init__(self) -> None:
        self._reference = reference_currency()
        rows: dict[str, list[tuple[datetime.date, Decimal]]] = defaultdict(list)
        for currency, valid_from, rate in ExchangeRate.objects.order_by("currency", "valid_from").values_list(
            "currency", "valid_from", "rate"
        ):
            rows[currency].append((valid_from, rate))
        self._days = {currency: [day for day, _ in value] for currency, value in rows.items()}
        self._rates = {currency: [rate for _, rate in value] for currency, value in rows.items()}

    def rate_on(self, currency: str, day: datetime.date) -> Decimal | None:
        if currency == self._reference:
            return Decimal(1)
        days = self._days.get(currency)
        if not days:
            return None
        index = bisect.bisect_right(days, day)
        return self._rates[currency][index - 1] if index else None

    def convert(self, amount: Decimal, from_currency: str, to_currency: str, day: datetime.date) -> Decimal:
        if from_currency == to_currency:
            return amount
        from_rate = self.rate_on(from_currency, day)
        to_rate = self.rate_on(to_currency, day)
        if from_rate is None or to_rate is None:
            missing = from_currency if from_rate is None else to_currency
            raise LookupError(f"There is no {missing} exchange rate on or before {day:%d %b %Y}.")
        return amount * from_rate / to_rate


# --- periods -------------------------------------------------------------------------------


def closed_period_codes() -> set[str]:
    return set(IncentivePeriod.objects.filter(closed_at__isnull=False).values_list("code", flat=True))


def settled_periods(closed_codes: Iterable[str]) -> list[Period]:
    """Closed quarters, and the years whose last quarter is closed: the periods rebates settle."""
    quarters = sorted(parse_period(code) for code in set(closed_codes))
    years = [year(quarter.start.year) for quarter in quarters if quarter.code.endswith("-Q4")]
    return quarters + years


# --- facts ---------------------------------------------------------------------------------


def deal_facts(deals: QuerySet[Deal]) -> list[engine.DealFact]:
    """Deals with the sale each became (amount, currency, product line) and their activation.

    A won deal is worth its sale; without one (a deal marked won by hand) its
    expected value, on its first product line. Three queries.
    """
    rows = list(
        deals.values(
            "id",
            "partner_id",
            "status",
            "closed_on",
            "expected_value",
            "currency",
            "sourced_by",
            "closed_by",
            "customer_name",
        )
    )
    ids = [row["id"] for row in rows]
    wanted = set(ids)
    sales: dict[int, tuple] = {}
    if ids:
        # Subqueries rather than id lists: a SPIF's allocation reads thousands of deals.
        deal_ids = deals.order_by().values("id")
        sale_rows = Sale.objects.filter(
            Q(deal_id__in=deal_ids)
            | Q(source=DEAL_SALE_SOURCE, partner_id__in=deals.order_by().values("partner_id"))
        ).values_list(
            "id", "deal_id", "external_id", "source", "amount", "currency", "product_line_id", "closed_on"
        )
        for (
            row_id,
            deal_id,
            external_id,
            source,
            row_amount,
            row_currency,
            row_line,
            day,
        ) in sale_rows.order_by("id"):
            owner = deal_id
            if source == DEAL_SALE_SOURCE and external_id.startswith("deal-") and external_id[5:].isdigit():
                owner = int(external_id[5:])
            if owner not in wanted or owner in sales:
                continue
            sales[owner] = (row_id, row_amount, row_currency, row_line, day)
    first_products: dict[int, int] = {}
    missing = [deal_id for deal_id in ids if deal_id not in sales]
    if missing:
        through = Deal.products.through
        for deal_id, product_id in (
            through.objects.filter(deal_id__in=missing)
            .order_by("deal_id", "productline_id")
            .values_list("deal_id", "productline_id")
        ):
            first_products.setdefault(deal_id, product_id)
    activations = (
        dict(
            CustomerActivation.objects.filter(deal_id__in=deals.order_by().values("id")).values_list(
                "deal_id", "activated_on"
            )
        )
        if ids
        else {}
    )
    facts = []
    for row in rows:
        sale = sales.get(row["id"])
        sale_id: int | None
        line_id: int | None
        if sale:
            sale_id, amount, currency, line_id, _sale_day = sale
        else:
            sale_id, amount, currency = None, row["expected_value"], row["currency"]
            line_id = first_products.get(row["id"])
        facts.append(
            engine.DealFact(
                id=row["id"],
                partner_id=row["partner_id"],
                won=row["status"] == DealStatus.WON,
                closed_on=row["closed_on"],
                amount=amount,
                currency=currency,
                product_line_id=line_id,
                sourced_by=row["sourced_by"],
                closed_by=row["closed_by"],
                customer=row["customer_name"],
                sale_id=sale_id,
                activated_on=activations.get(row["id"]),
            )
        )
    return facts


def sale_facts(sales: QuerySet[Sale]) -> list[engine.SaleFact]:
    return [
        engine.SaleFact(*row)
        for row in sales.values_list("id", "partner_id", "amount", "currency", "product_line_id", "closed_on")
    ]


def activity_facts(activities: QuerySet[EngagementActivity]) -> list[engine.ActivityFact]:
    return [
        engine.ActivityFact(id=i, partner_id=p, activity_type_id=t, points=pts, occurred_on=day, name=name)
        for i, p, t, pts, day, name in activities.values_list(
            "id", "partner_id", "activity_type_id", "points", "occurred_on", "activity_type__name"
        )
    ]


def certification_facts(certifications: QuerySet[Certification]) -> list[engine.CertificationFact]:
    return [
        engine.CertificationFact(
            id=i, partner_id=p, certification_type_id=t, issued_on=day, name=f"{name} – {first} {last}"
        )
        for i, p, t, day, name, first, last in certifications.values_list(
            "id",
            "person__partner_id",
            "certification_type_id",
            "issued_on",
            "certification_type__name",
            "person__first_name",
            "person__last_name",
        )
    ]


def redemption_facts(redemptions: QuerySet[Redemption]) -> list[engine.RedemptionFact]:
    return [
        engine.RedemptionFact(
            id=i, partner_id=p, rule_id=r, points=pts, amount=amount, currency=c, redeemed_on=day, reward=name
        )
        for i, p, r, pts, amount, c, day, name in redemptions.values_list(
            "id",
            "partner_id",
            "reward__rule_id",
            "points",
            "amount",
            "currency",
            "redeemed_on",
            "reward__name",
        )
    ]


def first_sales(partner_ids: Iterable[int]) -> dict[tuple[int, int], tuple[datetime.date, int]]:
    """Each partner's first sale in each product line: (day, sale id), the lowest id winning a tie."""
    partner_ids = set(partner_ids)
    if not partner_ids:
        return {}
    firsts = (
        Sale.objects.filter(partner_id__in=partner_ids)
        .values("partner_id", "product_line_id")
        .annotate(first=Min("closed_on"))
    )
    wanted = {(row["partner_id"], row["product_line_id"]): row["first"] for row in firsts}
    result: dict[tuple[int, int], tuple[datetime.date, int]] = {}
    days = set(wanted.values())
    for sale_id, partner_id, line_id, day in (
        Sale.objects.filter(partner_id__in=partner_ids, closed_on__in=days)
        .order_by("id")
        .values_list("id", "partner_id", "product_line_id", "closed_on")
    ):
        if wanted.get((partner_id, line_id)) == day:
            result.setdefault((partner_id, line_id), (day, sale_id))
    return result


def won_deals() -> QuerySet[Deal]:
    return Deal.objects.filter(status=DealStatus.WON, closed_on__isnull=False)


def between(field: str, start: datetime.date | None, end: datetime.date | None) -> Q:
    condition = Q()
    if start is not None:
        condition &= Q(**{f"{field}__gte": start})
    if end is not None:
        condition &= Q(**{f"{field}__lte": end})
    return condition
