from django.contrib import admin
from django.db import models

from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin
from prm.forms import PrettyJSONField
from programs.models import Benefit, Program, Segment, Tier


class TierInline(CoverageInlineMixin, admin.TabularInline):
    model = Tier
    extra = 0
    fields = ["rank", "name", "grace_days", "description"]
    ordering = ["rank"]


class BenefitInline(CoverageInlineMixin, admin.TabularInline):
    model = Benefit
    extra = 0
    fields = ["name", "kind", "percent", "amount", "currency", "period", "product_line"]
    autocomplete_fields = ["product_line"]
    show_change_link = True


@admin.register(Program)
class ProgramAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "parent", "base_currency", "segment", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug", "description"]
    list_select_related = ["parent", "segment"]
    autocomplete_fields = ["parent", "segment"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TierInline, BenefitInline]


@admin.register(Tier)
class TierAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "program", "rank", "grace_days"]
    list_filter = ["program"]
    search_fields = ["name", "program__name"]
    list_select_related = ["program"]
    ordering = ["program__name", "rank"]


@admin.register(Benefit)
class BenefitAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "program", "kind", "percent", "amount", "currency", "period", "product_line"]
    list_filter = ["kind", "program"]
    search_fields = ["name", "description"]
    list_select_related = ["program", "product_line"]
    autocomplete_fields = ["product_line"]
    filter_horizontal = ["tiers"]


@admin.register(Segment)
class SegmentAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "currency", "updated_at"]
    search_fields = ["name", "description"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
