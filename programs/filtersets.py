"""Filters for programs, tiers and benefits, shared by the API and any list page."""

import django_filters as filters

from core.filters import BooleanFilter, IdFilter
from programs.models import Benefit, BenefitKind, Program, ProgramKind, Tier


class ProgramFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=ProgramKind.choices)
    parent = IdFilter(field_name="parent_id")
    slug = filters.CharFilter()
    is_active = BooleanFilter()

    class Meta:
        model = Program
        fields: list[str] = []


class TierFilterSet(filters.FilterSet):
    program = IdFilter(field_name="program_id")

    class Meta:
        model = Tier
        fields: list[str] = []


class BenefitFilterSet(filters.FilterSet):
    program = IdFilter(field_name="program_id")
    kind = filters.ChoiceFilter(choices=BenefitKind.choices)
    tier = IdFilter(field_name="tiers__id", distinct=True)

    class Meta:
        model = Benefit
        fields: list[str] = []
