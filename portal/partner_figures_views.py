"""A partner's own figures, for its users: thin views over ``analytics.partner_figures``, with a
chart of each figure over time, the data table beside it and the peer comparison."""

from django.http import HttpRequest, HttpResponse

from analytics.filters import FilterError, Filters, parse_filters
from analytics.partner_figures import FIGURES, TOO_FEW_PEERS, PartnerFigures, partner_figures
from analytics.sql import supported
from portal.access import portal_view, viewer_for
from portal.analytics_views import _csv
from portal.views import render_portal

LABELS = {
    "revenue": "Revenue",
    "points": "Points earned",
    "certifications": "Certifications gained",
    "deals_registered": "Deals registered",
    "deals_won": "Deals won",
}


def _compute(request: HttpRequest) -> tuple[Filters, dict[str, str], PartnerFigures]:
    partner = viewer_for(request).partner
    assert partner is not None  # portal_view("partner") lets only a partner's users in
    try:
        filters, errors = parse_filters(request.GET, request.user), {}
    except FilterError as exc:
        filters, errors = Filters(), exc.errors
    figures = (
        partner_figures(partner, filters) if supported() and not errors else PartnerFigures(partner=partner)
    )
    return filters, errors, figures


def _charts(figures: PartnerFigures) -> list[dict]:
    labels = [row.label for row in figures.periods]
    return [
        {
            "id": "my-revenue",
            "type": "bar",
            "labels": labels,
            "datasets": [
                {
                    "label": f"Revenue ({figures.currency})",
                    "data": [str(row.revenue) for row in figures.periods],
                }
            ],
        },
        {
            "id": "my-activity",
            "type": "line",
            "labels": labels,
            "datasets": [
                {"label": LABELS[name], "data": [str(getattr(row, name)) for row in figures.periods]}
                for name in FIGURES[1:]
            ],
        },
    ]


def _comparisons(figures: PartnerFigures) -> list[dict]:
    """Per peer group: the partner's figure beside the peers' median, or why there is none."""
    return [
        {
            "group": comparison,
            "rows": [
                (
                    LABELS[name],
                    getattr(figures.total, name),
                    comparison.medians[name] if comparison.medians else None,
                )
                for name in FIGURES
            ],
            "too_few": TOO_FEW_PEERS,
        }
        for comparison in figures.peers
    ]


@portal_view("partner")
def my_figures(request: HttpRequest) -> HttpResponse:
    filters, errors, figures = _compute(request)
    revenue_chart, activity_chart = _charts(figures)
    return render_portal(
        request,
        "portal/my_figures.html",
        {
            "filters": filters,
            "errors": errors,
            "figures": figures,
            "revenue_chart": revenue_chart,
            "activity_chart": activity_chart,
            "comparisons": _comparisons(figures),
            "supported": supported(),
        },
        section="figures",
        status=400 if errors else 200,
    )


@portal_view("partner")
def my_figures_csv(request: HttpRequest) -> HttpResponse:
    _, _, figures = _compute(request)
    rows: list[tuple] = [
        (row.label, figures.currency, *(getattr(row, name) for name in FIGURES)) for row in figures.periods
    ]
    rows.append(("total", figures.currency, *(getattr(figures.total, name) for name in FIGURES)))
    for comparison in figures.peers:
        label = f"peer median of {comparison.peers}"
        if comparison.medians is None:
            values: tuple = (TOO_FEW_PEERS, *([""] * (len(FIGURES) - 1)))
        else:
            values = tuple(comparison.medians[name] for name in FIGURES)
        rows.append((label, figures.currency, *values, comparison.program, comparison.tier))
    return _csv("my-figures.csv", ["period", "currency", *FIGURES, "program", "tier"], rows)
