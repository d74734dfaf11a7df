"""The enablement funnel for channel managers: a thin view over ``analytics.enablement``, with its
table per learning path and a CSV of the same figures."""

from django.http import HttpRequest, HttpResponse

from analytics.enablement import STAGE_LABELS, enablement_funnel
from portal.access import portal_view
from portal.analytics_views import _csv, _filters, _page


def _compute(request: HttpRequest) -> tuple:
    filters, errors = _filters(request)
    funnels = enablement_funnel(request.user, filters) if not errors else []
    return filters, errors, funnels


@portal_view("staff")
def enablement(request: HttpRequest) -> HttpResponse:
    filters, errors, funnels = _compute(request)
    return _page(
        request,
        "portal/analytics/enablement.html",
        {"filters": filters, "errors": errors, "funnels": funnels, "movement": filters, "supported": True},
        status=400 if errors else 200,
    )


@portal_view("staff")
def enablement_csv(request: HttpRequest) -> HttpResponse:
    _, _, funnels = _compute(request)
    rows: list[tuple] = []
    for funnel in funnels:
        rows += [(funnel.path.title, "people", label, people) for label, people, _ in funnel.rows()]
        rows += [
            (funnel.path.title, "median days", f"{STAGE_LABELS[start]} → {STAGE_LABELS[end]}", days)
            for (start, end), days in funnel.median_days.items()
            if end != "certified" or funnel.issues_certification
        ]
        rows.append(
            (funnel.path.title, "median days", "Enrolled → Completed", funnel.median_days_to_complete)
        )
    return _csv("enablement-funnel.csv", ["learning path", "figure", "label", "value"], rows)
