"""Deal registrations and MDF in the admin: channel managers decide through actions that call the services.

Workflow fields (status, decisions, protection, amounts moved) are read-only
here: they change only through the services, which check the rules, move the
ledger and write the audit trail.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.money import Money
from deals import mdf, services
from deals.models import (
    Deal,
    DealStatus,
    MdfLedgerEntry,
    MdfPeriod,
    MdfRequest,
    MdfStatus,
)
from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin, ReadOnlyAdmin


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="The partner sees this reason.",
        max_length=2000,
    )


def _run_each(modeladmin, request, objects, call, done: str) -> None:
    succeeded, failed = 0, []
    for obj in objects:
        try:
            call(obj)
        except (ValidationError, PermissionDenied) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            failed.append(f"{obj}: {text}")
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)
    for failure in failed:
        modeladmin.message_user(request, failure, messages.ERROR)


def _reason_action(
    modeladmin,
    request,
    queryset,
    *,
    title: str,
    call,
    done: str,
    intro: str = "These will be rejected:",
    submit: str = "Reject",
):
    """An action that asks for a reason on an intermediate page, then applies ``call``."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            _run_each(modeladmin, request, queryset, lambda obj: call(obj, reason), done)
            return None
    else:
        form = ReasonForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "submit": submit,
        "objects": queryset,
        "form": form,
        "action": request.POST.get("action"),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/deals/reason_action.html", context)


