"""Gates and their management, results with per-criterion progress, history, re-evaluation."""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from api.pagination import PagePagination
from api.permissions import ProgramDefinitionMixin, require_program_manager, require_vendor_wide
from api.schema import ErrorSerializer
from api.selectors import GateTrees
from api.serializers.gates import (
    BenefitGrantSerializer,
    EvaluationQueuedSerializer,
    EvaluationRequestSerializer,
    EvaluationRunSerializer,
    GateDiffSerializer,
    GateDraftRequestSerializer,
    GatePublishRequestSerializer,
    GateSerializer,
    GateStatusChangeSerializer,
    GateStatusSerializer,
    GateVersionSerializer,
    PartnerTierSerializer,
    SegmentMembershipSerializer,
    SimulationRequestSerializer,
    SimulationSerializer,
    TierChangeSerializer,
    TierOverrideEndSerializer,
    TierOverrideSerializer,
)
from api.services import gate_save
from api.views.base import CursorReadOnlyViewSet, ReadOnlyViewSet, ScopedViewMixin
from api.views.partners import Conflict
from api.views.versions import VersionedViewMixin, versions_schema
from criteria.tree import CriteriaError
from gates import services as gate_services
from gates.filtersets import (
    BenefitGrantFilterSet,
    EvaluationRunFilterSet,
    GateFilterSet,
    GateStatusChangeFilterSet,
    GateStatusFilterSet,
    PartnerTierFilterSet,
    SegmentMembershipFilterSet,
    TierChangeFilterSet,
)
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    Gate,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from partners.models import Partner
from programs.models import Program, Tier


