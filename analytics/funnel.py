"""The gate funnel: for each gate, how many partners meet 0, 1 … n of its criteria, how many meet
each criterion, and the near misses worth a call.

Read from the stored statuses (``GateStatus.measures``, one value per leaf of the
criteria), as the portal's progress bars are, and judged in SQL: a leaf's
comparison becomes a SQL expression over ``measures->>index``. Three queries
whatever the number of partners, plus the gates'. A status measured under an
earlier version of the gate's criteria is counted apart (``stale``): its values
belong to other criteria.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from analytics.filters import Filters
from analytics.sql import fetch, subquery
from core.money import is_currency
from criteria.tree import CriteriaError, Leaf, parse
from gates.metrics import SPECS, References
from gates.models import Gate, GateOutcome
from gates.selectors import leaf_progress

NUMERIC_OPS = (">=", ">", "<=", "<", "==", "!=")
# Near misses listed per gate, closest first.
NEAR_MISS_LIMIT = 50


@dataclass
class Criterion:
    index: int
    path: str
    description: str
    target_display: str
    met: int = 0


@dataclass
class Gap:
    criterion: Criterion
    value_display: str
    gap_display: str
    gap: Decimal


@dataclass
class NearMiss:
    partner_id: int
    partner_name: str
    gaps: list[Gap]


@dataclass
class GateFunnel:
    gate: Gate
    criteria: list[Criterion]
    # met_counts[k] is the number of partners meeting exactly k criteria, k = 0..n
    met_counts: list[int]
    passed: int = 0
    stale: int = 0
    near_misses: list[NearMiss] = field(default_factory=list)

    @property
    def evaluated(self) -> int:
        return sum(self.met_counts)


def _leaf_row(gate: Gate, leaf: Leaf) -> tuple:
    """(gate id, index, kind, op, numeric target, text targets) for the leaves CTE."""
    if SPECS[leaf.metric].value_kind == "choice":
        targets = list(leaf.target) if isinstance(leaf.target, tuple) else [str(leaf.target)]
        return (gate.pk, leaf.index, "text", leaf.op, None, targets)
    return (gate.pk, leaf.index, "num", leaf.op, Decimal(str(leaf.target)), [])


# Whether a leaf is met, as ``criteria.tree.compare`` decides it: nothing measured
# meets only a "!=" or "not in".
_MET = """
CASE
  WHEN l.raw IS NULL THEN l.op IN ('!=', 'not_in')
  WHEN l.kind = 'num' THEN CASE l.op
    WHEN '>=' THEN l.raw::numeric >= l.num_target
    WHEN '>' THEN l.raw::numeric > l.num_target
    WHEN '<=' THEN l.raw::numeric <= l.num_target
    WHEN '<' THEN l.raw::numeric < l.num_target
    WHEN '==' THEN l.raw::numeric = l.num_target
    WHEN '!=' THEN l.raw::numeric <> l.num_target
    ELSE false END
  ELSE CASE l.op
    WHEN '==' THEN l.raw = l.text_targets[1]
    WHEN '!=' THEN l.raw <> l.text_targets[1]
    WHEN 'in' THEN l.raw = ANY(l.text_targets)
    WHEN 'not_in' THEN NOT (l.raw = ANY(l.text_targets))
    ELSE false END
END
"""

# How far a numeric leaf not met is from its target (None when not a simple distance).
_GAP = """
CASE WHEN l.kind = 'num' AND l.raw IS NOT NULL THEN CASE
  WHEN l.op IN ('>=', '>') THEN l.num_target - l.raw::numeric
  WHEN l.op IN ('<=', '<') THEN l.raw::numeric - l.num_target
  END END
"""


def _judged_cte(gates: list[tuple[Gate, list[Leaf]]], scope: tuple[str, tuple]) -> tuple[str, list]:
    """The CTE ``judged``: one row per (gate, partner, leaf) with the value, whether met and the gap."""
    leaf_rows = [_leaf_row(gate, leaf) for gate, leaves in gates for leaf in leaves]
    values = ", ".join(
        ["(%s::bigint, %s::int, %s::text, %s::text, %s::numeric, %s::text[])"] * len(leaf_rows)
    )
    gate_values = ", ".join(["(%s::bigint, %s::int)"] * len(gates))
    scope_sql, scope_params = scope
    sql = f"""
