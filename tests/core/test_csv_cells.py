"""One CSV helper for every export: text a spreadsheet would run is quoted, numbers stay numbers."""

import datetime
from decimal import Decimal

import pytest

from core.csv_cells import csv_response, defuse


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+44 20", "'+44 20"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Acme", "Acme"),
        (Decimal("-12.50"), "-12.50"),
        (-3, "-3"),
        (Decimal("1E+3"), "1000"),
        (None, ""),
        (datetime.date(2026, 1, 31), "2026-01-31"),
    ],
)
def test_a_cell_is_defused_only_when_it_is_text_a_spreadsheet_reads_as_a_formula(value, expected):
    assert defuse(value) == expected


def test_the_response_defuses_every_cell_the_header_too():
    response = csv_response("x.csv", ["=head", "amount"], [["-1+1", Decimal("-3.50")], [None, 7]])
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response.content.decode().splitlines() == ["'=head,amount", "'-1+1,-3.50", ",7"]
