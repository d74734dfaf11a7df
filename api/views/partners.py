"""Partners, people, facts (with bulk ingestion) and the reference codes facts use."""

from typing import Any

from django.db import models
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.response import Response

from api.parsers import DecimalJSONParser
from api.permissions import VendorWideWritesMixin, require_vendor_wide
from api.schema import ErrorSerializer
from api.scoping import request_token
from api.selectors import standing_by_program
from api.serializers import ingestion as ingestion_serializers
from api.serializers.partners import (
    ActivitySerializer,
    ActivityTypeSerializer,
    CertificationSerializer,
    CertificationTypeSerializer,
    ExchangeRateSerializer,
    PartnerMoveReasonSerializer,
    PartnerMoveSerializer,
    PartnerSerializer,
    PersonSerializer,
    ProductLineSerializer,
    ProficiencySerializer,
    ReferenceSerializer,
    SaleSerializer,
    ServiceOfferingSerializer,
    change_serializer,
)
from api.serializers.programs import ProgramSerializer
from api.serializers.standing import PartnerStandingSerializer
from api.views.base import FactViewSet, ReadOnlyViewSet
from core.door import principal_user
from core.models import ExchangeRate
from gates.standing import partner_standing, partner_warnings
from partners import ingestion
from partners import services as partner_services
from partners.filtersets import (
    ActivityFilterSet,
    CertificationFilterSet,
    ExchangeRateFilterSet,
    PartnerFilterSet,
    PersonFilterSet,
    ProficiencyFilterSet,
    SaleFilterSet,
)
from partners.models import (
    ActivityType,
    Certification,
    CertificationType,
    EngagementActivity,
    LifecycleStatus,
    Partner,
    Person,
    ProductLine,
    Sale,
    ServiceOffering,
    ServiceProficiency,
)
from programs.models import Program


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with a concurrent change; send it again."
    default_code = "conflict"


# command -> (the status it moves to, the statuses it starts from or None for any the table allows,
# the refusal when it starts elsewhere, whether a reason is required)
LIFECYCLE_COMMANDS: dict[str, tuple[str, frozenset[str] | None, str, bool]] = {
    "onboard": (LifecycleStatus.ONBOARDING, None, "", False),
    "activate": (
        LifecycleStatus.ACTIVE,
        frozenset({LifecycleStatus.PROSPECT, LifecycleStatus.ONBOARDING}),
        "Only a prospect or onboarding partner is activated; a suspended one is reinstated.",
        False,
    ),
    "suspend": (LifecycleStatus.SUSPENDED, None, "", True),
    "reinstate": (
        LifecycleStatus.ACTIVE,
        frozenset({LifecycleStatus.SUSPENDED}),
        "Only a suspended partner is reinstated.",
        False,
    ),
    "terminate": (LifecycleStatus.TERMINATED, None, "", True),
}
_MOVE_SUMMARIES = {
    "onboard": "Start onboarding a partner",
    "activate": "Activate a prospect or onboarding partner",
    "suspend": "Suspend a partner",
    "reinstate": "Reinstate a suspended partner",
    "terminate": "Terminate a partner (final)",
}


def _move_schema(command: str):
    required = LIFECYCLE_COMMANDS[command][3]
    return extend_schema(
        summary=_MOVE_SUMMARIES[command],
        description="The partner is re-evaluated shortly after: its status is a criterion gates and "
        "segments may read. The move is audited with its reason" + (" (required)." if required else "."),
        request=PartnerMoveReasonSerializer if required else PartnerMoveSerializer,
        responses={
            200: PartnerSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="The partner's present status does not allow this move."
            ),
        },
        filters=False,
    )


def require_vendor_wide_staff(principal) -> None:
    """New partners are the vendor's: staff, with a token (if any) for every partner."""
    if not principal_user(principal).is_staff:
        raise PermissionDenied("Partners are created by the vendor's staff.")
    require_vendor_wide(principal)


