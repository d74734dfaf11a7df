"""The registry of metrics: what each one means, and how it measures many partners at once.

Each metric pairs a ``MetricSpec`` (its parameters, for the pure criteria
language) with a way to measure it:

* fact metrics contribute one conditional aggregate column to the query of
  their source table (sales, certifications per person or as held,
  activities, proficiencies, deals), so that one query per table measures every leaf of every gate for
  a whole chunk of partners;
* attribute metrics read the partner row or its tier, in Python.

The source queries themselves (how a fact table reaches its partner) are the
engine's, one per source; a metric on an existing source is only its entry here.

Adding a metric is adding one entry to ``METRICS``.
"""

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_countries import countries

from core.money import round_money, to_decimal
from criteria.references import References
from criteria.tree import Leaf, MetricSpec, Param
from criteria.windows import Window
from enablement.models import Course
from partners.models import (
    ActivityType,
    BusinessModel,
    CertificationTrack,
    CertificationType,
    CustomerSegment,
    LifecycleStatus,
    PartnerType,
    ProductLine,
    Region,
    ServiceOffering,
)
from programs.models import Program, Tier

# --- reference data the measures need ------------------------------------------


def load_references() -> References:
    """The codes criteria are written in, resolved to ids from the database (a few queries)."""
    refs = References()
    refs.product_lines = dict(ProductLine.objects.values_list("code", "id"))
    for type_id, code, track, advanced, validity in CertificationType.objects.order_by("id").values_list(
        "id", "code", "track", "is_advanced", "validity_months"
    ):
        refs.certification_types[code] = type_id
        refs.certification_validity[type_id] = validity
        refs.certification_tracks.setdefault(track, []).append(type_id)
        if advanced:
            refs.advanced_certifications.append(type_id)
    refs.activity_types = dict(ActivityType.objects.values_list("code", "id"))
    refs.offerings = dict(ServiceOffering.objects.values_list("code", "id"))
    refs.programs = dict(Program.objects.values_list("slug", "id"))
    refs.customer_segments = dict(CustomerSegment.objects.values_list("code", "id"))
    for course_id, code, product_line in Course.objects.order_by("id").values_list(
        "id", "code", "product_lines__code"
    ):
        if code:
            refs.courses[code] = course_id
        if product_line:
            refs.product_line_courses.setdefault(product_line, []).append(course_id)
    refs.tier_names = {
        (program_id, rank): name
        for program_id, rank, name in Tier.objects.values_list("program_id", "rank", "name")
    }
    return refs


# --- where the facts live ------------------------------------------------------

# Each source query reads its fact table under a fixed alias. Table and column
# names come from the models' ``_meta``, so the SQL follows a renamed table or
# column. Models are named by label: deals sit above the gates and are never
# imported here.
FACT_TABLES: dict[str, tuple[str, str]] = {
    "sales": ("partners.Sale", "s"),
    "certifications": ("partners.Certification", "c"),
    "people": ("partners.Person", "p"),
    "activities": ("partners.EngagementActivity", "a"),
    "proficiencies": ("partners.ServiceProficiency", "sp"),
    "deals": ("deals.Deal", "d"),
    "daily_rates": ("core.DailyRate", "fr"),
    "completions": ("enablement.Completion", "cp"),
    "courses": ("enablement.Course", "co"),
}


def _fact_model(table_key: str) -> Any:
    return apps.get_model(FACT_TABLES[table_key][0])


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table_sql(table_key: str, alias: str | None = None) -> str:
    """The table of ``table_key`` with its alias, for a FROM or JOIN: ``"partners_sale" s``."""
    return f"{_quote(_fact_model(table_key)._meta.db_table)} {alias or FACT_TABLES[table_key][1]}"


def column_sql(table_key: str, field_name: str, alias: str | None = None) -> str:
    """A field's column under the table's alias: ``s."closed_on"``."""
    column = _fact_model(table_key)._meta.get_field(field_name).column
    return f"{alias or FACT_TABLES[table_key][1]}.{_quote(column)}"


# --- SQL pieces ----------------------------------------------------------------


