"""The days on which a partner's measures can change if nothing new arrives, found set-wise.

Between two such days every measure is constant, so a forecast measures only
on them, never on sampled days:

* a certification stops counting the day after it expires;
* a fact leaves a rolling window (its date plus the window's length);
* a quarter-to-date (or year-to-date, last-quarter, last-year) window turns
  over at the start of the next period;
* months since joining grow on each monthly anniversary.

Each fact table is read once (one ``SELECT DISTINCT`` per table) for every
partner at once; calendar turns are the same for everybody.
"""

import calendar
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection

from criteria.tree import Leaf
from criteria.windows import Window
from gates.engine import _param
from gates.metrics import METRICS, column_sql, months_between, table_sql

ONE_DAY = datetime.timedelta(days=1)
# Where each fact table's windows count from, for the sources whose facts leave a window.
DATED_SOURCES = {
    "sales": ("sales", "closed_on", "partner"),
    "activities": ("activities", "occurred_on", "partner"),
    "deals": ("deals", "registered_on", "partner"),
}
# Months since joining only grows: a criterion it can make fail compares with < or <=, == or !=.
_FALLS_AS_MONTHS_GROW = {"<", "<=", "==", "!=", "in", "not_in"}


@dataclass
class ChangeDays:
    """Per partner, the days after ``today`` (up to ``until``) on which some measure may change."""

    today: datetime.date
    until: datetime.date
    # (source, day) -> the partners whose measures of that source may change that day.
    by_source_day: dict[tuple[str, datetime.date], set[int]] = field(default_factory=lambda: defaultdict(set))
    # Days on which every partner's measures of a source's calendar windows may change.
    calendar: dict[datetime.date, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, source: str, partner_id: int, day: datetime.date) -> None:
        if self.today < day <= self.until:
            self.by_source_day[(source, day)].add(partner_id)


def exit_day(window: Window, day: datetime.date, after: datetime.date) -> datetime.date | None:
    """The first evaluation day after ``after`` on which a fact dated ``day`` no longer counts, if it counts then.

    Only rolling windows lose facts one by one; calendar windows turn over
    for everybody at once (``calendar_turns``).
    """
    start = window.bounds(after)[0]
    if start is None or day < start or day > after:
        return None
    if window.kind == "rolling_days":
        assert window.days is not None
        return day + datetime.timedelta(days=window.days)
    if window.kind == "rolling_months":
        # Month lengths differ: start near the answer and walk to the first day it holds.
        assert window.months is not None
        candidate = max(after + ONE_DAY, day + datetime.timedelta(days=window.months * 28 - 4))
        while (window.bounds(candidate)[0] or candidate) <= day:
            candidate += ONE_DAY
        return candidate
    return None


def calendar_turns(window: Window, today: datetime.date, until: datetime.date) -> set[datetime.date]:
    """The days in (today, until] on which a calendar window's period starts anew."""
    if window.kind in {"all_time", "rolling_days", "rolling_months"}:
        return set()
    turns = set()
    day = today + ONE_DAY
    previous = window.bounds(today)
    while day <= until:
        bounds = window.bounds(day)
        if bounds[0] != previous[0]:
            turns.add(day)
        previous = bounds
        day += ONE_DAY
    return turns


def _windows(leaves: Iterable[Leaf]) -> list[Window]:
    found = []
    for leaf in leaves:
        window = leaf.params.get("window")
        if isinstance(window, Window) and window not in found:
            found.append(window)
    return found


def _rolling(windows: list[Window]) -> list[Window]:
    return [w for w in windows if w.kind in {"rolling_days", "rolling_months"}]


def _distinct_days(sql: str, params: list) -> list[tuple[int, datetime.date]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [_param(p) for p in params])
        rows = cursor.fetchall()
    return [
        (partner_id, day if isinstance(day, datetime.date) else datetime.date.fromisoformat(day))
        for partner_id, day in rows
    ]