@extend_schema_view(
    list=extend_schema(summary="Partners you can see"),
    retrieve=extend_schema(summary="A partner"),
    create=extend_schema(
        summary="Create a partner",
        description="Vendor-wide staff only. It starts as a prospect; its status then moves through "
        "the lifecycle commands. It must be in your coverage (a region you cover, or you as its "
        "channel manager).",
    ),
    update=extend_schema(summary="Replace a partner", description="The status is not written here."),
    partial_update=extend_schema(summary="Change a partner", description="The status is not written here."),
)
class PartnerViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ReadOnlyViewSet):
    resource = "partners"
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilterSet
    ordering_fields = ["id", "name", "joined_on", "updated_at"]
    ordering = ["name", "id"]
    write_permissions = {
        "create": ["partners.add_partner"],
        "update": ["partners.change_partner"],
        "partial_update": ["partners.change_partner"],
        **{command: ["partners.change_partner"] for command in LIFECYCLE_COMMANDS},
    }

    def scoped_queryset(self):
        return Partner.objects.visible_to(self.principal)

    def perform_create(self, serializer):
        require_vendor_wide_staff(self.principal)
        serializer.instance = partner_services.partner_save(
            actor=self.request.user, partner=serializer.validated_data["_partner"], principal=self.principal
        )

    def perform_update(self, serializer):
        serializer.instance = partner_services.partner_save(
            actor=self.request.user, partner=serializer.validated_data["_partner"], principal=self.principal
        )

    def _move(self, request, command: str):
        partner = self.get_object()
        destination, starts, refused, reason_required = LIFECYCLE_COMMANDS[command]
        form = (PartnerMoveReasonSerializer if reason_required else PartnerMoveSerializer)(data=request.data)
        form.is_valid(raise_exception=True)
        partner_services.partner_move(
            actor=request.user,
            partner=partner,
            status=destination,
            reason=form.validated_data["reason"],
            principal=self.principal,
            from_statuses=starts,
            refused=refused,
        )
        return Response(self.get_serializer(self.get_object()).data)

    @_move_schema("onboard")
    @action(detail=True, methods=["post"], filterset_class=None)
    def onboard(self, request, pk=None):
        return self._move(request, "onboard")

    @_move_schema("activate")
    @action(detail=True, methods=["post"], filterset_class=None)
    def activate(self, request, pk=None):
        return self._move(request, "activate")

    @_move_schema("suspend")
    @action(detail=True, methods=["post"], filterset_class=None)
    def suspend(self, request, pk=None):
        return self._move(request, "suspend")

    @_move_schema("reinstate")
    @action(detail=True, methods=["post"], filterset_class=None)
    def reinstate(self, request, pk=None):
        return self._move(request, "reinstate")

    @_move_schema("terminate")
    @action(detail=True, methods=["post"], filterset_class=None)
    def terminate(self, request, pk=None):
        return self._move(request, "terminate")

    def open_programs(self, partner):
        """The active programs the partner qualifies for, among those the caller may see."""
        return (
            Program.objects.visible_to(self.principal)
            .filter(pk__in=Program.objects.for_partner(partner).values("pk"))
            .order_by("name", "id")
        )

    @extend_schema(
        summary="Programs open to this partner",
        description="The active programs the partner qualifies for: open to all, or through its segments.",
        responses=ProgramSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["id"])
    def programs(self, request, pk=None):
        partner = self.get_object()
        page = self.paginate_queryset(self.open_programs(partner))
        return self.get_paginated_response(ProgramSerializer(page, many=True).data)

    @extend_schema(
        summary="A partner's whole current standing",
        description="Per program open to the partner: the tier it holds (and its grace, if it no longer "
        "qualifies), the benefits it holds, and every gate in effect with its progress criterion by "
        "criterion and whether it is at risk, with the forecast. Values are those of the last evaluation.",
        responses=PartnerStandingSerializer,
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def standing(self, request, pk=None):
        partner = self.get_object()
        as_of = timezone.localdate()
        body = standing_by_program(
            partner=partner,
            programs=list(self.open_programs(partner)),
            # Recent changes are lists of their own (tier-changes, gate-status-changes).
            standing=partner_standing(self.principal, partner, as_of=as_of, changes=0),
            warnings=partner_warnings(self.principal, partner),
            as_of=as_of,
        )
        return Response(PartnerStandingSerializer(body).data)


_FACTS_KEY = "(source, external_id)"
_FACTS_REEVALUATED = "The partners whose facts changed are re-evaluated shortly after."


def _bulk_schema(
    batch_serializer, summary: str, *, key: str = _FACTS_KEY, reevaluated: str = _FACTS_REEVALUATED
):
    return extend_schema(
        summary=summary,
        description=(
            f"Create or update up to 5,000 records keyed on {key}. Sending the same "
            "batch again changes nothing. Each record is reported created, updated, unchanged or "
            "rejected with its reasons; rejected records do not stop the others. " + reevaluated
        ),
        request=batch_serializer,
        responses={
            200: ingestion_serializers.IngestionReportSerializer,
            409: OpenApiResponse(ErrorSerializer, description="A concurrent change; send the batch again."),
        },
        filters=False,
    )


class _BulkIngestionMixin:
    """The ``bulk`` action's body: the envelope (source, records), the token's source, the report."""

    ingest = staticmethod(ingestion.ingest_sales)
    principal: Any

    def run_bulk(self, request):
        data = request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object with source and records."]})
        unknown = sorted(set(data) - {"source", "records"})
        if unknown:
            raise ValidationError({name: ["Unknown field."] for name in unknown})
        token = request_token(request)
        source = data.get("source")
        if token is not None and token.source:
            if source not in (None, token.source):
                raise ValidationError(
                    {"source": [f"This token sends facts for the source {token.source!r} only."]}
                )
            source = token.source
        if source is None:
            raise ValidationError({"source": ["Name the sending system, e.g. salesforce."]})
        if "records" not in data:
            raise ValidationError({"records": ["This field is required."]})
        try:
            report = type(self).ingest(
                actor=request.user,
                source=source,
                records=data["records"],
                principal=self.principal,
                audit_data={"token": token.identifier} if token is not None else {},
            )
        except ingestion.BatchError as exc:
            raise ValidationError(exc.errors) from exc
        except ingestion.BatchConflict as exc:
            raise Conflict(str(exc)) from exc
        return Response(report.as_dict(), status=status.HTTP_200_OK)


class _IngestingFactViewSet(_BulkIngestionMixin, FactViewSet):
    resource = "facts"

    def perform_destroy(self, instance):
        ingestion.fact_delete(actor=self.request.user, fact=instance, principal=self.principal)


class PersonViewSet(_BulkIngestionMixin, ReadOnlyViewSet):
    resource = "partners"
    serializer_class = PersonSerializer
    filterset_class = PersonFilterSet
    ordering_fields = ["id", "last_name", "created_at", "updated_at"]
    ordering = ["last_name", "first_name", "id"]
    ingest = staticmethod(ingestion.ingest_people)
    write_permissions = {"bulk": ["partners.add_person", "partners.change_person"]}

    def scoped_queryset(self):
        return Person.objects.visible_to(self.principal)

    @_bulk_schema(
        ingestion_serializers.PersonBatchSerializer,
        "Send partners' people in bulk",
        key="(partner, external_id), or else the e-mail within the partner",
        reevaluated="The partners whose people became active or inactive are re-evaluated shortly after.",
    )
    @action(detail=False, methods=["post"], parser_classes=[DecimalJSONParser])
    def bulk(self, request):
        return self.run_bulk(request)


class CertificationViewSet(_IngestingFactViewSet):
    serializer_class = CertificationSerializer
    filterset_class = CertificationFilterSet
    ingest = staticmethod(ingestion.ingest_certifications)
    write_permissions = {
        "bulk": ["partners.add_certification", "partners.change_certification"],
        "destroy": ["partners.delete_certification"],
    }

    def scoped_queryset(self):
        return Certification.objects.visible_to(self.principal).select_related("person", "certification_type")

    @_bulk_schema(ingestion_serializers.CertificationBatchSerializer, "Send certifications in bulk")
    @action(detail=False, methods=["post"], parser_classes=[DecimalJSONParser])
    def bulk(self, request):
        return self.run_bulk(request)


class SaleViewSet(_IngestingFactViewSet):
    serializer_class = SaleSerializer
    filterset_class = SaleFilterSet
    ingest = staticmethod(ingestion.ingest_sales)
    write_permissions = {
        "bulk": ["partners.add_sale", "partners.change_sale"],
        "destroy": ["partners.delete_sale"],
    }

    def scoped_queryset(self):
        return Sale.objects.visible_to(self.principal).select_related("product_line", "customer_segment")

    @_bulk_schema(ingestion_serializers.SaleBatchSerializer, "Send won sales in bulk")
    @action(detail=False, methods=["post"], parser_classes=[DecimalJSONParser])
    def bulk(self, request):
        return self.run_bulk(request)


class ActivityViewSet(_IngestingFactViewSet):
    serializer_class = ActivitySerializer
    filterset_class = ActivityFilterSet
    ingest = staticmethod(ingestion.ingest_activities)
    write_permissions = {
        "bulk": ["partners.add_engagementactivity", "partners.change_engagementactivity"],
        "destroy": ["partners.delete_engagementactivity"],
    }

    def scoped_queryset(self):
        return EngagementActivity.objects.visible_to(self.principal).select_related("activity_type")

    @_bulk_schema(ingestion_serializers.ActivityBatchSerializer, "Send engagement activities in bulk")
    @action(detail=False, methods=["post"], parser_classes=[DecimalJSONParser])
    def bulk(self, request):
        return self.run_bulk(request)


class ProficiencyViewSet(_BulkIngestionMixin, ReadOnlyViewSet):
    resource = "facts"
    serializer_class = ProficiencySerializer
    filterset_class = ProficiencyFilterSet
    ordering = ["id"]
    ingest = staticmethod(ingestion.ingest_proficiencies)
    write_permissions = {
        "bulk": ["partners.add_serviceproficiency", "partners.change_serviceproficiency"],
    }

    def scoped_queryset(self):
        return ServiceProficiency.objects.visible_to(self.principal).select_related("offering")

    @_bulk_schema(ingestion_serializers.ProficiencyBatchSerializer, "Send service proficiencies in bulk")
    @action(detail=False, methods=["post"], parser_classes=[DecimalJSONParser])
    def bulk(self, request):
        return self.run_bulk(request)


def _reference_schema(noun: str):
    in_use = OpenApiResponse(ErrorSerializer, description=f"Facts or definitions still name this {noun}.")
    return extend_schema_view(
        list=extend_schema(summary=f"{noun.capitalize()}s"),
        retrieve=extend_schema(summary=f"A {noun}"),
        create=extend_schema(summary=f"Add a {noun}", description="A code taken answers 409."),
        update=extend_schema(summary=f"Replace a {noun}", description="The code stays as created."),
        partial_update=extend_schema(summary=f"Change a {noun}", description="The code stays as created."),
        destroy=extend_schema(summary=f"Delete a {noun}", responses={204: None, 409: in_use}),
    )


class _ReferenceViewSet(
    VendorWideWritesMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ReadOnlyViewSet,
):
    """The vendor's codes (product lines, certification types...): the same for everybody signed in.

    Staff holding the model permissions change them, with a session or a token for
    every partner, through ``partners.services`` (audited, recorded in the history).
    A code facts still name is not deleted: 409.
    """

    resource = "reference"

    filterset_class = None
    ordering_fields = ["id", "code", "name"]
    ordering = ["code"]
    model: type[models.Model]
    serializer_class: type[ReferenceSerializer]
    delete_may_conflict = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = f"{cls.model._meta.app_label}.%s_{cls.model._meta.model_name}"
        cls.write_permissions = {
            "create": [name % "add"],
            "update": [name % "change"],
            "partial_update": [name % "change"],
            "destroy": [name % "delete"],
        }

    def scoped_queryset(self):
        return self.model._default_manager.all()

    def get_serializer_class(self):
        # A change writes everything but the code, which is kept once created.
        if self.action in ("update", "partial_update"):
            return change_serializer(self.serializer_class)
        return self.serializer_class

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = partner_services.reference_save(
            actor=self.request.user, reference=data["_definition"], created=True, fields=data["_changed"]
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = partner_services.reference_save(
            actor=self.request.user, reference=data["_definition"], created=False, fields=data["_changed"]
        )

    def perform_destroy(self, instance):
        partner_services.reference_delete(actor=self.request.user, reference=instance)


@_reference_schema("certification type")
class CertificationTypeViewSet(_ReferenceViewSet):
    serializer_class = CertificationTypeSerializer
    model = CertificationType


@_reference_schema("product line")
class ProductLineViewSet(_ReferenceViewSet):
    serializer_class = ProductLineSerializer
    model = ProductLine


@_reference_schema("activity type")
class ActivityTypeViewSet(_ReferenceViewSet):
    serializer_class = ActivityTypeSerializer
    model = ActivityType


@_reference_schema("service offering")
class ServiceOfferingViewSet(_ReferenceViewSet):
    serializer_class = ServiceOfferingSerializer
    model = ServiceOffering


@extend_schema_view(
    list=extend_schema(summary="Exchange rates"),
    retrieve=extend_schema(summary="An exchange rate"),
    create=extend_schema(
        summary="Add an exchange rate",
        description="Sales in the currency are converted at the new rate from the next evaluation on. "
        "A second rate for the same currency and day answers 409.",
    ),
    update=extend_schema(summary="Replace an exchange rate"),
    partial_update=extend_schema(summary="Change an exchange rate"),
    destroy=extend_schema(summary="Delete an exchange rate"),
)
class ExchangeRateViewSet(
    VendorWideWritesMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ReadOnlyViewSet,
):
    """Rates are the vendor's, the same for everybody signed in; staff with the model permissions
    change them, with a token for every partner, through ``partners.services``."""

    resource = "reference"

    serializer_class = ExchangeRateSerializer
    filterset_class = ExchangeRateFilterSet
    ordering_fields = ["id", "currency", "valid_from"]
    ordering = ["currency", "-valid_from", "id"]
    write_permissions = {
        "create": ["core.add_exchangerate"],
        "update": ["core.change_exchangerate"],
        "partial_update": ["core.change_exchangerate"],
        "destroy": ["core.delete_exchangerate"],
    }

    def scoped_queryset(self):
        return ExchangeRate.objects.all()

    def perform_create(self, serializer):
        rate = ExchangeRate(**serializer.validated_data)
        serializer.instance = partner_services.exchange_rate_save(actor=self.request.user, rate=rate)

    def perform_update(self, serializer):
        rate = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(rate, name, value)
        serializer.instance = partner_services.exchange_rate_save(actor=self.request.user, rate=rate)

    def perform_destroy(self, instance):
        partner_services.exchange_rate_delete(actor=self.request.user, rate=instance)


def register(router) -> None:
    router.register("partners", PartnerViewSet, basename="partner")
    router.register("people", PersonViewSet, basename="person")
    router.register("certifications", CertificationViewSet, basename="certification")
    router.register("sales", SaleViewSet, basename="sale")
    router.register("activities", ActivityViewSet, basename="activity")
    router.register("proficiencies", ProficiencyViewSet, basename="proficiency")
    router.register("certification-types", CertificationTypeViewSet, basename="certification-type")
    router.register("product-lines", ProductLineViewSet, basename="product-line")
    router.register("activity-types", ActivityTypeViewSet, basename="activity-type")
    router.register("service-offerings", ServiceOfferingViewSet, basename="service-offering")
    router.register("exchange-rates", ExchangeRateViewSet, basename="exchange-rate")
