"""Reads of gate results: progress a partner can understand, and the tier held on a day."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from gates.criteria import CriteriaError, Leaf, parse
from gates.metrics import METRICS, SPECS, References
from gates.models import Gate, GateOutcome, GateStatus, TierChange
from gates.windows import Window
from prm.money import is_currency, round_money


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

    @property
    def sentence(self) -> str:
        if not self.is_numeric:
            return f"{self.description}: {self.value_display} (needs {self.target_display})"
        return f"{self.value_display} of {self.target_display} {self.description}"


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


def _display(leaf: Leaf, value: Any, refs: References) -> str:
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


def leaf_progress(leaf: Leaf, stored_value: Any, refs: References, as_of: datetime.date) -> LeafProgress:
    metric = METRICS[leaf.metric]
    value: Any = stored_value
    if metric.spec.value_kind == "money" and value is not None:
        value = Decimal(str(value))
    passed = leaf.compare(value)
    window = leaf.params.get("window")
    counts_from, period_ends, window_text = None, None, ""
    if isinstance(window, Window):
        counts_from = window.bounds(as_of)[0]
        period_ends = window.period_end(as_of)
        window_text = window.describe()
    spec = metric.spec
    return LeafProgress(
        path=leaf.path,
        metric=leaf.metric,
        description=spec.describe(leaf) if spec.describe else spec.label,
        value=value,
        target=leaf.target,
        value_display=_display(leaf, value, refs),
        target_display=_display(leaf, leaf.target, refs),
        passed=passed,
        ratio=_ratio(leaf, value, passed),
        window=window_text,
        counts_from=counts_from,
        period_ends=period_ends,
        is_numeric=spec.value_kind != "choice",
    )


def partner_gate_progress(partner, *, gates=None, as_of: datetime.date | None = None) -> list[GateProgress]:
    """Every active gate (or ``gates``) with the partner's standing, criterion by criterion.

    Three queries whatever the number of gates: gates, statuses and tier names.
    Values come from the last evaluation; a gate not yet evaluated for the
    partner shows as not yet met with empty values.
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
        refs = References.load()
    result = []
    for gate in gates:
        try:
            tree = parse(
                gate.criteria, metrics=SPECS, default_currency=gate.money_currency, currencies=is_currency
            )
        except CriteriaError:
            continue
        status = statuses.get(gate.id)
        stored = list(status.measures) if status and status.gate_version == gate.version else []
        progress = GateProgress(
            gate=gate,
            status=status.status if status else GateOutcome.FAILED,
            since=status.since if status else None,
        )
        for leaf in tree.leaves:
            stored_value = (
                stored[leaf.index] if leaf.index < len(stored) else METRICS[leaf.metric].default(leaf)
            )
            progress.leaves.append(leaf_progress(leaf, stored_value, refs, as_of))
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
