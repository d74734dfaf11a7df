"""Applications, agreements, checklists and ticks in the admin.

Applications are decided on their own page (the change page's "Accept" and "Decline" buttons),
which asks for the reason and calls ``onboarding.services``; they are never added or edited by
hand beyond their region. Ticks made by hand go through ``checklist_tick`` (audited, and the
last one makes the partner active).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from onboarding import services
from onboarding.models import (
    AgreementAcceptance,
    ApplicationStatus,
    ChecklistItem,
    ChecklistTick,
    CompanyProfile,
    PartnerApplication,
    ProgramAgreement,
)
from onboarding.selectors import open_programs
from partners.admin_coverage import CoverageAdminMixin
from prm.ids import object_or_404
from programs.admin_rights import ProgramRightsAdminMixin


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=True,
        help_text="Kept with the decision and in the audit trail.",
    )


@admin.register(PartnerApplication)
class PartnerApplicationAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["company", "country", "region", "partner_type", "status", "created_at"]
    list_filter = ["status", "region", "partner_type"]
    search_fields = ["company", "contact_email", "contact_last_name"]
    readonly_fields = [
        "company",
        "country",
        "partner_type",
        "business_model",
        "website",
        "contact_first_name",
        "contact_last_name",
        "contact_email",
        "contact_phone",
        "contact_job_title",
        "other_contacts",
        "programs",
        "message",
        "status",
        "decision_reason",
        "decided_by",
        "decided_at",
        "partner",
        "submitted_from",
        "created_at",
    ]
    fields = ["region", *readonly_fields]
    change_form_template = "admin/onboarding/partnerapplication/change_form.html"

    def has_add_permission(self, request):
        return False  # applications come from the public page

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != ApplicationStatus.PENDING:
            return ["region", *self.readonly_fields]
        return self.readonly_fields

    def get_urls(self):
        return [
            path(
                "<str:object_id>/accept/",
                self.admin_site.admin_view(self.decide_view),
                {"accept": True},
                name="onboarding_partnerapplication_accept",
            ),
            path(
                "<str:object_id>/decline/",
                self.admin_site.admin_view(self.decide_view),
                {"accept": False},
                name="onboarding_partnerapplication_decline",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["may_decide"] = obj is not None and PartnerApplication.objects.allows(
            request.user, "decide", obj
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def decide_view(self, request, object_id, accept: bool):
        """Accept or decline with a reason: the page asks for it, the service decides."""
        application = object_or_404(self.get_queryset(request), object_id)
        if not PartnerApplication.objects.allows(request.user, "decide", application):
            raise PermissionDenied
        form = DecisionForm(request.POST or None)
        change_url = reverse("admin:onboarding_partnerapplication_change", args=[application.pk])
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            try:
                if accept:
                    partner = services.application_accept(
                        actor=request.user,
                        application=application,
                        reason=reason,
                        domain=get_current_site(request).domain,
                        use_https=request.is_secure(),
                    )
                    self.message_user(
                        request,
                        f"{partner} is a partner in onboarding; {application.contact_email} was invited "
                        "to choose a password.",
                        messages.SUCCESS,
                    )
                else:
                    services.application_decline(actor=request.user, application=application, reason=reason)
                    self.message_user(request, f"The application of {application.company} was declined.")
                return HttpResponseRedirect(change_url)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'Accept' if accept else 'Decline'} the application of {application.company}",
            "application": application,
            "form": form,
            "accept": accept,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/onboarding/partnerapplication/decide.html", context)


class OnboardingDefinitionAdminMixin:
    """A program's checklist items and agreements: changed by the program's managers, audited."""

    def save_model(self, request, obj, form, change):
        services.definition_save(
            actor=request.user, definition=obj, created=not change, fields=form.changed_data
        )

    def delete_model(self, request, obj):
        services.definition_delete(actor=request.user, definition=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.definition_delete(actor=request.user, definition=obj)


@admin.register(ChecklistItem)
class ChecklistItemAdmin(
    ProgramRightsAdminMixin, OnboardingDefinitionAdminMixin, CoverageAdminMixin, admin.ModelAdmin
):
    list_display = ["program", "order", "label", "kind", "course"]
    list_select_related = ["program", "course"]
    list_filter = ["program", "kind"]
    search_fields = ["title", "program__name"]
    autocomplete_fields = ["course"]


@admin.register(ProgramAgreement)
class ProgramAgreementAdmin(
    ProgramRightsAdminMixin, OnboardingDefinitionAdminMixin, CoverageAdminMixin, admin.ModelAdmin
):
    list_display = ["program", "version", "title", "published_at"]
    list_select_related = ["program"]
    list_filter = ["program"]
    search_fields = ["title", "program__name"]


@admin.register(AgreementAcceptance)
class AgreementAcceptanceAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """Who accepted which agreement, by name, when and from where: a record, never edited."""

    list_display = ["partner", "agreement", "signer_name", "accepted_by", "accepted_at", "ip_address"]
    list_filter = ["agreement__program"]
    search_fields = ["partner__name", "signer_name"]
    list_select_related = ["partner", "agreement", "accepted_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ChecklistTickForm(forms.ModelForm):
    class Meta:
        model = ChecklistTick
        fields = ["partner", "item", "note"]

    def clean(self):
        cleaned = super().clean() or {}
        partner, item = cleaned.get("partner"), cleaned.get("item")
        if (
            partner is not None
            and item is not None
            and not open_programs(partner).filter(pk=item.program_id).exists()
        ):
            self.add_error("item", "This item belongs to a program the partner does not see.")
        return cleaned


@admin.register(ChecklistTick)
class ChecklistTickAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """Ticks by partner: the system's and the managers'. Adding one ticks the item by hand;
    deleting one unticks it."""

    list_display = ["partner", "item", "ticked_at", "ticked_by", "note"]
    list_filter = ["item__program", "item__kind"]
    search_fields = ["partner__name"]
    list_select_related = ["partner", "item", "ticked_by"]
    autocomplete_fields = ["partner", "item"]
    fields = ["partner", "item", "note"]
    form = ChecklistTickForm

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The form checked the item against the partner's programs; the service decides the rest.
        services.checklist_tick(
            actor=request.user, partner=obj.partner, item=obj.item, ticked=True, note=obj.note
        )
        obj.pk = ChecklistTick.objects.get(partner=obj.partner, item=obj.item).pk

    def delete_model(self, request, obj):
        services.checklist_tick(actor=request.user, partner=obj.partner, item=obj.item, ticked=False)

    def delete_queryset(self, request, queryset):
        for tick in queryset.select_related("partner", "item"):
            self.delete_model(request, tick)


@admin.register(CompanyProfile)
class CompanyProfileAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["partner", "phone", "updated_at"]
    list_select_related = ["partner"]
    search_fields = ["partner__name"]
    autocomplete_fields = ["partner"]
