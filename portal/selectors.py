"""Reads behind the portal's pages.

Every read starts from a ``visible_to(user)`` queryset (or from programs the
partner in question can see), so a program outside a partner's segments never
reaches its pages: not its name, not its gates, not the benefits it grants.
Each function makes a fixed number of queries, whatever the data size.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.money import is_currency
from criteria.tree import CriteriaError, parse
from deals.models import Deal, DealStatus, MdfRequest
from gates.metrics import SPECS, References
from gates.models import (
    Gate,
    GateOutcome,
    GateStatus,
    GateStatusChange,
    PartnerTier,
)
from gates.selectors import GateProgress, StoredMeasures, leaf_progress

# The standing is shared with the API, so it lives below both; the portal's pages read it from here.
from gates.standing import Standing as Standing
from gates.standing import partner_standing as partner_standing
from partners.models import Certification, Partner, Person
from programs.models import Benefit, Program, Tier, program_open_to


def programs_for_partner(partner: Partner) -> QuerySet[Program]:
    """The programs one partner may see (the same rule as ``Program.objects.visible_to``)."""
    return Program.objects.for_partner(partner)


def _visible_program_ids(partner: Partner) -> QuerySet:
    return programs_for_partner(partner).values("id")


def quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


# --- a partner's standing -------------------------------------------------------------


@dataclass
class NextStep:
    """The nearest gap: the open gate closest to passing, what it still needs and what it unlocks."""

    progress: GateProgress
    unlocks: list[Benefit]

    @property
    def missing(self) -> list:
        return [leaf for leaf in self.progress.leaves if not leaf.passed]

    @property
    def reward(self) -> str:
        """ "Platinum: 20 % discount, 15,000 USD MDF a quarter", or what the gate unlocks besides a tier."""
        gate = self.progress.gate
        name = gate.unlocks_tier.name if gate.unlocks_tier else gate.unlocks_specialisation
        if not self.unlocks:
            return name
        return f"{name}: " + ", ".join(benefit.describe() for benefit in self.unlocks)

    @property
    def sources(self) -> set[str]:
        """The kinds of facts that would close the gap (sales, certifications…), for the calls to action."""
        return {leaf.source for leaf in self.missing}


@dataclass
class LadderStep:
    tier: Tier
    held: bool
    above: bool  # higher than the tier held: still to reach
    gate: GateProgress | None


@dataclass
class Ladder:
    """Every tier of one program, lowest first, with where the partner stands and what each unlocks."""

    program: Program
    steps: list[LadderStep]


def _nearness(progress: GateProgress) -> tuple:
    missing = [leaf for leaf in progress.leaves if not leaf.passed]
    mean = sum(leaf.ratio for leaf in missing) / len(missing) if missing else 1.0
    tier = progress.gate.unlocks_tier
    return (len(missing), -mean, tier.rank if tier else 1_000, progress.gate.name)


def next_step(standing: "Standing", ladders: list[Ladder]) -> NextStep | None:
    """The open gate nearest to passing among those that unlock something, and its unlocks.

    Fewest criteria left first, then the furthest along; a gate waiting on a
    prerequisite is not a step the partner can take. No query: a tier's
    benefits come from the ladders (see ``tier_ladders``).
    """
    candidates = [
        gate
        for gate in standing.open_gates
        if gate.status != GateOutcome.BLOCKED
        and (gate.gate.unlocks_tier_id or gate.gate.unlocks_specialisation)
        and gate.leaves
    ]
    if not candidates:
        return None
    nearest = min(candidates, key=_nearness)
    unlocks: list[Benefit] = []
    if nearest.gate.unlocks_tier_id:
        held = {grant.benefit_id for grant in standing.grants}
        tiers = {step.tier.pk: step.tier for ladder in ladders for step in ladder.steps}
        tier = tiers.get(nearest.gate.unlocks_tier_id)
        benefits: list[Benefit] = list(tier.benefits.all()) if tier is not None else []
        unlocks = [benefit for benefit in benefits if benefit.pk not in held]
    return NextStep(progress=nearest, unlocks=unlocks)


def tier_ladders(standing: "Standing", partner: Partner) -> list[Ladder]:
    """The tier ladder of each program open to the partner that has tiers. Two queries."""
    held = {tier.program_id: tier.tier for tier in standing.tiers if tier.tier_id}
    gate_for_tier = {
        gate.gate.unlocks_tier_id: gate for gate in standing.progress if gate.gate.unlocks_tier_id
    }
    ladders: dict[int, Ladder] = {}
    tiers = (
        Tier.objects.filter(program__in=_visible_program_ids(partner))
        .select_related("program")
        .prefetch_related(Prefetch("benefits", queryset=Benefit.objects.order_by("kind", "name")))
        .order_by("program__name", "rank")
    )
    for tier in tiers:
        ladder = ladders.setdefault(tier.program_id, Ladder(program=tier.program, steps=[]))
        current = held.get(tier.program_id)
        ladder.steps.append(
            LadderStep(
                tier=tier,
                held=current is not None and current.pk == tier.pk,
                above=current is None or tier.rank > current.rank,
                gate=gate_for_tier.get(tier.pk),
            )
        )
    return list(ladders.values())


def deal_counts(deals: QuerySet[Deal]) -> dict[str, int]:
    """Registrations by status, in one query."""
    counts = dict.fromkeys(DealStatus.values, 0)
    for row in deals.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


# --- team -----------------------------------------------------------------------------


def team(user, partner: Partner) -> QuerySet[Person]:
    """The partner's active people with the certifications the user may see: two queries.

    ``Certification.objects.visible_to`` decides which (a partner admin everyone's,
    other partner users their own), as it does for the API.
    """
    return (
        Person.objects.visible_to(user)
        .filter(partner=partner, is_active=True)
        .select_related("user")
        .prefetch_related(
            Prefetch(
                "certifications",
                queryset=Certification.objects.visible_to(user)
                .select_related("certification_type")
                .order_by("certification_type__name", "-issued_on"),
            )
        )
        .order_by("last_name", "first_name", "id")
    )


# --- partners seen by a distributor or a channel manager ------------------------------


def _tiers_prefetch(user) -> Prefetch:
    # Only tiers in programs the partner itself can see: a segment-only
    # program's tier must not reach a distributor through its partners.
    return Prefetch(
        "tiers",
        queryset=held_tiers(user).select_related("tier", "program").order_by("program__name"),
        to_attr="held_tiers",
    )


def _count_per_partner(deals: QuerySet[Deal]) -> Coalesce:
    counted = deals.filter(partner=OuterRef("pk")).order_by().values("partner").annotate(n=Count("id"))
    return Coalesce(Subquery(counted.values("n")), 0)


def partners_page(user, *, page: int | str = 1, query: str = "", per_page: int = 25) -> Page:
    """Partners the user may see, with the tiers they hold and their open approvals: four queries."""
    partners = partners_for(user)
    if query:
        partners = partners.filter(name__icontains=query)
    return Paginator(partners, per_page).get_page(page)


def held_tiers(user) -> QuerySet[PartnerTier]:
    """The tiers partners hold that this user may see, in programs open to each partner."""
    return (
        PartnerTier.objects.visible_to(user)
        .filter(tier__isnull=False)
        .filter(program_open_to(OuterRef("partner_id"), prefix="program"))
    )


def partners_for(user) -> QuerySet:
    """Partners the user may see, with the tiers they hold and their open approvals.

    ``awaiting`` counts the registrations this user may decide (the same rule as
    the approval queue: a distributor's excludes those under the vendor's
    review); ``under_review`` counts the flagged ones, which a distributor sees
    waiting on the vendor.
    """
    return (
        Partner.objects.visible_to(user)
        .select_related("distributor")
        .annotate(
            awaiting=_count_per_partner(Deal.objects.awaiting_decision_by(user)),
            under_review=_count_per_partner(
                Deal.objects.visible_to(user).filter(status=DealStatus.SUBMITTED, needs_review=True)
            ),
            passed=Count("gate_statuses", filter=Q(gate_statuses__status=GateOutcome.PASSED), distinct=True),
        )
        .prefetch_related(_tiers_prefetch(user))
        .order_by("name", "id")
    )


# --- the channel manager's summary ------------------------------------------------------


@dataclass
class TargetRow:
    partner: Partner
    tier_name: str
    next_gate: Gate | None
    met: int  # criteria of the next gate the partner meets
    total: int  # criteria of the next gate
    in_grace_until: datetime.date | None
    progress: float = 0.0  # the mean of the criteria's bars, 0..1: how close the gate is
    still_needed: tuple[str, ...] = ()  # the unmet criteria in words: "1 more person holding…"


@dataclass
class ManagerSummary:
    partner_count: int
    by_tier: list[dict[str, Any]]
    no_tier: int
    passed_this_period: int
    passed_by_gate: list[dict[str, Any]]
    in_grace: list[PartnerTier]
    deals_waiting: list[Deal]
    deals_waiting_count: int
    flagged_count: int
    mdf_waiting: list[MdfRequest]
    mdf_waiting_count: int
    period_start: datetime.date


def main_program() -> Program | None:
    return (
        Program.objects.filter(parent__isnull=True, is_active=True, tiers__isnull=False)
        .order_by("id")
        .first()
    )


def manager_summary(user, *, as_of: datetime.date | None = None) -> ManagerSummary:
    """The channel manager's summary of the partners they cover; a fixed number of queries.

    The partners against their targets are a list of their own (``targets_list``).
    """
    as_of = as_of or timezone.localdate()
    period_start = quarter_start(as_of)
    partners = Partner.objects.visible_to(user)
    main = main_program()
    tiers_qs = PartnerTier.objects.visible_to(user).filter(tier__isnull=False)
    if main is not None:
        # Every tier of the main program, highest first, those nobody holds included.
        held = tiers_qs.filter(tier=OuterRef("pk")).order_by().values("tier").annotate(c=Count("id"))
        by_tier = list(
            Tier.objects.filter(program=main)
            .annotate(n=Coalesce(Subquery(held.values("c")), 0))
            .order_by("-rank")
            .values("name", "rank", "n")
        )
    else:
        by_tier = list(
            tiers_qs.annotate(name=F("tier__name"), rank=F("tier__rank"))
            .values("name", "rank")
            .annotate(n=Count("id"))
            .order_by("-rank")
        )
    partner_count = partners.count()
    no_tier = max(0, partner_count - sum(row["n"] for row in by_tier))
    passed = GateStatusChange.objects.visible_to(user).filter(
        to_status=GateOutcome.PASSED, changed_at__date__gte=period_start
    )
    passed_by_gate = list(
        passed.values("gate__name").annotate(n=Count("partner", distinct=True)).order_by("-n")
    )
    in_grace = list(
        PartnerTier.objects.visible_to(user)
        .filter(grace_until__isnull=False)
        .select_related("partner", "tier", "program", "qualified_tier")
        .order_by("grace_until")[:20]
    )
    waiting = Deal.objects.awaiting_decision_by(user)
    waiting_counts = waiting.order_by().aggregate(
        n=Count("id"), flagged=Count("id", filter=Q(needs_review=True))
    )
    mdf_waiting = MdfRequest.objects.awaiting_decision_by(user)
    return ManagerSummary(
        partner_count=partner_count,
        by_tier=[dict(row) for row in by_tier],
        no_tier=no_tier,
        passed_this_period=sum(row["n"] for row in passed_by_gate),
        passed_by_gate=[dict(row) for row in passed_by_gate[:10]],
        in_grace=in_grace,
        deals_waiting=list(waiting.select_related("partner").order_by("registered_on", "id")[:10]),
        deals_waiting_count=waiting_counts["n"] or 0,
        flagged_count=waiting_counts["flagged"] or 0,
        mdf_waiting=list(mdf_waiting.select_related("partner").order_by("created_at", "id")[:10]),
        mdf_waiting_count=mdf_waiting.count(),
        period_start=period_start,
    )


def targets_list(user, partners: QuerySet[Partner], *, as_of: datetime.date | None = None) -> list[dict]:
    """Every partner of ``partners`` against the gate to its next tier, as rows a table sorts.

    ``partners`` must be the user's (``visible_to``); four queries whatever their number.
    """
    rows = target_rows(
        user, list(partners.order_by("name", "id")), main=main_program(), as_of=as_of or timezone.localdate()
    )
    return [
        {
            "partner": row.partner,
            "name": row.partner.name,
            "tier": row.tier_name,
            "in_grace_until": row.in_grace_until,
            "next_gate": row.next_gate.name if row.next_gate else "",
            "unlocks": row.next_gate.unlocks_tier.name
            if row.next_gate and row.next_gate.unlocks_tier
            else "",
            "met": row.met,
            "total": row.total,
            "to_go": row.total - row.met,
        }
        for row in rows
    ]


def target_rows(
    user, partners: list[Partner], *, main: Program | None, as_of: datetime.date
) -> list[TargetRow]:
    """For each partner, the gate to its next tier and how many of its criteria it meets.

    Three queries for the whole page: tier rows, gates, statuses.
    """
    if not partners:
        return []
    ids = [partner.pk for partner in partners]
    held = {
        row.partner_id: row
        for row in PartnerTier.objects.visible_to(user)
        .filter(partner_id__in=ids, program=main)
        .select_related("tier")
    }
    gates = list(
        Gate.objects.in_effect(as_of)
        .filter(program=main, unlocks_tier__isnull=False)
        .select_related("unlocks_tier", "program")
        .order_by("unlocks_tier__rank")
    )
    statuses = {
        (status.partner_id, status.gate_id): status
        for status in GateStatus.objects.visible_to(user).filter(
            partner_id__in=ids, gate__in=[gate.pk for gate in gates]
        )
    }
    trees = {}
    for gate in gates:
        try:
            trees[gate.pk] = parse(
                gate.criteria, metrics=SPECS, default_currency=gate.money_currency, currencies=is_currency
            )
        except CriteriaError:
            continue
    refs = References()
    stored = StoredMeasures()
    rows = []
    for partner in partners:
        row = held.get(partner.pk)
        rank = row.tier.rank if row and row.tier else 0
        next_gate = next(
            (
                gate
                for gate in gates
                if gate.unlocks_tier is not None and gate.unlocks_tier.rank > rank and gate.pk in trees
            ),
            None,
        )
        met = total = 0
        progress = 0.0
        still_needed: tuple[str, ...] = ()
        if next_gate is not None:
            tree = trees[next_gate.pk]
            status = statuses.get((partner.pk, next_gate.pk))
            leaves = [
                leaf_progress(leaf, value, refs, as_of)
                for leaf, value in zip(tree.leaves, stored.values(status, next_gate, tree), strict=True)
            ]
            total = len(leaves)
            met = sum(leaf.passed for leaf in leaves)
            progress = sum(leaf.ratio for leaf in leaves) / total if total else 0.0
            still_needed = tuple(leaf.still_needed for leaf in leaves if not leaf.passed)
        rows.append(
            TargetRow(
                partner=partner,
                tier_name=row.tier.name if row and row.tier else "No tier",
                next_gate=next_gate,
                met=met,
                total=total,
                in_grace_until=row.grace_until if row else None,
                progress=progress,
                still_needed=still_needed,
            )
        )
    return rows
