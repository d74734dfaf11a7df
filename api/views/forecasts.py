"""At-risk forecasts: which gates partners pass today and would fail within the horizon, and why."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from api.serializers.forecasts import GateForecastSerializer
from api.views.base import ReadOnlyViewSet
from gates.filtersets import GateForecastFilterSet
from gates.models import GateForecast


@extend_schema_view(
    list=extend_schema(
        summary="At-risk forecasts you can see",
        description=(
            "One row per partner and gate that has been at risk: the first day the gate would fail if "
            "nothing new arrived, the criterion, the shortfall and the cheapest fix. `at_risk=true` "
            "lists the episodes running; rows of recovered episodes stay with `at_risk` false. On the gate "
            "of the tier the partner earned, `tier_lost_on` is the first day it would no longer hold the "
            "tier: after the tier's grace, and not before the day after an override holding it ends "
            "(`override_until`). A tier an override holds beyond the horizon is not at risk. A partner "
            "already keeping the tier in grace has a row with `at_risk` false and `grace_until` its last "
            "day (`in_grace=true` lists them)."
        ),
    ),
    retrieve=extend_schema(summary="An at-risk forecast"),
)
class GateForecastViewSet(ReadOnlyViewSet):
    resource = "gates"
    serializer_class = GateForecastSerializer
    filterset_class = GateForecastFilterSet
    ordering_fields = ["id", "fails_on", "tier_lost_on", "updated_at"]
    ordering = ["fails_on", "id"]

    def scoped_queryset(self):
        return GateForecast.objects.visible_to(self.principal)


def register(router) -> None:
    router.register("gate-forecasts", GateForecastViewSet, basename="gate-forecast")
