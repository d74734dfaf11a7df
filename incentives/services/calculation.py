"""The calculation: earnings into the ledger, for a scope of deals, partners or a period.

The calculation is one function, ``calculate``, over a scope (some deals, some
partners, a period, everything). The Celery tasks, the period close and the
``calculate_incentives`` command all call it, so they cannot disagree. It

1. loads the rules and the facts in scope in bulk (``incentives.facts``),
2. works out what the rules say (``incentives.engine``), at full precision,
   rounding once per rule and source,
3. compares with the ledger key by key and writes only the differences
   (``incentives.ledger``), each as a new immutable entry under a unique key.

Per-partner rules are calculated a chunk of partners per transaction. A SPIF's
budget is shared by every partner, so each SPIF is allocated as a whole, in a
transaction holding its rule's row lock: concurrent calculations cannot
overspend it."""

import datetime
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deals.models import Deal, DealStatus
from incentives import engine, facts
from incentives.ledger import KeyLedger, PeriodAssigner, WriteSummary, load_ledger, settle
from incentives.models import (
    IncentiveRule,
    LedgerEntry,
    Redemption,
    RuleKind,
    SourceType,
    SpifTrigger,
)
from incentives.periods import Period
from partners.models import Certification, EngagementActivity, Partner, Sale

logger = logging.getLogger(__name__)

PARTNER_CHUNK = 500
DEAL_TRIGGERS = (SpifTrigger.DEAL, SpifTrigger.FIRST_DEAL_IN_LINE)

Plan = dict[engine.Key, tuple[engine.Expected | None, KeyLedger | None]]


@dataclass(frozen=True)
class Scope:
    """What a calculation covers.

    Either explicit sources (``deal_ids``, ``activity_ids``, ``redemption_ids``:
    only those), or partners (``partner_ids``, None for every partner) with
    facts dated in ``period`` (None for all time). A source whose ledger entries
    fall in scope is recalculated even if its facts moved out of it, so that
    what it no longer earns there is reversed.
    """

    partner_ids: frozenset[int] | None = None
    period: Period | None = None
    deal_ids: frozenset[int] | None = None
    activity_ids: frozenset[int] | None = None
    redemption_ids: frozenset[int] | None = None

    @property
    def explicit(self) -> bool:
        return any(ids is not None for ids in (self.deal_ids, self.activity_ids, self.redemption_ids))

    @property
    def start(self) -> datetime.date | None:
        return self.period.start if self.period else None

    @property
    def end(self) -> datetime.date | None:
        return self.period.end if self.period else None


@dataclass
class CalculationSummary:
    keys: int = 0
    earnings: int = 0
    adjustments: int = 0
    reversals: int = 0
    retries: int = 0
    problems: list[engine.Problem] = field(default_factory=list)

    def add(self, written: WriteSummary) -> None:
        self.keys += written.keys
        self.earnings += written.earnings
        self.adjustments += written.adjustments
        self.reversals += written.reversals
        self.retries += written.retries

    @property
    def entries(self) -> int:
        return self.earnings + self.adjustments + self.reversals

    def as_dict(self) -> dict:
        return {
            "keys": self.keys,
            "entries": self.entries,
            "earnings": self.earnings,
            "adjustments": self.adjustments,
            "reversals": self.reversals,
            "problems": len(self.problems),
        }


@dataclass
class Context:
    """What every chunk of one calculation shares: loaded once."""

    as_of: datetime.date
    rules: list[engine.RuleSpec]
    rates: facts.ExchangeRateBook
    settled: list[Period]

    @property
    def partner_rules(self) -> list[engine.RuleSpec]:
        return [rule for rule in self.rules if rule.kind != RuleKind.SPIF]

    @property
    def spif_rules(self) -> list[engine.RuleSpec]:
        return [rule for rule in self.rules if rule.kind == RuleKind.SPIF]


def load_context(*, as_of: datetime.date, closing: Period | None = None) -> Context:
    closed = facts.closed_period_codes()
    if closing is not None:
        closed.add(closing.code)
    return Context(
        as_of=as_of,
        rules=facts.rule_specs(),
        rates=facts.ExchangeRateBook(),
        settled=facts.settled_periods(closed),
    )


# --- planning: what the rules say against what the ledger holds ------------------------------


def _merge(outcome: engine.Outcome, ledger: dict[engine.Key, KeyLedger]) -> Plan:
    keys = set(outcome.expected) | set(ledger)
    return {key: (outcome.expected.get(key), ledger.get(key)) for key in keys}


def _source_ids(ledger: dict[engine.Key, KeyLedger], source_type: str) -> set[int]:
    return {
        int(key.source_id) for key in ledger if key.source_type == source_type and key.source_id.isdigit()
    }


