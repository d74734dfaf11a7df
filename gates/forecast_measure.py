"""The forecast's measuring: every passing (partner, gate) stepped forward through its horizon.

It measures with the evaluation's own engine (``Measurer``) at future days,
assuming nothing new arrives, only on the days an input changes
(``forecast_dates``), and for each such day only the partners whose inputs
change then, with one aggregate query per fact table (none for sales and
activities, whose sums move by the facts leaving and entering their windows:
``forecast_moves``): the number of queries grows with the days in the
horizon, never with the partners. ``gates.forecast`` says what the risks it
finds mean, and stores them.
"""

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from criteria.tree import Leaf
from criteria.tree import evaluate as evaluate_tree
from gates.engine import Measurer, _param
from gates.forecast_dates import change_days, leaves_by_source
from gates.forecast_moves import ADDITIVE_SOURCES, WindowMoves, named_or_range
from gates.metrics import METRICS, months_between
from gates.models import (
    GateOutcome,
    GateStatus,
)
from gates.subjects import GateSubject, Subjects
from partners.models import Partner


@dataclass(frozen=True)
class Risk:
    """A gate a partner passes today and would fail on ``fails_on``."""

    partner_id: int
    gate_id: int
    fails_on: datetime.date
    horizon_days: int
    leaf: Leaf | None  # the criterion that would fail; None when a prerequisite would fail first
    value: Any  # the criterion's value on ``fails_on``
    prerequisite_id: int | None = None


@dataclass
class Forecast:
    today: datetime.date
    risks: dict[tuple[int, int], Risk] = field(default_factory=dict)
    # The gates each partner in scope passes today.
    passing: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    days_measured: int = 0
    measurements: int = 0  # partner-days measured


