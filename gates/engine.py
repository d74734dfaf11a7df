"""Set-based measuring: every leaf of every tree, for a chunk of partners, in one query per fact table.

``Measurer`` gathers the leaves of all the trees being decided (gates and
segments), gives leaves that measure the same thing one shared column, and
runs one aggregate query per source table over a range of partner ids. The
same code measures a single partner (a range of one) for incremental
re-evaluation, so the nightly and the on-change results cannot disagree.

The SQL is written by hand because it joins sales to the daily rate table on
(currency, day), which has no foreign key for the ORM to follow; it is plain
SQL-92 plus CASE, and runs unchanged on PostgreSQL and SQLite. Tables and
columns are named from the models' ``_meta`` (``gates.metrics.column_sql``).
"""

import datetime
import hashlib
import json
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from criteria.tree import Criteria, Leaf
from criteria.windows import Window
from gates.metrics import METRICS, Column, References, column_sql, day_starts, measure_key, table_sql
from gates.models import PartnerTier
from partners.models import Partner

SOURCE_ORDER = (
    "sales",
    "certifications",
    "certifications_held",
    "activities",
    "proficiencies",
    "deals",
    "completions",
)

# The table whose rows each source counts (where its ``created_at`` is).
SOURCE_TABLES = {
    "sales": "sales",
    "certifications": "certifications",
    "certifications_held": "certifications",
    "activities": "activities",
    "proficiencies": "proficiencies",
    "deals": "deals",
    "completions": "completions",
}


def _param(value: Any) -> Any:
    """Dates go to SQLite as ISO text, which is how Django stores them there."""
    if connection.vendor == "sqlite" and isinstance(value, datetime.date):
        return value.isoformat()
    return value


@dataclass
class _SourcePlan:
    indices: list[int] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    earliest: datetime.date | None = None
    unbounded: bool = False


# Each comparison as Python, with what a missing measure (None) gives: only "not" comparisons pass.
_COMPARISONS = {
    ">=": ("{v} is not None and {v} >= {t}"),
    ">": ("{v} is not None and {v} > {t}"),
    "<=": ("{v} is not None and {v} <= {t}"),
    "<": ("{v} is not None and {v} < {t}"),
    "==": ("{v} is not None and {v} == {t}"),
    "!=": ("{v} is None or {v} != {t}"),
    "in": ("{v} is not None and {v} in {t}"),
    "not_in": ("{v} is None or {v} not in {t}"),
}


def compile_decider(
    criteria: Criteria, columns: Sequence[int] | None = None
) -> Callable[[Sequence[Any]], bool]:
    """Turn a tree into a function of the leaf values, for the hot loop over partners.

    The function reads each leaf's value at its index (``columns[i]`` for the
    i-th leaf when given: a measurer's columns, so the whole row can be passed)
    and compares it as ``Leaf.compare`` does. It is one Python expression,
    short-circuiting like the tree, compiled once per tree: a call per
    partner instead of one per node. Only indices, fixed operators and the
    names of the targets go into the source; the targets themselves are
    bound as values, never written into it.
    """
    targets: dict[str, Any] = {}

    def build(node) -> str:
        if isinstance(node, Leaf):
            index = node.index if columns is None else columns[node.index]
            name = f"t{len(targets)}"
            targets[name] = node.target
            comparison = _COMPARISONS[node.op].format(v=f"v[{int(index)}]", t=name)
            return f"({comparison})"
        parts = [build(child) for child in node.children]
        if node.kind == "all":
            return "(" + (" and ".join(parts) or "True") + ")"
        if node.kind == "any":
            return "(" + (" or ".join(parts) or "False") + ")"
        return f"(not {parts[0]})"

    source = f"lambda v: bool({build(criteria.root)})"
    namespace = {"__builtins__": {"bool": bool}, **targets}
    return eval(source, namespace)  # noqa: S307 (indices and operators only)


