from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import Count

from gates.services import request_reevaluation
from partners.models import (
    ActivityType,
    Certification,
    CertificationType,
    Distributor,
    EngagementActivity,
    ExchangeRate,
    ManagerProfile,
    Membership,
    Partner,
    Person,
    ProductLine,
    Sale,
    ServiceOffering,
    ServiceProficiency,
)
from prm.forms import PrettyJSONField


class FactAdmin(admin.ModelAdmin):
    """Partners, people and facts: a manager sees those of the partners they cover.

    Facts entered or corrected by hand re-evaluate their partner after commit,
    like ingested ones.
    """

    def get_queryset(self, request):
        queryset: Any = super().get_queryset(request)
        return queryset.visible_to(request.user)

    def partner_id_of(self, obj) -> int:
        return obj.partner_id

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            before = self.partner_id_of(type(obj).objects.select_related().get(pk=obj.pk))
        super().save_model(request, obj, form, change)
        request_reevaluation({self.partner_id_of(obj), before} - {None})

    def delete_model(self, request, obj):
        partner_id = self.partner_id_of(obj)
        super().delete_model(request, obj)
        request_reevaluation([partner_id])

    def delete_queryset(self, request, queryset):
        partner_ids = {self.partner_id_of(obj) for obj in queryset.select_related()}
        super().delete_queryset(request, queryset)
        request_reevaluation(partner_ids)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role"]


class PersonInline(admin.TabularInline):
    model = Person
    extra = 0
    fields = ["first_name", "last_name", "email", "job_title", "is_active"]
    show_change_link = True


class ProficiencyInline(admin.TabularInline):
    model = ServiceProficiency
    extra = 0
    autocomplete_fields = ["offering"]
    fields = ["offering", "level", "since"]


@admin.register(Distributor)
class DistributorAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "region", "partner_count"]
    list_filter = ["region"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(partner_count=Count("partners"))

    @admin.display(ordering="partner_count", description="Partners")
    def partner_count(self, obj: Distributor) -> int:
        return obj.partner_count  # type: ignore[attr-defined]


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

    def partner_id_of(self, obj) -> int:
        return obj.pk


@admin.register(ManagerProfile)
class ManagerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "regions"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    autocomplete_fields = ["user"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "distributor", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "partner__name", "distributor__name"]
    list_select_related = ["user", "partner", "distributor"]
    autocomplete_fields = ["user", "partner", "distributor"]


class CertificationInline(admin.TabularInline):
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
class CertificationTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "track", "is_advanced", "validity_months"]
    list_filter = ["track", "is_advanced"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Certification)
class CertificationAdmin(FactAdmin):
    def partner_id_of(self, obj) -> int:
        return obj.person.partner_id

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
class ProductLineAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Sale)
class SaleAdmin(FactAdmin):
    list_display = ["partner", "amount", "currency", "product_line", "region", "closed_on", "source"]
    list_filter = ["currency", "product_line", "region", "source"]
    search_fields = ["partner__name", "customer_name", "external_id"]
    list_select_related = ["partner", "product_line"]
    autocomplete_fields = ["partner", "product_line", "deal"]
    date_hierarchy = "closed_on"


@admin.register(ActivityType)
class ActivityTypeAdmin(admin.ModelAdmin):
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
class ServiceOfferingAdmin(admin.ModelAdmin):
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
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "valid_from", "rate"]
    list_filter = ["currency"]
    search_fields = ["currency"]
    date_hierarchy = "valid_from"

    def save_model(self, request, obj, form, change):
        from partners.services import exchange_rate_save

        exchange_rate_save(actor=request.user, rate=obj)

    def delete_model(self, request, obj):
        from partners.services import exchange_rate_delete

        exchange_rate_delete(actor=request.user, rate=obj)

    def delete_queryset(self, request, queryset):
        from partners.services import exchange_rate_delete

        for rate in queryset:
            exchange_rate_delete(actor=request.user, rate=rate)
