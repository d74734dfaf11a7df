"""Program ROI for channel managers: revenue against cost per program, thin views over
``analytics.roi``, with a chart, its data table and a CSV export of the same figures."""

from typing import Any

from django.http import HttpRequest, HttpResponse

from analytics.roi import COST_KINDS, POINT_KINDS, REVENUE_KINDS, Figures, ProgramRoi, Roi, program_roi
from analytics.sql import supported
from portal.access import portal_view
from portal.analytics_views import _csv, _filters, _page

COLUMNS = (*REVENUE_KINDS, "revenue", *COST_KINDS, "cost", "sourced_return", "revenue_return", *POINT_KINDS)


def _chart(report: ProgramRoi) -> dict:
    """Revenue stacked beside cost, one pair of bars per period."""
    revenue: list[dict[str, Any]] = [
        {"label": f"{kind.capitalize()} revenue", "stack": "revenue", "colour": index, "data": []}
        for index, kind in enumerate(REVENUE_KINDS)
    ]
    cost: list[dict[str, Any]] = [
        {"label": f"Cost: {kind}", "stack": "cost", "colour": 3 + index, "data": []}
        for index, kind in enumerate(COST_KINDS)
    ]
    for row in report.periods:
        for dataset, kind in zip(revenue, REVENUE_KINDS, strict=True):
            dataset["data"].append(str(getattr(row, kind)))
        for dataset, kind in zip(cost, COST_KINDS, strict=True):
            dataset["data"].append(str(getattr(row, kind)))
    return {
        "id": f"roi-{report.program.pk}",
        "type": "bar",
        "stacked": True,
        "labels": [row.label for row in report.periods],
        "datasets": revenue + cost,
    }


def _compute(request: HttpRequest) -> tuple:
    filters, errors = _filters(request)
    roi = program_roi(request.user, filters) if supported() and not errors else Roi()
    return filters, errors, roi


@portal_view("staff")
def roi(request: HttpRequest) -> HttpResponse:
    filters, errors, figures = _compute(request)
    return _page(
        request,
        "portal/analytics/roi.html",
        {
            "filters": filters,
            "errors": errors,
            "movement": figures,
            "roi": figures,
            "reports": [(report, _chart(report)) for report in figures.programs],
        },
        status=400 if errors else 200,
    )


def _row(program: ProgramRoi, breakdown: str, row: Figures) -> tuple:
    return (
        program.program.name,
        breakdown,
        row.label,
        row.currency,
        *(getattr(row, column) for column in COLUMNS),
    )


@portal_view("staff")
def roi_csv(request: HttpRequest) -> HttpResponse:
    _, _, figures = _compute(request)
    rows: list[tuple] = []
    for report in figures.programs:
        rows.append(_row(report, "total", report.total))
        for breakdown, items in (
            ("period", report.periods),
            ("tier", report.tiers),
            ("partner type", report.partner_types),
            ("region", report.regions),
        ):
            rows += [_row(report, breakdown, row) for row in items]
    return _csv("program-roi.csv", ["program", "breakdown", "label", "currency", *COLUMNS], rows)