class Measurer:
    """Measures every leaf of ``trees`` for ranges of partners as of one day."""

    def __init__(
        self,
        trees: Iterable[Criteria],
        *,
        as_of: datetime.date,
        references: References,
        known_by: datetime.date | None = None,
    ):
        self.as_of = as_of
        # Replays "as known then": only facts stored by the end of ``known_by`` count
        # (their ``created_at``); None counts every fact stored, late ones included.
        self.known_by = known_by
        # Certifications valid on this day are read (a measurer of several days reads
        # from the first day's, each column narrowing to its own: ``fetch_days``).
        self.valid_on = as_of
        self.refs = references
        self.reference_currency: str = settings.PRM_REFERENCE_CURRENCY
        self.sources: dict[str, _SourcePlan] = defaultdict(_SourcePlan)
        # Every distinct measure gets a column index; a partner's measures are a list.
        self.index: dict[tuple, int] = {}
        self.defaults: list[Any] = []
        self.attribute_leaves: list[tuple[int, Leaf]] = []
        self.needs_tiers = False
        for criteria in trees:
            for leaf in criteria.leaves:
                self._add(leaf)

    def _add(self, leaf: Leaf) -> None:
        key = measure_key(leaf)
        if key in self.index:
            return
        metric = METRICS[leaf.metric]
        position = self.index[key] = len(self.defaults)
        self.defaults.append(metric.default(leaf))
        if metric.source == "partner":
            self.attribute_leaves.append((position, leaf))
            self.needs_tiers |= leaf.metric == "current_tier"
            return
        assert metric.column is not None
        plan = self.sources[metric.source]
        plan.indices.append(position)
        plan.columns.append(metric.column(leaf, self.refs, self.as_of))
        window = leaf.params.get("window")
        start = window.bounds(self.as_of)[0] if isinstance(window, Window) else None
        if start is None:
            plan.unbounded = True
        elif plan.earliest is None or start < plan.earliest:
            plan.earliest = start

    def keys_for(self, criteria: Criteria) -> list[int]:
        """The column index of each leaf of ``criteria``, in leaf order."""
        return [self.index[measure_key(leaf)] for leaf in criteria.leaves]

    # --- measuring ------------------------------------------------------------

    def fetch_sources(
        self, first_id: int | None = None, last_id: int | None = None, only: Sequence[int] | None = None
    ) -> dict[str, dict[int, tuple]]:
        """Run one aggregate query per fact table: raw values by partner id.

        Without a range it covers every partner in one pass per table, which
        is how the nightly run reads the facts: a range scan per chunk would
        visit the same table pages once per chunk.
        """
        tables: dict[str, dict[int, tuple]] = {}
        for source in SOURCE_ORDER:
            plan = self.sources.get(source)
            if not plan or not plan.columns:
                continue
            sql, params = self._source_sql(source, plan, first_id, last_id, only)
            with connection.cursor() as cursor:
                cursor.execute(sql, [_param(p) for p in params])
                tables[source] = {row[0]: tuple(row[1:]) for row in cursor.fetchall()}
        return tables

    def measure(
        self,
        first_id: int,
        last_id: int,
        sources: dict[str, dict[int, tuple]] | None = None,
        only: Sequence[int] | None = None,
    ) -> dict[int, list[Any]]:
        """Measures of every partner whose id lies in [first_id, last_id], keyed by partner id.

        ``sources`` are the raw aggregates from ``fetch_sources`` when they were
        read beforehand for all partners; otherwise the range is queried now.
        Partners with no facts get the metric's default (zero); every partner
        in the range appears, whatever its facts. A partner's measures are a
        list indexed like ``keys_for`` returns.
        """
        rows = self._partner_rows(first_id, last_id, only)
        if sources is None:
            sources = self.fetch_sources(first_id, last_id, only)
        tier_ranks = self._tier_ranks(first_id, last_id, only) if self.needs_tiers else {}
        plans = [
            (list(zip(plan.indices, (c.read for c in plan.columns), strict=True)), sources[source])
            for source, plan in self.sources.items()
            if source in sources
        ]
        attributes = [
            (position, METRICS[leaf.metric].attribute, leaf) for position, leaf in self.attribute_leaves
        ]
        results: dict[int, list[Any]] = {}
        for row in rows:
            partner_id = row["id"]
            values = list(self.defaults)
            if attributes:
                row["tier_ranks"] = tier_ranks.get(partner_id, {})
                for position, attribute, leaf in attributes:
                    values[position] = attribute(row, leaf, self.refs, self.as_of)  # type: ignore[misc]
            for readers, table in plans:
                raw_values = table.get(partner_id)
                if raw_values is not None:
                    for (position, read), raw in zip(readers, raw_values, strict=True):
                        values[position] = read(raw)
            results[partner_id] = values
        return results

    def measure_chunk(
        self,
        first_id: int,
        last_id: int,
        sources: dict[str, dict[int, tuple]] | None,
        signature: str,
        only: Sequence[int] | None = None,
        *,
        digests: bool = True,
    ) -> "MeasuredChunk":
        """Like ``measure``, but converts values lazily and gives each partner a digest of its inputs.

        The digest covers the definitions (``signature``), the partner's
        attributes and the raw aggregates of every fact table, so an equal
        digest means equal measures. ``digests=False`` leaves them out (a
        run that does not compare them: on-change runs, simulations, replays).
        """
        rows = self._partner_rows(first_id, last_id, only)
        if sources is None:
            sources = self.fetch_sources(first_id, last_id, only)
        tier_ranks = self._tier_ranks(first_id, last_id, only) if self.needs_tiers else {}
        chunk = MeasuredChunk(self, sources)
        attributes = [
            (position, METRICS[leaf.metric].attribute, leaf) for position, leaf in self.attribute_leaves
        ]
        tables = list(sources.items())
        for row in rows:
            partner_id = row["id"]
            row["tier_ranks"] = tier_ranks.get(partner_id, {})
            attribute_values = [
                (position, attribute(row, leaf, self.refs, self.as_of))  # type: ignore[misc]
                for position, attribute, leaf in attributes
            ]
            raw = [(source, table.get(partner_id)) for source, table in tables]
            chunk.inputs[partner_id] = (attribute_values, raw)
            if digests:
                chunk.digests[partner_id] = hashlib.blake2b(
                    pickle.dumps((signature, attribute_values, raw), protocol=5), digest_size=16
                ).hexdigest()
        return chunk

    def _partner_rows(self, first_id: int, last_id: int, only: Sequence[int] | None) -> list[dict[str, Any]]:
        fields = ("id", "partner_type", "business_model", "country", "region", "status", "joined_on")
        return [
            dict(zip(fields, row, strict=True))
            for row in Partner.objects.filter(id__gte=first_id, id__lte=last_id)
            .filter(**({"id__in": list(only)} if only is not None else {}))
            .order_by("id")
            .values_list(*fields)
        ]

    def _tier_ranks(
        self, first_id: int, last_id: int, only: Sequence[int] | None
    ) -> dict[int, dict[int, int]]:
        ranks: dict[int, dict[int, int]] = defaultdict(dict)
        rows = PartnerTier.objects.filter(
            partner_id__gte=first_id, partner_id__lte=last_id, tier__isnull=False
        )
        if only is not None:
            rows = rows.filter(partner_id__in=list(only))
        for partner_id, program_id, rank in rows.values_list("partner_id", "program_id", "tier__rank"):
            ranks[partner_id][program_id] = rank
        return ranks

    def _source_sql(
        self,
        source: str,
        plan: _SourcePlan,
        first_id: int | None,
        last_id: int | None,
        only: Sequence[int] | None = None,
        by_day: Sequence[tuple[datetime.date, datetime.date]] = (),
    ) -> tuple[str, list[Any]]:
        """The aggregate query of one source: a row per partner, or with ``by_day`` (sales and
        activities only) a row per partner and fact day, for the facts dated within those spans."""
        params: list[Any] = []
        select: list[str] = []
        target_aliases: dict[str, str] = {}
        for column in plan.columns:
            sql = column.sql
            if column.target_currency is not None:
                currency = column.target_currency
                if currency != self.reference_currency and currency not in target_aliases:
                    target_aliases[currency] = f"t{len(target_aliases)}"
                # The amount in the target currency, at the rates of the sale's day.
                # "* 1.0" keeps SQLite, which stores whole decimals as integers,
                # from dividing as integers; PostgreSQL's numeric is exact anyway.
                amount = (
                    f"{column_sql('sales', 'amount')} * 1.0 * (CASE WHEN {column_sql('sales', 'currency')} = %s "
                    f"THEN 1 ELSE {column_sql('daily_rates', 'rate')} END)"
                )
                amount_params: list[Any] = [self.reference_currency]
                if currency != self.reference_currency:
                    amount += f" / {column_sql('daily_rates', 'rate', target_aliases[currency])}"
                before, after = sql.split("{amount_in:" + currency + "}")
                select.append(before + amount + after)
                # The condition's params precede the amount's in the text.
                params.extend(column.params)
                params.extend(amount_params)
            else:
                select.append(sql)
                params.extend(column.params)
        columns_sql = ", ".join(select)

        if source == "sales":
            partner = column_sql("sales", "partner")
            joins = ""
            join_params: list[Any] = []
            if any(c.target_currency for c in plan.columns):
                rate_currency, rate_day = (
                    column_sql("daily_rates", "currency"),
                    column_sql("daily_rates", "day"),
                )
                closed_on = column_sql("sales", "closed_on")
                joins += (
                    f" LEFT JOIN {table_sql('daily_rates')} ON {rate_currency} = {column_sql('sales', 'currency')}"
                    f" AND {rate_day} = {closed_on}"
                )
                for currency, alias in target_aliases.items():
                    joins += (
                        f" LEFT JOIN {table_sql('daily_rates', alias)}"
                        f" ON {column_sql('daily_rates', 'currency', alias)} = %s"
                        f" AND {column_sql('daily_rates', 'day', alias)} = {closed_on}"
                    )
                    join_params.append(currency)
            closed_on = column_sql("sales", "closed_on")
            where, where_params = self._range(partner, closed_on, plan, first_id, last_id, only, by_day)
            known, known_params = self._known("sales")
            key = f"{partner}, {closed_on}" if by_day else partner
            sql = (
                f"SELECT {key}, {columns_sql} FROM {table_sql('sales')}{joins} "
                f"WHERE {where}{known} GROUP BY {key}"
            )
            return sql, params + join_params + where_params + known_params
        if source == "certifications":
            known, known_params = self._known("certifications")
            partner = column_sql("people", "partner")
            person = column_sql("certifications", "person")
            where, where_params = self._range(partner, None, plan, first_id, last_id, only)
            inner_columns = ", ".join(f"{sql} AS m{i}" for i, sql in enumerate(select))
            outer_columns = ", ".join(f"SUM(m{i})" for i in range(len(select)))
            expires_on = column_sql("certifications", "expires_on")
            sql = (
                f"SELECT partner_id, {outer_columns} FROM ("
                f"SELECT {partner} AS partner_id, {inner_columns} "
                f"FROM {table_sql('certifications')} JOIN {table_sql('people')} "
                f"ON {column_sql('people', 'id')} = {person} "
                f"WHERE {where} AND {column_sql('people', 'is_active')} = %s "
                f"AND {column_sql('certifications', 'issued_on')} <= %s "
                f"AND ({expires_on} IS NULL OR {expires_on} >= %s){known} "
                f"GROUP BY {partner}, {person}) per_person GROUP BY partner_id"
            )
            return sql, params + where_params + [True, self.as_of, self.valid_on] + known_params
        if source == "certifications_held":
            # The certifications themselves (not per person): counted, or their types counted once.
            known, known_params = self._known("certifications")
            partner = column_sql("people", "partner")
            where, where_params = self._range(partner, None, plan, first_id, last_id, only)
            expires_on = column_sql("certifications", "expires_on")
            sql = (
                f"SELECT {partner}, {columns_sql} "
                f"FROM {table_sql('certifications')} JOIN {table_sql('people')} "
                f"ON {column_sql('people', 'id')} = {column_sql('certifications', 'person')} "
                f"WHERE {where} AND {column_sql('people', 'is_active')} = %s "
                f"AND {column_sql('certifications', 'issued_on')} <= %s "
                f"AND ({expires_on} IS NULL OR {expires_on} >= %s){known} "
                f"GROUP BY {partner}"
            )
            return sql, params + where_params + [True, self.as_of, self.valid_on] + known_params
        if source == "completions":
            # Completions of active people, per person and course (a course completed twice
            # counts once), then per partner; the course gives track and duration.
            known, known_params = self._known("completions")
            partner = column_sql("people", "partner")
            person, course = column_sql("completions", "person"), column_sql("completions", "course")
            where, where_params = self._range(partner, None, plan, first_id, last_id, only)
            inner_columns = ", ".join(f"{sql} AS m{i}" for i, sql in enumerate(select))
            outer_columns = ", ".join(f"SUM(m{i})" for i in range(len(select)))
            sql = (
                f"SELECT partner_id, {outer_columns} FROM ("
                f"SELECT {partner} AS partner_id, {inner_columns} "
                f"FROM {table_sql('completions')} JOIN {table_sql('people')} "
                f"ON {column_sql('people', 'id')} = {person} "
                f"JOIN {table_sql('courses')} ON {column_sql('courses', 'id')} = {course} "
                f"WHERE {where} AND {column_sql('people', 'is_active')} = %s "
                f"AND {column_sql('completions', 'completed_at')} < %s{known} "
                f"GROUP BY {partner}, {person}, {course}) per_course GROUP BY partner_id"
            )
            end = day_starts(self.as_of + datetime.timedelta(days=1))
            return sql, params + where_params + [True, end] + known_params
        dated = {"activities": "occurred_on", "proficiencies": None, "deals": "registered_on"}
        if source in dated:
            partner = column_sql(source, "partner")
            day = dated[source]
            day_column = column_sql(source, day) if day else None
            where, where_params = self._range(partner, day_column, plan, first_id, last_id, only, by_day)
            known, known_params = self._known(source)
            key = f"{partner}, {day_column}" if by_day else partner
            sql = f"SELECT {key}, {columns_sql} FROM {table_sql(source)} WHERE {where}{known} GROUP BY {key}"
            return sql, params + where_params + known_params
        raise ValueError(f"unknown source {source!r}")

    def day_guard(self, source: str) -> tuple[str, list[Any]]:
        """What a fact of ``source`` must be to count on ``as_of`` besides its leaves' conditions.

        The leaves bound their facts by date themselves (windows end on the day);
        the source query adds the certifications' validity and, as known then, the
        day the fact was stored. A measurer of several days (``fetch_days``) puts
        this in each day's columns instead.
        """
        parts: list[str] = []
        params: list[Any] = []
        if source in ("certifications", "certifications_held"):
            issued_on, expires_on = (
                column_sql("certifications", "issued_on"),
                column_sql("certifications", "expires_on"),
            )
            parts.append(f"{issued_on} <= %s AND ({expires_on} IS NULL OR {expires_on} >= %s)")
            params += [self.as_of, self.as_of]
        known, known_params = self._known(SOURCE_TABLES[source])
        if known:
            parts.append(known.removeprefix(" AND "))
            params += known_params
        return " AND ".join(parts), params

    def _known(self, table: str) -> tuple[str, list[Any]]:
        """The condition that a fact was stored by the end of ``known_by``; nothing when every fact counts.

        Rows stored before the table recorded when (a NULL ``created_at``) count as known all along.
        """
        if self.known_by is None:
            return "", []
        created_at = column_sql(table, "created_at")
        return (
            f" AND ({created_at} IS NULL OR {created_at} < %s)",
            [day_starts(self.known_by + datetime.timedelta(days=1))],
        )

    def _range(
        self,
        partner_column: str,
        date_column: str | None,
        plan: _SourcePlan,
        first_id: int | None,
        last_id: int | None,
        only: Sequence[int] | None = None,
        by_day: Sequence[tuple[datetime.date, datetime.date]] = (),
    ) -> tuple[str, list[Any]]:
        params: list[Any]
        if by_day and date_column is None:
            raise ValueError("facts can be read by day only from a table whose facts are dated")
        if only is not None:
            where, params = f"{partner_column} IN ({', '.join(['%s'] * len(only))})", list(only)
        elif first_id is None or last_id is None:
            where, params = "1 = 1", []
        elif first_id == last_id:
            where, params = f"{partner_column} = %s", [first_id]
        else:
            where, params = f"{partner_column} >= %s AND {partner_column} <= %s", [first_id, last_id]
        if date_column is not None:
            where += f" AND {date_column} <= %s"
            params.append(self.as_of)
            if not plan.unbounded and plan.earliest is not None:
                where += f" AND {date_column} >= %s"
                params.append(plan.earliest)
            if by_day:
                where += " AND (" + " OR ".join(f"{date_column} BETWEEN %s AND %s" for _ in by_day) + ")"
                params.extend(day for span in by_day for day in span)
        return where, params


