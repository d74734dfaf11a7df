"""Deal registrations and MDF requests: every command calls the deals services.

The services check who may act (and check it again under their locks); the
views fetch the object through the scoped queryset first, so that an object
the caller cannot see answers 404 before any rule is evaluated.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api.scoping import request_principal
from api.serializers.deals import (
    DealRegistrationSerializer,
    DealSerializer,
    DealWonSerializer,
    MdfApproveSerializer,
    MdfClaimSerializer,
    MdfPaidSerializer,
    MdfRequestCreateSerializer,
    MdfRequestSerializer,
    OptionalReasonSerializer,
    ReasonSerializer,
)
from api.views.base import ReadOnlyViewSet
from deals import mdf as mdf_services
from deals import services as deal_services
from deals.filtersets import DealFilterSet, MdfRequestFilterSet
from deals.models import Deal, MdfRequest
from partners.models import Membership, Partner


def _input(serializer_class, request):
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data


def _partner_for(request, partner_id: int | None):
    """The organisation a partner user acts for: its own unless it names one it can see."""
    if partner_id is None:
        membership = Membership.for_user(request.user)
        if membership is None or membership.partner_id is None:
            raise ValidationError({"partner": ["Name the partner."]})
        partner_id = membership.partner_id
    partner = Partner.objects.visible_to(request_principal(request)).filter(pk=partner_id).first()
    if partner is None:
        raise ValidationError({"partner": ["No partner with this id among those you can see."]})
    return partner


@extend_schema_view(
    list=extend_schema(summary="Deal registrations you can see"),
    create=extend_schema(
        summary="Register a deal",
        request=DealRegistrationSerializer,
        responses={201: DealSerializer},
        description="Partner admins and sellers register for their organisation, when it holds the "
        "deal-registration benefit. A customer another partner claims is accepted and flagged for review.",
    ),
)
class DealViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    resource = "deals"
    serializer_class = DealSerializer
    ordering_fields = ["id", "registered_on", "expected_close", "expected_value"]
    ordering = ["-registered_on", "-id"]
    filterset_class = DealFilterSet
    # The services decide who may act on a deal.
    write_permissions = {"create": None, "approve": None, "reject": None, "won": None, "lost": None}

    def scoped_queryset(self):
        return (
            Deal.objects.visible_to(self.principal)
            .select_related("customer_segment")
            .prefetch_related("products")
        )

    def create(self, request, *args, **kwargs):
        data = _input(DealRegistrationSerializer, request)
        partner = _partner_for(request, data.pop("partner", None))
        deal = deal_services.deal_register(actor=request.user, partner=partner, **data)
        return Response(self.get_serializer(deal).data, status=status.HTTP_201_CREATED)

    def _respond(self, deal):
        return Response(self.get_serializer(self.scoped_queryset().get(pk=deal.pk)).data)

    @extend_schema(summary="Approve a registration", request=None, responses=DealSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._respond(deal_services.deal_approve(actor=request.user, deal=self.get_object()))

    @extend_schema(summary="Reject a registration", request=ReasonSerializer, responses=DealSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        deal = self.get_object()
        data = _input(ReasonSerializer, request)
        return self._respond(deal_services.deal_reject(actor=request.user, deal=deal, reason=data["reason"]))

    @extend_schema(
        summary="Mark a registration won",
        description="The deal becomes a won sale (source “deal”) and the partner is re-evaluated.",
        request=DealWonSerializer,
        responses=DealSerializer,
    )
    @action(detail=True, methods=["post"])
    def won(self, request, pk=None):
        deal = self.get_object()
        data = _input(DealWonSerializer, request)
        return self._respond(deal_services.deal_mark_won(actor=request.user, deal=deal, **data))

    @extend_schema(
        summary="Mark a registration lost", request=OptionalReasonSerializer, responses=DealSerializer
    )
    @action(detail=True, methods=["post"])
    def lost(self, request, pk=None):
        deal = self.get_object()
        data = _input(OptionalReasonSerializer, request)
        return self._respond(
            deal_services.deal_mark_lost(actor=request.user, deal=deal, reason=data["reason"])
        )


@extend_schema_view(
    list=extend_schema(summary="MDF requests you can see"),
    create=extend_schema(
        summary="Request market development funds",
        request=MdfRequestCreateSerializer,
        responses={201: MdfRequestSerializer},
    ),
)
class MdfRequestViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    resource = "deals"
    serializer_class = MdfRequestSerializer
    ordering_fields = ["id", "created_at", "amount"]
    ordering = ["-created_at", "-id"]
    filterset_class = MdfRequestFilterSet
    write_permissions = {
        "create": None,
        "approve": None,
        "reject": None,
        "withdraw": None,
        "claim": None,
        "paid": None,
    }

    def scoped_queryset(self):
        return MdfRequest.objects.visible_to(self.principal)

    def create(self, request, *args, **kwargs):
        data = _input(MdfRequestCreateSerializer, request)
        partner = _partner_for(request, data.pop("partner", None))
        mdf_request = mdf_services.mdf_request_create(actor=request.user, partner=partner, **data)
        return Response(self.get_serializer(mdf_request).data, status=status.HTTP_201_CREATED)

    def _respond(self, mdf_request):
        return Response(self.get_serializer(self.scoped_queryset().get(pk=mdf_request.pk)).data)

    @extend_schema(
        summary="Approve an MDF request", request=MdfApproveSerializer, responses=MdfRequestSerializer
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        mdf_request = self.get_object()
        data = _input(MdfApproveSerializer, request)
        return self._respond(
            mdf_services.mdf_request_approve(
                actor=request.user, request=mdf_request, amount=data.get("amount")
            )
        )

    @extend_schema(summary="Reject an MDF request", request=ReasonSerializer, responses=MdfRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        mdf_request = self.get_object()
        data = _input(ReasonSerializer, request)
        return self._respond(
            mdf_services.mdf_request_reject(actor=request.user, request=mdf_request, reason=data["reason"])
        )

    @extend_schema(summary="Withdraw an MDF request", request=None, responses=MdfRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._respond(mdf_services.mdf_request_withdraw(actor=request.user, request=self.get_object()))

    @extend_schema(
        summary="Claim approved funds with proof of performance",
        request={"multipart/form-data": MdfClaimSerializer},
        responses=MdfRequestSerializer,
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def claim(self, request, pk=None):
        mdf_request = self.get_object()
        data = _input(MdfClaimSerializer, request)
        return self._respond(
            mdf_services.mdf_claim(
                actor=request.user, request=mdf_request, amount=data["amount"], proof=data["proof"]
            )
        )

    @extend_schema(
        summary="Record the payment of a claim", request=MdfPaidSerializer, responses=MdfRequestSerializer
    )
    @action(detail=True, methods=["post"])
    def paid(self, request, pk=None):
        mdf_request = self.get_object()
        data = _input(MdfPaidSerializer, request)
        return self._respond(
            mdf_services.mdf_mark_paid(actor=request.user, request=mdf_request, reference=data["reference"])
        )


def register(router) -> None:
    router.register("deals", DealViewSet, basename="deal")
    router.register("mdf-requests", MdfRequestViewSet, basename="mdf-request")
