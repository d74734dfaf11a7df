"""Market development funds in the portal: request, claim with proof; managers approve, reject, pay.

Distributors have no part in MDF: these pages answer them 404. Requests are
fetched through ``MdfRequest.objects.visible_to(user)``.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.money import round_money
from deals import mdf
from deals.models import MdfRequest, MdfStatus
from deals.permissions import can_act_on_mdf_as_partner, can_decide_mdf
from deals.selectors import mdf_balance, mdf_requests_for
from portal.access import portal_view, viewer_for
from portal.forms import (
    EarlyClaimForm,
    MdfApproveForm,
    MdfClaimForm,
    MdfPaidForm,
    MdfRequestForm,
    ReasonForm,
)
from portal.lists import MdfListFilterSet, MdfTable
from portal.tables import listing
from portal.views import render_portal


def _get_request(request: HttpRequest, pk: int) -> MdfRequest:
    return get_object_or_404(mdf_requests_for(request.user).select_related("period"), pk=pk)


@portal_view("partner", "staff")
def mdf_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    found = listing(
        request,
        queryset=mdf_requests_for(request.user).order_by("-created_at", "-id"),
        table_class=MdfTable,
        filterset_class=MdfListFilterSet,
        filename="mdf-requests.csv",
        exclude=("partner",) if viewer.kind == "partner" else (),
    )
    if isinstance(found, HttpResponse):
        return found
    partner = viewer.partner
    return render_portal(
        request,
        "portal/mdf/list.html",
        {
            "listing": found,
            "page": found.page,
            "balance": mdf_balance(partner) if partner else None,
            "may_request": partner is not None and can_act_on_mdf_as_partner(request.user, partner),
        },
        section="mdf",
    )


@portal_view("partner")
def mdf_new(request: HttpRequest) -> HttpResponse:
    partner = viewer_for(request).partner
    if not can_act_on_mdf_as_partner(request.user, partner):
        raise PermissionDenied("Only partner admins request marketing funds.")
    balance = mdf_balance(partner)
    if balance is None:
        return render_portal(request, "portal/mdf/not_entitled.html", {}, section="mdf", status=403)
    form = MdfRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = mdf.mdf_request_create(actor=request.user, partner=partner, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
            balance = mdf_balance(partner)
        else:
            messages.success(
                request, f"{created.reference} requested: {created.amount:,.2f} {created.currency}."
            )
            return redirect("portal:mdf_detail", pk=created.pk)
    status = 400 if request.method == "POST" else 200
    return render_portal(
        request, "portal/mdf/form.html", {"form": form, "balance": balance}, section="mdf", status=status
    )


@portal_view("partner", "staff")
def mdf_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_request(request, pk))


def _render_detail(request: HttpRequest, item: MdfRequest, *, forms: dict | None = None, status: int = 200):
    """The request's page; a failed form is shown with its errors in place of the blank one."""
    partner_may_act = can_act_on_mdf_as_partner(request.user, item.partner)
    manager_may_act = can_decide_mdf(request.user, item)
    approved = item.status == MdfStatus.APPROVED
    claimable = item.may_be_claimed_on(timezone.localdate())
    context = {
        "item": item,
        # door: the history of a request read through the door (_get_request), shown whole
        "entries": list(item.entries.select_related("actor").order_by("at", "id")),
        "may_claim": partner_may_act and approved and claimable,
        "claim_waits": approved and not claimable,
        "may_allow_early_claim": manager_may_act and approved and not claimable,
        "may_withdraw": partner_may_act and item.status == MdfStatus.REQUESTED,
        "may_decide": manager_may_act and item.status == MdfStatus.REQUESTED,
        "may_pay": manager_may_act and item.status == MdfStatus.CLAIMED,
        "claim_form": MdfClaimForm(
            initial={
                "amount": round_money(item.approved_amount, item.currency) if item.approved_amount else None
            }
        ),
        "approve_form": MdfApproveForm(),
        "reject_form": ReasonForm(),
        "paid_form": MdfPaidForm(),
        "early_claim_form": EarlyClaimForm(prefix="early"),
        **(forms or {}),
    }
    return render_portal(request, "portal/mdf/detail.html", context, section="mdf", status=status)


def _form_failed(request: HttpRequest, pk: int, name: str, form) -> HttpResponse:
    return _render_detail(request, _get_request(request, pk), forms={name: form}, status=400)


@require_POST
@portal_view("partner")
def mdf_claim(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    form = MdfClaimForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            item = mdf.mdf_claim(
                actor=request.user,
                request=item,
                amount=form.cleaned_data["amount"],
                proof=form.cleaned_data["proof"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request, f"{item.reference} claimed: {item.claimed_amount:,.2f} {item.currency}."
            )
            return redirect("portal:mdf_detail", pk=item.pk)
    return _form_failed(request, pk, "claim_form", form)


@require_POST
@portal_view("partner")
def mdf_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    try:
        item = mdf.mdf_request_withdraw(actor=request.user, request=item)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{item.reference} withdrawn.")
    return redirect("portal:mdf_detail", pk=item.pk)


@require_POST
@portal_view("staff")
def mdf_approve(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    form = MdfApproveForm(request.POST)
    if form.is_valid():
        try:
            item = mdf.mdf_request_approve(
                actor=request.user, request=item, amount=form.cleaned_data["amount"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request, f"{item.reference} approved: {item.approved_amount:,.2f} {item.currency}."
            )
            return redirect("portal:mdf_detail", pk=item.pk)
    return _form_failed(request, pk, "approve_form", form)


@require_POST
@portal_view("staff")
def mdf_reject(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            item = mdf.mdf_request_reject(
                actor=request.user, request=item, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{item.reference} rejected.")
            return redirect("portal:mdf_detail", pk=item.pk)
    return _form_failed(request, pk, "reject_form", form)


@require_POST
@portal_view("staff")
def mdf_allow_early_claim(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    form = EarlyClaimForm(request.POST, prefix="early")
    if form.is_valid():
        try:
            item = mdf.mdf_allow_early_claim(
                actor=request.user, request=item, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request, f"{item.partner.name} may claim {item.reference} before the activity ends."
            )
            return redirect("portal:mdf_detail", pk=item.pk)
    return _form_failed(request, pk, "early_claim_form", form)


@require_POST
@portal_view("staff")
def mdf_paid(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    form = MdfPaidForm(request.POST)
    if form.is_valid():
        try:
            item = mdf.mdf_mark_paid(
                actor=request.user, request=item, reference=form.cleaned_data["reference"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{item.reference} marked paid.")
            return redirect("portal:mdf_detail", pk=item.pk)
    return _form_failed(request, pk, "paid_form", form)


@portal_view("partner", "staff")
def mdf_proof(request: HttpRequest, pk: int) -> FileResponse:
    """The proof file, to those who may see the request; never from a public media URL."""
    item = _get_request(request, pk)
    if not item.proof:
        raise Http404("No proof was uploaded.")
    try:
        handle = item.proof.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The file is missing.") from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=item.proof_name or "proof",
        content_type=item.proof_content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