WITH leaves(gate_id, idx, kind, op, num_target, text_targets) AS (VALUES {values}),
current_gates(gate_id, version) AS (VALUES {gate_values}),
statuses AS (
  SELECT s.gate_id, s.partner_id, s.status, s.measures
  FROM gates_gatestatus s JOIN current_gates g ON g.gate_id = s.gate_id AND g.version = s.gate_version
  WHERE s.partner_id IN ({scope_sql})
),
raw AS (
  SELECT s.gate_id, s.partner_id, s.status, l.idx, s.measures ->> l.idx AS raw,
         l.kind, l.op, l.num_target, l.text_targets
  FROM statuses s JOIN leaves l ON l.gate_id = s.gate_id
),
judged AS (
  SELECT l.gate_id, l.partner_id, l.status, l.idx, l.raw, l.op, l.num_target,
         ({_MET}) AS met, ({_GAP}) AS gap
  FROM raw l
)
"""
    params: list[Any] = [value for row in leaf_rows for value in row]
    params += [value for gate, _ in gates for value in (gate.pk, gate.version)]
    params += list(scope_params)
    return sql, params


def _stored(raw: str | None) -> Any:
    """A numeric measure as stored (``measures->>index`` gives text): counts are integers."""
    if raw is None:
        return None
    return int(raw) if raw.lstrip("-").isdigit() else Decimal(raw)


def gate_funnel(principal, filters: Filters, *, as_of: datetime.date | None = None) -> list[GateFunnel]:
    """The funnel of every gate in effect the principal sees (of the filtered program), over the
    filtered partners it sees. Four queries: the gates, then counts, criteria and near misses."""
    as_of = as_of or timezone.localdate()
    if filters.matches_nothing:
        return []
    gates_query = Gate.objects.visible_to(principal).in_effect(as_of).select_related("program")
    if filters.program is not None:
        gates_query = gates_query.filter(program=filters.program)
    parsed: list[tuple[Gate, list[Leaf]]] = []
    for gate in gates_query.order_by("program__name", "name", "pk"):
        try:
            tree = parse(
                gate.criteria, metrics=SPECS, default_currency=gate.money_currency, currencies=is_currency
            )
        except CriteriaError:
            continue
        parsed.append((gate, list(tree.leaves)))
    parsed = [(gate, leaves) for gate, leaves in parsed if leaves]
    refs = References()
    funnels: dict[int, GateFunnel] = {}
    leaves_by_gate: dict[int, dict[int, Leaf]] = {}
    for gate, leaves in parsed:
        criteria = []
        for leaf in leaves:
            shown = leaf_progress(leaf, None, refs, as_of)
            criteria.append(Criterion(leaf.index, leaf.path, shown.description, shown.target_display))
        funnels[gate.pk] = GateFunnel(gate=gate, criteria=criteria, met_counts=[0] * (len(leaves) + 1))
        leaves_by_gate[gate.pk] = {leaf.index: leaf for leaf in leaves}
    scope = subquery(filters.partners(principal).values("pk"))
    if not parsed or scope is None:
        return list(funnels.values())
    cte, params = _judged_cte(parsed, scope)

    # 1. Partners per number of criteria met, and those passing, per gate.
    counts_sql = (
        cte
        + """
SELECT gate_id, met, count(*), count(*) FILTER (WHERE status = %s)
FROM (SELECT gate_id, partner_id, min(status) AS status, count(*) FILTER (WHERE met) AS met
      FROM judged GROUP BY gate_id, partner_id) per_partner
GROUP BY gate_id, met
"""
    )
    for gate_id, met, partners, passed in fetch(counts_sql, [*params, GateOutcome.PASSED]):
        funnels[gate_id].met_counts[met] = partners
        funnels[gate_id].passed += passed

    # 2. Per criterion, how many meet it; and the statuses measured under other criteria.
    scope_sql, scope_params = scope
    criteria_sql = (
        cte
        + f"""
SELECT gate_id, idx, count(*) FILTER (WHERE met) FROM judged GROUP BY gate_id, idx
UNION ALL
SELECT s.gate_id, -1, count(*) FROM gates_gatestatus s JOIN current_gates g ON g.gate_id = s.gate_id
WHERE s.gate_version <> g.version AND s.partner_id IN ({scope_sql})
GROUP BY s.gate_id
"""
    )
    by_index = {gate_id: {c.index: c for c in funnel.criteria} for gate_id, funnel in funnels.items()}
    for gate_id, index, met in fetch(criteria_sql, [*params, *scope_params]):
        if index >= 0:
            by_index[gate_id][index].met = met
        else:
            funnels[gate_id].stale = met

    # 3. Near misses: not passing, and every criterion not met within the distance of its target.
    near = filters.near_percent / Decimal(100)
    near_sql = (
        cte
        + """
SELECT gate_id, partner_id, name, idxs, raws, gaps FROM (
  SELECT j.gate_id, j.partner_id, p.name,
         array_agg(j.idx ORDER BY j.idx) FILTER (WHERE NOT j.met) AS idxs,
         array_agg(j.raw ORDER BY j.idx) FILTER (WHERE NOT j.met) AS raws,
         array_agg(j.gap ORDER BY j.idx) FILTER (WHERE NOT j.met) AS gaps,
         row_number() OVER (
           PARTITION BY j.gate_id
           ORDER BY max(j.gap / NULLIF(j.num_target, 0)) FILTER (WHERE NOT j.met), p.name, j.partner_id
         ) AS place
  FROM judged j JOIN partners_partner p ON p.id = j.partner_id
  WHERE j.status <> %s
  GROUP BY j.gate_id, j.partner_id, p.name
  HAVING bool_or(NOT j.met)
     AND bool_and(j.met OR (j.gap IS NOT NULL AND j.gap >= 0 AND j.num_target > 0
                            AND j.gap <= j.num_target * %s))
) near WHERE place <= %s ORDER BY gate_id, place
"""
    )
    for gate_id, partner_id, name, indexes, raws, gaps in fetch(
        near_sql, [*params, GateOutcome.PASSED, near, NEAR_MISS_LIMIT]
    ):
        funnel = funnels[gate_id]
        shown_gaps = []
        for index, raw, gap in zip(indexes, raws, gaps, strict=True):
            leaf = leaves_by_gate[gate_id][index]
            value = leaf_progress(leaf, _stored(raw), refs, as_of)
            gap_display = leaf_progress(
                Leaf(leaf.index, leaf.path, leaf.metric, leaf.op, gap, leaf.params, leaf.currency),
                None,
                refs,
                as_of,
            ).target_display
            shown_gaps.append(Gap(by_index[gate_id][index], value.value_display, gap_display, gap))
        funnel.near_misses.append(NearMiss(partner_id, name, shown_gaps))
    return list(funnels.values())
