from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin, ReadOnlyAdmin
from prm.forms import PrettyJSONField, SharedChoicesField
from programs import services, versioning
from programs.admin_rights import ProgramRightsAdminMixin, ProgramRightsInlineMixin
from programs.models import (
    MANAGE_PROGRAM,
    Benefit,
    Program,
    ProgramUserObjectPermission,
    Segment,
    SegmentVersion,
    Tier,
    VersionState,
)
from programs.services import may_grant_program_managers, program_manager_grant, program_manager_revoke


class DefinitionAdminMixin:
    """Saves and deletions, inline tiers and benefits included, through ``programs.services``."""

    def save_model(self, request, obj, form, change):
        services.definition_save(
            actor=request.user, definition=obj, created=not change, fields=form.changed_data
        )

    def delete_model(self, request, obj):
        services.definition_delete(actor=request.user, definition=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.definition_delete(actor=request.user, definition=obj)

    def save_formset(self, request, form, formset, change):
        if formset.model not in (Tier, Benefit):
            return super().save_formset(request, form, formset, change)  # type: ignore[misc]
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            services.definition_delete(actor=request.user, definition=obj)
        changed = {id(obj): fields for obj, fields in formset.changed_objects}
        for obj in instances:
            services.definition_save(
                actor=request.user, definition=obj, created=obj.pk is None, fields=changed.get(id(obj), ())
            )
        formset.save_m2m()
        return None


class TierInline(ProgramRightsInlineMixin, CoverageInlineMixin, admin.TabularInline):
    model = Tier
    extra = 0
    fields = ["rank", "name", "grace_days", "description"]
    ordering = ["rank"]

    def get_queryset(self, request):
        # Each row is titled by the tier's name, which names its program.
        return super().get_queryset(request).select_related("program")


class BenefitInline(ProgramRightsInlineMixin, CoverageInlineMixin, admin.TabularInline):
    model = Benefit
    extra = 0
    fields = ["name", "kind", "percent", "amount", "currency", "period", "product_line", "customer_segment"]
    show_change_link = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Product lines and customer segments are short reference lists: one read for every row.
        if db_field.name in {"product_line", "customer_segment"}:
            kwargs["form_class"] = SharedChoicesField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        # Each row is titled by the benefit's name, which names its program.
        return super().get_queryset(request).select_related("program")


class ProgramManagerForm(forms.ModelForm):
    class Meta:
        model = ProgramUserObjectPermission
        fields = ["user"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only a submitted row can become a grant; the page itself need not read the permission per row.
        if self.is_bound and self.instance.permission_id is None:
            # Rows of this panel are always the right to manage the program.
            app_label, codename = MANAGE_PROGRAM.split(".")
            self.instance.permission = Permission.objects.get(
                content_type__app_label=app_label, codename=codename
            )


class ProgramManagerInline(CoverageInlineMixin, admin.TabularInline):
    """The "program managers" panel: who may change this program and its definitions.

    Rows are granted and revoked through ``programs.services`` (audited), never
    saved by the formset itself; a grant is never edited, only added or removed.
    """

    model = ProgramUserObjectPermission
    form = ProgramManagerForm
    fields = ["user"]
    extra = 0
    verbose_name = "program manager"
    verbose_name_plural = "program managers"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(permission__codename="manage_program")
            .select_related("user", "permission", "content_object")
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model()._default_manager.filter(is_staff=True, is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request, obj=None):
        return may_grant_program_managers(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return may_grant_program_managers(request.user)


@admin.register(Program)
class ProgramAdmin(ProgramRightsAdminMixin, DefinitionAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "parent", "base_currency", "segment", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug", "description"]
    list_select_related = ["parent", "segment"]
    autocomplete_fields = ["parent", "segment"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TierInline, BenefitInline, ProgramManagerInline]
    program_field = None

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.program_create(actor=request.user, program=obj, fields=form.changed_data)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProgramUserObjectPermission:
            return super().save_formset(request, form, formset, change)
        program = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.deleted_forms:
            if row.instance.pk is not None:
                program_manager_revoke(actor=request.user, program=program, user=row.instance.user)
                formset.deleted_objects.append(row.instance)
        for row in formset.extra_forms:
            user = row.cleaned_data.get("user") if row.has_changed() else None
            if user is not None and row not in formset.deleted_forms:
                program_manager_grant(actor=request.user, program=program, user=user)
                formset.new_objects.append(row.instance)
        return None


@admin.register(Tier)
class TierAdmin(ProgramRightsAdminMixin, DefinitionAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["name", "program", "rank", "grace_days"]
    list_filter = ["program"]
    search_fields = ["name", "program__name"]
    list_select_related = ["program"]
    ordering = ["program__name", "rank"]


@admin.register(Benefit)
class BenefitAdmin(ProgramRightsAdminMixin, DefinitionAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "program",
        "kind",
        "percent",
        "amount",
        "currency",
        "period",
        "product_line",
        "customer_segment",
    ]
    list_filter = ["kind", "program", "customer_segment"]
    search_fields = ["name", "description"]
    list_select_related = ["program", "product_line", "customer_segment"]
    autocomplete_fields = ["product_line", "customer_segment"]
    filter_horizontal = ["tiers"]


@admin.register(Segment)
class SegmentAdmin(ProgramRightsAdminMixin, DefinitionAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    """A segment a program targets is not edited in place: new criteria are saved as its draft."""

    program_field = None

    list_display = ["name", "currency", "version", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["version"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    change_form_template = "admin/programs/segment/change_form.html"

    def save_model(self, request, obj, form, change):
        stored = Segment.objects.get(pk=obj.pk) if change else None
        if (
            stored is not None
            and stored.in_use
            and (obj.criteria, obj.currency) != (stored.criteria, stored.currency)
        ):
            draft = versioning.segment_draft_save(
                actor=request.user, segment=stored, criteria=obj.criteria, currency=obj.currency
            )
            obj.criteria, obj.currency = stored.criteria, stored.currency
            self.message_user(
                request,
                f"The new criteria are saved as draft version {draft.version}; "
                "they apply once that version is published.",
                messages.WARNING,
            )
        super().save_model(request, obj, form, change)


VERSION_COLUMNS = ["version", "state", "effective_from", "published_at", "published_by", "compare"]


class VersionAdminMixin:
    """A definition's versions (a gate's, a segment's): compared with the current one, drafts published.

    The model admin names ``owner_field``, the admin URL of the comparison
    (``diff_url_name``) and ``publish(actor=, draft=)``.
    """

    owner_field: str
    diff_url_name: str

    @staticmethod
    def publish(*, actor, draft) -> None:
        raise NotImplementedError

    @admin.display(description="Compare")
    def compare(self, version) -> str:
        """This version beside the current one (or, for the current one, the one before)."""
        owner = getattr(version, self.owner_field)
        url = reverse(self.diff_url_name, args=[owner.pk])
        if version.version != owner.version:
            url += f"?before={owner.version}&after={version.version}"
        return format_html('<a href="{}">Compare</a>', url)

    @admin.action(description="Publish the selected drafts, in effect today")
    def publish_today(self, request, queryset):
        allowed = queryset.actionable_by(request.user, "manage").filter(state=VersionState.DRAFT)
        published = 0
        for draft in allowed.select_related(self.owner_field):
            self.publish(actor=request.user, draft=draft)
            published += 1
        self.message_user(request, f"{published} version(s) published.", messages.SUCCESS)  # type: ignore[attr-defined]
        skipped = queryset.count() - published
        if skipped:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"{skipped} not published: not drafts, or definitions you may not change.",
                messages.WARNING,
            )


@admin.register(SegmentVersion)
class SegmentVersionAdmin(VersionAdminMixin, ReadOnlyAdmin):
    """Versions are drafted from the segment's change form and published here; a published one is read-only."""

    owner_field = "segment"
    # The comparison measures partners, so the gates (which measure) serve the page.
    diff_url_name = "admin:programs_segment_diff"
    list_display = ["segment", *VERSION_COLUMNS]
    list_filter = ["state"]
    actions = ["publish_today"]
    search_fields = ["segment__name"]
    list_select_related = ["segment", "published_by"]

    @staticmethod
    def publish(*, actor, draft) -> None:
        versioning.segment_version_publish(actor=actor, draft=draft)

    def has_delete_permission(self, request, obj=None):
        # Never on their own; with their segment, when the user may delete it.
        return obj is not None and request.user.has_perm("programs.delete_segment")
