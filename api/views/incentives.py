"""The incentives API: rules (staff), statements and ledger entries (anyone, scoped), activations."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.pagination import PagePagination
from api.permissions import ProgramDefinitionMixin, require_program_manager
from api.serializers.incentives import (
    ActivationSerializer,
    IncentiveRuleSerializer,
    LedgerEntrySerializer,
    NewVersionSerializer,
    StatementSerializer,
    StatementSummarySerializer,
)
from api.views.base import CursorReadOnlyViewSet, ScopedViewMixin
from incentives import selectors, services
from incentives.engine import round_amount
from incentives.filtersets import IncentiveRuleFilterSet, LedgerEntryFilterSet
from incentives.models import CustomerActivation, EntryState, IncentiveRule, LedgerEntry
from incentives.periods import Period, PeriodError, parse_period, quarter_of
from partners.models import Partner

PERIOD_PARAMETER = OpenApiParameter(
    "period",
    {"type": "string", "pattern": r"^[2-9][0-9]{3}(?:-[Qq][1-4])?$"},
    description="A quarter (2025-Q1) or a year (2025) from 2000; the current quarter by default.",
)


def _period(request) -> Period:
    values = request.query_params.getlist("period")
    if len(values) > 1:
        raise ValidationError({"period": ["Give one period."]})
    if values == [""]:
        raise ValidationError({"period": ["Give a value, or leave the parameter out."]})
    code = values[0] if values else quarter_of(timezone.localdate()).code
    try:
        return parse_period(code)
    except PeriodError as exc:
        raise ValidationError({"period": [str(exc)]}) from exc


@extend_schema_view(
    list=extend_schema(summary="Incentive rules (staff)"),
    create=extend_schema(summary="Create an incentive rule", description="Validated like the admin's."),
    partial_update=extend_schema(summary="Change a rule: only its name, budget and end once it has started"),
    update=extend_schema(summary="Replace a rule that has not started yet"),
)
class IncentiveRuleViewSet(
    ProgramDefinitionMixin,
    ScopedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    resource = "incentives"
    serializer_class = IncentiveRuleSerializer
    filterset_class = IncentiveRuleFilterSet
    pagination_class = PagePagination
    write_permissions = {
        "create": ["incentives.add_incentiverule"],
        "update": ["incentives.change_incentiverule"],
        "partial_update": ["incentives.change_incentiverule"],
        "new_version": ["incentives.add_incentiverule", "incentives.change_incentiverule"],
    }

    def scoped_queryset(self):
        return (
            IncentiveRule.objects.visible_to(self.principal)
            .prefetch_related("margin_rates", "commission_rates", "rebate_bands", "rewards", "activity_types")
            .order_by("id")
        )

    def _save(self, serializer, *, created: bool) -> None:
        data = serializer.validated_data
        rows = data["_rows"]
        # The rule as stored was checked with the object; now the program it belongs to once changed.
        require_program_manager(self.principal, data["_rule"].program)
        serializer.instance = services.rule_save(
            actor=self.request.user,
            rule=data["_rule"],
            created=created,
            margin_rates=rows["margin_rates"],
            commission_rates=rows["commission_rates"],
            rebate_bands=rows["rebate_bands"],
            rewards=rows["rewards"],
            activity_types=rows["activity_types"],
        )

    def perform_create(self, serializer):
        self._save(serializer, created=True)

    def perform_update(self, serializer):
        self._save(serializer, created=False)

    @extend_schema(
        summary="Change a rule's terms from a date on",
        description="The rule ends the day before; a copy with its rows starts that day and can be changed "
        "until it starts.",
        request=NewVersionSerializer,
        responses={201: IncentiveRuleSerializer},
    )
    @action(detail=True, methods=["post"], url_path="new-version")
    def new_version(self, request, pk=None):
        rule = self.get_object()
        payload = NewVersionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        copy = services.rule_new_version(
            actor=request.user, rule=rule, effective_from=payload.validated_data["effective_from"]
        )
        return Response(
            self.get_serializer(self.scoped_queryset().get(pk=copy.pk)).data, status=status.HTTP_201_CREATED
        )


@extend_schema_view(
    list=extend_schema(summary="Ledger entries of the partners you can see, newest first"),
    retrieve=extend_schema(summary="A ledger entry"),
)
class LedgerEntryViewSet(CursorReadOnlyViewSet):
    resource = "incentives"
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilterSet

    def scoped_queryset(self):
        return LedgerEntry.objects.visible_to(self.principal).select_related("rule", "tier")


@extend_schema_view(
    list=extend_schema(
        summary="Each partner's incentive totals for a period",
        parameters=[PERIOD_PARAMETER],
        responses=StatementSummarySerializer(many=True),
    ),
    retrieve=extend_schema(
        summary="A partner's incentive statement for a period",
        description="Entries appearing in the period, totals by rule, balances by state, held parts awaiting "
        "activation, points and the last twelve months by currency.",
        parameters=[PERIOD_PARAMETER],
        responses=StatementSerializer,
    ),
)
class StatementViewSet(ScopedViewMixin, viewsets.ViewSet):
    """Statements are read per partner; the partner id is the statement's id."""

    resource = "incentives"

    pagination_class = PagePagination
    extra_query_parameters = ("period",)

    def scoped_queryset(self):
        return Partner.objects.visible_to(self.principal).order_by("name", "id")

    def list(self, request):
        period = _period(request)
        codes = [quarter.code for quarter in period.quarters()]
        paginator = self.pagination_class()
        partners: list = paginator.paginate_queryset(self.scoped_queryset(), request, view=self) or []
        ids = [partner.pk for partner in partners]
        totals: dict = {partner_id: {} for partner_id in ids}
        payable: dict = {partner_id: {} for partner_id in ids}
        entries = LedgerEntry.objects.visible_to(self.principal).filter(partner_id__in=ids)
        for target, queryset in (
            (totals, entries.filter(period__in=codes)),
            (payable, entries.filter(state=EntryState.PAYABLE)),
        ):
            for partner_id, currency, amount in selectors.sums_by_partner(queryset):
                target[partner_id][currency] = format(round_amount(amount, currency), "f")
        rows = [
            {
                "partner": partner,
                "period": period.code,
                "totals": totals[partner.pk],
                "payable": payable[partner.pk],
            }
            for partner in partners
        ]
        return paginator.get_paginated_response(StatementSummarySerializer(rows, many=True).data)

    def retrieve(self, request, pk=None):
        period = _period(request)
        partner = self.get_scoped_object(self.scoped_queryset())
        statement = selectors.statement_for(partner, period)
        data = StatementSerializer(statement).data
        return Response(data)


@extend_schema_view(
    list=extend_schema(summary="Customer activations of won deals you can see"),
    create=extend_schema(
        summary="Record a customer activation",
        description="Releases the held part of split payouts when it came within the rule's window. "
        "Sending it again for the same deal corrects the date.",
    ),
)
class ActivationViewSet(
    ScopedViewMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    resource = "incentives"
    serializer_class = ActivationSerializer
    pagination_class = PagePagination
    write_permissions = {"create": ["incentives.add_customeractivation"]}

    def scoped_queryset(self):
        return CustomerActivation.objects.visible_to(self.principal).order_by("-id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.activation_record(
            actor=self.request.user,
            deal=data["deal"],
            activated_on=data["activated_on"],
            metric=data.get("metric", ""),
        )


def register(router) -> None:
    router.register("incentive-rules", IncentiveRuleViewSet, basename="incentive-rule")
    router.register("incentive-statements", StatementViewSet, basename="incentive-statement")
    router.register("ledger-entries", LedgerEntryViewSet, basename="ledger-entry")
    router.register("incentive-activations", ActivationViewSet, basename="incentive-activation")
