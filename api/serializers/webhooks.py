"""Webhook subscriptions and their delivery log."""

from rest_framework import serializers

from core.serializers import StrictModelSerializer, StrictSerializer
from events.catalogue import EVENT_TYPES
from partners.models import Partner
from programs.models import Program
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription


class SubscriptionSerializer(StrictModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)),
        allow_empty=False,
        max_length=len(EVENT_TYPES),
        help_text="The event types sent (see the webhooks section of this document).",
    )
    programs = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Program.objects.none(), help_text="Only events of these programs."
    )
    partners = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Partner.objects.none(), help_text="Only events of these partners."
    )
    url = serializers.URLField(max_length=500)
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "programs",
            "partners",
            "is_active",
            "owner",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["id", "owner", "disabled_at", "disabled_reason", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        principal = self.context.get("principal")
        if principal is not None:
            # Choices through the door: an id the caller may not see is "does not exist".
            for name, queryset in (
                ("programs", Program.objects.visible_to(principal)),
                ("partners", Partner.objects.visible_to(principal)),
            ):
                field = self.fields[name]
                assert isinstance(field, serializers.ManyRelatedField)
                field.child_relation.queryset = queryset  # type: ignore[arg-type]  # the stubs read it as a manager


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_…): shown on creation and rotation only."
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class RotateSecretSerializer(StrictSerializer):
    overlap_hours = serializers.IntegerField(
        required=False, min_value=0, max_value=720, help_text="Hours the previous secret keeps signing."
    )


class AttemptSerializer(StrictModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "status_code", "latency_ms", "response_excerpt", "error", "succeeded"]
        read_only_fields = fields


class DeliverySerializer(StrictModelSerializer):
    webhook_id = serializers.CharField(source="event.webhook_id", read_only=True)
    event_type = serializers.CharField(source="event.event_type", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "webhook_id",
            "event_type",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "delivered_at",
            "created_at",
            "attempt_log",
        ]
        read_only_fields = fields


class RedeliverSerializer(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        allow_empty=False,
        min_length=1,
        max_length=1000,
        help_text="Deliveries to send again, with their event's id.",
    )


class RedeliveredSerializer(StrictSerializer):
    redelivered = serializers.IntegerField()
