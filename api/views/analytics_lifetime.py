"""Partner lifetime value, scoped like the other analytics (``Partner.objects.visible_to``), and a
partner's own figures."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from analytics.filters import FilterError
from analytics.lifetime import MAX_TOP, Lifetime, lifetime_value, parse_top
from analytics.partner_figures import PartnerFigures, partner_figures
from analytics.sql import supported
from api.serializers.analytics_lifetime import LifetimeSerializer, PartnerFiguresSerializer
from api.views.analytics import _COMMON, AnalyticsView
from api.views.analytics_roi import PERIOD_PARAMETERS
from partners.models import Membership, Partner


class LifetimeValueView(AnalyticsView):
    serializer_class = LifetimeSerializer
    extra_query_parameters = (*AnalyticsView.extra_query_parameters, "start", "end", "top")

    @extend_schema(
        summary="Partner lifetime value",
        description=(
            "Lifetime value is a partner's cumulative won-sales revenue less what the program paid it "
            "(incentive ledger entries net of reversals, SPIFs, rewards redeemed, MDF paid: program ROI's "
            "cost), by whole months since joining, in the program's base currency (else the reference "
            "currency) at the rate of each fact's day. For the partners in sight that joined from `start` "
            "to `end`: per join-quarter cohort, the average value at each month over the partners that old "
            "by `end`, and the `top` highest and lowest lifetime values."
        ),
        parameters=[
            *_COMMON,
            OpenApiParameter("start", OpenApiTypes.DATE, description="Three years before `end` by default."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Today by default."),
            OpenApiParameter(
                "top",
                {"type": "integer", "minimum": 1, "maximum": MAX_TOP},
                description="How many partners each list holds; 10 by default.",
            ),
        ],
    )
    def get(self, request):
        filters = self.filters()
        try:
            top = parse_top(request.query_params)
        except FilterError as exc:
            raise ValidationError({name: [message] for name, message in exc.errors.items()}) from exc
        figures = lifetime_value(self.principal, filters, top=top) if supported() else Lifetime()
        return Response(LifetimeSerializer(figures).data)


class MyFiguresView(AnalyticsView):
    """The caller's own organisation's figures: a partner sees only itself."""

    serializer_class = PartnerFiguresSerializer
    extra_query_parameters = ("start", "end", "step")

    @extend_schema(
        summary="The caller's partner's own figures",
        description=(
            "For the partner the caller belongs to (a partner's user, or a token its user issued, when the "
            "token's partners include it): revenue (won sales in the reference currency at the rate of "
            "each sale's day), points earned, certifications gained, deals registered and won, by month "
            "or quarter; and for each tier it holds, the median of the other partners of its type holding "
            "that tier, given only when there are at least `min_peers` (5) of them. Anyone else: 403."
        ),
        parameters=PERIOD_PARAMETERS,
    )
    def get(self, request):
        filters = self.filters()
        membership = Membership.for_user(request.user)
        partner = membership.partner if membership is not None and not request.user.is_staff else None
        # Through the door as well: a token narrowed to other partners does not see its issuer's.
        if partner is None or not Partner.objects.visible_to(self.principal).filter(pk=partner.pk).exists():
            raise PermissionDenied(
                "These are a partner's own figures: the caller belongs to no partner in sight."
            )
        figures = partner_figures(partner, filters) if supported() else PartnerFigures(partner=partner)
        return Response(PartnerFiguresSerializer(figures).data)