@dataclass
class SqlCondition:
    """A boolean SQL expression over one source row, with its parameters."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def add_in(self, column: str, values: Sequence[Any]) -> None:
        if not values:
            self.parts.append("1 = 0")
            return
        self.add(f"{column} IN ({', '.join(['%s'] * len(values))})", *values)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "1 = 1"


def window_condition(condition: SqlCondition, column: str, window: Window, as_of: datetime.date) -> None:
    start, end = window.bounds(as_of)
    if start is not None:
        condition.add(f"{column} >= %s", start)
    condition.add(f"{column} <= %s", end)


@dataclass(frozen=True)
class Column:
    """One aggregate column of a source query: SQL, parameters and how to read the result."""

    sql: str
    params: tuple[Any, ...]
    read: Callable[[Any], Any]
    target_currency: str | None = None


# --- the metrics ----------------------------------------------------------------


def _codes(name: str, help_text: str) -> Param:
    return Param("codes", help=help_text)


def _count(raw: Any) -> int:
    return int(raw or 0)


@dataclass(frozen=True)
class Metric:
    spec: MetricSpec
    source: str
    column: Callable[[Leaf, References, datetime.date], Column] | None = None
    attribute: Callable[[Mapping[str, Any], Leaf, References, datetime.date], Any] | None = None
    default: Callable[[Leaf], Any] = lambda leaf: 0
    format_value: Callable[[Leaf, Any, References], str] = lambda leaf, value, refs: f"{value:,}"

    @property
    def name(self) -> str:
        return self.spec.name


def _money_format(leaf: Leaf, value: Any, refs: References) -> str:
    currency = leaf.currency or ""
    amount = round_money(to_decimal(value), currency) if currency else to_decimal(value)
    return f"{amount:,f} {currency}".strip()


# Certified people ------------------------------------------------------------


def _certified_condition(leaf: Leaf, refs: References, as_of: datetime.date) -> SqlCondition:
    condition = SqlCondition()
    type_ids = _certification_type_ids(leaf, refs)
    if type_ids is not None:
        condition.add_in(column_sql("certifications", "certification_type"), sorted(type_ids))
    window = leaf.params.get("window") or Window()
    window_condition(condition, column_sql("certifications", "issued_on"), window, as_of)
    return condition


def _certification_type_ids(leaf: Leaf, refs: References) -> set[int] | None:
    """The certification types a leaf counts, by type, track and level; None for every type."""
    type_ids: set[int] | None = None
    if leaf.params.get("certification_types"):
        type_ids = {refs.certification_types.get(code, -1) for code in leaf.params["certification_types"]}
    if leaf.params.get("tracks"):
        track_ids = {i for track in leaf.params["tracks"] for i in refs.certification_tracks.get(track, [])}
        type_ids = track_ids if type_ids is None else type_ids & track_ids
    if leaf.params.get("advanced_only"):
        advanced = set(refs.advanced_certifications)
        type_ids = advanced if type_ids is None else type_ids & advanced
    return type_ids


def _certified_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = _certified_condition(leaf, refs, as_of)
    # Per person first (MAX), then per partner (SUM): counts each person once
    # without the slow count(DISTINCT) over a filter.
    return Column(f"MAX(CASE WHEN {condition.sql()} THEN 1 ELSE 0 END)", tuple(condition.params), _count)


def _certification_words(leaf: Leaf) -> str:
    what = []
    if leaf.params.get("tracks"):
        what.append("/".join(leaf.params["tracks"]))
    if leaf.params.get("certification_types"):
        what.append(", ".join(leaf.params["certification_types"]))
    if leaf.params.get("advanced_only"):
        what.append("advanced")
    return " ".join(what) + " " if what else ""


def _window_suffix(leaf: Leaf) -> str:
    window = leaf.params.get("window") or Window()
    return "" if window.kind == "all_time" else f" {window.describe()}"


def _describe_certified(leaf: Leaf) -> str:
    return f"people holding a valid {_certification_words(leaf)}certification{_window_suffix(leaf)}"


# Certifications held ---------------------------------------------------------


def _certifications_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    # The source query keeps the certifications valid on the day of active people; this
    # condition narrows them to the leaf's types and window.
    condition = _certified_condition(leaf, refs, as_of)
    if leaf.params.get("distinct_types"):
        type_column = column_sql("certifications", "certification_type")
        return Column(
            f"COUNT(DISTINCT CASE WHEN {condition.sql()} THEN {type_column} END)",
            tuple(condition.params),
            _count,
        )
    return Column(f"SUM(CASE WHEN {condition.sql()} THEN 1 ELSE 0 END)", tuple(condition.params), _count)


def _describe_certifications(leaf: Leaf) -> str:
    words = _certification_words(leaf)
    if leaf.params.get("distinct_types"):
        return f"types of valid {words}certification held{_window_suffix(leaf)}"
    return f"valid {words}certifications{_window_suffix(leaf)}"


# Sales -------------------------------------------------------------------------


def _sales_condition(leaf: Leaf, refs: References, as_of: datetime.date) -> SqlCondition:
    condition = SqlCondition()
    window_condition(
        condition, column_sql("sales", "closed_on"), leaf.params.get("window") or Window(), as_of
    )
    if leaf.params.get("product_lines"):
        condition.add_in(
            column_sql("sales", "product_line"),
            [refs.product_lines.get(c, -1) for c in leaf.params["product_lines"]],
        )
    if leaf.params.get("regions"):
        condition.add_in(column_sql("sales", "region"), list(leaf.params["regions"]))
    _customer_conditions(condition, "sales", leaf, refs)
    return condition


def _customer_conditions(condition: SqlCondition, table: str, leaf: Leaf, refs: References) -> None:
    """The customer's country and account segment, which sales and deals both record."""
    if leaf.params.get("countries"):
        condition.add_in(column_sql(table, "country"), list(leaf.params["countries"]))
    if leaf.params.get("customer_segments"):
        condition.add_in(
            column_sql(table, "customer_segment"),
            [refs.customer_segments.get(c, -1) for c in leaf.params["customer_segments"]],
        )


