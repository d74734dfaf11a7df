"""Filter fields every app's filtersets share: ids, dates, date-times and booleans, strictly parsed.

Ids are plain numbers, never model choices: filtering on an object the caller
cannot see gives an empty list, not an error that would confirm it exists.
"""

import datetime
import re

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError

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
