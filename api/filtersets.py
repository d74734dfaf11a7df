"""Filters for the API's own lists (integration tokens)."""

import django_filters as filters
from django.db.models import Q
from django.utils import timezone

from api.models import IntegrationToken, TokenScope
from core.filters import BooleanFilter, IdFilter


class TokenFilterSet(filters.FilterSet):
    usable = BooleanFilter(
        method="filter_usable", help_text="Neither revoked nor expired (or, false, either)."
    )
    revoked = BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)
    scope = filters.ChoiceFilter(choices=TokenScope.choices)
    all_partners = BooleanFilter()
    issued_by = IdFilter(field_name="issued_by_id")
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name, any case.")

    class Meta:
        model = IntegrationToken
        fields: list[str] = []

    def filter_usable(self, queryset, name, value):
        usable = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        return queryset.filter(usable) if value else queryset.exclude(usable)
