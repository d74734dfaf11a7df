"""Reads of gate results: progress a partner can understand, and the tier held on a day."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.money import is_currency, round_money
from criteria.tree import Criteria, CriteriaError, Leaf, parse
from criteria.windows import Window
from gates.metrics import METRICS, SPECS, References, counted, leaf_description, load_references, measure_key
from gates.models import Gate, GateOutcome, GateStatus, GateVersion, TierChange

# What a criterion shows when nothing measured it yet under the gate's criteria.
NOT_MEASURED = "not measured yet"


@dataclass
class LeafProgress:
    path: str
    metric: str
    description: str  # "people holding a valid sales-engineer certification"
    value: Any
    target: Any
    value_display: str  # "3"
    target_display: str  # "5"
    passed: bool
    ratio: float  # 0..1, for a progress bar; 1 when met
    window: str  # "this quarter", "all time"
    counts_from: datetime.date | None
    period_ends: datetime.date | None
    is_numeric: bool
    op: str = ">="
    source: str = ""  # the facts it counts: "sales", "certifications", "deals"...
    gap_display: str = ""  # "1", "150,000 USD": how much more a ">=" or ">" criterion needs

    @property
    def sentence(self) -> str:
        if self.value is None:
            return f"{self.description}: {NOT_MEASURED} (needs {self.target_display})"
        if not self.is_numeric:
            return self._choice_sentence()
        return f"{self.value_display} of {self.target_display} {self.description}"

    def _choice_sentence(self) -> str:
        """A criterion on a category (status, tier, country) in words: what it is, and what it must be."""
        subject = self.description[:1].upper() + self.description[1:]
        if self.passed:
            return f"{subject} is {self.value_display}"
        several = isinstance(self.target, list | tuple) and len(self.target) > 1
        wanted = f"one of {self.target_display}" if several else self.target_display
        if self.op in {"!=", "not_in"}:
            return f"{subject} is {self.value_display}; it must not be {wanted}"
        return f"{subject} is {self.value_display}; it must be {wanted}"

    @property
    def still_needed(self) -> str:
        """What is left to do, in words: "1 more person holding…", or the sentence where no gap is counted."""
        if self.passed:
            return ""
        if self.gap_display:
            more = "more than " if self.op == ">" else ""
            return f"{more}{self.gap_display} more {counted(self.gap_display, self.description)}"
        return self.sentence


@dataclass
class GateProgress:
    gate: Gate
    status: str
    since: datetime.datetime | None
    leaves: list[LeafProgress] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == GateOutcome.PASSED

    @property
    def met(self) -> int:
        return sum(leaf.passed for leaf in self.leaves)


def display_value(leaf: Leaf, value: Any, refs: References) -> str:
    metric = METRICS[leaf.metric]
    if isinstance(value, tuple):
        return ", ".join(value)
    if leaf.metric == "current_tier":
        return metric.format_value(leaf, int(value or 0), refs)
    if leaf.metric == "sales_amount" and leaf.currency and is_currency(leaf.currency):
        amount = round_money(Decimal(str(value)), leaf.currency)
        return f"{amount:,.{max(0, -int(amount.as_tuple().exponent))}f} {leaf.currency}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# The largest share a bar may show for a criterion not met: only a met one is full.
_UNMET_CEILING = Decimal("0.99")


def _ratio(leaf: Leaf, value: Any, passed: bool) -> float:
    """How far the value has come toward the target, for the criterion's own bar (1 when met)."""
    if passed:
        return 1.0
    if leaf.op in {">=", ">"}:
        try:
            target = Decimal(str(leaf.target))
            current = Decimal(str(value))
        except (ArithmeticError, ValueError):
            return 0.0
        if target <= 0:
            return 0.0
        # "More than 5" with 5 has come all the way without meeting it: never a full bar.
        return float(max(Decimal(0), min(_UNMET_CEILING, current / target)))
    return 0.0


class StoredMeasures:
    """The last measured value of each leaf of a gate's criteria as they are now, from a stored status.

    Up to date, the stored values are in leaf order. Measured under an
    earlier version (the gate changed since the partner was evaluated), each
    leaf takes the value measured then for the same measure (what it
    measures, whatever its target or comparison) and None where nothing
    measured it then: a stale status shows what was measured, never a zero
    it never had. Each earlier version is read once, with one query.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[int, int], list[tuple] | None] = {}

    def values(self, status, gate, tree: Criteria) -> list[Any]:
        stored = list(status.measures) if status is not None else []
        if status is None or status.gate_version == gate.version:
            return [
                stored[leaf.index] if leaf.index < len(stored) else METRICS[leaf.metric].default(leaf)
                for leaf in tree.leaves
            ]
        keys = self._version_keys(gate, status.gate_version)
        measured = dict(zip(keys, stored, strict=False)) if keys is not None else {}
        return [measured.get(measure_key(leaf)) for leaf in tree.leaves]

    def _version_keys(self, gate, version: int) -> list[tuple] | None:
        """What each leaf of a gate's earlier version measured, in leaf order (None if not kept)."""
        key = (gate.pk, version)
        if key not in self._keys:
            kept = GateVersion.objects.filter(gate_id=gate.pk, version=version).first()
            keys = None
            if kept is not None:
                try:
                    tree = parse(
                        kept.criteria, metrics=SPECS, default_currency=kept.currency, currencies=is_currency
                    )
                    keys = [measure_key(leaf) for leaf in tree.leaves]
                except CriteriaError:
                    keys = None
            self._keys[key] = keys
        return self._keys[key]


