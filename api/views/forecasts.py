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
            "lists the episodes running; rows of recovered episodes stay with `at_risk` false."
        ),
    ),
    retrieve=extend_schema(summary="An at-risk forecast"),
)
class GateForecastViewSet(ReadOnlyViewSet):
    resource = "gates"
    serializer_class = GateForecastSerializer
    filterset_class = GateForecastFilterSet
    ordering_fields = ["id", "fails_on", "updated_at"]
    ordering = ["fails_on", "id"]

    def scoped_queryset(self):
        return GateForecast.objects.visible_to(self.principal)


def register(router) -> None:
    router.register("gate-forecasts", GateForecastViewSet, basename="gate-forecast")
