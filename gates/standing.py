"""A partner's standing, as whoever may see the partner reads it: the portal's dashboards and the API.

Tiers (with grace), benefits held, gates criterion by criterion, recent
changes and at-risk warnings, only in the programs open to the partner
itself, so a program outside its segments never shows. Each read makes a
fixed number of queries, whatever the number of programs, gates or changes.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from gates.models import BenefitGrant, Gate, GateForecast, GateStatusChange, PartnerTier, TierChange
from gates.selectors import GateProgress, partner_gate_progress
from partners.models import Partner
from programs.models import Program


def _visible_program_ids(partner: Partner):
    return Program.objects.for_partner(partner).values("id")


@dataclass
class Standing:
    """What a partner sees about itself: tiers, benefits, progress and recent changes."""

    tiers: list[PartnerTier]
    grants: list[BenefitGrant]
    progress: list[GateProgress]
    changes: list[dict[str, Any]]
    in_grace: list[PartnerTier] = field(default_factory=list)

    @property
    def open_gates(self) -> list[GateProgress]:
        return [gate for gate in self.progress if not gate.passed]

    @property
    def passed_gates(self) -> list[GateProgress]:
        return [gate for gate in self.progress if gate.passed]


def _tier_gate_order(progress: GateProgress) -> tuple:
    tier = progress.gate.unlocks_tier
    return (progress.gate.program.name, tier.rank if tier else 1_000, progress.gate.name)


def partner_standing(
    viewer, partner: Partner, *, as_of: datetime.date | None = None, changes: int = 8
) -> Standing:
    """What ``partner`` stands at, as ``viewer`` (the partner's user, its distributor, staff) may
    see it: only in the programs open to the partner itself.

    Seven queries: tiers, grants, gates, gate statuses, gate changes, tier changes, and the
    reference data some criteria need (tier names), whatever the number of gates or changes."""
    as_of = as_of or timezone.localdate()
    visible = _visible_program_ids(partner)
    tiers = list(
        PartnerTier.objects.visible_to(viewer)
        .filter(partner=partner, program__in=visible)
        .filter(Q(tier__isnull=False) | Q(grace_until__isnull=False))
        .select_related("program", "tier", "earned_tier", "qualified_tier", "override_tier")
        .order_by("program__name")
    )
    grants = list(
        BenefitGrant.objects.visible_to(viewer)
        .filter(partner=partner, revoked_at__isnull=True, benefit__program__in=visible)
        .select_related("benefit", "benefit__program", "via_tier", "via_gate")
        .order_by("benefit__program__name", "benefit__kind", "benefit__name")
    )
    gates = list(
        Gate.objects.in_effect(as_of)
        .filter(program__in=visible)
        .select_related("program", "unlocks_tier")
        .order_by("program__name", "name")
    )
    progress = sorted(partner_gate_progress(partner, gates=gates, as_of=as_of), key=_tier_gate_order)
    gate_changes: list[dict[str, Any]] = [
        {
            "at": change.changed_at,
            "kind": "gate",
            "text": f"{change.gate.name}: {change.get_to_status_display()}",
        }
        for change in GateStatusChange.objects.visible_to(viewer)
        .filter(partner=partner, gate__program__in=visible)
        .select_related("gate")[:changes]
    ]
    tier_changes: list[dict[str, Any]] = [
        {
            "at": change.changed_at,
            "kind": "tier",
            "text": f"{change.program.name}: {change.get_reason_display()} – "
            f"{change.to_tier.name if change.to_tier else 'no tier'}"
            + (f" ({change.note})" if change.note else ""),
        }
        for change in TierChange.objects.visible_to(viewer)
        .filter(partner=partner, program__in=visible)
        .select_related("to_tier", "program")[:changes]
    ]
    merged = sorted(gate_changes + tier_changes, key=lambda item: item["at"], reverse=True)[:changes]
    return Standing(
        tiers=tiers,
        grants=grants,
        progress=progress,
        changes=merged,
        in_grace=[tier for tier in tiers if tier.grace_until is not None],
    )


def partner_warnings(viewer, partner: Partner) -> list[GateForecast]:
    """The gates ``partner`` passes and would fail within their horizon, soonest first (one query)."""
    return list(
        GateForecast.objects.visible_to(viewer)
        .filter(
            partner=partner, at_risk=True, gate__program__in=Program.objects.for_partner(partner).values("id")
        )
        .select_related("gate__program", "gate__unlocks_tier")
        .order_by("fails_on", "gate__name")
    )