def _customer_words(leaf: Leaf) -> list[str]:
    words = []
    if leaf.params.get("countries"):
        words.append("with customers in " + ", ".join(leaf.params["countries"]))
    if leaf.params.get("customer_segments"):
        words.append("on " + ", ".join(leaf.params["customer_segments"]) + " accounts")
    return words


def money_currency(leaf: Leaf) -> str:
    """The currency a money leaf is measured in: its own, else the reference currency of the rates."""
    return leaf.currency or settings.PRM_REFERENCE_CURRENCY


def _sales_amount_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = _sales_condition(leaf, refs, as_of)
    currency = money_currency(leaf)

    def read(raw: Any) -> Decimal:
        return round_money(to_decimal(raw), currency)

    # The converted amount is built by the source query, which joins the
    # daily rates of the sale's currency and of the target currency.
    return Column(
        f"SUM(CASE WHEN {condition.sql()} THEN {{amount_in:{currency}}} END)",
        tuple(condition.params),
        read,
        target_currency=currency,
    )


def _won_deals_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = _sales_condition(leaf, refs, as_of)
    return Column(f"SUM(CASE WHEN {condition.sql()} THEN 1 ELSE 0 END)", tuple(condition.params), _count)


def _describe_sales(noun: str) -> Callable[[Leaf], str]:
    def describe(leaf: Leaf) -> str:
        filters = []
        if leaf.params.get("product_lines"):
            filters.append("on " + ", ".join(leaf.params["product_lines"]))
        if leaf.params.get("regions"):
            filters.append("in " + ", ".join(r.upper() for r in leaf.params["regions"]))
        filters.extend(_customer_words(leaf))
        window = leaf.params.get("window") or Window()
        return " ".join([noun, *filters, window.describe()])

    return describe


# Engagement points ---------------------------------------------------------------


def _points_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = SqlCondition()
    window_condition(
        condition, column_sql("activities", "occurred_on"), leaf.params.get("window") or Window(), as_of
    )
    if leaf.params.get("activity_types"):
        condition.add_in(
            column_sql("activities", "activity_type"),
            [refs.activity_types.get(c, -1) for c in leaf.params["activity_types"]],
        )
    return Column(
        f"SUM(CASE WHEN {condition.sql()} THEN {column_sql('activities', 'points')} ELSE 0 END)",
        tuple(condition.params),
        _count,
    )


def _describe_points(leaf: Leaf) -> str:
    kinds = leaf.params.get("activity_types")
    window = leaf.params.get("window") or Window()
    return f"engagement points{' from ' + ', '.join(kinds) if kinds else ''} {window.describe()}"


# Service offerings -----------------------------------------------------------------


