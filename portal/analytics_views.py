"""Program analytics for channel managers: thin views over ``analytics``' figures.

Every figure counts the partners of the manager's coverage (``visible_to``),
narrowed by the filters in the URL; each chart comes with its data table and a
CSV export of the same figures.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from analytics import tiers
from analytics.filters import FilterError, Filters, parse_filters
from analytics.funnel import gate_funnel
from analytics.sql import supported
from core.csv_cells import csv_response
from partners.models import BusinessModel, PartnerType, Region
from portal.access import portal_view, viewer_for
from programs.models import Program, Tier


def _csv(filename: str, header: list[str], rows) -> HttpResponse:
    return csv_response(filename, header, rows)


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        template,
        {
            **context,
            "viewer": viewer_for(request),
            "section": "analytics",
            "programs": Program.objects.visible_to(request.user).order_by("name"),
            "regions": Region.choices,
            "partner_types": PartnerType.choices,
            "business_models": BusinessModel.choices,
            "supported": supported(),
        },
        status=status,
    )


def _filters(request: HttpRequest) -> tuple[Filters, dict[str, str]]:
    try:
        return parse_filters(request.GET, request.user), {}
    except FilterError as exc:
        return parse_filters({}, request.user), exc.errors


@portal_view("staff")
def funnel(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    funnels = gate_funnel(request.user, filters) if supported() and not errors else []
    charts = [
        {
            "id": f"funnel-{item.gate.pk}",
            "type": "bar",
            "labels": [f"{met} of {len(item.criteria)}" for met in range(len(item.met_counts))],
            "datasets": [{"label": "Partners", "data": item.met_counts}],
        }
        for item in funnels
    ]
    return _page(
        request,
        "portal/analytics/funnel.html",
        {
            "filters": filters,
            "errors": errors,
            "funnels": [
                (item, chart, list(zip(chart["labels"], item.met_counts, strict=True)))
                for item, chart in zip(funnels, charts, strict=True)
            ],
        },
        status=400 if errors else 200,
    )


@portal_view("staff")
def funnel_csv(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    funnels = gate_funnel(request.user, filters) if supported() and not errors else []
    rows: list[tuple] = []
    for item in funnels:
        name = f"{item.gate.program.name}: {item.gate.name}"
        rows += [
            (name, "criteria met", f"{met} of {len(item.criteria)}", n)
            for met, n in enumerate(item.met_counts)
        ]
        rows += [(name, "criterion", criterion.description, criterion.met) for criterion in item.criteria]
        rows += [
            (
                name,
                "near miss",
                miss.partner_name,
                "; ".join(f"{gap.criterion.description}: {gap.gap_display} short" for gap in miss.gaps),
            )
            for miss in item.near_misses
        ]
    return _csv("gate-funnel.csv", ["gate", "figure", "label", "partners"], rows)


@portal_view("staff")
def tier_movement(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    movement = tiers.tier_movement(request.user, filters) if supported() and not errors else None
    chart = None
    if movement is not None:
        chart = {
            "id": "tier-distribution",
            "type": "bar",
            "stacked": True,
            "labels": [day.isoformat() for day in movement.days],
            "datasets": [{"label": name, "data": counts} for name, counts in movement.series],
        }
    return _page(
        request,
        "portal/analytics/tiers.html",
        {
            "filters": filters,
            "errors": errors,
            "movement": movement,
            "chart": chart,
            "cell_query": (
                filters.query_string(
                    program=movement.program.slug,
                    start=movement.start.isoformat(),
                    end=movement.end.isoformat(),
                )
                if movement is not None and movement.program is not None and movement.start and movement.end
                else ""
            ),
            "distribution_rows": (
                [
                    (day, [counts[position] for _, counts in movement.series])
                    for position, day in enumerate(movement.days)
                ]
                if movement is not None
                else []
            ),
        },
        status=400 if errors else 200,
    )


@portal_view("staff")
def tier_movement_csv(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    movement = tiers.tier_movement(request.user, filters) if supported() and not errors else None
    rows: list[tuple] = []
    if movement is not None:
        for name, counts in movement.series:
            rows += [
                ("distribution", day.isoformat(), name, n)
                for day, n in zip(movement.days, counts, strict=True)
            ]
        rows += [
            ("migration", f"{cell.from_name} → {cell.to_name}", "", cell.partners) for cell in movement.matrix
        ]
        rows += [
            ("time to tier", row.tier_name, "median days", row.median_days) for row in movement.time_to_tier
        ]
    return _csv("tier-movement.csv", ["figure", "when", "tier", "partners"], rows)


def _tier_param(request: HttpRequest, name: str) -> int | None:
    """A tier id from the query string; "none" (or nothing) for holding no tier; else a 404."""
    text = request.GET.get(name, "none")
    if text == "none":
        return None
    if not text.isdigit() or len(text) > 9:
        raise Http404("No such tier.")
    return int(text)


@portal_view("staff")
def tier_moves(request: HttpRequest) -> HttpResponse:
    """The partners behind one cell of the migration matrix."""
    filters, errors = _filters(request)
    from_tier_id, to_tier_id = _tier_param(request, "from_tier"), _tier_param(request, "to_tier")
    movement, partners = (
        tiers.moved_partners(request.user, filters, from_tier_id=from_tier_id, to_tier_id=to_tier_id)
        if supported() and not errors
        else (None, [])
    )
    names = {}
    if movement is not None and movement.program is not None:
        names = dict(Tier.objects.filter(program=movement.program).values_list("pk", "name"))
    return _page(
        request,
        "portal/analytics/tier_moves.html",
        {
            "filters": filters,
            "errors": errors,
            "movement": movement,
            "partners": partners,
            "limit": tiers.MOVED_LIMIT,
            "from_name": names.get(from_tier_id, tiers.NO_TIER) if from_tier_id else tiers.NO_TIER,
            "to_name": names.get(to_tier_id, tiers.NO_TIER) if to_tier_id else tiers.NO_TIER,
        },
        status=400 if errors else 200,
    )