@admin.register(Deal)
class DealAdmin(CoverageAdminMixin, admin.ModelAdmin):
    # Narrow enough for 1366 px: the state and the value stay in view (the domain sits under the
    # customer's name, the currency beside its amount, the registration day in the date filter).
    list_display = [
        "reference",
        "customer",
        "partner",
        "state",
        "value",
        "conflict",
        "expected_close",
        "protected_until",
    ]
    list_display_links = ["reference"]
    list_filter = ["status", "needs_review", "currency", "customer_segment", "sourced_by", "closed_by"]
    search_fields = ["customer_name", "customer_domain", "partner__name"]
    list_select_related = ["partner", "conflicts_with__partner"]
    autocomplete_fields = ["partner", "products", "customer_segment"]
    date_hierarchy = "registered_on"
    readonly_fields = [
        "status",
        "needs_review",
        "conflicts_with",
        "registered_by",
        "registered_on",
        "decided_by",
        "decided_at",
        "rejection_reason",
        "protected_until",
        "closed_on",
    ]
    actions = ["approve", "reject"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # Who claimed which customer is the registration itself.
        return [*self.readonly_fields, "partner", "customer_domain"]

    def has_add_permission(self, request):
        # Partners register deals in the portal, where the conflict check runs.
        return False

    @admin.display(description="Reference", ordering="id")
    def reference(self, obj: Deal) -> str:
        return obj.reference

    @admin.display(description="Customer", ordering="customer_name")
    def customer(self, obj: Deal) -> str:
        return format_html("{}<br><small>{}</small>", obj.customer_name, obj.customer_domain)

    @admin.display(description="State", ordering="status")
    def state(self, obj: Deal) -> str:
        return obj.status_label

    @admin.display(description="Expected value", ordering="expected_value")
    def value(self, obj: Deal) -> str:
        return str(Money(obj.expected_value, obj.currency))

    @admin.display(description="Conflicts with")
    def conflict(self, obj: Deal) -> str:
        other = obj.conflicts_with
        if other is None:
            return "–"
        url = reverse("admin:deals_deal_change", args=[other.pk])
        return format_html('<a href="{}">{} ({})</a>', url, other.reference, other.partner.name)

    @admin.action(description="Approve selected registrations", permissions=["change"])
    def approve(self, request, queryset):
        _run_each(
            self,
            request,
            queryset.actionable_by(request.user, "decide").filter(status=DealStatus.SUBMITTED),
            lambda deal: services.deal_approve(actor=request.user, deal=deal),
            "registration(s) approved",
        )

    @admin.action(description="Reject selected registrations…", permissions=["change"])
    def reject(self, request, queryset):
        return _reason_action(
            self,
            request,
            queryset.actionable_by(request.user, "decide").filter(status=DealStatus.SUBMITTED),
            title="Reject deal registrations",
            call=lambda deal, reason: services.deal_reject(actor=request.user, deal=deal, reason=reason),
            done="registration(s) rejected",
        )


class LedgerInline(CoverageInlineMixin, admin.TabularInline):
    model = MdfLedgerEntry
    fields = readonly_fields = (
        "at",
        "request",
        "from_bucket",
        "to_bucket",
        "amount",
        "currency",
        "actor",
        "note",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("request", "actor")


@admin.register(MdfPeriod)
class MdfPeriodAdmin(ReadOnlyAdmin):
    list_display = [
        "partner",
        "starts_on",
        "ends_on",
        "currency",
        "allowance",
        "requested",
        "approved",
        "claimed",
        "paid",
    ]
    list_select_related = ["partner"]
    search_fields = ["partner__name"]
    date_hierarchy = "starts_on"
    inlines = [LedgerInline]


@admin.register(MdfLedgerEntry)
class MdfLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "request", "partner", "move", "value", "actor"]
    list_display_links = ["at"]
    list_filter = ["from_bucket", "to_bucket", "currency"]
    list_select_related = ["request", "period__partner", "actor"]
    search_fields = ["request__title", "period__partner__name"]

    @admin.display(description="Partner", ordering="period__partner__name")
    def partner(self, obj: MdfLedgerEntry) -> str:
        return obj.period.partner.name

    @admin.display(description="Move")
    def move(self, obj: MdfLedgerEntry) -> str:
        return f"{obj.get_from_bucket_display()} → {obj.get_to_bucket_display()}"

    @admin.display(description="Amount", ordering="amount")
    def value(self, obj: MdfLedgerEntry) -> str:
        return str(Money(obj.amount, obj.currency))


@admin.register(MdfRequest)
class MdfRequestAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "title",
        "partner",
        "status",
        "requested",
        "approved",
        "created_at",
        "proof_link",
    ]
    list_display_links = ["reference"]
    list_filter = ["status", "activity_kind", "currency"]
    list_select_related = ["partner"]
    search_fields = ["title", "partner__name"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "partner",
        "period",
        "title",
        "activity_kind",
        "description",
        "starts_on",
        "ends_on",
        "amount",
        "currency",
        "status",
        "approved_amount",
        "decided_by",
        "decided_at",
        "rejection_reason",
        "early_claim_allowed_by",
        "early_claim_allowed_at",
        "early_claim_reason",
        "claimed_amount",
        "proof_link",
        "claimed_by",
        "claimed_at",
        "paid_by",
        "paid_at",
        "payment_reference",
    )
    actions = ["approve", "reject", "allow_early_claim", "mark_paid"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Reference", ordering="id")
    def reference(self, obj: MdfRequest) -> str:
        return obj.reference

    @admin.display(description="Requested", ordering="amount")
    def requested(self, obj: MdfRequest) -> str:
        return str(Money(obj.amount, obj.currency))

    @admin.display(description="Approved / claimed", ordering="approved_amount")
    def approved(self, obj: MdfRequest) -> str:
        if obj.approved_amount is None:
            return "–"
        approved = str(Money(obj.approved_amount, obj.currency))
        if obj.claimed_amount is None:
            return approved
        return f"{approved} / {Money(obj.claimed_amount, obj.currency)}"

    @admin.display(description="Proof")
    def proof_link(self, obj: MdfRequest) -> str:
        if not obj.proof:
            return "–"
        return format_html('<a href="{}">{}</a>', reverse("portal:mdf_proof", args=[obj.pk]), obj.proof_name)

    @admin.action(description="Approve selected requests in full", permissions=["change"])
    def approve(self, request, queryset):
        _run_each(
            self,
            request,
            queryset.actionable_by(request.user, "decide").filter(status=MdfStatus.REQUESTED),
            lambda obj: mdf.mdf_request_approve(actor=request.user, request=obj),
            "request(s) approved",
        )

    @admin.action(description="Reject selected requests…", permissions=["change"])
    def reject(self, request, queryset):
        return _reason_action(
            self,
            request,
            queryset.actionable_by(request.user, "decide").filter(status=MdfStatus.REQUESTED),
            title="Reject MDF requests",
            call=lambda obj, reason: mdf.mdf_request_reject(actor=request.user, request=obj, reason=reason),
            done="request(s) rejected",
        )

    @admin.action(description="Allow an early claim for the selected requests…", permissions=["change"])
    def allow_early_claim(self, request, queryset):
        return _reason_action(
            self,
            request,
            queryset.actionable_by(request.user, "decide").filter(status=MdfStatus.APPROVED),
            title="Allow claims before the activity ends",
            call=lambda obj, reason: mdf.mdf_allow_early_claim(
                actor=request.user, request=obj, reason=reason
            ),
            done="early claim(s) allowed",
            intro="These partners may claim before their activity ends (the reason is kept with each request):",
            submit="Allow the early claims",
        )

    @admin.action(description="Mark selected claims paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        _run_each(
            self,
            request,
            queryset.actionable_by(request.user, "decide").filter(status=MdfStatus.CLAIMED),
            lambda obj: mdf.mdf_mark_paid(actor=request.user, request=obj),
            "claim(s) marked paid",
        )
