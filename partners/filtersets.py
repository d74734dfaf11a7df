"""Filters for partners, people and facts, shared by the API and any list page.

Ids are plain numbers, never model choices: filtering on a partner the caller
cannot see gives an empty list, not an error that would confirm it exists.
"""

import datetime

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError

from partners.models import (
    Certification,
    EngagementActivity,
    LifecycleStatus,
    Partner,
    Person,
    Region,
    Sale,
    ServiceProficiency,
)

# The largest id a database key holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    """An object id (the primary key of the model the field points at)."""

    field_class = IdField


class BoundedDateTimeField(forms.DateTimeField):
    """A date-time the database can compare with: refuses moments that overflow in UTC."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None and result.tzinfo is not None:
            try:
                result.astimezone(datetime.UTC)
            except OverflowError as exc:
                raise ValidationError("This moment is out of range.", code="invalid") from exc
        return result


class DateTimeFilter(filters.DateTimeFilter):
    field_class = BoundedDateTimeField


class PartnerFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name, any case.")
    region = filters.ChoiceFilter(choices=Region.choices)
    status = filters.ChoiceFilter(choices=LifecycleStatus.choices)
    country = filters.CharFilter(field_name="country", help_text="ISO 3166 code, e.g. GB.")
    distributor = IdFilter(field_name="distributor_id")
    channel_manager = IdFilter(field_name="channel_manager_id")
    joined_after = filters.DateFilter(field_name="joined_on", lookup_expr="gte")
    joined_before = filters.DateFilter(field_name="joined_on", lookup_expr="lte")
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Partner
        fields = ["partner_type", "business_model"]


class PersonFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    email = filters.CharFilter(lookup_expr="iexact")
    external_id = filters.CharFilter()
    name = filters.CharFilter(method="filter_name", help_text="Part of the first or last name.")

    class Meta:
        model = Person
        fields = ["is_active"]

    def filter_name(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))


class _FactFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    source = filters.CharFilter()
    external_id = filters.CharFilter()
    updated_after = DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this moment."
    )


class CertificationFilterSet(_FactFilterSet):
    partner = IdFilter(field_name="person__partner_id")
    person = IdFilter(field_name="person_id")
    certification_type = filters.CharFilter(field_name="certification_type__code")
    issued_after = filters.DateFilter(field_name="issued_on", lookup_expr="gte")
    issued_before = filters.DateFilter(field_name="issued_on", lookup_expr="lte")
    valid_on = filters.DateFilter(
        method="filter_valid_on", help_text="Valid (issued, not expired) on this day."
    )

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
    closed_after = filters.DateFilter(field_name="closed_on", lookup_expr="gte")
    closed_before = filters.DateFilter(field_name="closed_on", lookup_expr="lte")

    class Meta:
        model = Sale
        fields: list[str] = []


class ActivityFilterSet(_FactFilterSet):
    activity_type = filters.CharFilter(field_name="activity_type__code")
    occurred_after = filters.DateFilter(field_name="occurred_on", lookup_expr="gte")
    occurred_before = filters.DateFilter(field_name="occurred_on", lookup_expr="lte")

    class Meta:
        model = EngagementActivity
        fields: list[str] = []


class ProficiencyFilterSet(filters.FilterSet):
    partner = IdFilter(field_name="partner_id")
    offering = filters.CharFilter(field_name="offering__code")

    class Meta:
        model = ServiceProficiency
        fields = ["level"]
