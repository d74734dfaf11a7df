"""Program ROI through the API, scoped like the other analytics (``Partner.objects.visible_to``)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from analytics.roi import Roi, program_roi
from analytics.sql import supported
from api.serializers.analytics_roi import RoiSerializer
from api.views.analytics import _COMMON, AnalyticsView

PERIOD_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="A year before `end` by default."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Today by default."),
    OpenApiParameter("step", str, enum=["month", "quarter"]),
]


class ProgramRoiView(AnalyticsView):
    serializer_class = RoiSerializer
    extra_query_parameters = (*AnalyticsView.extra_query_parameters, "start", "end", "step")

    @extend_schema(
        summary="Program ROI",
        description=(
            "Per program (the one `program` names, or every program in sight): the won sales of the "
            "partners holding one of its tiers on the sale's day, partner-sourced, partner-influenced "
            "(the vendor sourced the deal) and unregistered, against the program's cost (its incentive "
            "ledger: incentives, SPIFs, rewards redeemed; MDF paid), and their ratio; by month or quarter "
            "(at most the last 60), tier, partner type and region. Amounts are in the program's base "
            "currency at the rate in force on each fact's day; points are counted apart."
        ),
        parameters=[*_COMMON, *PERIOD_PARAMETERS],
    )
    def get(self, request):
        filters = self.filters()
        roi = program_roi(self.principal, filters) if supported() else Roi()
        return Response(RoiSerializer(roi).data)
