"""Filters for gates and their results, shared by the API and any list page."""

import django_filters as filters

from core.filters import BooleanFilter, DateFilter, DateTimeFilter, IdFilter
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    Gate,
    GateForecast,
    GateOutcome,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
    TierChangeReason,
)
from programs.models import BenefitKind


class GateFilterSet(filters.FilterSet):
    program = IdFilter(field_name="program_id")
    state = filters.ChoiceFilter(choices=GateState.choices)
    unlocks_tier = IdFilter(field_name="unlocks_tier_id")

    class Meta:
        model = Gate
        fields: list[str] = []


class GateStatusFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    gate = IdFilter(field_name="gate_id")
    program = IdFilter(field_name="gate__program_id")
    status = filters.ChoiceFilter(choices=GateOutcome.choices)
    updated_since = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Decided again at or after this moment."
    )
    updated_after = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="The older name of updated_since."
    )

    class Meta:
        model = GateStatus
        fields: list[str] = []


class GateStatusChangeFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    gate = IdFilter(field_name="gate_id")
    to_status = filters.ChoiceFilter(choices=GateOutcome.choices)
    changed_after = DateTimeFilter(field_name="changed_at", lookup_expr="gte")
    updated_since = DateTimeFilter(
        field_name="changed_at",
        lookup_expr="gte",
        help_text="Recorded at or after this moment (changes are never edited): the same as changed_after.",
    )
    changed_before = DateTimeFilter(field_name="changed_at", lookup_expr="lte")

    class Meta:
        model = GateStatusChange
        fields: list[str] = []


class TierChangeFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    program = IdFilter(field_name="program_id")
    reason = filters.ChoiceFilter(choices=TierChangeReason.choices)
    changed_after = DateTimeFilter(field_name="changed_at", lookup_expr="gte")
    updated_since = DateTimeFilter(
        field_name="changed_at",
        lookup_expr="gte",
        help_text="Recorded at or after this moment (changes are never edited): the same as changed_after.",
    )
    changed_before = DateTimeFilter(field_name="changed_at", lookup_expr="lte")

    class Meta:
        model = TierChange
        fields: list[str] = []


class PartnerTierFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    program = IdFilter(field_name="program_id")
    tier = IdFilter(field_name="tier_id")
    overridden = BooleanFilter(
        field_name="override_tier",
        lookup_expr="isnull",
        exclude=True,
        help_text="Whether an override is set.",
    )
    updated_since = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this moment."
    )

    class Meta:
        model = PartnerTier
        fields: list[str] = []


class EvaluationRunFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=EvaluationRun.Kind.choices)
    state = filters.ChoiceFilter(choices=EvaluationRun.State.choices)
    partner = IdFilter(field_name="partner_id")
    started_after = DateTimeFilter(field_name="started_at", lookup_expr="gte")

    class Meta:
        model = EvaluationRun
        fields: list[str] = []


class GateForecastFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    gate = IdFilter(field_name="gate_id")
    program = IdFilter(field_name="gate__program_id")
    at_risk = BooleanFilter(field_name="at_risk")
    fails_before = DateFilter(field_name="fails_on", lookup_expr="lte")
    in_grace = BooleanFilter(
        field_name="grace_until",
        lookup_expr="isnull",
        exclude=True,
        label="The partner keeps the tier in grace.",
    )
    tier_lost_before = DateFilter(field_name="tier_lost_on", lookup_expr="lte")

    class Meta:
        model = GateForecast
        fields: list[str] = []


class SegmentMembershipFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    segment = IdFilter(field_name="segment_id")
    since_after = DateTimeFilter(field_name="since", lookup_expr="gte")
    since_before = DateTimeFilter(field_name="since", lookup_expr="lte")

    class Meta:
        model = SegmentMembership
        fields: list[str] = []


class BenefitGrantFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    benefit = IdFilter(field_name="benefit_id")
    program = IdFilter(field_name="benefit__program_id")
    kind = filters.ChoiceFilter(field_name="benefit__kind", choices=BenefitKind.choices)
    via_tier = IdFilter(field_name="via_tier_id")
    via_gate = IdFilter(field_name="via_gate_id")
    active = BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", help_text="true: held now; false: revoked."
    )
    granted_after = DateTimeFilter(field_name="granted_at", lookup_expr="gte")
    granted_before = DateTimeFilter(field_name="granted_at", lookup_expr="lte")
    revoked_after = DateTimeFilter(field_name="revoked_at", lookup_expr="gte")

    class Meta:
        model = BenefitGrant
        fields: list[str] = []
