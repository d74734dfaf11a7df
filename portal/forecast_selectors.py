"""Reads of at-risk forecasts for the portal: the partner's warnings, who must renew, the manager's list.

Each reads ``GateForecast`` through ``visible_to(viewer)`` in one query, and
a partner's warnings only on gates of programs open to the partner.
"""

import calendar
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from gates.models import GateForecast

# Shared with the API's standing; the portal's pages read it from here.
from gates.standing import partner_warnings as partner_warnings

# The most forecasts the manager's summary lists; the rest is counted.
MANAGER_LIMIT = 200


def renewals_by_person(warnings: list[GateForecast]) -> dict[int, list[dict[str, Any]]]:
    """Person id -> the gates that person's expiring certification puts at risk, and when."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for forecast in warnings:
        for renewal in forecast.renewals:
            found[int(renewal["person"])].append(
                {
                    "gate": forecast.gate.name,
                    "tier": forecast.gate.unlocks_tier.name if forecast.gate.unlocks_tier else None,
                    "certification": renewal["certification"],
                    "expires_on": datetime.date.fromisoformat(renewal["expires_on"]),
                }
            )
    return dict(found)


@dataclass
class AtRiskGroup:
    label: str  # "Gold (Main program)" or "Other gates"
    forecasts: list[GateForecast] = field(default_factory=list)

    @property
    def partners(self) -> int:
        return len({forecast.partner_id for forecast in self.forecasts})


@dataclass
class AtRiskSummary:
    month_end: datetime.date
    groups: list[AtRiskGroup]
    shown: int
    more: bool


def manager_at_risk(viewer, *, today: datetime.date | None = None) -> AtRiskSummary:
    """Partners the viewer covers that would fail a gate, or whose grace ends, by the end of this month, by tier.

    One query. Each row carries the day the gate fails and, on the gate of
    the tier the partner earned, the day the tier would go after its grace
    and any override (``tier_lost_on``); a tier kept in grace is listed with
    the day its grace ends.
    """
    today = today or timezone.localdate()
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    rows = list(
        GateForecast.objects.visible_to(viewer)
        .filter(Q(at_risk=True, fails_on__lte=month_end) | Q(grace_until__lte=month_end))
        .select_related("partner", "gate__program", "gate__unlocks_tier")
        .order_by("-gate__unlocks_tier__rank", Coalesce("fails_on", "grace_until"), "partner__name", "id")[
            : MANAGER_LIMIT + 1
        ]
    )
    groups: dict[str, AtRiskGroup] = {}
    for forecast in rows[:MANAGER_LIMIT]:
        tier = forecast.gate.unlocks_tier
        label = f"{tier.name} ({forecast.gate.program.name})" if tier else "Other gates"
        groups.setdefault(label, AtRiskGroup(label)).forecasts.append(forecast)
    ordered = sorted(groups.values(), key=lambda group: group.label == "Other gates")
    return AtRiskSummary(
        month_end=month_end,
        groups=ordered,
        shown=min(len(rows), MANAGER_LIMIT),
        more=len(rows) > MANAGER_LIMIT,
    )
