"""Leaderboards through the API, scoped like the other analytics (``Partner.objects.visible_to``)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from analytics.leaderboards import Leaderboards, leaderboards
from analytics.sql import supported
from api.serializers.analytics_leaderboards import LeaderboardsSerializer
from api.views.analytics import _COMMON, AnalyticsView


class LeaderboardsView(AnalyticsView):
    serializer_class = LeaderboardsSerializer
    extra_query_parameters = (*AnalyticsView.extra_query_parameters, "start", "end")

    @extend_schema(
        summary="Leaderboards",
        description=(
            "The top ten partners in sight, and the distributors they buy through, by revenue (won "
            "sales at the rate of each sale's day, in the program's base currency or the reference "
            "currency), growth over the previous period of the same length, certifications gained and "
            "points earned. A program counts the partners holding one of its tiers and its rules' points."
        ),
        parameters=[
            *_COMMON,
            OpenApiParameter("start", OpenApiTypes.DATE, description="Three months before `end` by default."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Today by default."),
        ],
    )
    def get(self, request):
        filters = self.filters()
        boards = leaderboards(self.principal, filters) if supported() else Leaderboards()
        return Response(LeaderboardsSerializer(boards).data)