def fetch_days(
    measurers: Sequence[Measurer],
    first_id: int | None = None,
    last_id: int | None = None,
    only: Sequence[int] | None = None,
) -> list[dict[str, dict[int, tuple]]]:
    """``fetch_sources`` of several measurers of the same trees on different days, in one query per table.

    Each day's columns are its own, narrowed by its ``day_guard``; the query
    reads the facts of the widest span (from the earliest window's start to
    the last day), so each table is scanned once for every day instead of
    once per day. Returns each measurer's sources, in order, to hand to its
    ``measure``.
    """
    if len(measurers) == 1:
        return [measurers[0].fetch_sources(first_id, last_id, only)]
    last_day = max(m.as_of for m in measurers)
    wide = Measurer([], as_of=last_day, references=measurers[0].refs)
    wide.valid_on = min(m.as_of for m in measurers)
    widths: dict[str, int] = {}
    for source in SOURCE_ORDER:
        plans = [m.sources.get(source) for m in measurers]
        if not plans[0] or not plans[0].columns:
            continue
        assert all(plan is not None and len(plan.columns) == len(plans[0].columns) for plan in plans)
        widths[source] = len(plans[0].columns)
        merged = wide.sources[source]
        for measurer, plan in zip(measurers, plans, strict=True):
            assert plan is not None
            guard, guard_params = measurer.day_guard(source)
            for column in plan.columns:
                if guard:
                    head, found, tail = column.sql.partition("CASE WHEN ")
                    assert found, "every fact column is a conditional aggregate"
                    column = Column(
                        f"{head}CASE WHEN {guard} AND {tail}",
                        (*guard_params, *column.params),
                        column.read,
                        column.target_currency,
                    )
                merged.columns.append(column)
            merged.unbounded |= plan.unbounded
            if plan.earliest is not None and (merged.earliest is None or plan.earliest < merged.earliest):
                merged.earliest = plan.earliest
        merged.indices = list(range(len(merged.columns)))
    tables = wide.fetch_sources(first_id, last_id, only)
    split: list[dict[str, dict[int, tuple]]] = []
    for position in range(len(measurers)):
        day_tables = {}
        for source, rows in tables.items():
            start = position * widths[source]
            end = start + widths[source]
            day_tables[source] = {partner: row[start:end] for partner, row in rows.items()}
        split.append(day_tables)
    return split


