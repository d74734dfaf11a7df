"""Cohorts for channel managers: partners with an attribute against the rest of their coverage,
thin views over ``analytics.cohorts``, with a chart per measure, its data table and a CSV export."""

from django.http import HttpRequest, HttpResponse

from analytics.cohorts import (
    Cohort,
    CohortError,
    Comparison,
    Difference,
    cohort_choices,
    compare,
    parse_cohort,
)
from analytics.sql import supported
from portal.access import portal_view
from portal.analytics_views import _csv, _filters, _page

HEADER = [
    "cohort",
    "attribute",
    "measure",
    "unit",
    "currency",
    "partners with",
    "partners without",
    "values with",
    "values without",
    "with",
    "without",
    "difference",
    "95% low",
    "95% high",
    "note",
]


def _compute(request: HttpRequest) -> tuple:
    """The filters, the errors by field, the cohort asked for (None when none is) and the comparison."""
    filters, errors = _filters(request)
    cohort: Cohort | None = None
    text = request.GET.get("cohort", "").strip()
    if text:
        try:
            cohort = parse_cohort(text)
        except CohortError as exc:
            errors = {**errors, "cohort": str(exc)}
    comparison = (
        compare(request.user, filters, cohort) if cohort is not None and supported() and not errors else None
    )
    return filters, errors, cohort, text, comparison


def _chart(comparison: Comparison, position: int, difference: Difference) -> dict:
    """The two groups' values and their difference, with the difference's 95 % interval as a
    floating bar beside it."""
    interval = (
        [str(difference.low), str(difference.high)]
        if difference.low is not None and difference.high is not None
        else None
    )
    return {
        "id": f"cohort-{position}",
        "type": "bar",
        "skipNull": True,
        "labels": [comparison.cohort.label, "The others", "Difference"],
        "datasets": [
            {
                "label": difference.measure,
                "data": [
                    None if value is None else str(value)
                    for value in (difference.with_value, difference.without_value, difference.difference)
                ],
            },
            {"label": "95 % interval of the difference", "colour": 4, "data": [None, None, interval]},
        ],
    }


@portal_view("staff")
def cohorts(request: HttpRequest) -> HttpResponse:
    filters, errors, cohort, text, comparison = _compute(request)
    return _page(
        request,
        "portal/analytics/cohorts.html",
        {
            "filters": filters,
            "errors": errors,
            "movement": comparison or filters,
            "comparison": comparison,
            "cohort_field": True,
            "cohort_text": cohort.parameter if cohort is not None else text,
            "cohort_choices": cohort_choices(request.user, filters),
            "export_query": filters.query_string(cohort=cohort.parameter) if cohort is not None else "",
            "measures": (
                [
                    (difference, _chart(comparison, position, difference))
                    for position, difference in enumerate(comparison.differences)
                ]
                if comparison is not None
                else []
            ),
        },
        status=400 if errors else 200,
    )


@portal_view("staff")
def cohorts_csv(request: HttpRequest) -> HttpResponse:
    _, _, _, _, comparison = _compute(request)
    rows: list[tuple] = []
    if comparison is not None:
        cohort = comparison.cohort
        head = (cohort.parameter, cohort.name)
        counts = (comparison.with_partners, comparison.without_partners)
        if comparison.hidden_reason:
            rows.append((*head, "", "", comparison.currency, *counts, *[""] * 8, comparison.hidden_reason))
        rows += [
            (
                *head,
                difference.measure,
                difference.unit,
                comparison.currency if difference.unit == "money" else "",
                *counts,
                difference.with_n,
                difference.without_n,
                difference.with_value,
                difference.without_value,
                difference.difference,
                difference.low,
                difference.high,
                difference.note,
            )
            for difference in comparison.differences
        ]
    return _csv("cohorts.csv", HEADER, rows)
