"""Portal pages for incentives: thin views over the selectors and services.

A partner user sees its own organisation's statements, a distributor user
those of the partners it serves, staff those of the partners they cover.
Another organisation's id answers 404, never 403.
"""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.csv_cells import csv_response
from incentives import selectors, services
from incentives.charts import bar_chart
from incentives.models import POINTS, Reward
from incentives.periods import Period, PeriodError, parse_period, quarter_of
from partners.models import Partner
from portal.access import portal_view, viewer_for
from portal.lists import StatementsFilterSet, StatementsTable
from portal.tables import listing
from prm.ids import object_or_404


def render_portal(request: HttpRequest, template: str, context: dict, *, section: str) -> HttpResponse:
    """Render with what the portal's navigation needs: the viewer and the section."""
    return render(request, template, {**context, "viewer": viewer_for(request), "section": section})


def _period_or_404(code: str) -> Period:
    try:
        return parse_period(code)
    except PeriodError as exc:
        raise Http404(str(exc)) from exc


def _partner_or_404(request: HttpRequest, partner_id: int) -> Partner:
    return get_object_or_404(Partner.objects.visible_to(request.user), pk=partner_id)


@portal_view("partner", "distributor", "staff")
def index(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    today = timezone.localdate()
    if viewer.kind == "partner":
        assert viewer.partner is not None
        return redirect("incentives:statement", partner_id=viewer.partner.pk, period=quarter_of(today).code)
    period = _period_or_404(request.GET.get("period") or quarter_of(today).code)
    found = listing(
        request,
        queryset=Partner.objects.visible_to(request.user).order_by("name", "id"),
        table_class=StatementsTable,
        filterset_class=StatementsFilterSet,
        filename=f"incentive-statements-{period.code}.csv",
        before=lambda table, partners: _with_totals(table, partners, period),
        period=period,
    )
    if isinstance(found, HttpResponse):
        return found
    return render_portal(
        request,
        "incentives/index.html",
        {
            "listing": found,
            "page": found.page,
            "period": period,
            "period_keep": {"period": period.code},
            "periods": _recent_quarters(today),
        },
        section="incentives",
    )


def _with_totals(table: StatementsTable, partners: list[Partner], period: Period) -> None:
    """The totals of the partners shown (one page, or every row for the CSV): two queries."""
    table.rows_by_partner = {row.partner.pk: row for row in selectors.partner_rows(partners, period)}


def _recent_quarters(today: datetime.date, count: int = 8) -> list[Period]:
    quarters = [quarter_of(today)]
    while len(quarters) < count:
        quarters.append(quarters[-1].previous())
    return quarters


@portal_view("partner", "distributor", "staff")
def statement(request: HttpRequest, partner_id: int, period: str) -> HttpResponse:
    partner = _partner_or_404(request, partner_id)
    data = selectors.statement_for(partner, _period_or_404(period))
    charts = [
        bar_chart(
            [(month.month.strftime("%b %y"), month.amount) for month in months],
            currency=currency,
            title=f"{partner.name}: earnings in {currency} by month, the twelve months to {data.period.end:%B %Y}",
            chart_id=f"earnings-{currency.lower()}",
        )
        for currency, months in data.months.items()
        if currency != POINTS
    ]
    viewer = viewer_for(request)
    may_redeem = viewer.is_partner_admin and viewer.partner is not None and viewer.partner.pk == partner.pk
    return render_portal(
        request,
        "incentives/statement.html",
        {"statement": data, "charts": charts, "may_redeem": may_redeem, "points": POINTS},
        section="incentives",
    )


@portal_view("partner", "distributor", "staff")
def statement_csv(request: HttpRequest, partner_id: int, period: str) -> HttpResponse:
    partner = _partner_or_404(request, partner_id)
    data = selectors.statement_for(partner, _period_or_404(period))
    return csv_response(
        f"incentives-{partner.pk}-{data.period.code}.csv",
        [
            "partner",
            "period",
            "entry",
            "posted_at",
            "event_on",
            "rule",
            "kind",
            "source",
            "description",
            "component",
            "entry_type",
            "tier",
            "amount",
            "currency",
            "state",
        ],
        (
            [
                partner.name,
                line.period,
                line.pk,
                line.posted_at.isoformat(),
                line.event_on.isoformat(),
                line.rule.name,
                line.rule.kind,
                f"{line.source_type}:{line.source_id}",
                line.description,
                line.component,
                line.entry_type,
                line.tier.name if line.tier else "",
                line.amount,
                line.currency,
                line.state,
            ]
            for line in data.lines
        ),
    )


@require_POST
@portal_view("partner")
def redeem(request: HttpRequest, partner_id: int) -> HttpResponse:
    partner = _partner_or_404(request, partner_id)
    reward = object_or_404(Reward.objects.all(), request.POST.get("reward"))
    if (
        request.POST.get("confirm") != "yes"
        and Partner.objects.actionable_by(request.user, "redeem").filter(pk=partner.pk).exists()
    ):
        # Points spent are not given back: say what it costs and leaves before anything happens.
        balance = services.points_balance(partner.pk)
        return render_portal(
            request,
            "incentives/redeem_confirm.html",
            {
                "partner": partner,
                "reward": reward,
                "balance": balance,
                "after": balance - reward.points_cost,
                "points": POINTS,
                "period": quarter_of(timezone.localdate()).code,
            },
            section="incentives",
        )
    try:
        redemption = services.reward_redeem(actor=request.user, partner=partner, reward=reward)
    except PermissionDenied:
        messages.error(request, "Only your organisation's admins can redeem its points.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Redeemed {redemption.points:,} points for {reward.name}: {redemption.amount:,f} "
            f"{redemption.currency} is on your statement.",
        )
    return redirect(
        "incentives:statement", partner_id=partner.pk, period=quarter_of(timezone.localdate()).code
    )


@portal_view("staff")
def program_cost(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    try:
        year_number = int(request.GET.get("year") or today.year)
    except ValueError as exc:
        raise Http404("Not a year.") from exc
    if not 2000 <= year_number <= today.year + 1:
        raise Http404("Not a year.")
    cost = selectors.program_cost(request.user, year_number)
    charts = [
        bar_chart(
            [(f"Q{index + 1}", amount) for index, amount in enumerate(amounts)],
            currency=currency,
            title=f"Program cost in {currency} by quarter, {year_number}",
            chart_id=f"cost-{currency.lower()}",
        )
        for currency, amounts in cost.quarter_totals.items()
        if currency != POINTS
    ]
    return render_portal(
        request,
        "incentives/program_cost.html",
        {"cost": cost, "charts": charts, "points": POINTS},
        section="incentives",
    )