class MeasuredChunk:
    """Measures of a chunk's partners, converted on first use."""

    def __init__(self, measurer: Measurer, sources: dict[str, dict[int, tuple]]):
        self.measurer = measurer
        self.inputs: dict[int, tuple[list[tuple[int, Any]], list[tuple[str, tuple | None]]]] = {}
        self.digests: dict[int, str] = {}
        self._values: dict[int, list[Any]] = {}
        self._readers = {
            source: list(zip(plan.indices, (c.read for c in plan.columns), strict=True))
            for source, plan in measurer.sources.items()
        }

    def __contains__(self, partner_id: int) -> bool:
        return partner_id in self.inputs

    def partner_ids(self) -> list[int]:
        return list(self.inputs)

    def values(self, partner_id: int) -> list[Any]:
        cached = self._values.get(partner_id)
        if cached is not None:
            return cached
        attribute_values, raw = self.inputs[partner_id]
        values = list(self.measurer.defaults)
        for position, value in attribute_values:
            values[position] = value
        for source, raw_values in raw:
            if raw_values is not None:
                for (position, read), value in zip(self._readers[source], raw_values, strict=True):
                    values[position] = read(value)
        self._values[partner_id] = values
        return values


def serialise(value: Any) -> Any:
    """A measured value as stored in JSON: amounts as strings, so nothing turns into a float."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def json_token(value: Any) -> str:
    """``value`` as a JSON token, written the way PostgreSQL prints jsonb and Django stores JSON.

    The evaluation compares a gate's measures with the stored ones as text,
    which spares decoding every stored row every night.
    """
    if isinstance(value, Decimal):
        return '"' + format(value, "f") + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def json_list(tokens: Iterable[str]) -> str:
    return "[" + ", ".join(tokens) + "]"
