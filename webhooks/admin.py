"""Webhook subscriptions and their delivery log in the admin.

Channel managers create subscriptions for themselves; the signing secret is
shown once, in the message after saving or rotating. Saves go through
``webhooks.services``; the delivery log redelivers one or many by hand.
"""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from events.catalogue import EVENT_TYPES
from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin
from webhooks import services
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription

EVENT_CHOICES = [(event.name, f"{event.name}: {event.summary}") for event in EVENT_TYPES.values()]


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)
    actor = None

    class Meta:
        model = WebhookSubscription
        fields = ["url", "description", "event_types", "programs", "partners", "is_active"]

    def clean(self):
        data = super().clean() or {}
        if self.errors:
            return data
        errors = services.subscription_errors(
            actor=self.actor,
            url=data["url"],
            event_types=data["event_types"],
            programs=data.get("programs") or [],
            partners=data.get("partners") or [],
        )
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return data


class AttemptInline(CoverageInlineMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "latency_ms", "error", "response_excerpt", "succeeded")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(CoverageAdminMixin, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("url", "owner", "events", "is_active", "disabled_at", "delivery_log")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = ("owner", "disabled_at", "disabled_reason", "consecutive_failures", "created_at")
    filter_horizontal = ("programs", "partners")
    actions = ["rotate_secret", "enable"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")

    @admin.display(description="events")
    def events(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types)

    @admin.display(description="deliveries")
    def delivery_log(self, obj: WebhookSubscription) -> str:
        return format_html(
            '<a href="../webhookdelivery/?subscription__id__exact={}">delivery log</a>', obj.pk
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {
            "url": data["url"],
            "event_types": data["event_types"],
            "description": data.get("description", ""),
            "programs": data.get("programs") or [],
            "partners": data.get("partners") or [],
            "is_active": data.get("is_active", True),
        }
        if change:
            services.subscription_update(actor=request.user, subscription=obj, **fields)
            return
        created = services.subscription_create(actor=request.user, owner=request.user, **fields)
        obj.pk, obj.owner, obj.secret = created.pk, created.owner, created.secret
        self.message_user(
            request,
            f"Signing secret of {created.url}: {created.secret} — copy it now, it is not shown again.",
            messages.WARNING,
        )

    def delete_model(self, request, obj):
        services.subscription_delete(actor=request.user, subscription=obj)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            services.subscription_delete(actor=request.user, subscription=subscription)

    def save_related(self, request, form, formsets, change):
        # The service set the programs and partners; the inlines (the log) are read-only.
        pass

    @admin.action(description="Rotate the signing secret (the old one signs for the overlap period)")
    def rotate_secret(self, request, queryset):
        for subscription in queryset:
            rotated = services.subscription_rotate_secret(actor=request.user, subscription=subscription)
            self.message_user(
                request,
                f"New signing secret of {rotated.url}: {rotated.secret} — copy it now, it is not shown again. "
                f"The previous one signs too until {rotated.previous_secret_expires_at:%d %b %Y %H:%M}.",
                messages.WARNING,
            )

    @admin.action(description="Enable again")
    def enable(self, request, queryset):
        for subscription in queryset:
            services.subscription_update(actor=request.user, subscription=subscription, is_active=True)
        self.message_user(request, "Enabled.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event_type",
        "subscription",
        "state",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("state", "subscription")
    readonly_fields = (
        "subscription",
        "webhook_id",
        "event_type",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "delivered_at",
        "created_at",
    )
    fields = readonly_fields
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subscription", "event")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.event.webhook_id

    @admin.display(description="event")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.event_type

    @admin.action(description="Redeliver (same webhook-id)")
    def redeliver(self, request, queryset):
        allowed = queryset.actionable_by(request.user, "redeliver")
        count = services.deliveries_redeliver(actor=request.user, deliveries=allowed)
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)
