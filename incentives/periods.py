"""Incentive periods: calendar quarters ("2025-Q1") and years ("2025").

Statements, period close and the ledger's ``period`` column speak in quarters;
rebates may also run over a year. Pure Python, no ORM.
"""

import datetime
import re
from dataclasses import dataclass

_QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR_RE = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """A period code that is neither ``YYYY-Qn`` nor ``YYYY``."""


@dataclass(frozen=True, order=True)
class Period:
    start: datetime.date
    end: datetime.date
    code: str

    @property
    def is_year(self) -> bool:
        return len(self.code) == 4

    def contains(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end

    def quarters(self) -> list["Period"]:
        if not self.is_year:
            return [self]
        return [quarter(self.start.year, number) for number in range(1, 5)]

    def label(self) -> str:
        if self.is_year:
            return self.code
        return f"Q{self.code[-1]} {self.code[:4]}"

    def previous(self) -> "Period":
        if self.is_year:
            return year(self.start.year - 1)
        return quarter_of(self.start - datetime.timedelta(days=1))

    def next(self) -> "Period":
        if self.is_year:
            return year(self.start.year + 1)
        return quarter_of(self.end + datetime.timedelta(days=1))

    def __str__(self) -> str:
        return self.code


def quarter(year_number: int, number: int) -> Period:
    start = datetime.date(year_number, 3 * (number - 1) + 1, 1)
    if number == 4:
        end = datetime.date(year_number, 12, 31)
    else:
        end = datetime.date(year_number, 3 * number + 1, 1) - datetime.timedelta(days=1)
    return Period(start=start, end=end, code=f"{year_number}-Q{number}")


def year(year_number: int) -> Period:
    return Period(
        start=datetime.date(year_number, 1, 1), end=datetime.date(year_number, 12, 31), code=str(year_number)
    )


def quarter_of(day: datetime.date) -> Period:
    return quarter(day.year, (day.month - 1) // 3 + 1)


def parse_period(code: str) -> Period:
    """``2025-Q1`` or ``2025``; anything else raises ``PeriodError`` with a readable message."""
    text = (code or "").strip().upper()
    if match := _QUARTER_RE.match(text):
        year_number = int(match.group(1))
        if year_number >= 2000:
            return quarter(year_number, int(match.group(2)))
    elif match := _YEAR_RE.match(text):
        year_number = int(match.group(1))
        if year_number >= 2000:
            return year(year_number)
    raise PeriodError(f"{code!r} is not a period: give a quarter such as 2025-Q1 or a year such as 2025.")


def quarters_between(first: datetime.date, last: datetime.date) -> list[Period]:
    """Every quarter from the one holding ``first`` to the one holding ``last``, oldest first."""
    if last < first:
        return []
    result = [quarter_of(first)]
    while result[-1].end < last:
        result.append(result[-1].next())
    return result


def month_starts(last: datetime.date, count: int) -> list[datetime.date]:
    """The first days of the ``count`` months ending with the month of ``last``, oldest first."""
    months = []
    year_number, month = last.year, last.month
    for _ in range(count):
        months.append(datetime.date(year_number, month, 1))
        month -= 1
        if month == 0:
            year_number, month = year_number - 1, 12
    return list(reversed(months))
