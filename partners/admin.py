from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Count, Q

from core.models import ExchangeRate
from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin
from partners.models import (
    ActivityType,
    Certification,
    CertificationType,
    CustomerSegment,
    Distributor,
    EngagementActivity,
    ManagerProfile,
    Membership,
    Partner,
    Person,
    ProductLine,
    Sale,
    ServiceOffering,
    ServiceProficiency,
    sees_every_partner,
)
from partners.services import exchange_rate_delete, exchange_rate_save, fact_save, facts_delete
from prm.forms import PrettyJSONField

User = get_user_model()

# Logins go through the users' door too: a channel manager sees the members of
# the organisations he covers, never other regions' staff or their emails.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class CoveredUserAdmin(CoverageAdminMixin, UserAdmin):
    pass


# GroupAdmin's stub takes an optional request where ModelAdmin's requires one.
@admin.register(Group)
class CoveredGroupAdmin(CoverageAdminMixin, GroupAdmin):  # type: ignore[misc]
    pass


# Sign-in records (django-axes) name logins and addresses. Only superusers
# hold their permissions; they build on the same mixin so that no admin page
# stands outside the coverage rules.
for _model in (AccessAttempt, AccessFailureLog, AccessLog):
    _original = type(admin.site._registry[_model])
    admin.site.unregister(_model)
    admin.site.register(_model, type(f"Covered{_original.__name__}", (CoverageAdminMixin, _original), {}))


class FactAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """Partners, people and facts: a manager sees those of the partners they cover.

    Saves and deletes go through the services, like the API's: the door decides,
    the change is recorded, and the partners it touches are re-evaluated after
    commit, like ingested facts.
    """

    def save_model(self, request, obj, form, change):
        fact_save(actor=request.user, fact=obj)

    def delete_model(self, request, obj):
        facts_delete(actor=request.user, facts=[obj])

    def delete_queryset(self, request, queryset):
        facts_delete(actor=request.user, facts=queryset.select_related())

    def save_formset(self, request, form, formset, change):
        """Inline people and proficiencies are facts too: each goes through the services."""
        if formset.model not in FACT_INLINE_MODELS:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        if formset.deleted_objects:
            facts_delete(actor=request.user, facts=formset.deleted_objects)
        for instance in instances:
            fact_save(actor=request.user, fact=instance)
        formset.save_m2m()
        return None


FACT_INLINE_MODELS = (Person, ServiceProficiency, Certification)


class MembershipInline(CoverageInlineMixin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role"]


class PersonInline(CoverageInlineMixin, admin.TabularInline):
    model = Person
    extra = 0
    fields = ["first_name", "last_name", "email", "job_title", "is_active"]
    show_change_link = True


class ProficiencyInline(CoverageInlineMixin, admin.TabularInline):
    model = ServiceProficiency
    extra = 0
    autocomplete_fields = ["offering"]
    fields = ["offering", "level", "since"]


@admin.register(Distributor)
class DistributorAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "country", "region", "partner_count"]
    list_filter = ["region"]
    search_fields = ["name"]
    # The count groups rows, and grouped queries ignore the model's default ordering.
    ordering = ["name"]

    def get_queryset(self, request):
        # A distributor serving several regions counts only the partners the user sees.
        counted = None
        if not sees_every_partner(request.user):
            counted = Q(partners__in=Partner.objects.visible_to(request.user))
        return super().get_queryset(request).annotate(partner_count=Count("partners", filter=counted))

    @admin.display(ordering="partner_count", description="Partners")
    def partner_count(self, obj: Distributor) -> int:
        return obj.partner_count  # type: ignore[attr-defined]


class PartnerForm(forms.ModelForm):
    """A manager who does not grant coverage keeps the partners he edits inside it."""

    user = None  # set by PartnerAdmin.get_form

    def clean_region(self):
        region = self.cleaned_data.get("region")
        user = self.user
        if user is None or sees_every_partner(user) or ManagerProfile.may_grant(user):
            return region
        unchanged = self.instance.pk is not None and self.instance.region == region
        assigned = self.instance.pk is not None and self.instance.channel_manager_id == user.pk
        if region and not unchanged and not assigned and region not in ManagerProfile.regions_for(user):
            covered = ", ".join(sorted(ManagerProfile.regions_for(user))) or "no region"
            raise forms.ValidationError(
                f"You cover {covered}: a partner in another region would leave your coverage. "
                "Ask an administrator to move it."
            )
        return region


