"""Filters for incentive rules and ledger entries, shared by the API and any list page.

Related objects are filtered by plain ids (``partners.filtersets.IdFilter``),
never model choices: an id the caller may not see then answers like one that
does not exist, an empty list, instead of confirming that it exists.
"""

import django_filters as filters

from core.filters import IdFilter
from incentives.models import IncentiveRule, LedgerEntry


class IncentiveRuleFilterSet(filters.FilterSet):
    program = IdFilter(field_name="program_id")
    in_effect_on = filters.DateFilter(method="filter_in_effect", label="In effect on this day")

    class Meta:
        model = IncentiveRule
        fields = ["kind", "program", "currency"]

    def filter_in_effect(self, queryset, name, value):
        return queryset.in_effect(value)


class LedgerEntryFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    rule = IdFilter(field_name="rule_id")

    class Meta:
        model = LedgerEntry
        fields = ["partner", "rule", "period", "state", "currency", "source_type", "source_id", "entry_type"]
