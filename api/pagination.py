"""Pagination: numbered pages for definitions, cursors for the large fact lists.

Cursor pages stay fast and stable however deep an integrator reads and while
new facts arrive; they are ordered by id, newest first, which is unique.
"""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


def strict_page_size(paginator, request) -> int:
    """The page size asked for, refused (rather than silently replaced) when it is not valid."""
    values = request.query_params.getlist(paginator.page_size_query_param)
    if not values:
        return paginator.page_size
    if len(values) > 1:
        raise ValidationError({paginator.page_size_query_param: ["Give one page size."]})
    raw = values[0]
    if not raw.isdigit() or not 1 <= int(raw) <= paginator.max_page_size:
        raise ValidationError(
            {paginator.page_size_query_param: [f"Give a whole number from 1 to {paginator.max_page_size}."]}
        )
    return int(raw)


def _bounded(parameters, paginator):
    for parameter in parameters:
        if parameter["name"] == paginator.page_size_query_param:
            parameter["schema"].update({"minimum": 1, "maximum": paginator.max_page_size})
    return parameters


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        return strict_page_size(self, request)

    def get_page_number(self, request, paginator):
        values = request.query_params.getlist(self.page_query_param)
        if not values:
            return 1
        if len(values) > 1 or not values[0].isdigit() or int(values[0]) < 1:
            raise ValidationError({self.page_query_param: ["Give a page number from 1."]})
        return values[0]

    def get_schema_operation_parameters(self, view):
        parameters = _bounded(super().get_schema_operation_parameters(view), self)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"].update({"minimum": 1})
        return parameters


class FactCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-id"

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: ["This cursor is not valid."]}) from exc

    def get_page_size(self, request):
        return strict_page_size(self, request)

    def get_schema_operation_parameters(self, view):
        return _bounded(super().get_schema_operation_parameters(view), self)
