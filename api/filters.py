"""Filters for the deals app's lists (the deals app keeps no filtersets of its own)."""

import django_filters as filters

from deals.models import Deal, DealStatus, MdfActivityKind, MdfRequest, MdfStatus
from partners.filtersets import DateFilter, IdFilter


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
