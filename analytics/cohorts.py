"""Cohorts: partners with an attribute against partners without it, over the same period.

The attribute is one of: holding a certification type (a valid certification of
one of its people at any day of the period), having completed a course (before
the period's end), having used MDF (a request approved, claimed or paid, whose
activity overlaps the period), a business model, a partner type, or joining in
a quarter. Both groups are the filtered partners the principal sees (the one
door), split on the attribute.

They are compared on:
- deal size: the won sales of the period, in the reference currency (average
  and median);
- win rate of registered deals: of the deals registered in the period that
  were decided won or lost, the share won;
- revenue per partner: each partner's won sales of the period (0 for none);
- time to first deal: days from joining to a partner's first won sale ever.

The raw values come from three set-based queries (partners, sales, deals);
SciPy does the statistics. Each difference (with minus without) carries a 95 %
confidence interval: Welch's t interval for means
(``scipy.stats.ttest_ind(equal_var=False).confidence_interval``), a percentile
bootstrap for medians (``scipy.stats.bootstrap`` with a fixed seed, so a page
shows the same interval each time; beyond ``BOOTSTRAP_MAX_VALUES`` values the
normal interval from the Maritz-Jarrett standard errors of
``scipy.stats.mstats.mjci``), and the Wald interval of a difference of two
proportions for win rates (z from ``scipy.stats.norm``).
"""

import calendar
import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models.functions import TruncQuarter
from django.utils import timezone
from scipy import stats
from scipy.stats import mstats

from analytics.filters import Filters
from analytics.sql import fetch, subquery
from core.money import round_money
from deals.models import DealStatus, MdfStatus
from enablement.models import Course
from partners.models import BusinessModel, CertificationType, PartnerType

# A group smaller than this is not compared: too few partners to say anything, and too few
# to keep one partner's figures from being read off the group's.
MIN_COHORT_SIZE: int = getattr(settings, "PRM_ANALYTICS_MIN_COHORT", 5)
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20260101
# Above this many values (both groups together) resampling costs seconds (2,000 resamples of every
# value: about 5 s for 30,000 sales); the medians' standard errors then come from the
# Maritz-Jarrett estimator (``scipy.stats.mstats.mjci``, linear in the values) and the interval is
# the normal one of their difference, which agrees with the bootstrap at such sizes
# (tests/analytics/test_cohorts.py compares the two).
BOOTSTRAP_MAX_VALUES = 2000

KINDS = ("certification", "course", "mdf", "business_model", "partner_type", "joined")
MDF_USED = (MdfStatus.APPROVED, MdfStatus.CLAIMED, MdfStatus.PAID)
MAX_COHORT_LENGTH = 120
# Every cohort parameter the parser may accept, in ASCII (the API's schema states it as is): a
# certification's or a course's code is a slug, a business model or partner type one of its
# choices, a quarter of the years 1000-9999.
COHORT_PATTERN = (
    r"^(mdf|(certification|course):[-a-zA-Z0-9_]{1,64}"
    f"|business_model:({'|'.join(BusinessModel.values)})"
    f"|partner_type:({'|'.join(PartnerType.values)})"
    r"|joined:[1-9][0-9]{3}-Q[1-4])$"
)
_COHORT = re.compile(COHORT_PATTERN)
_QUARTER = re.compile(r"^([1-9][0-9]{3})-Q([1-4])$")
# The join quarters offered in the cohort picker: the most recent ones partners in sight joined in.
MAX_JOIN_QUARTERS = 40


class CohortError(ValueError):
    """A cohort parameter that names nothing; the message says what is expected."""


