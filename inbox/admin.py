"""Announcements in the admin: drafted, then published to their audience's inboxes."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from inbox import selectors, services
from inbox.models import Announcement
from partners.admin_coverage import CoverageAdminMixin


@admin.register(Announcement)
class AnnouncementAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ("title", "published_at", "send_email", "delivered_at", "read_count")
    list_filter = ("programs", "send_email")
    search_fields = ("title",)
    filter_horizontal = ("programs", "segments")
    readonly_fields = ("delivered_at", "read_by")
    fields = (
        "title",
        "body",
        "programs",
        "segments",
        "published_at",
        "send_email",
        "delivered_at",
        "read_by",
    )
    actions = ["publish_now"]

    def get_queryset(self, request):
        # Read receipts are the audience's inbox items read, among the partners the manager covers.
        return super().get_queryset(request).annotate(read_total=selectors.read_count_subquery(request.user))

    @admin.display(description="Read by", ordering="read_total")
    def read_count(self, obj) -> int:
        return obj.read_total

    @admin.display(description="Read receipts")
    def read_by(self, obj) -> str:
        if obj.pk is None:
            return "–"
        receipts = getattr(obj, "receipts", [])
        if not receipts:
            return "Nobody has read it yet."
        return format_html_join(
            mark_safe("<br>"),
            "{} ({}) – {}",
            (
                (
                    r.user,
                    r.partner or "distributor",
                    date_format(timezone.localtime(r.read_at), "DATETIME_FORMAT"),
                )
                for r in receipts
            ),
        )

    def get_object(self, request, object_id, from_field=None):
        announcement = super().get_object(request, object_id, from_field)
        if announcement is not None:
            # Who read it among the partners this manager covers, for the change page (one query).
            announcement.receipts = selectors.read_receipts(
                request_user=request.user, announcement=announcement
            )
        return announcement

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Published (now or in the past) with its audience saved: deliver it at once; the daily
        # run delivers one scheduled for later. Delivery is claimed, so saving again writes nothing.
        announcement = form.instance
        if announcement.published_at is not None and announcement.published_at <= timezone.now():
            services.announcement_deliver(announcement_id=announcement.pk)

    @admin.action(description="Publish now to their inboxes")
    def publish_now(self, request, queryset):
        written = 0
        for announcement in queryset:
            try:
                written += services.announcement_publish(actor=request.user, announcement=announcement)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return
        self.message_user(request, f"Published; {written} inbox items written.", messages.SUCCESS)