def plan_partners(context: Context, scope: Scope, partner_ids: Sequence[int] | None) -> tuple[Plan, list]:
    """Margins, commissions, rebates, points and redemptions for a chunk of partners (or explicit sources)."""
    rules = context.partner_rules
    rule_ids = [rule.id for rule in rules]
    entries = LedgerEntry.objects.filter(rule_id__in=rule_ids)
    if scope.explicit:
        wanted = Q(pk__in=[])
        for source_type, ids in (
            (SourceType.DEAL, scope.deal_ids),
            (SourceType.ACTIVITY, scope.activity_ids),
            (SourceType.REDEMPTION, scope.redemption_ids),
        ):
            if ids:
                wanted |= Q(source_type=source_type, source_id__in=[str(i) for i in ids])
        ledger = load_ledger(entries.filter(wanted))
        deals = Deal.objects.filter(id__in=scope.deal_ids or ())
        activities = EngagementActivity.objects.filter(id__in=scope.activity_ids or ())
        redemptions = Redemption.objects.filter(id__in=scope.redemption_ids or ())
        sales = Sale.objects.none()
        settled: list[Period] = []
    else:
        assert partner_ids is not None
        ledger = load_ledger(entries.filter(partner_id__in=partner_ids))
        if scope.period is not None:
            ledger = {key: value for key, value in ledger.items() if value.touches(scope.start, scope.end)}
        mine = Q(partner_id__in=partner_ids)
        deals = Deal.objects.filter(
            (mine & Q(status=DealStatus.WON) & facts.between("closed_on", scope.start, scope.end))
            | Q(id__in=_source_ids(ledger, SourceType.DEAL))
        )
        activities = EngagementActivity.objects.filter(
            (mine & facts.between("occurred_on", scope.start, scope.end))
            | Q(id__in=_source_ids(ledger, SourceType.ACTIVITY))
        )
        redemptions = Redemption.objects.filter(
            (mine & facts.between("redeemed_on", scope.start, scope.end))
            | Q(id__in=_source_ids(ledger, SourceType.REDEMPTION))
        )
        settled = [
            period
            for period in context.settled
            if scope.period is None or scope.period.start <= period.end <= scope.period.end
        ]
        rebate_rules = [rule for rule in rules if rule.kind == RuleKind.REBATE]
        settled = [
            period
            for period in settled
            if any(
                rule.covers(period.end) and (rule.rebate_period == "year") == period.is_year
                for rule in rebate_rules
            )
        ]
        if settled:
            sales = Sale.objects.filter(
                mine, closed_on__gte=min(p.start for p in settled), closed_on__lte=max(p.end for p in settled)
            )
        else:
            sales = Sale.objects.none()
    deal_list = facts.deal_facts(deals)
    activity_list = facts.activity_facts(activities)
    redemption_list = facts.redemption_facts(redemptions)
    sale_list = facts.sale_facts(sales)
    involved = (
        set(partner_ids or ())
        | {item.partner_id for item in deal_list}
        | {item.partner_id for item in activity_list}
        | {item.partner_id for item in redemption_list}
        | {key.partner_id for key in ledger}
    )
    tiers = facts.HistoryTierBook(involved, {rule.program_id for rule in rules})
    data = engine.Facts(
        as_of=context.as_of,
        deals=deal_list,
        sales=sale_list,
        activities=activity_list,
        redemptions=redemption_list,
        settled_periods=settled,
    )
    outcome = engine.expected_entries(rules, data, tiers, context.rates)
    return _merge(outcome, ledger), outcome.problems


def spif_rules_in_scope(context: Context, scope: Scope) -> list[engine.RuleSpec]:
    """The SPIFs a scope touches. Each is then allocated whole, for every partner."""
    spifs = context.spif_rules
    if scope.explicit:
        sources = [
            (SourceType.DEAL, scope.deal_ids or frozenset()),
            (SourceType.ACTIVITY, scope.activity_ids or frozenset()),
        ]
        if not any(ids for _, ids in sources):
            return []
        deal_days = [
            day
            for day in Deal.objects.filter(id__in=scope.deal_ids or ()).values_list("closed_on", flat=True)
            if day is not None
        ]
        # (type, day) of each activity, for the activity SPIFs of its type.
        activities = list(
            EngagementActivity.objects.filter(id__in=scope.activity_ids or ()).values_list(
                "activity_type_id", "occurred_on"
            )
        )
        wanted = Q(pk__in=[])
        for source_type, ids in sources:
            if ids:
                wanted |= Q(source_type=source_type, source_id__in=[str(i) for i in ids])
        with_entries = set(
            LedgerEntry.objects.filter(wanted, rule_id__in=[rule.id for rule in spifs]).values_list(
                "rule_id", flat=True
            )
        )

        def touched(rule: engine.RuleSpec) -> bool:
            if rule.id in with_entries:
                return True
            if rule.spif_trigger in DEAL_TRIGGERS:
                return any(rule.covers(day) for day in deal_days)
            if rule.spif_trigger == SpifTrigger.ACTIVITY:
                return any(
                    rule.covers(day) and (not rule.activity_type_ids or type_id in rule.activity_type_ids)
                    for type_id, day in activities
                )
            return False

        return [rule for rule in spifs if touched(rule)]
    if scope.period is None:
        return spifs
    return [
        rule
        for rule in spifs
        if rule.effective_from <= scope.period.end
        and (rule.effective_to is None or rule.effective_to >= scope.period.start)
    ]


