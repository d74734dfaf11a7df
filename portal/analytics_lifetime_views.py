"""Partner lifetime value for channel managers: thin views over ``analytics.lifetime``, with the
cohorts' curves as a line chart, their data table beside it, the top and bottom partners and a CSV
export of the same figures."""

from django.http import HttpRequest, HttpResponse

from analytics.filters import FilterError
from analytics.lifetime import TOP, Lifetime, lifetime_value, parse_top
from analytics.sql import supported
from portal.access import portal_view
from portal.analytics_views import _csv, _filters, _page


def _compute(request: HttpRequest) -> tuple:
    filters, errors = _filters(request)
    try:
        top = parse_top(request.GET)
    except FilterError as exc:
        top, errors = TOP, {**errors, **exc.errors}
    figures = lifetime_value(request.user, filters, top=top) if supported() and not errors else Lifetime()
    return filters, errors, figures


def _chart(figures: Lifetime) -> dict:
    """One line per join-quarter cohort: its average lifetime value at each month since joining."""
    months = range(figures.months + 1)
    datasets = []
    for cohort in figures.cohorts:
        values = {point.month: point.value for point in cohort.curve}
        datasets.append(
            {
                "label": cohort.label,
                "data": [str(values[month]) if values.get(month) is not None else None for month in months],
            }
        )
    return {
        "id": "lifetime-curves",
        "type": "line",
        "labels": [str(month) for month in months],
        "datasets": datasets,
    }


def _table_rows(figures: Lifetime) -> list[tuple]:
    """Month by month, each cohort's average value (``None`` where none of its partners is that old)."""
    lookup = {
        (cohort.label, point.month): point.value for cohort in figures.cohorts for point in cohort.curve
    }
    return [
        (month, [lookup.get((cohort.label, month)) for cohort in figures.cohorts])
        for month in range(figures.months + 1)
    ]


@portal_view("staff")
def lifetime(request: HttpRequest) -> HttpResponse:
    filters, errors, figures = _compute(request)
    return _page(
        request,
        "portal/analytics/lifetime.html",
        {
            "filters": filters,
            "errors": errors,
            "movement": figures,
            "lifetime": figures,
            "chart": _chart(figures),
            "curve_rows": _table_rows(figures),
        },
        status=400 if errors else 200,
    )


HEADER = [
    "figure",
    "cohort",
    "month",
    "partners",
    "rank",
    "partner",
    "joined",
    "age in months",
    "currency",
    "revenue",
    "cost",
    "value",
]


@portal_view("staff")
def lifetime_csv(request: HttpRequest) -> HttpResponse:
    _, _, figures = _compute(request)
    currency = figures.currency
    rows: list[tuple] = []
    for cohort in figures.cohorts:
        rows += [
            (
                "cohort curve",
                cohort.label,
                point.month,
                point.partners,
                "",
                "",
                "",
                "",
                currency,
                "",
                "",
                point.value,
            )
            for point in cohort.curve
        ]
    for board, entries in (("top", figures.top), ("bottom", figures.bottom)):
        rows += [
            (
                board,
                "",
                "",
                "",
                entry.rank,
                entry.name,
                entry.joined_on.isoformat(),
                entry.age_months,
                currency,
                entry.revenue,
                entry.cost,
                entry.value,
            )
            for entry in entries
        ]
    return _csv("lifetime.csv", HEADER, rows)
