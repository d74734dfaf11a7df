"""Reads the API needs beyond the models' querysets: gate progress for many statuses at once, and a
partner's standing grouped by program."""

import datetime
from collections import defaultdict
from typing import Any

from core.money import is_currency
from criteria.tree import Criteria, CriteriaError, parse
from gates.metrics import SPECS, References, load_references
from gates.selectors import LeafProgress, StoredMeasures, leaf_progress


class GateTrees:
    """Each gate's criteria parsed once per request, however many statuses show it."""

    def __init__(self, as_of: datetime.date):
        self.as_of = as_of
        self._trees: dict[tuple[int, int], Criteria | None] = {}
        self._references: References | None = None
        # The values of statuses measured under an earlier version of their gate.
        self._stored = StoredMeasures()

    def tree(self, gate) -> Criteria | None:
        key = (gate.id, gate.version)
        if key not in self._trees:
            try:
                self._trees[key] = parse(
                    gate.criteria, metrics=SPECS, default_currency=gate.money_currency, currencies=is_currency
                )
            except CriteriaError:
                self._trees[key] = None  # a gate saved before a rule tightened: shown without criteria
        return self._trees[key]

    def references(self, gate) -> References:
        # Only tier criteria need names from the database; load them once, if at all.
        if "current_tier" not in str(gate.criteria):
            return References()
        if self._references is None:
            self._references = load_references()
        return self._references

    def progress(self, status) -> list[LeafProgress]:
        """Criterion by criterion, from the values the last evaluation stored."""
        gate = status.gate
        tree = self.tree(gate)
        if tree is None:
            return []
        references = self.references(gate)
        return [
            leaf_progress(leaf, value, references, self.as_of)
            for leaf, value in zip(tree.leaves, self._stored.values(status, gate, tree), strict=True)
        ]


def standing_by_program(*, partner, programs, standing, warnings, as_of: datetime.date) -> dict[str, Any]:
    """A partner's standing (``gates.standing``) grouped under each program of ``programs``, as
    ``PartnerStandingSerializer`` reads it. No query: everything is read already."""
    tiers = {tier.program_id: tier for tier in standing.tiers}
    at_risk = {forecast.gate_id: forecast for forecast in warnings}
    grants: dict[int, list] = defaultdict(list)
    for grant in standing.grants:
        grants[grant.benefit.program_id].append(grant)
    gates: dict[int, list] = defaultdict(list)
    for progress in standing.progress:
        forecast = at_risk.get(progress.gate.id)
        gates[progress.gate.program_id].append(
            {
                "progress": progress,
                "total": len(progress.leaves),
                "at_risk": forecast is not None,
                "forecast": forecast,
            }
        )
    return {
        "partner": partner.pk,
        "status": partner.status,
        "as_of": as_of,
        "programs": [
            {
                "program": program,
                "tier": tiers.get(program.pk),
                "benefits": grants[program.pk],
                "gates": gates[program.pk],
            }
            for program in programs
        ],
    }
