"""The catalogue in the admin (courses, quizzes, learning paths) and people's learning, read-mostly.

Definitions save and delete through ``enablement.services`` (audited); completions entered by hand
go through ``completion_record``, so they issue certifications like any other completion.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q

from enablement import library, services
from enablement.models import (
    Choice,
    Completion,
    ContentAsset,
    ContentDownload,
    Course,
    Enrolment,
    LearningPath,
    Module,
    PathStep,
    Question,
    Quiz,
    QuizAttempt,
    QuizAttemptGrant,
)
from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin
from partners.models import Partner, PartnerType, Region


class CatalogueAdminMixin:
    """Saves and deletions, inlines included, through ``enablement.services``."""

    def save_model(self, request, obj, form, change):
        services.catalogue_save(
            actor=request.user, definition=obj, created=not change, fields=form.changed_data
        )

    def delete_model(self, request, obj):
        services.catalogue_delete(actor=request.user, definition=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.catalogue_delete(actor=request.user, definition=obj)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            services.catalogue_delete(actor=request.user, definition=obj)
        changed = {id(obj): fields for obj, fields in formset.changed_objects}
        for obj in instances:
            services.catalogue_save(
                actor=request.user, definition=obj, created=obj.pk is None, fields=changed.get(id(obj), ())
            )
        formset.save_m2m()


class ModuleInline(CoverageInlineMixin, admin.StackedInline):
    model = Module
    extra = 0
    fields = ["order", "title", "content", "links"]


class PathStepInline(CoverageInlineMixin, admin.TabularInline):
    model = PathStep
    extra = 0
    autocomplete_fields = ["course"]
    fields = ["order", "course"]


class ChoiceInline(CoverageInlineMixin, admin.TabularInline):
    model = Choice
    extra = 0
    fields = ["text", "is_correct"]


class QuestionInline(CoverageInlineMixin, admin.TabularInline):
    model = Question
    extra = 0
    fields = ["order", "text"]
    show_change_link = True


@admin.register(Course)
class CourseAdmin(CatalogueAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["title", "code", "track", "duration_minutes", "language", "is_active"]
    list_filter = ["track", "language", "is_active", "product_lines"]
    search_fields = ["title", "code", "description", "xapi_activity_id"]
    filter_horizontal = ["product_lines", "programs", "tiers", "segments"]
    autocomplete_fields = ["completion_activity_type"]
    inlines = [ModuleInline]


@admin.register(Quiz)
class QuizAdmin(CatalogueAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["course", "pass_mark_percent", "max_attempts"]
    search_fields = ["course__title"]
    list_select_related = ["course"]
    autocomplete_fields = ["course"]
    inlines = [QuestionInline]


@admin.register(Question)
class QuestionAdmin(CatalogueAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "quiz", "order"]
    search_fields = ["text", "quiz__course__title"]
    list_select_related = ["quiz__course"]
    autocomplete_fields = ["quiz"]
    inlines = [ChoiceInline]


@admin.register(LearningPath)
class LearningPathAdmin(CatalogueAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["title", "certification_type", "validity_months", "is_renewal", "is_active"]
    list_filter = ["is_renewal", "is_active", "certification_type"]
    search_fields = ["title", "description"]
    list_select_related = ["certification_type"]
    autocomplete_fields = ["certification_type", "completion_activity_type"]
    filter_horizontal = ["programs", "tiers", "segments"]
    inlines = [PathStepInline]


class LearnerFactAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """People's learning, as it happened: recorded by the portal and the LMS, read here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Enrolment)
class EnrolmentAdmin(LearnerFactAdmin):
    list_display = ["person", "course", "enrolled_at"]
    search_fields = ["person__first_name", "person__last_name", "person__partner__name", "course__title"]
    list_select_related = ["person", "course"]
    actions = ["grant_one_attempt"]

    @admin.action(description="Grant one more quiz attempt")
    def grant_one_attempt(self, request, queryset):
        """Through the door: only enrolments of partners the manager covers, with the permission."""
        allowed = Enrolment.objects.actionable_by(request.user, "grant_attempts").filter(
            pk__in=queryset.values("pk")
        )
        granted, refused = 0, []
        for enrolment in allowed.select_related("person", "course"):
            try:
                services.quiz_attempts_grant(
                    actor=request.user, enrolment=enrolment, reason="Granted in the admin"
                )
            except services.LearningRefused as exc:
                refused.append(f"{enrolment}: {' '.join(exc.messages)}")
            else:
                granted += 1
        if granted:
            self.message_user(
                request, f"Granted one more attempt to {granted} enrolment(s).", messages.SUCCESS
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)
        if not granted and not refused:
            self.message_user(request, "You may not grant attempts to these enrolments.", messages.ERROR)


