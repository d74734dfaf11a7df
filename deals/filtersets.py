"""Filters for the lists of deal registrations and MDF requests, shared by the API and any list page."""

import django_filters as filters

from core.filters import DateFilter, IdFilter
from deals.models import Deal, DealStatus, MdfActivityKind, MdfRequest, MdfStatus


class DealFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    status = filters.ChoiceFilter(choices=DealStatus.choices)
    customer_domain = filters.CharFilter(lookup_expr="iexact")
    registered_after = DateFilter(field_name="registered_on", lookup_expr="gte")
    registered_before = DateFilter(field_name="registered_on", lookup_expr="lte")

    class Meta:
        model = Deal
        fields: list[str] = []


class MdfRequestFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    status = filters.ChoiceFilter(choices=MdfStatus.choices)
    activity_kind = filters.ChoiceFilter(choices=MdfActivityKind.choices)

    class Meta:
        model = MdfRequest
        fields: list[str] = []