@admin.register(Partner)
class PartnerAdmin(FactAdmin):
    list_display = [
        "name",
        "partner_type",
        "business_model",
        "country",
        "region",
        "status",
        "distributor",
        "channel_manager",
        "joined_on",
    ]
    list_filter = ["status", "region", "partner_type", "business_model", "distributor"]
    search_fields = ["name"]
    list_select_related = ["distributor", "channel_manager"]
    autocomplete_fields = ["distributor", "channel_manager"]
    date_hierarchy = "joined_on"
    inlines = [MembershipInline, PersonInline, ProficiencyInline]
    form = PartnerForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Who looks after a partner is coverage: granted, never taken.
        if not ManagerProfile.may_grant(request.user):
            fields.append("channel_manager")
        return fields


@admin.register(ManagerProfile)
class ManagerProfileAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """Coverage is granted by superusers and holders of ``partners.grant_coverage``; its holder only reads it."""

    list_display = ["user", "regions"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    autocomplete_fields = ["user"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]

    # Granting coverage is the right to edit it: no model permission adds to it or stands in for it.
    def has_view_permission(self, request, obj=None):
        return ManagerProfile.may_grant(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return ManagerProfile.may_grant(request.user)

    def has_change_permission(self, request, obj=None):
        return ManagerProfile.may_grant(request.user)

    def has_delete_permission(self, request, obj=None):
        return ManagerProfile.may_grant(request.user)


@admin.register(Membership)
class MembershipAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["user", "partner", "distributor", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "partner__name", "distributor__name"]
    list_select_related = ["user", "partner", "distributor"]
    autocomplete_fields = ["user", "partner", "distributor"]


class CertificationInline(CoverageInlineMixin, admin.TabularInline):
    model = Certification
    extra = 0
    autocomplete_fields = ["certification_type"]
    fields = ["certification_type", "issued_on", "expires_on", "source", "external_id"]


@admin.register(Person)
class PersonAdmin(FactAdmin):
    list_display = ["__str__", "email", "job_title", "partner", "is_active"]
    list_filter = ["is_active", "partner__region"]
    search_fields = ["first_name", "last_name", "email", "partner__name"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner", "user"]
    inlines = [CertificationInline]


@admin.register(CertificationType)
class CertificationTypeAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code", "track", "is_advanced", "validity_months"]
    list_filter = ["track", "is_advanced"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Certification)
class CertificationAdmin(FactAdmin):
    list_display = ["person", "partner", "certification_type", "issued_on", "expires_on", "source"]
    list_filter = ["certification_type__track", "certification_type", "source"]
    search_fields = ["person__first_name", "person__last_name", "person__partner__name", "external_id"]
    list_select_related = ["person__partner", "certification_type"]
    autocomplete_fields = ["person", "certification_type"]
    date_hierarchy = "issued_on"

    @admin.display(ordering="person__partner__name")
    def partner(self, obj: Certification):
        return obj.person.partner


@admin.register(ProductLine)
class ProductLineAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(CustomerSegment)
class CustomerSegmentAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Sale)
class SaleAdmin(FactAdmin):
    list_display = [
        "partner",
        "amount",
        "currency",
        "product_line",
        "region",
        "country",
        "customer_segment",
        "closed_on",
        "source",
    ]
    list_filter = ["currency", "product_line", "region", "customer_segment", "source"]
    search_fields = ["partner__name", "customer_name", "external_id"]
    list_select_related = ["partner", "product_line", "customer_segment"]
    autocomplete_fields = ["partner", "product_line", "deal", "customer_segment"]
    date_hierarchy = "closed_on"


@admin.register(ActivityType)
class ActivityTypeAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code", "default_points"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(EngagementActivity)
class EngagementActivityAdmin(FactAdmin):
    list_display = ["partner", "activity_type", "points", "occurred_on", "source"]
    list_filter = ["activity_type", "source"]
    search_fields = ["partner__name", "description", "external_id"]
    list_select_related = ["partner", "activity_type"]
    autocomplete_fields = ["partner", "activity_type"]
    date_hierarchy = "occurred_on"


@admin.register(ServiceOffering)
class ServiceOfferingAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(ServiceProficiency)
class ServiceProficiencyAdmin(FactAdmin):
    list_display = ["partner", "offering", "level", "since"]
    list_filter = ["level", "offering"]
    search_fields = ["partner__name", "offering__name"]
    list_select_related = ["partner", "offering"]
    autocomplete_fields = ["partner", "offering"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["currency", "valid_from", "rate"]
    list_filter = ["currency"]
    search_fields = ["currency"]
    date_hierarchy = "valid_from"

    def save_model(self, request, obj, form, change):
        exchange_rate_save(actor=request.user, rate=obj)

    def delete_model(self, request, obj):
        exchange_rate_delete(actor=request.user, rate=obj)

    def delete_queryset(self, request, queryset):
        for rate in queryset:
            exchange_rate_delete(actor=request.user, rate=rate)