def plan_spif(context: Context, rule: engine.RuleSpec) -> tuple[Plan, list]:
    """Everything a SPIF pays, allocated over all that qualifies, against all its entries."""
    window = facts.between("closed_on", rule.effective_from, rule.effective_to)
    deal_list: list[engine.DealFact] = []
    certification_list: list[engine.CertificationFact] = []
    activity_list: list[engine.ActivityFact] = []
    first: dict = {}
    if rule.spif_trigger in DEAL_TRIGGERS:
        deals = facts.won_deals().filter(window)
        deal_list = facts.deal_facts(deals)
        if rule.spif_trigger == SpifTrigger.FIRST_DEAL_IN_LINE:
            first = facts.first_sales({deal.partner_id for deal in deal_list})
    elif rule.spif_trigger == SpifTrigger.CERTIFICATION:
        certifications = Certification.objects.filter(
            facts.between("issued_on", rule.effective_from, rule.effective_to)
        )
        if rule.certification_type_id is not None:
            certifications = certifications.filter(certification_type_id=rule.certification_type_id)
        certification_list = facts.certification_facts(certifications)
    elif rule.spif_trigger == SpifTrigger.ACTIVITY:
        activities = EngagementActivity.objects.filter(
            facts.between("occurred_on", rule.effective_from, rule.effective_to)
        )
        if rule.activity_type_ids:
            activities = activities.filter(activity_type_id__in=rule.activity_type_ids)
        activity_list = facts.activity_facts(activities)
    ledger = load_ledger(LedgerEntry.objects.filter(rule_id=rule.id))
    involved = (
        {deal.partner_id for deal in deal_list}
        | {item.partner_id for item in certification_list}
        | {item.partner_id for item in activity_list}
        | {key.partner_id for key in ledger}
    )
    tiers = facts.HistoryTierBook(involved, [rule.program_id])
    data = engine.Facts(
        as_of=context.as_of,
        deals=deal_list,
        certifications=certification_list,
        activities=activity_list,
        first_sales=first,
    )
    outcome = engine.expected_entries([rule], data, tiers, context.rates)
    return _merge(outcome, ledger), outcome.problems


def partner_chunks(partner_ids: frozenset[int] | None, size: int = PARTNER_CHUNK) -> Iterator[list[int]]:
    queryset = Partner.objects.order_by("id")
    if partner_ids is not None:
        queryset = queryset.filter(id__in=partner_ids)
    ids = list(queryset.values_list("id", flat=True))
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- the calculation ---------------------------------------------------------------------------


def calculate(
    *,
    scope: Scope | None = None,
    as_of: datetime.date | None = None,
    actor=None,
    closing: Period | None = None,
) -> CalculationSummary:
    """Bring the ledger in line with the rules for everything in ``scope``. Safe to repeat.

    Writes only differences, as new entries; never changes one. ``closing``
    treats that quarter as closed for its rebates while its own statement
    still takes the entries (used by ``period_close``). Facts the engine cannot
    value (no exchange rate) are skipped and listed in ``problems``.
    """
    scope = scope or Scope()
    as_of = as_of or timezone.localdate()
    context = load_context(as_of=as_of, closing=closing)
    assign = PeriodAssigner(facts.closed_period_codes(), as_of, closing.code if closing else None)
    summary = CalculationSummary()
    batches: Iterator[list[int] | None] = (
        iter([None]) if scope.explicit else partner_chunks(scope.partner_ids)
    )
    for batch in batches:
        with transaction.atomic():
            plan, problems = plan_partners(context, scope, batch)
            summary.add(settle(plan, assign_period=assign, actor=actor))
            summary.problems += problems
    for rule in spif_rules_in_scope(context, scope):
        with transaction.atomic():
            # The SPIF's budget is shared: one allocation at a time.
            IncentiveRule.objects.select_for_update().filter(pk=rule.id).first()
            plan, problems = plan_spif(context, rule)
            summary.add(settle(plan, assign_period=assign, actor=actor))
            summary.problems += problems
    for problem in summary.problems:
        logger.warning("incentive rule %s, %s: %s", problem.rule_id, problem.source, problem.message)
    return summary


def calculate_deal(*, deal_id: int, actor=None, as_of: datetime.date | None = None) -> CalculationSummary:
    """A won (or no longer won) deal: margins, commissions, split payouts, SPIFs."""
    return calculate(scope=Scope(deal_ids=frozenset({deal_id})), actor=actor, as_of=as_of)


def calculate_activities(
    *, activity_ids: Iterable[int], actor=None, as_of: datetime.date | None = None
) -> CalculationSummary:
    """Engagement activities recorded or removed (a course completion): their points and activity SPIFs.

    An id whose activity is gone reverses what it earned; a repeated call writes nothing.
    """
    scope = Scope(activity_ids=frozenset(activity_ids))
    return calculate(scope=scope, actor=actor, as_of=as_of)