@extend_schema_view(
    list=extend_schema(summary="Gates you can see"),
    create=extend_schema(
        summary="Create a gate", description="Criteria errors name their place in the tree."
    ),
    update=extend_schema(summary="Replace a gate"),
    partial_update=extend_schema(summary="Change a gate"),
    **versions_schema(
        "gate",
        "who passes",
        {
            "version": GateVersionSerializer,
            "draft": GateDraftRequestSerializer,
            "publish": GatePublishRequestSerializer,
            "diff": GateDiffSerializer,
        },
    ),
)
class GateViewSet(
    VersionedViewMixin,
    ProgramDefinitionMixin,
    ScopedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    resource = "gates"
    serializer_class = GateSerializer
    filterset_class = GateFilterSet
    versioned = gate_services.GATES
    version_serializer_class = GateVersionSerializer
    draft_request_serializer_class = GateDraftRequestSerializer
    publish_request_serializer_class = GatePublishRequestSerializer
    diff_serializer_class = GateDiffSerializer
    pagination_class = PagePagination
    ordering_fields = ["id", "name", "updated_at"]
    ordering = ["program_id", "name"]
    write_permissions = {
        "create": ["gates.add_gate"],
        "update": ["gates.change_gate"],
        "partial_update": ["gates.change_gate"],
        "retire": ["gates.change_gate"],
        "simulate": ["gates.change_gate"],
        "draft": ["gates.change_gate"],
        "publish": ["gates.change_gate"],
    }

    def scoped_queryset(self):
        return (
            Gate.objects.visible_to(self.principal)
            .select_related("program")
            .prefetch_related("prerequisites", "unlocks_benefits")
        )

    def require_manage(self, owner) -> None:
        require_program_manager(self.principal, owner.program)

    def perform_create(self, serializer):
        data = serializer.validated_data
        require_program_manager(self.principal, data["_gate"].program)
        serializer.instance = gate_save(
            actor=self.request.user,
            gate=data["_gate"],
            prerequisites=data["_prerequisites"],
            benefits=data["_benefits"],
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        # The gate as stored was checked with the object; now the program it belongs to once changed.
        require_program_manager(self.principal, data["_gate"].program)
        serializer.instance = gate_save(
            actor=self.request.user,
            gate=data["_gate"],
            prerequisites=data["_prerequisites"],
            benefits=data["_benefits"],
            # The gate as stored: the serializer edits a fresh copy of it.
            before=gate_services.gate_definition(serializer.instance),
        )

    @extend_schema(summary="Retire a gate", request=None, responses=GateSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        gate = self.get_object()
        if gate.state != GateState.RETIRED:
            gate_services.gate_retire(actor=request.user, gate=gate)
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="What-if: simulate a gate without saving anything",
        description="Measures every partner the caller may see against the criteria and compares with a gate's "
        "current results; counts and examples cover those partners only.",
        request=SimulationRequestSerializer,
        responses=SimulationSerializer,
        filters=False,
    )
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def simulate(self, request):
        require_vendor_wide(self.principal)
        form = SimulationRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        gate = data.get("gate")
        try:
            result = gate_services.gate_simulate(
                criteria=data["criteria"],
                currency=data["currency"],
                gate_id=gate.pk if gate is not None else None,
                prerequisite_ids=[p.pk for p in data["prerequisites"]],
                # Counts and names cover only the partners the caller may see.
                partners=Partner.objects.visible_to(self.principal),
            )
        except CriteriaError as exc:
            raise ValidationError({"criteria": exc.errors}) from exc
        body = {
            "evaluated": result.evaluated,
            "would_pass": result.would_pass,
            "passing_now": result.passing_now,
            "newly_pass": result.newly_pass,
            "newly_fail": result.newly_fail,
            "criteria": [
                {"path": path, "description": text, "partners_passing": count}
                for path, text, count in result.leaf_passes
            ],
            "newly_pass_examples": result.newly_pass_examples,
            "newly_fail_examples": result.newly_fail_examples,
        }
        return Response(SimulationSerializer(body).data)


@extend_schema_view(list=extend_schema(summary="Where partners stand on gates, criterion by criterion"))
class GateStatusViewSet(CursorReadOnlyViewSet):
    resource = "gates"
    serializer_class = GateStatusSerializer
    filterset_class = GateStatusFilterSet

    def scoped_queryset(self):
        return GateStatus.objects.visible_to(self.principal).select_related("gate__program")

    def get_serializer_context(self):
        context = dict(super().get_serializer_context())
        # Parsed once per request and shared by every row of the page.
        context["gate_trees"] = GateTrees(as_of=timezone.localdate())
        return context


class GateStatusChangeViewSet(CursorReadOnlyViewSet):
    resource = "gates"
    serializer_class = GateStatusChangeSerializer
    filterset_class = GateStatusChangeFilterSet

    def scoped_queryset(self):
        return GateStatusChange.objects.visible_to(self.principal)


class TierChangeViewSet(CursorReadOnlyViewSet):
    resource = "gates"
    serializer_class = TierChangeSerializer
    filterset_class = TierChangeFilterSet

    def scoped_queryset(self):
        return TierChange.objects.visible_to(self.principal)


_NO_OVERRIDE = OpenApiResponse(ErrorSerializer, description="The partner has no override in this program.")


@extend_schema_view(
    list=extend_schema(summary="The tier each partner holds in each program"),
    retrieve=extend_schema(summary="A partner's tier in a program"),
)
class PartnerTierViewSet(ReadOnlyViewSet):
    """Tiers are earned through gates; a channel manager may override one with a reason and an
    expiry, as in the admin (``gates.services.tier_override_set`` and ``tier_override_clear``)."""

    resource = "gates"
    serializer_class = PartnerTierSerializer
    filterset_class = PartnerTierFilterSet
    ordering = ["partner_id", "program_id"]
    write_permissions = {
        "override": ["gates.change_partnertier"],
        "end_override": ["gates.change_partnertier"],
    }

    def scoped_queryset(self):
        return PartnerTier.objects.visible_to(self.principal)

    @extend_schema(
        summary="Pin a partner's tier in a program",
        description="The partner holds the tier until the expiry (inclusive; none for no end) whatever "
        "its gates earn; its benefits follow at once and it is re-evaluated, as after an override in the "
        "admin. The tier history records it with the reason, and the partner is told. Sending the "
        "override in force again changes nothing. Staff holding the partner tiers' change permission, "
        "for the partners they see (a partner with no tier row yet also needs the add permission).",
        request=TierOverrideSerializer,
        responses={200: PartnerTierSerializer},
        filters=False,
    )
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def override(self, request):
        form = TierOverrideSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        partner = Partner.objects.visible_to(self.principal).filter(pk=data["partner"]).first()
        if partner is None:
            raise ValidationError({"partner": ["No partner with this id among those you can see."]})
        program = Program.objects.visible_to(self.principal).filter(pk=data["program"]).first()
        if program is None:
            raise ValidationError({"program": ["No program with this id among those you can see."]})
        # A tier is a definition, not partner data: it need only belong to the program read above.
        tier = Tier.objects.filter(pk=data["tier"], program=program).first()
        if tier is None:
            raise ValidationError({"tier": ["This tier belongs to another program."]})
        row = self.scoped_queryset().filter(partner=partner, program=program).first()
        if row is not None:
            allowed = PartnerTier.objects.actionable_by(self.principal, "change").filter(pk=row.pk).exists()
        else:
            allowed = (
                Partner.objects.actionable_by(self.principal, "override_tiers").filter(pk=partner.pk).exists()
            )
        if not allowed:
            raise PermissionDenied("You may not override this partner's tier.")
        if not data["reason"].strip():
            raise ValidationError(
                {"reason": ["Give the reason for the override; partners and auditors see it."]}
            )
        expires_on = data["expires_on"]
        if expires_on is not None and expires_on < timezone.localdate():
            raise ValidationError({"expires_on": ["The override would already have expired."]})
        try:
            row = gate_services.tier_override_set(
                actor=request.user,
                partner=partner,
                program=program,
                tier=tier,
                reason=data["reason"],
                expires_on=expires_on,
            )
        except ValueError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        return Response(PartnerTierSerializer(self.scoped_queryset().get(pk=row.pk)).data)

    @extend_schema(
        summary="End a partner's tier override now",
        description="The tier its gates earn applies again, with its benefits; the partner is "
        "re-evaluated, and the tier history records the end with the note.",
        request=TierOverrideEndSerializer,
        responses={200: PartnerTierSerializer, 409: _NO_OVERRIDE},
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="end-override", filterset_class=None)
    def end_override(self, request, pk=None):
        row = self.get_object()
        if not PartnerTier.objects.actionable_by(self.principal, "change").filter(pk=row.pk).exists():
            raise PermissionDenied("You may not override this partner's tier.")
        form = TierOverrideEndSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if row.override_tier_id is None:
            raise Conflict("This partner has no override in this program.")
        gate_services.tier_override_clear(
            actor=request.user, partner_tier=row, note=form.validated_data["note"]
        )
        return Response(PartnerTierSerializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(
        summary="Segment memberships, newest first",
        description="Which partners the evaluation placed in which segments. Segments are the vendor's "
        "targeting: staff see the memberships of the partners they see; partners and distributors see none.",
    ),
    retrieve=extend_schema(summary="A segment membership"),
)
class SegmentMembershipViewSet(CursorReadOnlyViewSet):
    resource = "gates"
    serializer_class = SegmentMembershipSerializer
    filterset_class = SegmentMembershipFilterSet

    def scoped_queryset(self):
        return SegmentMembership.objects.visible_to(self.principal).select_related("segment")


@extend_schema_view(
    list=extend_schema(
        summary="Benefits granted to partners, newest first",
        description="Held and revoked (`active=false`), from a tier or a passed gate. A partner's users "
        "see its grants in the programs open to it.",
    ),
    retrieve=extend_schema(summary="A benefit grant"),
)
class BenefitGrantViewSet(CursorReadOnlyViewSet):
    resource = "gates"
    serializer_class = BenefitGrantSerializer
    filterset_class = BenefitGrantFilterSet

    def scoped_queryset(self):
        return BenefitGrant.objects.visible_to(self.principal).select_related("benefit")


class EvaluationViewSet(ScopedViewMixin, viewsets.GenericViewSet):
    """Queue the re-evaluation of one partner, or of every partner."""

    resource = "gates"

    serializer_class = EvaluationRequestSerializer
    pagination_class = None
    write_permissions = {"create": ["gates.change_gate"]}

    def scoped_queryset(self):
        return Partner.objects.visible_to(self.principal)

    @extend_schema(
        summary="Queue a re-evaluation",
        request=EvaluationRequestSerializer,
        responses={
            202: OpenApiResponse(
                EvaluationQueuedSerializer,
                description="Queued: the run is at the `Location` header.",
            )
        },
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                description="The run carrying out the request.",
                response=[202],
            )
        ],
    )
    def create(self, request):
        form = EvaluationRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if form.validated_data.get("all"):
            require_vendor_wide(self.principal)
            # Joins a run already queued, by an edit or another request, if one is pending.
            run = gate_services.evaluation_queue_full()
            body: dict[str, object] = {"queued": "all", "partner": None}
        else:
            partner_id = form.validated_data["partner"]
            if not Partner.objects.actionable_by(self.principal, "evaluate").filter(pk=partner_id).exists():
                raise ValidationError({"partner": ["No partner with this id among those you can see."]})
            run = gate_services.evaluation_queue_partner(partner_id)
            body = {"queued": "partner", "partner": partner_id}
        location = request.build_absolute_uri(reverse("api:evaluation-run-detail", args=[run.pk]))
        body |= {"run": run.pk, "location": location}
        return Response(
            EvaluationQueuedSerializer(body).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


@extend_schema_view(
    list=extend_schema(
        summary="Evaluation runs, newest first",
        description="Staff see runs of every partner and the one-partner runs of the partners they see.",
    ),
    retrieve=extend_schema(
        summary="An evaluation run and its progress",
        description=(
            "State (queued, running, done, failed, stale), partners done out of total, chunks done out "
            "of total, statuses and tiers changed, start and end."
        ),
    ),
)
class EvaluationRunViewSet(ReadOnlyViewSet):
    resource = "gates"
    serializer_class = EvaluationRunSerializer
    filterset_class = EvaluationRunFilterSet
    ordering = ["-id"]

    def scoped_queryset(self):
        return EvaluationRun.objects.visible_to(self.principal)


def register(router) -> None:
    router.register("gates", GateViewSet, basename="gate")
    router.register("gate-statuses", GateStatusViewSet, basename="gate-status")
    router.register("gate-status-changes", GateStatusChangeViewSet, basename="gate-status-change")
    router.register("tier-changes", TierChangeViewSet, basename="tier-change")
    router.register("partner-tiers", PartnerTierViewSet, basename="partner-tier")
    router.register("segment-memberships", SegmentMembershipViewSet, basename="segment-membership")
    router.register("benefit-grants", BenefitGrantViewSet, basename="benefit-grant")
    router.register("evaluations", EvaluationViewSet, basename="evaluation")
    router.register("evaluation-runs", EvaluationRunViewSet, basename="evaluation-run")