def _offerings_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = SqlCondition()
    condition.add(f"{column_sql('proficiencies', 'level')} >= %s", leaf.params.get("min_level", 1))
    condition.add(f"{column_sql('proficiencies', 'since')} <= %s", as_of)
    if leaf.params.get("offerings"):
        condition.add_in(
            column_sql("proficiencies", "offering"),
            [refs.offerings.get(c, -1) for c in leaf.params["offerings"]],
        )
    return Column(f"SUM(CASE WHEN {condition.sql()} THEN 1 ELSE 0 END)", tuple(condition.params), _count)


def _describe_offerings(leaf: Leaf) -> str:
    level = {1: "foundational", 2: "proficient", 3: "expert"}.get(leaf.params.get("min_level", 1), "")
    return f"service offerings at {level} level or above"


# Registered deals ------------------------------------------------------------------


def _deals_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = SqlCondition()
    window_condition(
        condition, column_sql("deals", "registered_on"), leaf.params.get("window") or Window(), as_of
    )
    statuses = leaf.params.get("statuses") or ("approved", "won")
    condition.add_in(column_sql("deals", "status"), list(statuses))
    _customer_conditions(condition, "deals", leaf, refs)
    return Column(f"SUM(CASE WHEN {condition.sql()} THEN 1 ELSE 0 END)", tuple(condition.params), _count)


def _describe_deals(leaf: Leaf) -> str:
    window = leaf.params.get("window") or Window()
    statuses = ", ".join(leaf.params.get("statuses") or ("approved", "won"))
    return " ".join([f"registered deals ({statuses})", *_customer_words(leaf), window.describe()])


# Course completions and learning hours ------------------------------------------------


