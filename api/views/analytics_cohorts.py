"""Cohort comparisons through the API, scoped like the other analytics (``Partner.objects.visible_to``)."""

import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from analytics.cohorts import (
    COHORT_PATTERN,
    KINDS,
    MAX_COHORT_LENGTH,
    Cohort,
    CohortError,
    Comparison,
    compare,
    parse_cohort,
)
from analytics.filters import Filters
from analytics.sql import supported
from api.serializers.analytics_cohorts import CohortComparisonSerializer
from api.views.analytics import _COMMON, AnalyticsView


class CohortsView(AnalyticsView):
    serializer_class = CohortComparisonSerializer
    extra_query_parameters = (*AnalyticsView.extra_query_parameters, "start", "end", "cohort")

    def filters_and_cohort(self) -> tuple[Filters, Cohort]:
        """Both, or a 400 naming every wrong parameter, the cohort's among the filters'."""
        errors: dict = {}
        try:
            filters = self.filters()
        except ValidationError as exc:
            errors.update(exc.detail)  # type: ignore[arg-type]
        try:
            cohort = parse_cohort(self.request.query_params.get("cohort", ""))
        except CohortError as exc:
            errors["cohort"] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        return filters, cohort

    @extend_schema(
        summary="Cohort comparison",
        description=(
            "The partners in sight with an attribute (the `cohort`) against those without it, over the "
            "period: average and median deal size (won sales of the period, in the reference currency at "
            "the rate of each sale's day), win rate of the registered deals of the period decided won or "
            "lost, revenue per partner (every partner of the group) and days from joining to the first "
            "won sale. Each difference (with minus without) has both group sizes and a 95 % confidence "
            "interval: Welch's t for means, a seeded percentile bootstrap for medians, Wald for win rates. "
            "When either group has fewer than `minimum` partners nothing is compared and `hidden_reason` "
            "says why."
        ),
        parameters=[
            *_COMMON,
            OpenApiParameter(
                "cohort",
                {"type": "string", "minLength": 1, "maxLength": MAX_COHORT_LENGTH, "pattern": COHORT_PATTERN},
                required=True,
                description=(
                    f"`kind:value`, kind one of {', '.join(KINDS)}: `certification:<code>` (held on any "
                    "day of the period), `course:<code>` (completed by its end), `mdf` (a request "
                    "approved, claimed or paid overlapping the period), `business_model:<value>`, "
                    "`partner_type:<value>`, `joined:2025-Q1`."
                ),
            ),
            OpenApiParameter("start", OpenApiTypes.DATE, description="364 days before `end` by default."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Today by default."),
        ],
    )
    def get(self, request):
        filters, cohort = self.filters_and_cohort()
        if supported():
            comparison = compare(self.principal, filters, cohort)
        else:
            end = filters.end or timezone.localdate()
            start = filters.start or end - datetime.timedelta(days=364)
            comparison = Comparison(cohort=cohort, start=start, end=end, currency="")
        return Response(CohortComparisonSerializer(comparison).data)
