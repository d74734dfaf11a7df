"""The shape every list of the portal shares: a table, its filters and search, pages, and a CSV.

A list is a django-tables2 ``Table`` over a queryset that came through the one
door (``visible_to`` / ``actionable_by``), narrowed by a django-filter
``FilterSet`` whose ``q`` is the search box. Everything lives in the URL:
``?status=approved&q=acme&sort=-expected_value&page=2``, and ``&export=csv``
downloads the same rows, every page of them, in the same order, each cell
through ``core.csv_cells.defuse``.

A filter value that does not parse is ignored and said so beside its field;
an unknown sort column or page number falls back to the default.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import django_filters as filters
import django_tables2 as tables
from django import forms
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.encoding import force_str
from django_tables2 import RequestConfig
from django_tables2.utils import call_with_appropriate

from core.csv_cells import csv_response

PER_PAGE = 25
MAX_QUERY_LENGTH = 100


class PortalTable(tables.Table):
    """A portal table: its caption names it for screen readers and labels its scrolling region."""

    caption = "Table"

    def as_values(self, exclude_columns=None):
        """The rows for the CSV: each column's ``value_<name>`` if it has one, else its plain value.

        Never the HTML a ``render_<name>`` makes for the page; the CSV helper then
        writes numbers as numbers, dates in ISO and text defused.
        """
        columns = [
            column
            for column in self.columns.iterall()
            if not (column.column.exclude_from_export or column.name in (exclude_columns or ()))
        ]
        yield [force_str(column.header, strings_only=True) for column in columns]
        for row in self.rows:
            yield [self._export_value(row.record, column) for column in columns]

    def _export_value(self, record, column):
        value = column.accessor.resolve(record, quiet=True)
        method = getattr(self, f"value_{column.name}", None)
        if method is not None:
            return call_with_appropriate(
                method, {"record": record, "value": value, "column": column.column, "table": self}
            )
        if hasattr(value, "all"):  # a many-to-many, prefetched
            return "; ".join(str(item) for item in value.all())
        return value

    class Meta:
        template_name = "portal/tables/table.html"
        per_page = PER_PAGE
        empty_text = "Nothing matches."
        attrs: dict[str, Any] = {}


class SearchFilterSet(filters.FilterSet):
    """A FilterSet with the list's search box: every word of ``q`` must be in one of ``search_fields``."""

    search_fields: tuple[str, ...] = ()

    q = filters.CharFilter(
        method="search",
        label="Search",
        max_length=MAX_QUERY_LENGTH,
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split()[:10]:
            match = Q()
            for field in self.search_fields:
                match |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(match)
        return queryset


@dataclass
class Listing:
    """What a list page renders: the table (one page of it), its filter form and the row count."""

    table: PortalTable
    filters: filters.FilterSet

    @property
    def count(self) -> int:
        return self.table.paginator.count

    @property
    def page(self):
        return self.table.page


def listing(
    request: HttpRequest,
    *,
    queryset: QuerySet,
    table_class: type[PortalTable],
    filterset_class: type[filters.FilterSet],
    filename: str,
    rows: Callable[[QuerySet], Iterable] | None = None,
    before: Callable[[Any, list], None] | None = None,
    per_page: int = PER_PAGE,
    **table_kwargs,
) -> Listing | HttpResponse:
    """The list for this request, or its CSV when the URL asks ``export=csv``.

    ``queryset`` must already be the viewer's (through the one door): filters and
    search only narrow it. ``rows`` turns the filtered queryset into the table's
    data when a row is more than a model instance (the managers' targets);
    ``before(table, records)`` reads what the shown records need in one go (a
    page of them, or all for the CSV) before any is rendered.
    """
    found = filterset_class(request.GET, queryset=queryset, request=request)
    narrowed = found.qs  # an invalid value is left out of the filtering; its error shows by the field
    table = table_class(rows(narrowed) if rows is not None else narrowed, **table_kwargs)
    RequestConfig(request, paginate=False).configure(table)  # the sort, if the URL names a column
    data = table.data.data
    if isinstance(data, QuerySet) and data.query.order_by:
        # Ties keep one order from page to page.
        table.data.data = data.order_by(*data.query.order_by, "pk")
    if request.GET.get("export") == "csv":
        if before is not None:
            before(table, [row.record for row in table.rows])
        values = table.as_values()
        return csv_response(filename, next(values), values)
    try:
        table.paginate(page=request.GET.get("page", 1), per_page=per_page)
    except PageNotAnInteger:
        table.page = table.paginator.page(1)
    except EmptyPage:
        table.page = table.paginator.page(table.paginator.num_pages)
    if before is not None:
        before(table, [row.record for row in table.page.object_list])
    return Listing(table=table, filters=found)
