"""Partners, people, facts (with bulk ingestion) and the reference codes facts use."""

from django.db import models
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from api.parsers import DecimalJSONParser
from api.permissions import VendorWideWritesMixin
from api.schema import ErrorSerializer
from api.scoping import request_token
from api.serializers import ingestion as ingestion_serializers
from api.serializers.partners import (
    ActivitySerializer,
    ActivityTypeSerializer,
    CertificationSerializer,
    CertificationTypeSerializer,
    ExchangeRateSerializer,
    PartnerSerializer,
    PersonSerializer,
    ProductLineSerializer,
    ProficiencySerializer,
    SaleSerializer,
    ServiceOfferingSerializer,
)
from api.serializers.programs import ProgramSerializer
from api.views.base import FactViewSet, ReadOnlyViewSet
from core.models import ExchangeRate
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


@extend_schema_view(
    list=extend_schema(summary="Partners you can see"),
    retrieve=extend_schema(summary="A partner"),
)
class PartnerViewSet(ReadOnlyViewSet):
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilterSet
    ordering_fields = ["id", "name", "joined_on", "updated_at"]
    ordering = ["name", "id"]

    def scoped_queryset(self):
        return Partner.objects.visible_to(self.principal)

    @extend_schema(
        summary="Programs open to this partner",
        description="The active programs the partner qualifies for: open to all, or through its segments.",
        responses=ProgramSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["id"])
    def programs(self, request, pk=None):
        partner = self.get_object()
        programs = (
            Program.objects.visible_to(self.principal)
            .filter(pk__in=Program.objects.for_partner(partner).values("pk"))
            .order_by("name", "id")
        )
        page = self.paginate_queryset(programs)
        return self.get_paginated_response(ProgramSerializer(page, many=True).data)


class PersonViewSet(ReadOnlyViewSet):
    serializer_class = PersonSerializer
    filterset_class = PersonFilterSet
    ordering_fields = ["id", "last_name", "created_at"]
    ordering = ["last_name", "first_name", "id"]

    def scoped_queryset(self):
        return Person.objects.visible_to(self.principal)


def _bulk_schema(batch_serializer, summary: str):
    return extend_schema(
        summary=summary,
        description=(
            "Create or update up to 5,000 records keyed on (source, external_id). Sending the same "
            "batch again changes nothing. Each record is reported created, updated, unchanged or "
            "rejected with its reasons; rejected records do not stop the others. The partners "
            "whose facts changed are re-evaluated shortly after."
        ),
        request=batch_serializer,
        responses={
            200: ingestion_serializers.IngestionReportSerializer,
            409: OpenApiResponse(ErrorSerializer, description="A concurrent change; send the batch again."),
        },
        filters=False,
    )


class _IngestingFactViewSet(FactViewSet):
    ingest = staticmethod(ingestion.ingest_sales)

    def perform_destroy(self, instance):
        ingestion.fact_delete(actor=self.request.user, fact=instance, principal=self.principal)

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


class ProficiencyViewSet(ReadOnlyViewSet):
    serializer_class = ProficiencySerializer
    filterset_class = ProficiencyFilterSet
    ordering = ["id"]

    def scoped_queryset(self):
        return ServiceProficiency.objects.visible_to(self.principal).select_related("offering")


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

    filterset_class = None
    ordering_fields = ["id", "code", "name"]
    ordering = ["code"]
    model: type[models.Model]
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
