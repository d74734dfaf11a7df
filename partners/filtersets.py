"""Filters for partners, people and facts, shared by the API and any list page.

Ids are plain numbers, never model choices: filtering on a partner the caller
cannot see gives an empty list, not an error that would confirm it exists.
"""

import datetime
import re

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError

from partners.models import (
    BusinessModel,
    Certification,
    EngagementActivity,
    LifecycleStatus,
    Partner,
    PartnerType,
    Person,
    ProficiencyLevel,
    Region,
    Sale,
    ServiceProficiency,
)
from prm.ids import MAX_ID


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    """An object id (the primary key of the model the field points at)."""

    field_class = IdField


# RFC 3339, as the API writes its own moments (2026-01-31T09:30:00.123456Z): a client
# can send back a ``updated_at`` it read to ask for what changed since.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)


class BoundedDateTimeField(forms.DateTimeField):
    """An RFC 3339 moment with its offset, that the database can compare with."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not _RFC3339.match(value.strip()):
            raise ValidationError(
                "Give a moment as 2026-01-31T09:30:00Z, or with an offset such as +01:00 (URL-encoded).",
                code="invalid",
            )
        try:
            result = datetime.datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
            # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
            return result.astimezone(datetime.UTC)
        except (ValueError, OverflowError) as exc:
            raise ValidationError(
                "This moment is not in the calendar or out of range.", code="invalid"
            ) from exc


class DateTimeFilter(filters.DateTimeFilter):
    field_class = BoundedDateTimeField


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class IsoDateField(forms.DateField):
    """A day written YYYY-MM-DD, the one way the API writes days."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
            raise ValidationError("Give a day as YYYY-MM-DD.", code="invalid")
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValidationError("This day is not in the calendar.", code="invalid") from exc


class DateFilter(filters.DateFilter):
    field_class = IsoDateField


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError("Give true or false.", code="invalid")


class BooleanFilter(filters.BooleanFilter):
    """true or false, nothing else (a typo is an error, not "no filter")."""

    field_class = StrictBooleanField


class PartnerFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name, any case.")
    region = filters.ChoiceFilter(choices=Region.choices)
    status = filters.ChoiceFilter(choices=LifecycleStatus.choices)
    country = filters.CharFilter(field_name="country", help_text="ISO 3166 code, e.g. GB.")
    distributor = IdFilter(field_name="distributor_id")
    channel_manager = IdFilter(field_name="channel_manager_id")
    joined_after = DateFilter(field_name="joined_on", lookup_expr="gte")
    joined_before = DateFilter(field_name="joined_on", lookup_expr="lte")
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte")
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

    class Meta:
        model = Person
        fields: list[str] = []

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

    class Meta:
        model = ServiceProficiency
        fields: list[str] = []
