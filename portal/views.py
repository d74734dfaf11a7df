"""The portal's pages: dashboards by role, programs, team, partners and the manager's summary.

Views are thin: they read through ``visible_to(user)`` querysets and the
selectors, and render. Deal and MDF pages live in ``deal_views`` and
``mdf_views``.
"""

import datetime

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from deals.models import Deal
from deals.selectors import can_register_deals, mdf_balance
from gates.models import Gate, PartnerTier
from gates.selectors import partner_gate_progress
from inbox.selectors import unread_announcements
from partners.members import PARTNER_ROLE_CHOICES
from partners.models import Membership, Partner
from portal import forecast_selectors, selectors
from portal.access import is_htmx, portal_view, viewer_for
from portal.lists import (
    PartnerListFilterSet,
    PartnerTable,
    TargetsFilterSet,
    TargetsTable,
    TeamFilterSet,
    TeamTable,
)
from portal.onboarding_forms import InviteForm
from portal.summary_charts import summary_charts
from portal.tables import listing
from programs.models import Program

MAX_QUERY_LENGTH = 100


def render_portal(request: HttpRequest, template: str, context: dict, *, section: str, status: int = 200):
    """Render with what every portal page needs: the viewer (for the navigation) and its section."""
    return render(
        request, template, {**context, "viewer": viewer_for(request), "section": section}, status=status
    )


@portal_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    if viewer.kind == "staff":
        return redirect("portal:manager")
    if viewer.kind == "distributor":
        return _distributor_dashboard(request)
    if viewer.kind == "partner":
        return _partner_dashboard(request)
    return render_portal(request, "portal/dashboard_none.html", {}, section="dashboard")


def _partner_dashboard(request: HttpRequest) -> HttpResponse:
    partner = viewer_for(request).partner
    assert partner is not None
    standing = selectors.partner_standing(request.user, partner)
    ladders = selectors.tier_ladders(standing, partner)
    deals = Deal.objects.visible_to(request.user).filter(partner=partner)
    return render_portal(
        request,
        "portal/dashboard_partner.html",
        {
            "partner": partner,
            "standing": standing,
            "next_step": selectors.next_step(standing, ladders),
            "unread_announcements": unread_announcements(request.user),
            "ladders": ladders,
            "deal_counts": selectors.deal_counts(deals),
            "may_register": can_register_deals(partner),
            "mdf": mdf_balance(partner),
            "today": timezone.localdate(),
            "warnings": forecast_selectors.partner_warnings(request.user, partner),
        },
        section="dashboard",
    )


def distributor_counts(request: HttpRequest, *, page: int | str = 1) -> dict:
    """What the distributor's dashboard counts: its approval queue and its partners' open registrations."""
    return {
        "partners": selectors.partners_page(request.user, page=page),
        "waiting_count": Deal.objects.awaiting_decision_by(request.user).count(),
    }


