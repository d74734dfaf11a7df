"""Object ids as they arrive in URLs and form fields: text to parse before any query.

``Model.objects.get(pk="false")`` raises ``ValueError`` and a 40-digit id
overflows the database's integer, so an id someone typed must be parsed
first; one that does not parse names nothing, and the page answers 404 as
for any id that does not exist.
"""

from typing import Any, TypeVar

from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

# The largest id a database key holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1

_Model = TypeVar("_Model", bound=models.Model)


def parse_id(value: Any) -> int | None:
    """The id written as decimal digits from 1 to ``MAX_ID``; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def has_integer_key(model: type[models.Model]) -> bool:
    return isinstance(model._meta.pk, models.IntegerField)  # AutoField and BigAutoField too


def object_or_404(queryset: models.QuerySet[_Model], value: Any) -> _Model:
    """The object of this queryset whose id is ``value`` (text from a URL or a form), or a 404."""
    if has_integer_key(queryset.model):
        number = parse_id(value)
        if number is None:
            raise Http404("No such object.")
        value = number
    return get_object_or_404(queryset, pk=value)