def forecast_risks(
    subjects: Subjects,
    *,
    today: datetime.date,
    horizons: dict[int, int],
    partner_ids: Sequence[int] | None = None,
) -> Forecast:
    """Project every passing (partner, gate) forward through its horizon; the first failing day of each.

    Reads the passing statuses, the days inputs change (one query per fact
    table), today's measures of the passing partners (one query per fact
    table), and for sales and activities the facts that leave or enter a
    window within the horizon (one query each, ``forecast_moves``). Then on
    each changing day it brings up to date the measures of the partners
    whose inputs change that day: sales and activities from those moves,
    the other tables with one query each, for those partners only. Measures
    of the other tables carry over: between two changes they are constant.
    """
    result = Forecast(today=today)
    gates = [gate for gate in subjects.gates if horizons.get(gate.id)]
    if not gates:
        return result
    by_id = {gate.id: gate for gate in gates}
    statuses = GateStatus.objects.filter(status=GateOutcome.PASSED, gate_id__in=list(by_id))
    if partner_ids is not None:
        statuses = statuses.filter(partner_id__in=list(partner_ids))
    for partner_id, gate_id in statuses.values_list("partner_id", "gate_id"):
        result.passing[partner_id].add(gate_id)
    if not result.passing:
        return result
    until = today + datetime.timedelta(days=max(horizons[gate.id] for gate in gates))
    leaves = [leaf for gate in gates for leaf in gate.criteria.leaves]
    grouped = leaves_by_source(leaves)
    joined = None
    if any(leaf.metric == "months_since_joining" for leaf in grouped.get("partner", [])):
        joined = dict(Partner.objects.filter(id__in=list(result.passing)).values_list("id", "joined_on"))
    days = change_days(grouped, today=today, until=until, joined=joined)

    # Partners due on each day, per source: those whose inputs change then, within their longest horizon.
    reach = {
        partner_id: today + datetime.timedelta(days=max(horizons[g] for g in passed))
        for partner_id, passed in result.passing.items()
    }
    due: dict[datetime.date, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for (source, day), partners in days.by_source_day.items():
        due[day][source].update(p for p in partners if p in reach and day <= reach[p])
    for day, sources in days.calendar.items():
        everyone = {p for p, last in reach.items() if day <= last}
        for source in sources:
            due[day][source] |= everyone

    # Today's measures of every passing partner; each changing day then re-reads, per
    # fact table, only the partners whose facts in that table change that day.
    trees = [gate.criteria for gate in gates]
    passing_ids = sorted(result.passing)
    today_measurer = Measurer(trees, as_of=today, references=subjects.references)
    raw_today = today_measurer.fetch_sources(passing_ids[0], passing_ids[-1], named_or_range(passing_ids))
    current = today_measurer.measure(
        passing_ids[0], passing_ids[-1], sources=raw_today, only=named_or_range(passing_ids)
    )
    # Sums over dated facts move by the facts leaving and entering their windows: one query each.
    moves = {
        source: WindowMoves(
            today_measurer,
            source,
            trees,
            until=until,
            partner_ids=sorted({p for sources in due.values() for p in sources.get(source, ())}),
            raw_today=raw_today.get(source, {}),
        )
        for source in ADDITIVE_SOURCES
        if source in today_measurer.sources and any(source in sources for sources in due.values())
    }
    failed: dict[int, set[int]] = defaultdict(set)
    keys: dict[int, list[int]] | None = None
    # A gate whose inputs did not change that day keeps its decision: only the others are decided.
    gate_sources = {gate.id: {METRICS[leaf.metric].source for leaf in gate.criteria.leaves} for gate in gates}
    decided: set[int] = set()
    for day in sorted(due):
        by_source = {
            source: sorted(p for p in partners if p in current and len(failed[p]) < len(result.passing[p]))
            for source, partners in due[day].items()
        }
        pending = sorted({p for partners in by_source.values() for p in partners})
        if not pending:
            continue
        result.days_measured += 1
        result.measurements += len(pending)
        measurer = Measurer(trees, as_of=day, references=subjects.references)
        if keys is None:  # the same columns every day: the same trees in the same order
            keys = {gate.id: measurer.keys_for(gate.criteria) for gate in gates}
        for source, changed in by_source.items():
            if changed and source in moves:
                moves[source].apply(changed, current, day)
            elif changed:
                _remeasure(measurer, source, changed, current, joined or {}, day)
        ahead = (day - today).days
        changed_of: dict[int, set[str]] = defaultdict(set)
        for source, changed in by_source.items():
            for partner_id in changed:
                changed_of[partner_id].add(source)
        for partner_id in pending:
            # The first decision of a partner covers every gate, whatever changed.
            changed_sources = changed_of[partner_id] if partner_id in decided else None
            decided.add(partner_id)
            _decide_day(
                result,
                gates,
                keys,
                partner_id,
                current[partner_id],
                day,
                ahead,
                horizons,
                failed,
                changed_sources=changed_sources,
                gate_sources=gate_sources,
            )
    return result


def _remeasure(
    measurer: Measurer,
    source: str,
    partner_ids: list[int],
    current: dict[int, list[Any]],
    joined: dict[int, datetime.date],
    day: datetime.date,
) -> None:
    """Bring the measures of one source up to ``day`` for these partners (one query for a fact table)."""
    if source == "partner":
        # Only months since joining move with the calendar among a partner's attributes.
        for position, leaf in measurer.attribute_leaves:
            if leaf.metric == "months_since_joining":
                for partner_id in partner_ids:
                    if partner_id in joined:
                        current[partner_id][position] = months_between(joined[partner_id], day)
        return
    plan = measurer.sources.get(source)
    if plan is None or not plan.columns:
        return
    sql, params = measurer._source_sql(
        source, plan, partner_ids[0], partner_ids[-1], named_or_range(partner_ids)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_param(p) for p in params])
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    readers = list(zip(plan.indices, (column.read for column in plan.columns), strict=True))
    for partner_id in partner_ids:
        values, raw = current[partner_id], rows.get(partner_id)
        for (position, read), value in zip(readers, raw or [None] * len(readers), strict=True):
            values[position] = read(value) if raw is not None else measurer.defaults[position]


def _decide_day(
    result: Forecast,
    gates: list[GateSubject],
    keys: dict[int, list[int]],
    partner_id: int,
    values: list[Any],
    day: datetime.date,
    ahead: int,
    horizons: dict[int, int],
    failed: dict[int, set[int]],
    *,
    changed_sources: set[str] | None = None,
    gate_sources: dict[int, set[str]] | None = None,
) -> None:
    """Decide on ``day`` the gates a partner passes today (prerequisites first, as the evaluation does).

    With ``changed_sources`` (the sources whose measures moved that day) a gate none of whose
    leaves reads them, and whose prerequisites still pass, keeps its last decision: it passes.
    """
    passing = result.passing[partner_id]
    for gate in gates:  # in topological order
        if gate.id not in passing or gate.id in failed[partner_id] or horizons[gate.id] < ahead:
            continue
        blocked = next((p for p in gate.prerequisites if p not in passing or p in failed[partner_id]), None)
        if (
            blocked is None
            and changed_sources is not None
            and gate_sources is not None
            and not gate_sources[gate.id] & changed_sources
        ):
            continue
        gate_values = [values[k] for k in keys[gate.id]]
        if blocked is None and gate.decide(gate_values):
            continue
        failed[partner_id].add(gate.id)
        leaf, value = None, None
        if blocked is None:
            outcome = evaluate_tree(gate.criteria, gate_values)
            failing = outcome.failing()
            if failing:
                leaf, value = failing[0].leaf, failing[0].value
        result.risks[(partner_id, gate.id)] = Risk(
            partner_id, gate.id, day, horizons[gate.id], leaf, value, prerequisite_id=blocked
        )