def day_starts(day: datetime.date) -> Any:
    """The first instant of ``day`` in the vendor's time zone, as the database compares datetimes
    (SQLite stores them as text in UTC; PostgreSQL takes the aware datetime)."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return connection.ops.adapt_datetimefield_value(start)


def _completed_condition(leaf: Leaf, refs: References, as_of: datetime.date) -> SqlCondition:
    """Completions of the leaf's courses (by code, track, product line) in its window, by day.

    A completion counts on its day in the vendor's time zone, as certifications issued on
    completion do (``enablement.services.completion_record``).
    """
    condition = SqlCondition()
    completed_at = column_sql("completions", "completed_at")
    start, end = (leaf.params.get("window") or Window()).bounds(as_of)
    if start is not None:
        condition.add(f"{completed_at} >= %s", day_starts(start))
    condition.add(f"{completed_at} < %s", day_starts(end + datetime.timedelta(days=1)))
    course = column_sql("completions", "course")
    if leaf.params.get("courses"):
        condition.add_in(course, sorted({refs.courses.get(code, -1) for code in leaf.params["courses"]}))
    if leaf.params.get("product_lines"):
        ids = {i for code in leaf.params["product_lines"] for i in refs.product_line_courses.get(code, [])}
        condition.add_in(course, sorted(ids))
    if leaf.params.get("tracks"):
        condition.add_in(column_sql("courses", "track"), list(leaf.params["tracks"]))
    return condition


def _completions_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = _completed_condition(leaf, refs, as_of)
    # Per person and course first (MAX), then per partner (SUM): a course completed again
    # (a renewal) counts once for its person.
    return Column(f"MAX(CASE WHEN {condition.sql()} THEN 1 ELSE 0 END)", tuple(condition.params), _count)


def _whole_hours(raw: Any) -> int:
    return int(raw or 0) // 60


def _learning_minutes_column(leaf: Leaf, refs: References, as_of: datetime.date) -> Column:
    condition = _completed_condition(leaf, refs, as_of)
    minutes = column_sql("courses", "duration_minutes")
    return Column(
        f"MAX(CASE WHEN {condition.sql()} THEN {minutes} ELSE 0 END)", tuple(condition.params), _whole_hours
    )


def _course_words(leaf: Leaf) -> str:
    words = []
    if leaf.params.get("tracks"):
        words.append("in the " + "/".join(leaf.params["tracks"]) + " track")
    if leaf.params.get("product_lines"):
        words.append("on " + ", ".join(leaf.params["product_lines"]))
    if leaf.params.get("courses"):
        words.append("among " + ", ".join(leaf.params["courses"]))
    return "".join(" " + word for word in words)


def _describe_completions(leaf: Leaf) -> str:
    return f"courses completed by the partner's people{_course_words(leaf)}{_window_suffix(leaf)}"


def _describe_learning_hours(leaf: Leaf) -> str:
    return f"learning hours of completed courses{_course_words(leaf)}{_window_suffix(leaf)}"


# Partner attributes ------------------------------------------------------------------


PARTNER_ATTRIBUTES = ("partner_type", "business_model", "country", "region", "status")


def _attribute_choices(params: Mapping[str, Any]) -> Sequence[str]:
    return {
        "partner_type": PartnerType.values,
        "business_model": BusinessModel.values,
        "country": [code for code, _ in countries],
        "region": Region.values,
        "status": LifecycleStatus.values,
    }.get(params.get("attribute", ""), [])


def _attribute_value(row: Mapping[str, Any], leaf: Leaf, refs: References, as_of: datetime.date) -> Any:
    return row[leaf.params["attribute"]]


def months_between(start: datetime.date, end: datetime.date) -> int:
    """Whole months from ``start`` to ``end``: a month counts once its day of the month is reached."""
    if end < start:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def _months_value(row: Mapping[str, Any], leaf: Leaf, refs: References, as_of: datetime.date) -> int:
    return months_between(row["joined_on"], as_of)


def _tier_value(row: Mapping[str, Any], leaf: Leaf, refs: References, as_of: datetime.date) -> int:
    program_id = refs.programs.get(leaf.params["program"])
    return row["tier_ranks"].get(program_id, 0)


def _tier_format(leaf: Leaf, value: Any, refs: References) -> str:
    program_id = refs.programs.get(leaf.params["program"], 0)
    return refs.tier_names.get((program_id, value), "no tier") if value else "no tier"


def _region_choices() -> Sequence[str]:
    return Region.values


def _deal_statuses() -> Sequence[str]:
    return ("submitted", "approved", "won", "lost", "rejected", "expired")


def _track_choices() -> Sequence[str]:
    return CertificationTrack.values


def _country_choices() -> Sequence[str]:
    return [code for code, _ in countries]


WINDOW = Param("window", help="Which facts count by date; all time when omitted.")
# The customer's country and account segment, on sales and on deals.
CUSTOMER_PARAMS = {
    "countries": Param("codes", choices=_country_choices, help="The customers' countries (ISO 3166 codes)."),
    "customer_segments": _codes("customer_segments", "Customer segment codes (enterprise, mid-market...)."),
}

# Which courses' completions count: by code, track and product line.
COURSE_PARAMS = {
    "courses": _codes("courses", "Course codes."),
    "tracks": Param("codes", choices=_track_choices, help="Course tracks."),
    "product_lines": _codes("product_lines", "Product line codes (a course's product lines)."),
    "window": WINDOW,
}

METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in [
        Metric(
            MetricSpec(
                "certified_people",
                "Certified people",
                "count",
                {
                    "certification_types": _codes("certification_types", "Certification type codes."),
                    "tracks": Param("codes", choices=_track_choices, help="Certification tracks."),
                    "advanced_only": Param("bool", help="Count advanced certifications only."),
                    "window": WINDOW,
                },
                describe=_describe_certified,
            ),
            source="certifications",
            column=_certified_column,
        ),
        Metric(
            MetricSpec(
                "certifications",
                "Certifications",
                "count",
                {
                    "certification_types": _codes("certification_types", "Certification type codes."),
                    "tracks": Param("codes", choices=_track_choices, help="Certification tracks."),
                    "advanced_only": Param("bool", help="Count advanced certifications only."),
                    "distinct_types": Param(
                        "bool", help="Count each certification type once, however many people hold it."
                    ),
                    "window": WINDOW,
                },
                describe=_describe_certifications,
            ),
            source="certifications_held",
            column=_certifications_column,
        ),
        Metric(
            MetricSpec(
                "sales_amount",
                "Won sales",
                "money",
                {
                    "window": WINDOW,
                    "product_lines": _codes("product_lines", "Product line codes."),
                    "regions": Param("codes", choices=_region_choices, help="Sale regions."),
                    **CUSTOMER_PARAMS,
                },
                uses_currency=True,
                describe=_describe_sales("won sales"),
            ),
            source="sales",
            column=_sales_amount_column,
            default=lambda leaf: Decimal(0),
            format_value=_money_format,
        ),
        Metric(
            MetricSpec(
                "won_deals",
                "Won deals",
                "count",
                {
                    "window": WINDOW,
                    "product_lines": _codes("product_lines", "Product line codes."),
                    "regions": Param("codes", choices=_region_choices, help="Sale regions."),
                    **CUSTOMER_PARAMS,
                },
                describe=_describe_sales("won deals"),
            ),
            source="sales",
            column=_won_deals_column,
        ),
        Metric(
            MetricSpec(
                "engagement_points",
                "Engagement points",
                "points",
                {"window": WINDOW, "activity_types": _codes("activity_types", "Activity type codes.")},
                describe=_describe_points,
            ),
            source="activities",
            column=_points_column,
        ),
        Metric(
            MetricSpec(
                "service_offerings",
                "Service offerings",
                "count",
                {
                    "min_level": Param(
                        "int", minimum=1, maximum=3, help="1 foundational, 2 proficient, 3 expert."
                    ),
                    "offerings": _codes("offerings", "Service offering codes."),
                },
                describe=_describe_offerings,
            ),
            source="proficiencies",
            column=_offerings_column,
        ),
        Metric(
            MetricSpec(
                "registered_deals",
                "Registered deals",
                "count",
                {
                    "window": WINDOW,
                    "statuses": Param("codes", choices=_deal_statuses, help="Deal statuses."),
                    **CUSTOMER_PARAMS,
                },
                describe=_describe_deals,
            ),
            source="deals",
            column=_deals_column,
        ),
        Metric(
            MetricSpec(
                "course_completions",
                "Courses completed",
                "count",
                COURSE_PARAMS,
                describe=_describe_completions,
            ),
            source="completions",
            column=_completions_column,
        ),
        Metric(
            MetricSpec(
                "learning_hours",
                "Learning hours",
                "count",
                COURSE_PARAMS,
                describe=_describe_learning_hours,
            ),
            source="completions",
            column=_learning_minutes_column,
        ),
        Metric(
            MetricSpec(
                "partner_attribute",
                "Partner attribute",
                "choice",
                {
                    "attribute": Param(
                        "choice",
                        required=True,
                        choices=lambda: PARTNER_ATTRIBUTES,
                        help="partner_type, business_model, country, region or status.",
                    )
                },
                target_choices=_attribute_choices,
                describe=lambda leaf: leaf.params["attribute"].replace("_", " "),
            ),
            source="partner",
            attribute=_attribute_value,
            default=lambda leaf: None,
            format_value=lambda leaf, value, refs: str(value),
        ),
        Metric(
            MetricSpec(
                "months_since_joining",
                "Months since joining",
                "months",
                {},
                describe=lambda leaf: "months in the program",
            ),
            source="partner",
            attribute=_months_value,
        ),
        Metric(
            MetricSpec(
                "current_tier",
                "Current tier",
                "rank",
                {"program": Param("string", required=True, help="The program's slug.")},
                describe=lambda leaf: f"tier in {leaf.params['program']}",
            ),
            source="partner",
            attribute=_tier_value,
            format_value=_tier_format,
        ),
    ]
}

SPECS: dict[str, MetricSpec] = {name: metric.spec for name, metric in METRICS.items()}


def measure_key(leaf: Leaf) -> tuple:
    """Leaves that measure the same thing share one column, whatever their target."""
    params = tuple(
        sorted(
            (name, value.to_json().__repr__() if isinstance(value, Window) else repr(value))
            for name, value in leaf.params.items()
        )
    )
    return (leaf.metric, params, leaf.currency)


def leaf_description(leaf: Leaf) -> str:
    """What a condition measures, in the words partners read: "people holding a valid … certification"."""
    spec = METRICS[leaf.metric].spec
    return spec.describe(leaf) if spec.describe else spec.label


# The plural nouns a metric's description may count, and their singular: "1 more person holding …".
SINGULARS = {
    "people": "person",
    "certifications": "certification",
    "courses": "course",
    "types": "type",
    "hours": "hour",
    "points": "point",
    "offerings": "offering",
}


def counted(amount: Any, description: str) -> str:
    """``description`` as it reads after ``amount``: the first counted noun is singular for
    exactly one ("1 more person holding a valid … certification"), plural otherwise."""
    try:
        one = Decimal(str(amount).replace(",", "")) == 1
    except ArithmeticError:
        return description
    if not one:
        return description
    words = description.split(" ")
    for index, word in enumerate(words):
        if word in SINGULARS:
            words[index] = SINGULARS[word]
            return " ".join(words)
    return description
