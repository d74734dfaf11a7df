import datetime

import pytest

from criteria.windows import Window, parse_window

D = datetime.date


@pytest.mark.parametrize(
    ("window", "as_of", "bounds"),
    [
        (Window("all_time"), D(2026, 5, 17), (None, D(2026, 5, 17))),
        (Window("rolling_days", days=1), D(2026, 5, 17), (D(2026, 5, 17), D(2026, 5, 17))),
        (Window("rolling_days", days=90), D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 31))),
        (Window("rolling_months", months=12), D(2026, 11, 29), (D(2025, 11, 30), D(2026, 11, 29))),
        (Window("rolling_months", months=1), D(2026, 3, 31), (D(2026, 3, 1), D(2026, 3, 31))),
        # Calendar quarters, including a quarter's last day and a new quarter's first.
        (Window("quarter_to_date"), D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 31))),
        (Window("quarter_to_date"), D(2026, 4, 1), (D(2026, 4, 1), D(2026, 4, 1))),
        (Window("quarter_to_date"), D(2026, 12, 31), (D(2026, 10, 1), D(2026, 12, 31))),
        (Window("last_quarter"), D(2026, 4, 1), (D(2026, 1, 1), D(2026, 3, 31))),
        (Window("last_quarter"), D(2026, 1, 15), (D(2025, 10, 1), D(2025, 12, 31))),
        (Window("year_to_date"), D(2026, 1, 1), (D(2026, 1, 1), D(2026, 1, 1))),
        (Window("last_year"), D(2026, 6, 1), (D(2025, 1, 1), D(2025, 12, 31))),
        # A fiscal year starting in April: Q1 is April to June.
        (
            Window("quarter_to_date", fiscal_year_start_month=4),
            D(2026, 5, 10),
            (D(2026, 4, 1), D(2026, 5, 10)),
        ),
        (
            Window("quarter_to_date", fiscal_year_start_month=4),
            D(2026, 3, 31),
            (D(2026, 1, 1), D(2026, 3, 31)),
        ),
        (Window("year_to_date", fiscal_year_start_month=4), D(2026, 3, 31), (D(2025, 4, 1), D(2026, 3, 31))),
        (Window("year_to_date", fiscal_year_start_month=4), D(2026, 4, 1), (D(2026, 4, 1), D(2026, 4, 1))),
        (Window("last_year", fiscal_year_start_month=7), D(2026, 8, 1), (D(2025, 7, 1), D(2026, 6, 30))),
        # A fiscal year starting in February: quarters are Feb-Apr, May-Jul, Aug-Oct, Nov-Jan.
        (
            Window("quarter_to_date", fiscal_year_start_month=2),
            D(2026, 1, 31),
            (D(2025, 11, 1), D(2026, 1, 31)),
        ),
    ],
)
def test_window_bounds(window, as_of, bounds):
    assert window.bounds(as_of) == bounds


def test_period_end_says_until_when_a_period_runs():
    assert Window("quarter_to_date").period_end(D(2026, 11, 29)) == D(2026, 12, 31)
    assert Window("year_to_date", fiscal_year_start_month=4).period_end(D(2026, 11, 29)) == D(2027, 3, 31)
    assert Window("rolling_days", days=30).period_end(D(2026, 11, 29)) is None


def test_parse_window_accepts_a_bare_kind_and_reports_every_problem():
    errors: list[str] = []
    assert parse_window("quarter_to_date", "w", errors) == Window("quarter_to_date")
    assert errors == []
    parse_window({"kind": "rolling_months", "months": 0, "days": 3, "extra": 1}, "w", errors)
    assert "w: unknown window field(s) extra." in errors
    assert any(e.startswith("w.months:") for e in errors)
    assert "w.days: only a rolling_days window takes days." in errors


def test_descriptions_read_naturally():
    assert Window("quarter_to_date").describe() == "this quarter"
    assert Window("rolling_days", days=90).describe() == "in the last 90 days"
    assert Window("year_to_date", fiscal_year_start_month=4).describe() == "this year (fiscal)"
