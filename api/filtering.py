"""The filter backend of every API list: django-filter, strict about what it is given.

A filter sent empty (``?region=``) or twice (``?partner=1&partner=2``) is an
error rather than quietly ignored: a client with a bug learns of it at once
instead of reading an unfiltered list it takes for a filtered one.
"""

from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        problems: dict[str, list[str]] = {}
        for name in filterset.filters:
            values = request.query_params.getlist(name)
            if len(values) > 1:
                problems[name] = ["Give this filter once."]
            elif values == [""]:
                problems[name] = ["Give a value, or leave the parameter out."]
        if not filterset.is_valid():
            problems = {**utils.translate_validation(filterset.errors).detail, **problems}
        if problems:
            raise ValidationError(problems)
        return filterset.qs
