"""Webhook subscriptions for staff integrators, and the delivery log with redelivery."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from api.pagination import FactCursorPagination, PagePagination
from api.permissions import require_vendor_wide
from api.serializers.webhooks import (
    DeliverySerializer,
    RedeliveredSerializer,
    RedeliverSerializer,
    RotateSecretSerializer,
    SubscriptionSerializer,
    SubscriptionWithSecretSerializer,
)
from api.views.base import ScopedViewMixin
from core.door import principal_user
from webhooks import services
from webhooks.filtersets import DeliveryFilterSet
from webhooks.models import WebhookDelivery, WebhookSubscription

STAFF_ONLY = "Webhook subscriptions are for staff: ask your channel manager."


@extend_schema_view(
    list=extend_schema(summary="Your webhook subscriptions"),
    create=extend_schema(
        summary="Subscribe a URL to events",
        description="The answer holds the signing secret, shown this once.",
        responses={201: SubscriptionWithSecretSerializer},
    ),
    partial_update=extend_schema(summary="Change a subscription (is_active=true enables a disabled one)"),
    update=extend_schema(summary="Replace a subscription"),
)
# No DELETE: through the API a subscription is stopped with is_active=false, which keeps its
# delivery log; deleting one (and its log) is for the admin.
class WebhookSubscriptionViewSet(
    ScopedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    resource = "webhooks"
    serializer_class = SubscriptionSerializer
    pagination_class = PagePagination
    ordering_fields = ["id", "created_at"]
    ordering = ["id"]
    write_permissions = {
        "create": ["webhooks.add_webhooksubscription"],
        "update": ["webhooks.change_webhooksubscription"],
        "partial_update": ["webhooks.change_webhooksubscription"],
        "rotate_secret": ["webhooks.change_webhooksubscription"],
    }

    def scoped_queryset(self):
        return (
            WebhookSubscription.objects.visible_to(self.principal)
            .select_related("owner")
            .prefetch_related("programs", "partners")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.principal}

    def _fields(self, data) -> dict:
        names = ("url", "event_types", "description", "programs", "partners", "is_active")
        return {name: data[name] for name in names if name in data}

    def create(self, request, *args, **kwargs):
        if not principal_user(self.principal).is_staff:
            raise PermissionDenied(STAFF_ONLY)
        require_vendor_wide(self.principal)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.subscription_create(
            actor=request.user,
            owner=principal_user(self.principal),
            **self._fields(serializer.validated_data),
        )
        output = SubscriptionWithSecretSerializer(subscription, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.subscription_update(
            actor=self.request.user,
            subscription=serializer.instance,
            **self._fields(serializer.validated_data),
        )

    @extend_schema(
        summary="Rotate the signing secret",
        description="The previous secret keeps signing beside the new one for overlap_hours (24 by default).",
        request=RotateSecretSerializer,
        responses=SubscriptionWithSecretSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        subscription = self.get_object()
        form = RotateSecretSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        rotated = services.subscription_rotate_secret(
            actor=request.user,
            subscription=subscription,
            overlap_hours=form.validated_data.get("overlap_hours"),
        )
        return Response(SubscriptionWithSecretSerializer(rotated, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(summary="The delivery log of your subscriptions, newest first"),
    retrieve=extend_schema(summary="A delivery with every attempt"),
)
class WebhookDeliveryViewSet(ScopedViewMixin, viewsets.ReadOnlyModelViewSet):
    resource = "webhooks"
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilterSet
    pagination_class = FactCursorPagination
    write_permissions = {"redeliver": None, "redeliver_many": None}

    def scoped_queryset(self):
        return (
            WebhookDelivery.objects.visible_to(self.principal)
            .select_related("event")
            .prefetch_related("attempt_log")
        )

    def _redeliver(self, ids) -> Response:
        """Send again the deliveries among ``ids`` the door lets the caller redeliver."""
        deliveries = WebhookDelivery.objects.actionable_by(self.principal, "redeliver").filter(pk__in=ids)
        count = services.deliveries_redeliver(actor=self.request.user, deliveries=deliveries)
        return Response(RedeliveredSerializer({"redelivered": count}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Send a delivery again (same webhook-id)",
        request=None,
        responses={202: RedeliveredSerializer},
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        return self._redeliver([delivery.pk])

    @extend_schema(
        summary="Send many deliveries again",
        operation_id="v1_webhook_deliveries_redeliver_many",
        description="Ids you cannot see are left out; the answer counts those queued.",
        request=RedeliverSerializer,
        responses={202: RedeliveredSerializer},
        filters=False,
    )
    @action(detail=False, methods=["post"], url_path="redeliver", filterset_class=None, pagination_class=None)
    def redeliver_many(self, request):
        form = RedeliverSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._redeliver(form.validated_data["ids"])


def register(router) -> None:
    router.register("webhook-subscriptions", WebhookSubscriptionViewSet, basename="webhook-subscription")
    router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
