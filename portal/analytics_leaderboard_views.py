"""Leaderboards for channel managers: the top partners and distributors in their coverage,
thin views over ``analytics.leaderboards``, with a chart, the tables and a CSV export."""

from django.http import HttpRequest, HttpResponse

from analytics.leaderboards import BOARDS, Leaderboards, leaderboards
from analytics.sql import supported
from portal.access import portal_view
from portal.analytics_views import _csv, _filters, _page

TITLES = {
    "revenue": "Revenue",
    "growth": "Growth over the previous period",
    "certifications": "Certifications gained",
    "points": "Points earned",
}


def _compute(request: HttpRequest) -> tuple:
    filters, errors = _filters(request)
    boards = leaderboards(request.user, filters) if supported() and not errors else Leaderboards()
    return filters, errors, boards


@portal_view("staff")
def leaderboard(request: HttpRequest) -> HttpResponse:
    filters, errors, boards = _compute(request)
    top = boards.partners["revenue"]
    chart = {
        "id": "leaderboard-revenue",
        "type": "bar",
        "labels": [entry.name for entry in top],
        "datasets": [
            {"label": "This period", "data": [str(entry.revenue) for entry in top]},
            {"label": "Previous period", "data": [str(entry.previous_revenue) for entry in top]},
        ],
    }
    return _page(
        request,
        "portal/analytics/leaderboards.html",
        {
            "filters": filters,
            "errors": errors,
            "movement": boards,
            "boards": boards,
            "chart": chart,
            "sections": [
                (kind, board, TITLES[board], entries[board])
                for kind, entries in (("partners", boards.partners), ("distributors", boards.distributors))
                for board in BOARDS
            ],
        },
        status=400 if errors else 200,
    )


@portal_view("staff")
def leaderboard_csv(request: HttpRequest) -> HttpResponse:
    _, _, boards = _compute(request)
    rows: list[tuple] = []
    for kind, entries in (("partner", boards.partners), ("distributor", boards.distributors)):
        for board in BOARDS:
            rows += [
                (
                    board,
                    kind,
                    entry.rank,
                    entry.name,
                    boards.currency,
                    entry.revenue,
                    entry.previous_revenue,
                    entry.growth_percent,
                    entry.certifications,
                    entry.points,
                )
                for entry in entries[board]
            ]
    header = [
        "board",
        "kind",
        "rank",
        "name",
        "currency",
        "revenue",
        "previous revenue",
        "growth %",
        "certifications gained",
        "points earned",
    ]
    return _csv("leaderboards.csv", header, rows)