def _distributor_dashboard(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    waiting = (
        Deal.objects.awaiting_decision_by(request.user)
        .select_related("partner")
        .prefetch_related("products")
        .order_by("registered_on", "id")
    )
    return render_portal(
        request,
        "portal/dashboard_distributor.html",
        {
            "distributor": viewer.distributor,
            "waiting": waiting[:50],
            **distributor_counts(request, page=request.GET.get("page", 1)),
        },
        section="dashboard",
    )


@portal_view()
def programs(request: HttpRequest) -> HttpResponse:
    """Programs the viewer may see; the search runs inside that set, so it cannot reveal others."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    visible = Program.objects.visible_to(request.user).select_related("parent").order_by("parent_id", "name")
    if query:
        visible = visible.filter(Q(name__icontains=query) | Q(description__icontains=query))
    context = {"programs": list(visible), "query": query}
    if is_htmx(request):
        return render_portal(request, "portal/_program_results.html", context, section="programs")
    return render_portal(request, "portal/programs.html", context, section="programs")


@portal_view()
def program_detail(request: HttpRequest, slug: str) -> HttpResponse:
    visible = Program.objects.visible_to(request.user)
    program = get_object_or_404(visible.select_related("parent"), slug=slug)
    viewer = viewer_for(request)
    # Related programs only when the viewer may see them too.
    sub_programs = list(visible.filter(parent=program).order_by("name"))
    parent_visible = program.parent_id is not None and visible.filter(pk=program.parent_id).exists()
    tiers = list(program.tiers.prefetch_related("benefits").order_by("rank"))
    context = {
        "program": program,
        "sub_programs": sub_programs,
        "parent_visible": parent_visible,
        "tiers": tiers,
        "untiered_benefits": list(program.benefits.filter(tiers__isnull=True).order_by("name")),
    }
    if viewer.kind == "partner":
        gates = list(
            Gate.objects.visible_to(request.user)
            .in_effect(timezone.localdate())
            .filter(program=program)
            .select_related("program", "unlocks_tier")
            .order_by("name")
        )
        # By the rank of the tier each unlocks, lowest first; gates unlocking no tier after them.
        context["progress"] = sorted(
            partner_gate_progress(viewer.partner, gates=gates),
            key=lambda gate: (
                gate.gate.unlocks_tier.rank if gate.gate.unlocks_tier else 1_000,
                gate.gate.name,
            ),
        )
        context["held"] = (
            PartnerTier.objects.visible_to(request.user)
            .filter(program=program, partner=viewer.partner)
            .select_related("tier")
            .first()
        )
    return render_portal(request, "portal/program_detail.html", context, section="programs")


@portal_view("partner")
def team(request: HttpRequest) -> HttpResponse:
    """A partner admin sees everybody's certifications; other roles a directory and their own."""
    viewer = viewer_for(request)
    assert viewer.partner is not None
    # Who must renew: the certifications whose expiry puts a gate at risk.
    renewals = forecast_selectors.renewals_by_person(
        forecast_selectors.partner_warnings(request.user, viewer.partner)
    )
    today = timezone.localdate()
    found = listing(
        request,
        queryset=selectors.team(request.user, viewer.partner),
        table_class=TeamTable,
        filterset_class=TeamFilterSet,
        filename="team.csv",
        user=request.user,
        full=viewer.is_partner_admin,
        today=today,
        soon=today + datetime.timedelta(days=60),
        renewals=renewals,
    )
    if isinstance(found, HttpResponse):
        return found
    must_renew = []
    # Colleagues' certifications are the partner admins' to see, as on the rest of the page.
    for person in (
        selectors.team(request.user, viewer.partner)
        .prefetch_related(None)
        .only("first_name", "last_name", "user_id")
    ):
        sees = viewer.is_partner_admin or person.user_id == request.user.pk
        if sees and renewals.get(person.pk):
            # Read by the template's list of who must renew.
            setattr(person, "renewals", renewals[person.pk])  # noqa: B010
            must_renew.append(person)
    context = {"listing": found, "must_renew": must_renew, "full": viewer.is_partner_admin}
    if Partner.objects.allows(request.user, "invite_members", viewer.partner):
        # The team's logins, which the partner admin invites, gives roles and deactivates.
        context["members"] = list(
            Membership.objects.visible_to(request.user)
            .filter(partner=viewer.partner)
            .select_related("user")
            .order_by("-user__is_active", "user__last_name", "user__first_name", "id")
        )
        context["invite_form"] = InviteForm()
        context["role_choices"] = PARTNER_ROLE_CHOICES
    return render_portal(request, "portal/team.html", context, section="team")


@portal_view("distributor", "staff")
def partners(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    found = listing(
        request,
        queryset=selectors.partners_for(request.user),
        table_class=PartnerTable,
        filterset_class=PartnerListFilterSet,
        filename="partners.csv",
        viewer=viewer,
    )
    if isinstance(found, HttpResponse):
        return found
    return render_portal(
        request, "portal/partners.html", {"listing": found, "page": found.page}, section="partners"
    )


@portal_view("distributor", "staff")
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner.objects.visible_to(request.user).select_related("distributor"), pk=pk)
    standing = selectors.partner_standing(request.user, partner)
    deals = Deal.objects.visible_to(request.user).filter(partner=partner)
    return render_portal(
        request,
        "portal/partner_detail.html",
        {
            "partner": partner,
            "standing": standing,
            "deals": list(deals.prefetch_related("products").order_by("-registered_on", "-id")[:20]),
            "deal_counts": selectors.deal_counts(deals),
        },
        section="partners",
    )


@portal_view("staff")
def manager(request: HttpRequest) -> HttpResponse:
    targets = listing(
        request,
        queryset=Partner.objects.visible_to(request.user),
        table_class=TargetsTable,
        filterset_class=TargetsFilterSet,
        filename="partner-targets.csv",
        rows=lambda partners: selectors.targets_list(request.user, partners),
    )
    if isinstance(targets, HttpResponse):
        return targets
    summary = selectors.manager_summary(request.user)
    at_risk = forecast_selectors.manager_at_risk(request.user)
    return render_portal(
        request,
        "portal/manager.html",
        {
            "summary": summary,
            "charts": summary_charts(request.user, summary),
            "at_risk": at_risk,
            "listing": targets,
        },
        section="manager",
    )