def _gap(leaf: Leaf, value: Any, passed: bool) -> Decimal | None:
    """How far a value is below a ">=" or ">" target; None when met, unknown or not a count."""
    if passed or leaf.op not in {">=", ">"}:
        return None
    try:
        gap = Decimal(str(leaf.target)) - Decimal(str(value if value is not None else 0))
    except (ArithmeticError, ValueError):
        return None
    if isinstance(leaf.target, int) and leaf.op == ">":
        return gap + 1
    return gap if gap > 0 else None


def leaf_progress(leaf: Leaf, stored_value: Any, refs: References, as_of: datetime.date) -> LeafProgress:
    """A leaf against its target; ``stored_value`` None means nothing measured it yet."""
    metric = METRICS[leaf.metric]
    value: Any = stored_value
    if metric.spec.value_kind == "money" and value is not None:
        value = Decimal(str(value))
    passed = value is not None and leaf.compare(value)
    window = leaf.params.get("window")
    counts_from, period_ends, window_text = None, None, ""
    if isinstance(window, Window):
        counts_from = window.bounds(as_of)[0]
        period_ends = window.period_end(as_of)
        window_text = window.describe()
    spec = metric.spec
    gap = _gap(leaf, value, passed) if spec.value_kind != "choice" else None
    if gap is not None and spec.value_kind == "count":
        gap_display = display_value(leaf, int(gap), refs)
    elif gap is not None:
        gap_display = display_value(leaf, gap, refs)
    else:
        gap_display = ""
    return LeafProgress(
        path=leaf.path,
        metric=leaf.metric,
        description=leaf_description(leaf),
        value=value,
        target=leaf.target,
        value_display=display_value(leaf, value, refs) if value is not None else NOT_MEASURED,
        target_display=display_value(leaf, leaf.target, refs),
        passed=passed,
        ratio=_ratio(leaf, value, passed),
        window=window_text,
        counts_from=counts_from,
        period_ends=period_ends,
        is_numeric=spec.value_kind != "choice",
        op=leaf.op,
        source=metric.source,
        gap_display=gap_display,
    )


def partner_gate_progress(partner, *, gates=None, as_of: datetime.date | None = None) -> list[GateProgress]:
    """Every active gate (or ``gates``) with the partner's standing, criterion by criterion.

    Three queries whatever the number of gates: gates, statuses and tier names.
    Values come from the last evaluation (see ``StoredMeasures``); a gate not
    yet evaluated for the partner shows as not yet met with empty values.
    """
    as_of = as_of or timezone.localdate()
    if gates is None:
        gates = list(
            Gate.objects.in_effect(as_of)
            .select_related("program", "unlocks_tier")
            .order_by("program", "name")
        )
    statuses = {
        status.gate_id: status
        for status in GateStatus.objects.filter(partner=partner, gate__in=[g.id for g in gates])
    }
    refs = References()
    if any("current_tier" in str(gate.criteria) for gate in gates):
        refs = load_references()
    result = []
    stored = StoredMeasures()
    for gate in gates:
        try:
            tree = parse(
                gate.criteria, metrics=SPECS, default_currency=gate.money_currency, currencies=is_currency
            )
        except CriteriaError:
            continue
        status = statuses.get(gate.id)
        progress = GateProgress(
            gate=gate,
            status=status.status if status else GateOutcome.FAILED,
            since=status.since if status else None,
        )
        for leaf, value in zip(tree.leaves, stored.values(status, gate, tree), strict=True):
            progress.leaves.append(leaf_progress(leaf, value, refs, as_of))
        result.append(progress)
    return result


def tier_on(*, partner_id: int, program_id: int, day: datetime.date) -> int | None:
    """The id of the tier a partner held in a program on ``day``, read from the tier history."""
    change = (
        TierChange.objects.filter(partner_id=partner_id, program_id=program_id, effective_on__lte=day)
        .order_by("-effective_on", "-changed_at", "-id")
        .values_list("to_tier_id", flat=True)
        .first()
    )
    return change