@admin.register(QuizAttemptGrant)
class QuizAttemptGrantAdmin(LearnerFactAdmin):
    list_display = ["person", "quiz", "extra_attempts", "granted_by", "granted_at", "reason"]
    search_fields = [
        "person__first_name",
        "person__last_name",
        "person__partner__name",
        "quiz__course__title",
    ]
    list_select_related = ["person", "quiz__course", "granted_by"]


@admin.register(QuizAttempt)
class QuizAttemptAdmin(LearnerFactAdmin):
    list_display = ["person", "quiz", "score_percent", "passed", "made_at"]
    list_filter = ["passed"]
    search_fields = ["person__first_name", "person__last_name", "person__partner__name"]
    list_select_related = ["person", "quiz__course"]


@admin.register(Completion)
class CompletionAdmin(LearnerFactAdmin):
    list_display = ["person", "course", "completed_at", "score_percent", "source"]
    list_filter = ["source", "course__track"]
    search_fields = ["person__first_name", "person__last_name", "person__partner__name", "course__title"]
    list_select_related = ["person", "course"]
    date_hierarchy = "completed_at"

    # Deleting revokes through the service, so what the completion earned is reversed.
    def delete_model(self, request, obj):
        services.completion_revoke(actor=request.user, completion=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.completion_revoke(actor=request.user, completion=obj)


class ContentAssetForm(forms.ModelForm):
    """Partner types and regions as boxes to tick; an uploaded file checked by its content."""

    partner_types = forms.MultipleChoiceField(
        choices=PartnerType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only partners of these types see the asset; none ticked means any type.",
    )
    regions = forms.MultipleChoiceField(
        choices=Region.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only partners in these regions see the asset; none ticked means any region.",
    )

    url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", help_text="The address a link asset opens."
    )

    class Meta:
        model = ContentAsset
        fields = [
            "title",
            "description",
            "category",
            "kind",
            "file",
            "file_name",
            "url",
            "tags",
            "product_lines",
            "programs",
            "tiers",
            "segments",
            "partner_types",
            "regions",
            "needs_content_access",
            "download_activity_type",
            "download_points",
            "published_from",
            "is_active",
        ]
        widgets = {"file": forms.ClearableFileInput(attrs={"accept": library.LIBRARY_ACCEPT})}

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and hasattr(upload, "content_type"):
            # A new upload: its type is read from its bytes, never from what the browser declared.
            self.instance.file_content_type = library.validate_asset_file(upload)
            self.instance.file_size = upload.size
        return upload

    def clean(self):
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload and hasattr(upload, "content_type") and not cleaned.get("file_name"):
            cleaned["file_name"] = upload.name.rsplit("/", 1)[-1][:200]
        return cleaned

    def full_clean(self):
        super().full_clean()
        # A refused upload leaves no file, so the model adds "upload the file": say why once.
        refused = self.errors.get("file") if self.is_bound else None
        if refused and len(refused) > 1:
            del refused[1:]


@admin.register(ContentAsset)
class ContentAssetAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """The library's assets; saves and deletions audited through ``enablement.library``."""

    form = ContentAssetForm
    list_display = ["title", "category", "kind", "is_active", "published_from", "downloads", "partners"]
    list_filter = ["category", "kind", "is_active", "needs_content_access", "product_lines"]
    search_fields = ["title", "description", "tags"]
    filter_horizontal = ["product_lines", "programs", "tiers", "segments"]
    autocomplete_fields = ["download_activity_type"]
    readonly_fields = ["file_content_type", "file_size"]

    def get_queryset(self, request):
        # Downloads counted for the partners the manager covers only.
        covered = Q(downloads__partner__in=Partner.objects.visible_to(request.user))
        return (
            super()
            .get_queryset(request)
            .annotate(
                download_count=Count("downloads", filter=covered, distinct=True),
                partner_count=Count("downloads__partner", filter=covered, distinct=True),
            )
        )

    @admin.display(description="Downloads", ordering="download_count")
    def downloads(self, obj) -> int:
        return obj.download_count

    @admin.display(description="Partners downloading", ordering="partner_count")
    def partners(self, obj) -> int:
        return obj.partner_count

    def save_model(self, request, obj, form, change):
        library.asset_save(actor=request.user, asset=obj, created=not change, fields=form.changed_data)

    def delete_model(self, request, obj):
        library.asset_delete(actor=request.user, asset=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            library.asset_delete(actor=request.user, asset=obj)


@admin.register(ContentDownload)
class ContentDownloadAdmin(LearnerFactAdmin):
    list_display = ["asset", "partner", "user", "downloaded_at"]
    list_filter = ["asset__category"]
    search_fields = ["asset__title", "partner__name"]
    list_select_related = ["asset", "partner", "user"]
    date_hierarchy = "downloaded_at"
