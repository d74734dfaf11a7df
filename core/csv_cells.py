"""CSV downloads that a spreadsheet opens safely: one helper for every export of the product.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by spreadsheets as a formula; such text gets a leading ``'`` so
it shows as typed. Numbers are written as they are: ``-12.50`` is an amount,
not a formula, and a quote would make it text.
"""

import csv
import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.http import HttpResponse

# Characters that make a spreadsheet treat a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value) -> str:
    """The text of one cell: empty for None, ISO for dates, numbers as they are, formulas quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_response(filename: str, header: Iterable, rows: Iterable[Iterable]) -> HttpResponse:
    """A CSV attachment whose every cell, the header's too, goes through ``defuse``."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([defuse(value) for value in header])
    for row in rows:
        writer.writerow([defuse(value) for value in row])
    return response
