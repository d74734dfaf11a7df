"""Incentive services: calculate earnings into the ledger, close periods, activations, rewards, payouts.

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
overspend it.
"""

import datetime
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from deals.models import Deal, DealStatus
from incentives import engine, facts
from incentives.ledger import KeyLedger, PeriodAssigner, WriteSummary, load_ledger, move, settle
from incentives.models import (
    POINTS,
    Component,
    CustomerActivation,
    EntryState,
    IncentivePeriod,
    IncentiveRule,
    LedgerEntry,
    Payout,
    Redemption,
    Reward,
    RuleKind,
    SourceType,
    SpifTrigger,
)
from incentives.periods import Period, quarter_of, quarters_between
from partners.audit import audit
from partners.models import Certification, EngagementActivity, Membership, MembershipRole, Partner, Sale
from prm.money import round_money

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
        if not scope.deal_ids:
            return []
        days: list[datetime.date] = [
            day
            for day in Deal.objects.filter(id__in=scope.deal_ids).values_list("closed_on", flat=True)
            if day is not None
        ]
        with_entries = set(
            LedgerEntry.objects.filter(
                rule_id__in=[rule.id for rule in spifs],
                source_type=SourceType.DEAL,
                source_id__in=[str(i) for i in scope.deal_ids],
            ).values_list("rule_id", flat=True)
        )
        return [
            rule
            for rule in spifs
            if rule.id in with_entries
            or (rule.spif_trigger in DEAL_TRIGGERS and any(rule.covers(day) for day in days))
        ]
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
    ledger = load_ledger(LedgerEntry.objects.filter(rule_id=rule.id))
    involved = (
        {deal.partner_id for deal in deal_list}
        | {item.partner_id for item in certification_list}
        | {key.partner_id for key in ledger}
    )
    tiers = facts.HistoryTierBook(involved, [rule.program_id])
    data = engine.Facts(
        as_of=context.as_of, deals=deal_list, certifications=certification_list, first_sales=first
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


# --- period close, release, forfeits -------------------------------------------------------------


@dataclass
class CloseSummary:
    period: str
    closed_now: bool
    calculation: CalculationSummary
    released: int


def period_close(*, period: Period, actor=None, as_of: datetime.date | None = None) -> CloseSummary:
    """Close a quarter: settle everything dated in it, its rebates (and the year's after Q4), make it payable.

    Safe to repeat: a second close recalculates (usually writing nothing) and
    releases what is due. A quarter closes only after it has ended.
    """
    as_of = as_of or timezone.localdate()
    if period.is_year:
        raise ValidationError(
            {"period": "Close quarters one at a time; closing the fourth quarter settles the year's rebates."}
        )
    if period.end >= as_of:
        raise ValidationError(
            {
                "period": f"{period.label()} runs until {period.end:%d %b %Y}: it can be closed from "
                f"{period.end + datetime.timedelta(days=1):%d %b %Y}."
            }
        )
    row, _ = IncentivePeriod.objects.get_or_create(
        code=period.code, defaults={"starts_on": period.start, "ends_on": period.end}
    )
    calculation = calculate(scope=Scope(period=period), as_of=as_of, actor=actor, closing=period)
    with transaction.atomic():
        closed_now = bool(
            IncentivePeriod.objects.filter(pk=row.pk, closed_at__isnull=True).update(
                closed_at=timezone.now(),
                closed_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        )
        if closed_now:
            audit(actor=actor, action="incentives.period_closed", target=row, **calculation.as_dict())
    released = release_payable(actor=actor)
    return CloseSummary(period=period.code, closed_now=closed_now, calculation=calculation, released=released)


def _waiting_for_activation() -> Q:
    activated = CustomerActivation.objects.filter(
        deal_id=OuterRef("deal_id"), activated_on__lte=OuterRef("held_until")
    )
    return Q(Q(component=Component.HELD), ~Exists(activated))


def release_payable(*, actor=None) -> int:
    """Accrued entries of closed quarters become payable, except held parts still awaiting activation."""
    closed = facts.closed_period_codes()
    if not closed:
        return 0
    due = (
        LedgerEntry.objects.filter(state=EntryState.ACCRUED, period__in=closed)
        .exclude(_waiting_for_activation())
        .values_list("id", flat=True)
    )
    return move(list(due), to_state=EntryState.PAYABLE, actor=actor, reason="The period is closed")


def forfeit_due(*, as_of: datetime.date | None = None) -> CalculationSummary:
    """Recalculate deals whose held part passed its activation deadline: the held part is forfeited."""
    as_of = as_of or timezone.localdate()
    overdue = (
        LedgerEntry.objects.filter(component=Component.HELD, held_until__lt=as_of, state=EntryState.ACCRUED)
        .filter(_waiting_for_activation())
        .values_list("source_id", flat=True)
        .distinct()
    )
    deal_ids = frozenset(int(i) for i in overdue if i.isdigit())
    if not deal_ids:
        return CalculationSummary()
    return calculate(scope=Scope(deal_ids=deal_ids), as_of=as_of)


def periods_due(as_of: datetime.date) -> list[Period]:
    """Ended quarters not yet closed, once the close delay after their end has passed."""
    delay = datetime.timedelta(days=settings.PRM_INCENTIVES_CLOSE_DELAY_DAYS)
    first_rule = (
        IncentiveRule.objects.order_by("effective_from").values_list("effective_from", flat=True).first()
    )
    if first_rule is None:
        return []
    closed = facts.closed_period_codes()
    return [
        period
        for period in quarters_between(first_rule, as_of)
        if period.code not in closed and period.end + delay < as_of
    ]


def incentives_daily(*, as_of: datetime.date | None = None) -> dict:
    """The scheduled run: close due quarters, forfeit overdue held parts, settle the current quarter."""
    as_of = as_of or timezone.localdate()
    closed = [period_close(period=period, as_of=as_of).period for period in periods_due(as_of)]
    forfeits = forfeit_due(as_of=as_of)
    current = calculate(scope=Scope(period=quarter_of(as_of)), as_of=as_of)
    return {"closed": closed, "forfeit_run": forfeits.as_dict(), "current": current.as_dict()}


# --- activation, rewards, payouts --------------------------------------------------------------


def activation_problems(*, deal: Deal, activated_on: datetime.date | None) -> dict[str, str]:
    """What is wrong with recording this activation, by field; empty when nothing is."""
    errors: dict[str, str] = {}
    if deal.status != DealStatus.WON or deal.closed_on is None:
        errors["deal"] = "Only the customer of a won deal can activate."
    elif activated_on is not None and activated_on < deal.closed_on:
        errors["activated_on"] = (
            f"The customer cannot activate before the deal closed on {deal.closed_on:%d %b %Y}."
        )
    if activated_on is None:
        errors["activated_on"] = "Give the day the customer reached the activation metric."
    elif activated_on > timezone.localdate():
        errors["activated_on"] = "An activation cannot be dated in the future."
    return errors


def activation_record(
    *, actor, deal: Deal, activated_on: datetime.date, metric: str = ""
) -> CustomerActivation:
    """Record that a won deal's customer reached the activation metric; held parts due are released.

    Recalculation and release run after commit (Celery). A later record
    replaces the earlier one (a correction of the fact, audited).
    """
    errors = activation_problems(deal=deal, activated_on=activated_on)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activation, created = CustomerActivation.objects.update_or_create(
            deal=deal,
            defaults={
                "activated_on": activated_on,
                "metric": metric.strip(),
                "recorded_by": actor if getattr(actor, "is_authenticated", False) else None,
                "recorded_at": timezone.now(),
            },
        )
        audit(
            actor=actor,
            action="incentives.activation_recorded" if created else "incentives.activation_corrected",
            target=activation,
            deal=deal.pk,
            activated_on=str(activated_on),
        )
        deal_id = deal.pk

        def enqueue() -> None:
            from incentives.tasks import deal_activated_task

            deal_activated_task.delay(deal_id)

        transaction.on_commit(enqueue)
    return activation


def points_balance(partner_id: int) -> int:
    """Points earned minus points redeemed, from the ledger."""
    total = sum(
        LedgerEntry.objects.filter(partner_id=partner_id, currency=POINTS).values_list("amount", flat=True),
        Decimal(0),
    )
    return int(total)


def _may_act_for(actor, partner: Partner) -> bool:
    if getattr(actor, "is_staff", False):
        return Partner.objects.visible_to(actor).filter(pk=partner.pk).exists()
    membership = Membership.for_user(actor)
    return (
        membership is not None
        and membership.partner_id == partner.pk
        and membership.role == MembershipRole.ADMIN
    )


def reward_redeem(
    *, actor, partner: Partner, reward: Reward, today: datetime.date | None = None
) -> Redemption:
    """Spend a partner's points on a reward: points leave the ledger, the reward's value becomes payable.

    Partner admins redeem for their own organisation; staff for partners they
    can see. The partner row is locked while the balance is checked, so two
    redemptions cannot spend the same points.
    """
    today = today or timezone.localdate()
    if not _may_act_for(actor, partner):
        raise PermissionDenied("Only the partner's admins can redeem its points.")
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        reward = Reward.objects.select_related("rule").get(pk=reward.pk)
        if not reward.is_active or reward.rule.kind != RuleKind.POINTS or not reward.rule.covers(today):
            raise ValidationError({"reward": "This reward is not available."})
        balance = points_balance(partner.pk)
        if balance < reward.points_cost:
            raise ValidationError(
                {
                    "reward": f"{partner.name} has {balance:,} points; {reward.name} needs {reward.points_cost:,}."
                }
            )
        redemption = Redemption.objects.create(
            partner=partner,
            reward=reward,
            points=reward.points_cost,
            amount=round_money(reward.amount, reward.rule.currency),
            currency=reward.rule.currency,
            redeemed_on=today,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        calculate(scope=Scope(redemption_ids=frozenset({redemption.pk})), actor=actor, as_of=today)
        audit(actor=actor, action="incentives.reward_redeemed", target=redemption, points=redemption.points)
    return redemption


def _payable_problem(partner: Partner, currency: str, rows: list, total: Decimal) -> str | None:
    if not rows:
        return f"Nothing is payable to {partner.name} in {currency}."
    if total <= 0:
        return (
            f"{partner.name}'s payable balance in {currency} is {total:,.2f}: nothing to pay until new "
            "earnings cover what was reversed."
        )
    return None


def payout_problems(*, partner: Partner, currency: str, reference: str) -> dict[str, str]:
    """What stands in the way of paying ``partner`` in ``currency``, by field; empty when nothing does."""
    errors: dict[str, str] = {}
    reference = (reference or "").strip()
    if currency == POINTS:
        errors["currency"] = "Points are redeemed for rewards, not paid out."
    else:
        rows = list(
            LedgerEntry.objects.filter(
                partner=partner, currency=currency, state=EntryState.PAYABLE
            ).values_list("id", "amount")
        )
        problem = _payable_problem(partner, currency, rows, sum((amount for _, amount in rows), Decimal(0)))
        if problem:
            errors["currency"] = problem
    if not reference:
        errors["reference"] = "Give the payment reference from the finance system."
    elif Payout.objects.filter(reference=reference).exists():
        errors["reference"] = f"The payment {reference} is already recorded."
    return errors


def payout_record(
    *, actor, partner: Partner, currency: str, reference: str, paid_on: datetime.date | None = None
) -> Payout:
    """Pay a partner everything payable in one currency (clawbacks net off); the entries become paid."""
    reference = (reference or "").strip()
    errors: dict[str, str] = {}
    if currency == POINTS:
        errors["currency"] = "Points are redeemed for rewards, not paid out."
    if not reference:
        errors["reference"] = "Give the payment reference from the finance system."
    elif Payout.objects.filter(reference=reference).exists():
        errors["reference"] = f"The payment {reference} is already recorded."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rows = list(
            LedgerEntry.objects.select_for_update()
            .filter(partner=partner, currency=currency, state=EntryState.PAYABLE)
            .order_by("id")
            .values_list("id", "amount")
        )
        total = sum((amount for _, amount in rows), Decimal(0))
        problem = _payable_problem(partner, currency, rows, total)
        if problem:
            raise ValidationError({"currency": problem})
        payout = Payout.objects.create(
            partner=partner,
            currency=currency,
            amount=round_money(total, currency),
            reference=reference,
            paid_on=paid_on or timezone.localdate(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        move(
            [entry_id for entry_id, _ in rows],
            to_state=EntryState.PAID,
            actor=actor,
            reason=f"Payout {reference}",
            payout=payout,
        )
        audit(
            actor=actor,
            action="incentives.payout_recorded",
            target=payout,
            amount=str(total),
            currency=currency,
        )
    return payout


# --- rule versions -------------------------------------------------------------------------


def rule_new_version(
    *, actor, rule: IncentiveRule, effective_from: datetime.date, today: datetime.date | None = None
) -> IncentiveRule:
    """Change a rule from a date on: the current version ends the day before, a copy starts that day.

    The copy (rates, bands, activity types and active rewards included) is
    editable until it starts; the past stays paid under the old terms.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        rule = IncentiveRule.objects.select_for_update().get(pk=rule.pk)
        if effective_from < today:
            raise ValidationError(
                {"effective_from": "A new version starts today or later: the past stays as it was paid."}
            )
        if effective_from <= rule.effective_from:
            raise ValidationError(
                {
                    "effective_from": f"The new version must start after this one did ({rule.effective_from:%d %b %Y})."
                }
            )
        last_day = effective_from - datetime.timedelta(days=1)
        paid_until = (
            LedgerEntry.objects.filter(rule=rule)
            .order_by("-event_on")
            .values_list("event_on", flat=True)
            .first()
        )
        if paid_until is not None and paid_until > last_day:
            raise ValidationError(
                {
                    "effective_from": f"This rule has already paid for facts dated {paid_until:%d %b %Y}; start after that."
                }
            )
        old_end = rule.effective_to
        new_end = old_end if old_end is not None and old_end >= effective_from else None
        if rule.kind == RuleKind.SPIF and new_end is None:
            raise ValidationError(
                {"effective_from": "This SPIF ends before that day: create a new SPIF instead."}
            )
        if old_end is None or old_end >= effective_from:
            IncentiveRule.objects.filter(pk=rule.pk).update(effective_to=last_day, updated_at=timezone.now())
        margin_rates = list(rule.margin_rates.all())
        commission_rates = list(rule.commission_rates.all())
        bands = list(rule.rebate_bands.all())
        activity_types = list(rule.activity_types.all())
        rewards = list(rule.rewards.filter(is_active=True))
        copy = IncentiveRule.objects.get(pk=rule.pk)
        copy.pk = None
        copy.id = None
        copy._state.adding = True
        copy.effective_from = effective_from
        copy.effective_to = new_end
        copy.supersedes = rule
        copy.created_by = actor if getattr(actor, "is_authenticated", False) else None
        copy.save()
        children: list[Any] = [*margin_rates, *commission_rates, *bands, *rewards]
        for child in children:
            child.pk = None
            child._state.adding = True
            child.rule = copy
            child.save()
        copy.activity_types.set(activity_types)
        rule.rewards.filter(is_active=True).update(is_active=False)
        audit(
            actor=actor,
            action="incentives.rule_versioned",
            target=copy,
            supersedes=rule.pk,
            effective_from=str(effective_from),
        )
    return copy


def rule_save(
    *,
    actor,
    rule: IncentiveRule,
    created: bool,
    margin_rates: list[dict] | None = None,
    commission_rates: list[dict] | None = None,
    rebate_bands: list[dict] | None = None,
    rewards: list[dict] | None = None,
    activity_types: list | None = None,
) -> IncentiveRule:
    """Save a validated rule and, for each list given, replace its rows with it.

    Preconditions: the rule passed ``full_clean`` and the rows the shared
    validation (the API serializer and the admin do both); a rule whose terms
    are locked gets no new rates or bands (the validation refuses it).
    """
    from incentives.models import CommissionRate, MarginRate, RebateBand

    with transaction.atomic():
        if created:
            rule.created_by = actor if getattr(actor, "is_authenticated", False) else None
        rule.save()
        tables: list[tuple[Any, list[dict] | None]] = [
            (MarginRate, margin_rates),
            (CommissionRate, commission_rates),
            (RebateBand, rebate_bands),
        ]
        for model, rows in tables:
            if rows is not None:
                model.objects.filter(rule=rule).delete()
                model.objects.bulk_create([model(rule=rule, **row) for row in rows])
        if rewards is not None:
            keep = []
            for row in rewards:
                reward_id = row.pop("id", None)
                existing = rule.rewards.filter(pk=reward_id).first() if reward_id else None
                if existing is None:
                    existing = Reward(rule=rule)
                for name, value in row.items():
                    setattr(existing, name, value)
                existing.save()
                keep.append(existing.pk)
            # Rewards already redeemed are kept (redemptions point at them), just withdrawn.
            rule.rewards.exclude(pk__in=keep).update(is_active=False)
        if activity_types is not None:
            rule.activity_types.set(activity_types)
        audit(
            actor=actor,
            action="incentives.rule_created" if created else "incentives.rule_changed",
            target=rule,
        )
    return rule
