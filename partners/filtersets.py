"""Filters for partners, people and facts, shared by the API and any list page.

Ids are plain numbers, never model choices: filtering on a partner the caller
cannot see gives an empty list, not an error that would confirm it exists.
"""

import django_filters as filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from core.filters import BooleanFilter, DateFilter, DateTimeFilter, IdFilter
from core.models import ExchangeRate
from core.money import CURRENCY_CHOICES
from partners.models import (
    BusinessModel,
    Certification,
    EngagementActivity,
    LifecycleStatus,
    Membership,
    MembershipRole,
    Partner,
    PartnerType,
    Person,
    ProficiencyLevel,
    Region,
    Sale,
    ServiceProficiency,
)


class PartnerFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name, any case.")
    region = filters.ChoiceFilter(choices=Region.choices)
    status = filters.ChoiceFilter(choices=LifecycleStatus.choices)
    country = filters.CharFilter(field_name="country", help_text="ISO 3166 code, e.g. GB.")
    distributor = IdFilter(field_name="distributor_id")
    channel_manager = IdFilter(field_name="channel_manager_id")
    joined_after = DateFilter(field_name="joined_on", lookup_expr="gte")
    joined_before = DateFilter(field_name="joined_on", lookup_expr="lte")
    updated_since = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this moment."
    )
    updated_after = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="The older name of updated_since."
    )
    partner_type = filters.ChoiceFilter(choices=PartnerType.choices)
    business_model = filters.ChoiceFilter(choices=BusinessModel.choices)

    class Meta:
        model = Partner
        fields: list[str] = []


class PersonFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    is_active = BooleanFilter()
    email = filters.CharFilter(lookup_expr="iexact")
    external_id = filters.CharFilter()
    name = filters.CharFilter(method="filter_name", help_text="Part of the first or last name.")
    updated_since = DateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed at or after this moment: for incremental sync, send the greatest "
        "updated_at you hold.",
    )

    class Meta:
        model = Person
        fields: list[str] = []

    def filter_name(self, queryset, name, value):
        return queryset.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))


class _FactFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    source = filters.CharFilter()
    external_id = filters.CharFilter()
    updated_since = DateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed at or after this moment: for incremental sync, send the greatest "
        "updated_at you hold.",
    )
    updated_after = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="The older name of updated_since."
    )


class CertificationFilterSet(_FactFilterSet):
    partner = IdFilter(field_name="person__partner_id")
    person = IdFilter(field_name="person_id")
    certification_type = filters.CharFilter(field_name="certification_type__code")
    issued_after = DateFilter(field_name="issued_on", lookup_expr="gte")
    issued_before = DateFilter(field_name="issued_on", lookup_expr="lte")
    valid_on = DateFilter(method="filter_valid_on", help_text="Valid (issued, not expired) on this day.")

    class Meta:
        model = Certification
        fields: list[str] = []

    def filter_valid_on(self, queryset, name, value):
        return queryset.valid_on(value)


class SaleFilterSet(_FactFilterSet):
    product_line = filters.CharFilter(field_name="product_line__code")
    currency = filters.CharFilter()
    region = filters.ChoiceFilter(choices=Region.choices)
    deal = IdFilter(field_name="deal_id")
    closed_after = DateFilter(field_name="closed_on", lookup_expr="gte")
    closed_before = DateFilter(field_name="closed_on", lookup_expr="lte")

    class Meta:
        model = Sale
        fields: list[str] = []


class ActivityFilterSet(_FactFilterSet):
    activity_type = filters.CharFilter(field_name="activity_type__code")
    occurred_after = DateFilter(field_name="occurred_on", lookup_expr="gte")
    occurred_before = DateFilter(field_name="occurred_on", lookup_expr="lte")

    class Meta:
        model = EngagementActivity
        fields: list[str] = []


class ProficiencyFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    offering = filters.CharFilter(field_name="offering__code")
    level = filters.ChoiceFilter(choices=ProficiencyLevel.choices)
    updated_since = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this moment."
    )

    class Meta:
        model = ServiceProficiency
        fields: list[str] = []


class ExchangeRateFilterSet(filters.FilterSet):
    currency = filters.ChoiceFilter(choices=CURRENCY_CHOICES)
    valid_from_after = DateFilter(field_name="valid_from", lookup_expr="gte")
    valid_from_before = DateFilter(field_name="valid_from", lookup_expr="lte")

    class Meta:
        model = ExchangeRate
        fields: list[str] = []


class MembershipFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    distributor = IdFilter(field_name="distributor_id")
    user = IdFilter(field_name="user_id")
    role = filters.ChoiceFilter(choices=MembershipRole.choices)
    email = filters.CharFilter(
        field_name="user__email", lookup_expr="iexact", help_text="The login's email, any case."
    )
    updated_since = DateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Invited or re-roled at or after this moment: for incremental sync.",
    )

    class Meta:
        model = Membership
        fields: list[str] = []


class UserFilterSet(filters.FilterSet):
    email = filters.CharFilter(lookup_expr="iexact", help_text="The login's email, any case.")
    is_active = BooleanFilter()
    partner = IdFilter(field_name="membership__partner_id", help_text="Members of this partner.")
    distributor = IdFilter(field_name="membership__distributor_id", help_text="Members of this distributor.")
    role = filters.ChoiceFilter(field_name="membership__role", choices=MembershipRole.choices)
    joined_after = DateTimeFilter(field_name="date_joined", lookup_expr="gte")
    # On the ``updated_at`` that partners.selectors.logins_with_updated_at annotates.
    updated_since = DateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed at or after this moment (its name, email, activity, staff flag or "
        "membership; a sign-in alone is no change): for incremental sync, send the greatest "
        "updated_at you hold.",
    )

    class Meta:
        model = get_user_model()
        fields: list[str] = []
