"""Program analytics: the gate funnel and tier movement, over the partners the caller sees.

The figures are those of the manager's analytics pages, scoped by the same door
(``Partner.objects.visible_to``): a manager counts his coverage, a partner
itself. Filters are query parameters; a wrong one answers 400 naming it.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from analytics import tiers
from analytics.filters import FilterError, Filters, parse_filters
from analytics.funnel import gate_funnel
from analytics.sql import supported
from api.serializers.analytics import FunnelSerializer, TierMovementSerializer
from api.views.base import ScopedViewMixin
from partners.models import BusinessModel, Partner, PartnerType, Region

_COMMON = [
    OpenApiParameter("program", {"type": "string", "minLength": 1}, description="A program's slug."),
    OpenApiParameter("region", str, enum=Region.values),
    OpenApiParameter("partner_type", str, enum=PartnerType.values),
    OpenApiParameter("business_model", str, enum=BusinessModel.values),
    OpenApiParameter(
        "tier",
        {"type": "integer", "minimum": 1, "maximum": 999_999_999},
        description="Only partners holding this tier (an id).",
    ),
]


class AnalyticsView(ScopedViewMixin, GenericAPIView):
    resource = "analytics"
    pagination_class = None
    filter_backends: list = []
    extra_query_parameters: tuple[str, ...] = ("program", "region", "partner_type", "business_model", "tier")

    def scoped_queryset(self):
        return Partner.objects.visible_to(self.principal)

    def filters(self) -> Filters:
        try:
            return parse_filters(self.request.query_params, self.principal, allow_empty=False)
        except FilterError as exc:
            raise ValidationError({name: [message] for name, message in exc.errors.items()}) from exc


class GateFunnelView(AnalyticsView):
    serializer_class = FunnelSerializer
    extra_query_parameters = (*AnalyticsView.extra_query_parameters, "near")

    @extend_schema(
        summary="The gate funnel",
        description=(
            "For each gate in effect: partners meeting 0..n of its criteria, partners meeting each "
            "criterion, and near misses (failing, and within `near` % of every target they miss)."
        ),
        parameters=[
            *_COMMON,
            OpenApiParameter(
                "near",
                {"type": "number", "minimum": 0, "maximum": 100},
                description="The near-miss distance in %, 0-100; 10 by default.",
            ),
        ],
    )
    def get(self, request):
        filters = self.filters()
        gates = gate_funnel(self.principal, filters) if supported() else []
        return Response(FunnelSerializer({"near_percent": filters.near_percent, "gates": gates}).data)


class TierMovementView(AnalyticsView):
    serializer_class = TierMovementSerializer
    extra_query_parameters = (*AnalyticsView.extra_query_parameters, "start", "end", "step")

    @extend_schema(
        summary="Tier movement",
        description=(
            "From the tier history of one program (the first with tiers unless `program` says): partners "
            "per tier at each month's or quarter's end from `start` to `end`, the migration between those "
            "two days, and the days from joining to first holding each tier."
        ),
        parameters=[
            *_COMMON,
            OpenApiParameter(
                "start",
                OpenApiTypes.DATE,
                description="A year before `end` by default; at most the last 120 periods are shown.",
            ),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Today by default."),
            OpenApiParameter("step", str, enum=["month", "quarter"]),
        ],
    )
    def get(self, request):
        filters = self.filters()
        movement = (
            tiers.tier_movement(self.principal, filters) if supported() else tiers.TierMovement(program=None)
        )
        movement_data = {
            "program": movement.program.slug if movement.program else None,
            "start": movement.start,
            "end": movement.end,
            "days": movement.days,
            "distribution": [{"tier": name, "partners": counts} for name, counts in movement.series],
            "matrix": movement.matrix,
            "time_to_tier": movement.time_to_tier,
        }
        return Response(TierMovementSerializer(movement_data).data)
