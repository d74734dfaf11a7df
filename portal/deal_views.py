"""Deal registration in the portal: list, register, decide (distributor or manager), report the outcome.

Every object is fetched through ``Deal.objects.visible_to(user)``: an id from
another organisation answers 404. Actions are POST-only and CSRF-protected,
and the services check the actor's rights again.
"""

from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.money import currency_of_country, round_money
from deals import services
from deals.models import Deal
from deals.permissions import can_register_deals_as, deal_actions
from deals.selectors import approved_rival, can_register_deals, deals_for, rival_claims
from portal.access import is_htmx, portal_view, viewer_for
from portal.forms import DealLostForm, DealRegistrationForm, DealWonForm, ReasonForm
from portal.lists import DealListFilterSet, DealTable
from portal.tables import listing
from portal.views import distributor_counts, render_portal


def _get_deal(request: HttpRequest, pk: int) -> Deal:
    return get_object_or_404(deals_for(request.user), pk=pk)


@portal_view("partner", "distributor", "staff")
def deal_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    found = listing(
        request,
        queryset=deals_for(request.user).order_by("-registered_on", "-id"),
        table_class=DealTable,
        filterset_class=DealListFilterSet,
        filename="deal-registrations.csv",
        viewer=viewer,
        exclude=("partner",) if viewer.partner else (),
    )
    if isinstance(found, HttpResponse):
        return found
    partner = viewer.partner
    return render_portal(
        request,
        "portal/deals/list.html",
        {
            "listing": found,
            "page": found.page,
            "may_register": partner is not None
            and can_register_deals_as(request.user, partner)
            and can_register_deals(partner),
        },
        section="deals",
    )