@dataclass(frozen=True)
class Cohort:
    kind: str
    value: str
    label: str
    # The SQL condition on partner ``p`` and its parameters.
    condition: str
    params: tuple
    # The attribute as reference data names it (a certification's name, a course's title), for
    # exports that show it in a column of its own.
    name: str = ""

    @property
    def parameter(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


@dataclass
class Difference:
    measure: str
    unit: str  # "money", "percent" or "days"
    with_n: int
    without_n: int
    with_value: Decimal | None = None
    without_value: Decimal | None = None
    difference: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    note: str = ""


@dataclass
class Comparison:
    cohort: Cohort
    start: datetime.date
    end: datetime.date
    currency: str
    with_partners: int = 0
    without_partners: int = 0
    minimum: int = MIN_COHORT_SIZE
    hidden_reason: str = ""
    differences: list[Difference] = field(default_factory=list)


def parse_cohort(text: str) -> Cohort:
    """A cohort from ``kind:value`` (``certification:<code>``, ``course:<code>``, ``mdf``,
    ``business_model:<value>``, ``partner_type:<value>``, ``joined:2025-Q1``)."""
    text = text or ""
    if len(text) > MAX_COHORT_LENGTH or "\x00" in text:
        raise CohortError(f"Expected at most {MAX_COHORT_LENGTH} characters, as kind:value.")
    kind, _, value = text.partition(":")
    if kind not in KINDS or (kind == "mdf" and value):
        raise CohortError(f"Expected one of {', '.join(KINDS)}, as kind:value (mdf alone).")
    if kind == "mdf":
        return Cohort(
            "mdf",
            "",
            "Used MDF",
            "p.id IN (SELECT m.partner_id FROM deals_mdfrequest m WHERE m.status = ANY(%s) "
            "AND m.starts_on <= %(end)s AND m.ends_on >= %(start)s)",
            ([str(status) for status in MDF_USED],),
            name="Used MDF",
        )
    if not value:
        raise CohortError(f"Name the {kind.replace('_', ' ')} after a colon.")
    if kind in ("certification", "course") and _COHORT.match(text) is None:
        raise CohortError(f"Expected a {kind}'s code (letters, digits, - and _) after the colon.")
    if kind == "certification":
        certification = CertificationType.objects.filter(code=value).first()
        if certification is None:
            raise CohortError("No such certification type.")
        return Cohort(
            kind,
            value,
            f"Holding {certification.name}",
            "p.id IN (SELECT pe.partner_id FROM partners_certification c "
            "JOIN partners_person pe ON pe.id = c.person_id WHERE c.certification_type_id = %s "
            "AND c.issued_on <= %(end)s AND (c.expires_on IS NULL OR c.expires_on >= %(start)s))",
            (certification.pk,),
            name=certification.name,
        )
    if kind == "course":
        course = Course.objects.filter(code=value).first()
        if course is None:
            raise CohortError("No such course.")
        return Cohort(
            kind,
            value,
            f"Completed {course.title}",
            "p.id IN (SELECT pe.partner_id FROM enablement_completion c "
            "JOIN partners_person pe ON pe.id = c.person_id WHERE c.course_id = %s "
            "AND c.completed_at::date <= %(end)s)",
            (course.pk,),
            name=course.title,
        )
    if kind in ("business_model", "partner_type"):
        choices = BusinessModel if kind == "business_model" else PartnerType
        if value not in choices.values:
            raise CohortError(f"Expected one of {', '.join(choices.values)}.")
        label = str(choices(value).label)
        return Cohort(kind, value, label, f"p.{kind} = %s", (value,), name=label)
    match = _QUARTER.match(value)
    if match is None:
        raise CohortError("Expected a quarter such as 2025-Q1.")
    year, quarter = int(match[1]), int(match[2])
    first = datetime.date(year, quarter * 3 - 2, 1)
    last = datetime.date(year, quarter * 3, calendar.monthrange(year, quarter * 3)[1])
    return Cohort(
        kind,
        value,
        f"Joined in {value}",
        "p.joined_on BETWEEN %s AND %s",
        (first, last),
        name=value,
    )


def cohort_choices(principal, filters: Filters) -> list[tuple[str, list[tuple[str, str]]]]:
    """The cohorts a picker offers, grouped by kind, as (``parameter``, label) pairs: every
    certification type, every course with a code, MDF, each business model and partner type, and
    the quarters the partners in sight joined in (the latest ``MAX_JOIN_QUARTERS``). Three queries."""
    certifications = [
        (f"certification:{code}", name)
        for code, name in CertificationType.objects.order_by("name").values_list("code", "name")
    ]
    courses = [
        (f"course:{code}", title)
        for code, title in Course.objects.exclude(code="").order_by("title").values_list("code", "title")
    ]
    quarters = (
        filters.partners(principal)
        .annotate(quarter=TruncQuarter("joined_on"))
        .order_by("-quarter")
        .values_list("quarter", flat=True)
        .distinct()[:MAX_JOIN_QUARTERS]
    )
    joined = [
        (f"joined:{day.year}-Q{(day.month - 1) // 3 + 1}", f"{day.year} Q{(day.month - 1) // 3 + 1}")
        for day in quarters
        if day is not None
    ]
    groups = [
        ("Holding a certification", certifications),
        ("Completed a course", courses),
        ("MDF", [("mdf", "Used MDF")]),
        ("Business model", [(f"business_model:{value}", label) for value, label in BusinessModel.choices]),
        ("Partner type", [(f"partner_type:{value}", label) for value, label in PartnerType.choices]),
        ("Joined in", joined),
    ]
    return [(title, options) for title, options in groups if options]


def _condition(cohort: Cohort, start: datetime.date, end: datetime.date) -> tuple[str, list]:
    """The cohort's condition with the period's bounds put in place, and its parameters in order."""
    sql, params = cohort.condition, list(cohort.params)
    ordered: list = []
    pieces = re.split(r"(%s|%\(start\)s|%\(end\)s)", sql)
    values = iter(params)
    for piece in pieces:
        if piece == "%s":
            ordered.append(next(values))
        elif piece == "%(start)s":
            ordered.append(start)
        elif piece == "%(end)s":
            ordered.append(end)
    return re.sub(r"%\((start|end)\)s", "%s", sql), ordered


# The reference-currency amount of a row with ``currency`` and a rate joined as ``r``.
_IN_REFERENCE = "(CASE WHEN {table}.currency = %s THEN {table}.{amount} ELSE {table}.{amount} * r.rate END)"


def compare(
    principal,
    filters: Filters,
    cohort: Cohort,
    *,
    today: datetime.date | None = None,
    minimum: int = MIN_COHORT_SIZE,
) -> Comparison:
    """The cohort against the rest of the filtered partners the principal sees, over the filters'
    period (the last twelve months by default). Three queries: partners, sales, deals."""
    today = today or timezone.localdate()
    end = filters.end or today
    start = filters.start or end - datetime.timedelta(days=364)
    currency = settings.PRM_REFERENCE_CURRENCY
    comparison = Comparison(cohort=cohort, start=start, end=end, currency=currency, minimum=minimum)
    scope = subquery(filters.partners(principal).values("pk"))
    if scope is None:
        comparison.hidden_reason = f"No partners to compare; a group needs at least {minimum}."
        return comparison
    scope_sql, scope_params = scope
    condition, condition_params = _condition(cohort, start, end)
    amount = _IN_REFERENCE.format(table="s", amount="amount")
    partners = fetch(
        f"""
SELECT ({condition}) AS member,
       COALESCE(SUM({amount}) FILTER (WHERE s.closed_on BETWEEN %s AND %s), 0),
       MIN(s.closed_on) - p.joined_on
FROM partners_partner p
LEFT JOIN partners_sale s ON s.partner_id = p.id
LEFT JOIN partners_dailyrate r ON r.currency = s.currency AND r.day = s.closed_on
WHERE p.id IN ({scope_sql})
GROUP BY p.id
""",
        [*condition_params, currency, start, end, *scope_params],
    )
    members = [row for row in partners if row[0]]
    others = [row for row in partners if not row[0]]
    comparison.with_partners, comparison.without_partners = len(members), len(others)
    if len(members) < minimum or len(others) < minimum:
        smaller = "with the attribute" if len(members) < len(others) else "without it"
        comparison.hidden_reason = (
            f"Not shown: {min(len(members), len(others))} partners {smaller}; "
            f"a group needs at least {minimum} so that no partner's figures can be read off it."
        )
        return comparison
    sales = fetch(
        f"""
SELECT ({condition}), {amount}
FROM partners_sale s JOIN partners_partner p ON p.id = s.partner_id
LEFT JOIN partners_dailyrate r ON r.currency = s.currency AND r.day = s.closed_on
WHERE s.closed_on BETWEEN %s AND %s AND p.id IN ({scope_sql})
""",
        [*condition_params, currency, start, end, *scope_params],
    )
    deals = fetch(
        f"""
SELECT ({condition}), COUNT(*) FILTER (WHERE d.status = %s), COUNT(*)
FROM deals_deal d JOIN partners_partner p ON p.id = d.partner_id
WHERE d.registered_on BETWEEN %s AND %s AND d.status IN (%s, %s) AND p.id IN ({scope_sql})
GROUP BY 1
""",
        [*condition_params, DealStatus.WON, start, end, DealStatus.WON, DealStatus.LOST, *scope_params],
    )
    sizes = {flag: [float(value) for member, value in sales if member is flag and value is not None]
             for flag in (True, False)}  # fmt: skip
    comparison.differences = [
        _mean("Average deal size", "money", sizes[True], sizes[False], currency),
        _median("Median deal size", "money", sizes[True], sizes[False], currency),
        _win_rate(deals),
        _mean(
            "Revenue per partner",
            "money",
            [float(row[1]) for row in members],
            [float(row[1]) for row in others],
            currency,
        ),
        _mean(
            "Days to first deal",
            "days",
            [float(row[2]) for row in members if row[2] is not None],
            [float(row[2]) for row in others if row[2] is not None],
            currency,
        ),
    ]
    return comparison


def _shown(value: float, unit: str, currency: str) -> Decimal:
    if unit == "money":
        return round_money(Decimal(repr(float(value))), currency)
    return Decimal(repr(float(value))).quantize(Decimal("0.1"))


def _too_few(measure: str, unit: str, a: list, b: list) -> Difference | None:
    if len(a) < 2 or len(b) < 2:
        return Difference(measure, unit, len(a), len(b), note="Too few values in a group for an interval.")
    return None


def _mean(measure: str, unit: str, a: list[float], b: list[float], currency: str) -> Difference:
    if (empty := _too_few(measure, unit, a, b)) is not None:
        return empty
    mean_a, mean_b = float(np.mean(a)), float(np.mean(b))
    difference = Difference(
        measure,
        unit,
        len(a),
        len(b),
        _shown(mean_a, unit, currency),
        _shown(mean_b, unit, currency),
        _shown(mean_a - mean_b, unit, currency),
    )
    if np.var(a) == 0 and np.var(b) == 0:
        difference.note = "No spread in either group: no interval."
        return difference
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(CONFIDENCE)
    difference.low, difference.high = (
        _shown(interval.low, unit, currency),
        _shown(interval.high, unit, currency),
    )
    return difference


def _median_difference(x, y, axis=-1):
    return np.median(x, axis=axis) - np.median(y, axis=axis)


def _median(measure: str, unit: str, a: list[float], b: list[float], currency: str) -> Difference:
    if (empty := _too_few(measure, unit, a, b)) is not None:
        return empty
    median_a, median_b = float(np.median(a)), float(np.median(b))
    if len(a) + len(b) > BOOTSTRAP_MAX_VALUES:
        errors = [float(mstats.mjci(np.array(values), prob=[0.5])[0]) for values in (a, b)]
        margin = float(stats.norm.ppf(0.5 + CONFIDENCE / 2)) * float(np.hypot(errors[0], errors[1]))
        low, high = median_a - median_b - margin, median_a - median_b + margin
    else:
        result = stats.bootstrap(
            (np.array(a), np.array(b)),
            _median_difference,
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            batch=200,
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Difference(
        measure,
        unit,
        len(a),
        len(b),
        _shown(median_a, unit, currency),
        _shown(median_b, unit, currency),
        _shown(median_a - median_b, unit, currency),
        _shown(low, unit, currency),
        _shown(high, unit, currency),
    )


def _win_rate(rows: list[tuple]) -> Difference:
    counts = {member: (won, decided) for member, won, decided in rows}
    won_a, n_a = counts.get(True, (0, 0))
    won_b, n_b = counts.get(False, (0, 0))
    measure = "Win rate of registered deals"
    if n_a == 0 or n_b == 0:
        return Difference(measure, "percent", n_a, n_b, note="No decided deal in a group.")
    p_a, p_b = won_a / n_a, won_b / n_b
    z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
    margin = z * float(np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b))

    def percent(value: float) -> Decimal:
        return (Decimal(repr(value)) * 100).quantize(Decimal("0.1"))

    return Difference(
        measure,
        "percent",
        n_a,
        n_b,
        percent(p_a),
        percent(p_b),
        percent(p_a - p_b),
        percent(p_a - p_b - margin),
        percent(p_a - p_b + margin),
        note="" if margin else "Every deal in both groups went the same way: no interval.",
    )