def change_days(
    leaves_by_source: dict[str, list[Leaf]],
    *,
    today: datetime.date,
    until: datetime.date,
    joined: dict[int, datetime.date] | None = None,
) -> ChangeDays:
    """Every day in (today, until] on which a measure of these leaves may change, for every partner.

    ``leaves_by_source`` groups the leaves of the gates being forecast by
    their metric's source table; ``joined`` gives the joining day of the
    partners whose months since joining some criterion reads.
    """
    days = ChangeDays(today=today, until=until)
    for source, leaves in leaves_by_source.items():
        for window in _windows(leaves):
            for turn in calendar_turns(window, today, until):
                days.calendar[turn].add(source)

    for source, leaves in leaves_by_source.items():
        rolling = _rolling(_windows(leaves))
        if source in DATED_SOURCES and rolling:
            table, day_field, partner_field = DATED_SOURCES[source]
            # Facts counting today that leave some window by ``until``.
            first, last = _leaving_range(rolling, today, until)
            partner, day = column_sql(table, partner_field), column_sql(table, day_field)
            rows = _distinct_days(
                f"SELECT DISTINCT {partner}, {day} FROM {table_sql(table)} WHERE {day} >= %s AND {day} <= %s",
                [first, last],
            )
            _add_exits(days, source, rows, rolling)
        if source == "certifications":
            partner = column_sql("people", "partner")
            expires, issued = (
                column_sql("certifications", "expires_on"),
                column_sql("certifications", "issued_on"),
            )
            joins = (
                f"FROM {table_sql('certifications')} JOIN {table_sql('people')} "
                f"ON {column_sql('people', 'id')} = {column_sql('certifications', 'person')} "
                f"WHERE {column_sql('people', 'is_active')} = %s AND {issued} <= %s"
            )
            # A certification counts through its expiry day, and no longer the day after.
            for partner_id, expiry in _distinct_days(
                f"SELECT DISTINCT {partner}, {expires} {joins} AND {expires} >= %s AND {expires} < %s",
                [True, today, today, until],
            ):
                days.add(source, partner_id, expiry + ONE_DAY)
            if rolling:
                first, last = _leaving_range(rolling, today, until)
                rows = _distinct_days(
                    f"SELECT DISTINCT {partner}, {issued} {joins} AND {issued} >= %s AND {issued} <= %s",
                    [True, today, first, last],
                )
                _add_exits(days, source, rows, rolling)
        if (
            source == "partner"
            and joined
            and any(
                leaf.metric == "months_since_joining" and leaf.op in _FALLS_AS_MONTHS_GROW for leaf in leaves
            )
        ):
            for partner_id, joined_on in joined.items():
                for anniversary in month_anniversaries(joined_on, today, until):
                    days.add(source, partner_id, anniversary)
    return days


def _leaving_range(
    rolling: list[Window], today: datetime.date, until: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The dates of the facts that count today and leave some of these rolling windows by ``until``."""
    starts_today = [w.bounds(today)[0] for w in rolling]
    starts_then = [w.bounds(until)[0] for w in rolling]
    first = min(day for day in starts_today if day is not None)
    last = max(day for day in starts_then if day is not None) - ONE_DAY
    return first, last


def _add_exits(
    days: ChangeDays, source: str, rows: list[tuple[int, datetime.date]], windows: list[Window]
) -> None:
    exits: dict[tuple[Window, datetime.date], datetime.date | None] = {}
    for partner_id, day in rows:
        for window in windows:
            key = (window, day)
            if key not in exits:
                exits[key] = exit_day(window, day, days.today)
            leaves_on = exits[key]
            if leaves_on is not None:
                days.add(source, partner_id, leaves_on)


def month_anniversaries(
    joined_on: datetime.date, today: datetime.date, until: datetime.date
) -> list[datetime.date]:
    """The days in (today, until] on which whole months since ``joined_on`` grow by one."""
    found = []
    year, month = today.year, today.month
    while (year, month) <= (until.year, until.month):
        length = calendar.monthrange(year, month)[1]
        if joined_on.day <= length:
            day = datetime.date(year, month, joined_on.day)
        else:  # joined on the 31st: the month counts from the first of the next month
            day = datetime.date(year, month, length) + ONE_DAY
        if today < day <= until and months_between(joined_on, day) != months_between(
            joined_on, day - ONE_DAY
        ):
            found.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def leaves_by_source(leaves: Iterable[Leaf]) -> dict[str, list[Leaf]]:
    grouped: dict[str, list[Leaf]] = defaultdict(list)
    for leaf in leaves:
        grouped[METRICS[leaf.metric].source].append(leaf)
    return grouped