@portal_view("partner")
def deal_register(request: HttpRequest) -> HttpResponse:
    partner = viewer_for(request).partner
    assert partner is not None  # the view is for partners only
    if not can_register_deals_as(request.user, partner):
        raise PermissionDenied("Your role does not include registering deals.")
    if not can_register_deals(partner):
        return render_portal(request, "portal/deals/not_entitled.html", {}, section="deals", status=403)
    # Most customers of a partner pay in the partner's own currency: it comes first.
    form = DealRegistrationForm(
        request.POST or None, initial={"currency": currency_of_country(str(partner.country))}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = services.deal_register(actor=request.user, partner=partner, **data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if deal.needs_review:
                messages.warning(
                    request,
                    f"{deal.reference} is registered and under review: the channel team checks every "
                    "registration on a customer that is already claimed.",
                )
            else:
                messages.success(request, f"{deal.reference} is registered and awaits approval.")
            return redirect("portal:deal_detail", pk=deal.pk)
    status = 400 if request.method == "POST" else 200
    return render_portal(request, "portal/deals/form.html", {"form": form}, section="deals", status=status)


@portal_view("partner", "distributor", "staff")
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal(request, pk)
    viewer = viewer_for(request)
    conflict = _conflict(request, deal) if viewer.kind == "staff" and deal.under_review else None
    return render_portal(
        request,
        "portal/deals/detail.html",
        {
            "deal": deal,
            "actions": deal_actions(request.user, deal),
            "conflict": conflict,
            "reject_form": ReasonForm(),
            "won_form": DealWonForm(
                deal=deal,
                initial={
                    "amount": round_money(deal.expected_value, deal.currency),
                    "closed_on": timezone.localdate(),
                },
            ),
            "lost_form": DealLostForm(),
        },
        section="deals",
    )


def _conflict(request: HttpRequest, deal: Deal) -> dict:
    """The claims competing with ``deal``: those the manager covers (through the door), how many
    others there are, and the approved one that keeps it from being approved, if any."""
    rivals = list(
        deals_for(request.user).filter(pk__in=rival_claims(deal).values("pk")).order_by("registered_on", "id")
    )
    blocker = approved_rival(deal)
    return {
        "rivals": rivals,
        "unseen": rival_claims(deal).exclude(pk__in=[rival.pk for rival in rivals]).count(),
        "blocked_by": blocker,
        "blocker_seen": blocker is not None and any(rival.pk == blocker.pk for rival in rivals),
    }


@portal_view("staff")
def deal_conflict(request: HttpRequest, pk: int) -> HttpResponse:
    """Both (or all) claims on one customer side by side, each with what the manager may do with it.

    Approving stays disabled while another partner's approved claim stands: the
    manager rejects one claim first, or waits for its protection to end.
    """
    deal = _get_deal(request, pk)
    conflict = _conflict(request, deal)
    claims = [deal, *conflict["rivals"]]
    columns = []
    for claim in claims:
        actions = deal_actions(request.user, claim)
        blocker = approved_rival(claim) if actions["approve"] else None
        columns.append({"deal": claim, "actions": actions, "blocked_by": blocker})
    return render_portal(
        request,
        "portal/deals/conflict.html",
        {"deal": deal, "columns": columns, "unseen": conflict["unseen"]},
        section="deals",
    )


def _decided_row(request: HttpRequest, deal: Deal, **context) -> HttpResponse:
    """The distributor's queue swaps the row for the outcome; the counts it shows come along.

    The queue's count and the partners table (the page the distributor is on)
    are swapped out of band, so neither is left stale after a decision.
    """
    if viewer_for(request).kind == "distributor":
        # htmx names the page the row is on; the partners table shows one page of many.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        page = parse_qs(current.query).get("page", ["1"])[0]
        context.update(distributor_counts(request, page=page), counts=True)
    return render_portal(
        request, "portal/deals/_decided_row.html", {"deal": deal, **context}, section="deals"
    )


def _done(request: HttpRequest, deal: Deal, message: str) -> HttpResponse:
    if is_htmx(request):
        return _decided_row(request, deal, message=message)
    messages.success(request, message)
    return redirect("portal:deal_detail", pk=deal.pk)


def _failed(request: HttpRequest, deal: Deal, error: ValidationError) -> HttpResponse:
    text = " ".join(error.messages)
    if is_htmx(request):
        # htmx swaps only successful responses: the row carries the error instead.
        return _decided_row(request, deal, error=text)
    messages.error(request, text)
    return redirect("portal:deal_detail", pk=deal.pk)


@require_POST
@portal_view("distributor", "staff")
def deal_approve(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal(request, pk)
    try:
        deal = services.deal_approve(actor=request.user, deal=deal)
    except ValidationError as exc:
        return _failed(request, deal, exc)
    return _done(
        request, deal, f"{deal.reference} approved: protected until {deal.protected_until:%d %B %Y}."
    )


@portal_view("distributor", "staff")
def deal_reject(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal(request, pk)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.deal_reject(actor=request.user, deal=deal, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return _done(request, deal, f"{deal.reference} rejected.")
    elif request.method != "POST" and not deal_actions(request.user, deal)["reject"]:
        raise PermissionDenied("You may not decide on this registration.")
    status = 400 if request.method == "POST" else 200
    return render_portal(
        request, "portal/deals/reject.html", {"deal": deal, "form": form}, section="deals", status=status
    )


@portal_view("partner", "staff")
def deal_won(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal(request, pk)
    if not deal_actions(request.user, deal)["won"] and request.method != "POST":
        raise PermissionDenied("This registration cannot be marked won by you now.")
    form = DealWonForm(
        request.POST or None,
        deal=deal,
        initial={
            "amount": round_money(deal.expected_value, deal.currency),
            "closed_on": timezone.localdate(),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.deal_mark_won(actor=request.user, deal=deal, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{deal.reference} won: the sale counts toward your gates.")
            return redirect("portal:deal_detail", pk=deal.pk)
    status = 400 if request.method == "POST" else 200
    return render_portal(
        request, "portal/deals/won.html", {"deal": deal, "form": form}, section="deals", status=status
    )


@require_POST
@portal_view("partner", "staff")
def deal_lost(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal(request, pk)
    form = DealLostForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        deal = services.deal_mark_lost(actor=request.user, deal=deal, reason=reason)
    except ValidationError as exc:
        return _failed(request, deal, exc)
    messages.success(request, f"{deal.reference} recorded as lost.")
    return redirect("portal:deal_detail", pk=deal.pk)
