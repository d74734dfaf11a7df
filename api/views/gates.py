"""Gates and their management, results with per-criterion progress, history, re-evaluation."""

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from api.pagination import PagePagination
from api.scoping import covers_all_partners, visible_partners
from api.selectors import GateTrees
from api.serializers.gates import (
    EvaluationQueuedSerializer,
    EvaluationRequestSerializer,
    GateSerializer,
    GateStatusChangeSerializer,
    GateStatusSerializer,
    PartnerTierSerializer,
    SimulationRequestSerializer,
    SimulationSerializer,
    TierChangeSerializer,
)
from api.services import gate_save
from api.views.base import CursorReadOnlyViewSet, ReadOnlyViewSet, ScopedViewMixin
from gates import services as gate_services
from gates.criteria import CriteriaError
from gates.filtersets import (
    GateFilterSet,
    GateStatusChangeFilterSet,
    GateStatusFilterSet,
    PartnerTierFilterSet,
    TierChangeFilterSet,
)
from gates.models import Gate, GateState, GateStatus, GateStatusChange, PartnerTier, TierChange
from programs.models import Program


def _vendor_wide(request) -> None:
    """Gate management acts on every partner: a token limited to some partners may not do it."""
    if not covers_all_partners(request):
        raise PermissionDenied("This token covers some partners only; managing gates needs one for all.")


@extend_schema_view(
    list=extend_schema(summary="Gates you can see"),
    create=extend_schema(
        summary="Create a gate", description="Criteria errors name their place in the tree."
    ),
    update=extend_schema(summary="Replace a gate"),
    partial_update=extend_schema(summary="Change a gate"),
)
class GateViewSet(
    ScopedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = GateSerializer
    filterset_class = GateFilterSet
    pagination_class = PagePagination
    ordering_fields = ["id", "name", "updated_at"]
    ordering = ["program_id", "name"]
    write_permissions = {
        "create": ["gates.add_gate"],
        "update": ["gates.change_gate"],
        "partial_update": ["gates.change_gate"],
        "retire": ["gates.change_gate"],
        "simulate": ["gates.change_gate"],
    }

    def scoped_queryset(self):
        return Gate.objects.visible_to(self.request.user).prefetch_related(
            "prerequisites", "unlocks_benefits"
        )

    def perform_create(self, serializer):
        _vendor_wide(self.request)
        data = serializer.validated_data
        serializer.instance = gate_save(
            actor=self.request.user,
            gate=data["_gate"],
            prerequisites=data["_prerequisites"],
            benefits=data["_benefits"],
        )

    def perform_update(self, serializer):
        _vendor_wide(self.request)
        data = serializer.validated_data
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
        _vendor_wide(request)
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
        _vendor_wide(request)
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
                partners=visible_partners(request),
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


def _partner_results(request, queryset, *, gate_path: str | None = None, program_path: str | None = None):
    """Results of the partners the caller sees, and for partner users only on the gates and
    programs they may see (a partner never learns of a program it does not qualify for)."""
    queryset = queryset.filter(partner__in=visible_partners(request))
    if request.user.is_staff:
        return queryset
    if gate_path:
        queryset = queryset.filter(**{f"{gate_path}__in": Gate.objects.visible_to(request.user)})
    if program_path:
        queryset = queryset.filter(**{f"{program_path}__in": Program.objects.visible_to(request.user)})
    return queryset


@extend_schema_view(list=extend_schema(summary="Where partners stand on gates, criterion by criterion"))
class GateStatusViewSet(CursorReadOnlyViewSet):
    serializer_class = GateStatusSerializer
    filterset_class = GateStatusFilterSet

    def scoped_queryset(self):
        return _partner_results(
            self.request, GateStatus.objects.select_related("gate__program"), gate_path="gate"
        )

    def get_serializer_context(self):
        context = dict(super().get_serializer_context())
        # Parsed once per request and shared by every row of the page.
        context["gate_trees"] = GateTrees(as_of=timezone.localdate())
        return context


class GateStatusChangeViewSet(CursorReadOnlyViewSet):
    serializer_class = GateStatusChangeSerializer
    filterset_class = GateStatusChangeFilterSet

    def scoped_queryset(self):
        return _partner_results(self.request, GateStatusChange.objects.all(), gate_path="gate")


class TierChangeViewSet(CursorReadOnlyViewSet):
    serializer_class = TierChangeSerializer
    filterset_class = TierChangeFilterSet

    def scoped_queryset(self):
        return _partner_results(self.request, TierChange.objects.all(), program_path="program")


class PartnerTierViewSet(ReadOnlyViewSet):
    serializer_class = PartnerTierSerializer
    filterset_class = PartnerTierFilterSet
    ordering = ["partner_id", "program_id"]

    def scoped_queryset(self):
        return _partner_results(self.request, PartnerTier.objects.all(), program_path="program")


class EvaluationViewSet(ScopedViewMixin, viewsets.GenericViewSet):
    """Queue the re-evaluation of one partner, or of every partner."""

    serializer_class = EvaluationRequestSerializer
    pagination_class = None
    write_permissions = {"create": ["gates.change_gate"]}

    def scoped_queryset(self):
        return visible_partners(self.request)

    @extend_schema(
        summary="Queue a re-evaluation",
        request=EvaluationRequestSerializer,
        responses={202: EvaluationQueuedSerializer},
    )
    def create(self, request):
        form = EvaluationRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        from gates.tasks import evaluate_partner_task

        if form.validated_data.get("all"):
            _vendor_wide(request)
            # Joins a run already queued by an edit, if one is pending.
            gate_services.request_full_evaluation()
            body = {"queued": "all", "partner": None}
        else:
            partner_id = form.validated_data["partner"]
            if not self.get_queryset().filter(pk=partner_id).exists():
                raise ValidationError({"partner": ["No partner with this id among those you can see."]})
            transaction.on_commit(lambda: evaluate_partner_task.delay(partner_id))
            body = {"queued": "partner", "partner": partner_id}
        return Response(EvaluationQueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("gates", GateViewSet, basename="gate")
    router.register("gate-statuses", GateStatusViewSet, basename="gate-status")
    router.register("gate-status-changes", GateStatusChangeViewSet, basename="gate-status-change")
    router.register("tier-changes", TierChangeViewSet, basename="tier-change")
    router.register("partner-tiers", PartnerTierViewSet, basename="partner-tier")
    router.register("evaluations", EvaluationViewSet, basename="evaluation")
