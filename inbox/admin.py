"""Announcements in the admin: drafted, then published to their audience's inboxes."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from inbox import services
from inbox.models import Announcement
from partners.admin_coverage import CoverageAdminMixin


@admin.register(Announcement)
class AnnouncementAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ("title", "program", "segment", "published_at", "delivered_at")
    list_filter = ("program",)
    search_fields = ("title",)
    readonly_fields = ("delivered_at",)
    actions = ["publish_now"]

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
