"""Reads the API needs beyond the models' querysets: gate progress for many statuses at once."""

import datetime

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
