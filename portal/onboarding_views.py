"""Recruitment and onboarding pages: the public application, a newcomer's checklist, the company
profile, and a partner admin's team management.

The application page needs no login. It answers the same whatever the email (nothing is looked
up), silently drops what a robot sends (the honeypot), and limits every address
(``PRM_APPLICATION_RATE_PER_ADDRESS``), as the password reset request does.
"""

import math

from django.contrib import messages
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.addresses import client_address
from accounts.throttles import applications_per_address
from onboarding import services
from onboarding.models import CompanyProfile, ProgramAgreement
from onboarding.selectors import checklist
from partners.members import membership_deactivate, membership_role_change
from partners.models import Membership, Partner
from portal.access import portal_view, viewer_for
from portal.onboarding_forms import AgreementForm, ApplicationForm, CompanyProfileForm, InviteForm, RoleForm
from portal.views import render_portal


def apply(request: HttpRequest) -> HttpResponse:
    """The "become a partner" page. Every post from an address counts, valid or not."""
    form = ApplicationForm(request.POST or None)
    if request.method == "POST":
        address = client_address(request)
        wait = applications_per_address.hit(address or "")
        if wait is not None:
            response = render(
                request,
                "onboarding/apply.html",
                {"form": form, "throttled_minutes": max(1, math.ceil(wait / 60))},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        if form.is_valid():
            if not form.is_robot:
                services.application_submit(
                    address=address, programs=form.cleaned_data["programs"], **form.application_fields()
                )
            return redirect("apply_done")
    return render(request, "onboarding/apply.html", {"form": form})


def apply_done(request: HttpRequest) -> HttpResponse:
    return render(request, "onboarding/apply_done.html", {})


def _partner(request: HttpRequest) -> Partner:
    partner = viewer_for(request).partner
    assert partner is not None  # portal_view("partner") admits partner users only
    return partner


@portal_view("partner")
def onboarding_checklist(request: HttpRequest) -> HttpResponse:
    """The partner's checklist, program by program, with its progress; admins act on it."""
    partner = _partner(request)
    may_act = Partner.objects.allows(request.user, "onboard", partner)
    return render_portal(
        request,
        "portal/onboarding/checklist.html",
        {
            "partner": partner,
            "checklist": checklist(request.user, partner),
            "may_act": may_act,
            "agreement_form": AgreementForm(),
        },
        section="onboarding",
    )


@portal_view("partner")
@require_POST
def agreement_accept(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(request)
    agreement = get_object_or_404(ProgramAgreement.objects.visible_to(request.user), pk=pk)
    if not Partner.objects.allows(request.user, "onboard", partner):
        raise PermissionDenied("Only your partner admins accept agreements.")
    form = AgreementForm(request.POST)
    if form.is_valid():
        try:
            services.agreement_accept(
                actor=request.user,
                partner=partner,
                agreement=agreement,
                signer_name=form.cleaned_data["signer_name"],
                signer_title=form.cleaned_data["signer_title"],
                address=client_address(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"You accepted “{agreement.title}”, version {agreement.version}.")
            return redirect("portal:onboarding")
    else:
        messages.error(request, "Type your full name and tick the box to accept the agreement.")
    return redirect("portal:onboarding")


@portal_view("partner")
def company_profile(request: HttpRequest) -> HttpResponse:
    """The company profile: its admins edit it, the others read it."""
    partner = _partner(request)
    may_edit = Partner.objects.allows(request.user, "onboard", partner)
    profile = CompanyProfile.objects.visible_to(request.user).filter(partner=partner).first()
    initial = {
        "website": partner.website,
        "description": profile.description if profile else "",
        "phone": profile.phone if profile else "",
        "address": profile.address if profile else "",
    }
    form = CompanyProfileForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Only your partner admins edit the company profile.")
        if form.is_valid():
            services.company_profile_save(actor=request.user, partner=partner, **form.cleaned_data)
            messages.success(request, "Your company profile is saved.")
            return redirect("portal:company_profile")
    return render_portal(
        request,
        "portal/onboarding/profile.html",
        {"form": form, "may_edit": may_edit, "partner": partner},
        section="profile",
    )


@portal_view("partner")
@require_POST
def team_invite(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    if not Partner.objects.allows(request.user, "invite_members", partner):
        raise PermissionDenied("Only your partner admins invite colleagues.")
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.colleague_invite(
                actor=request.user,
                partner=partner,
                domain=get_current_site(request).domain,
                use_https=request.is_secure(),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{form.cleaned_data['email']} is invited: we emailed them a link to choose a password.",
            )
    else:
        messages.error(request, "Give the colleague's email, first and last name, and a role.")
    return redirect("portal:team")


def _colleague(request: HttpRequest, pk: int) -> Membership:
    """A membership of the viewer's own partner, or a 404."""
    return get_object_or_404(
        Membership.objects.visible_to(request.user).filter(partner=_partner(request)).select_related("user"),
        pk=pk,
    )


@portal_view("partner")
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _colleague(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin, sales or technical.")
        return redirect("portal:team")
    membership_role_change(actor=request.user, membership=membership, role=form.cleaned_data["role"])
    messages.success(
        request, f"{membership.user.get_full_name() or membership.user.email}'s role is changed."
    )
    return redirect("portal:team")


@portal_view("partner")
@require_POST
def member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _colleague(request, pk)
    membership_deactivate(actor=request.user, membership=membership)
    messages.success(
        request,
        f"{membership.user.get_full_name() or membership.user.email} can no longer sign in; "
        "their certifications stay on record.",
    )
    return redirect("portal:team")
