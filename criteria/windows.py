"""Time windows of the criteria language, in pure Python.

A window turns an evaluation day into the inclusive range of days whose facts
count. Quarters and years may follow a fiscal year that starts in any month.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta

WINDOW_KINDS = {
    "all_time": "all time",
    "rolling_days": "the last N days",
    "rolling_months": "the last N months",
    "quarter_to_date": "this quarter so far",
    "last_quarter": "the last full quarter",
    "year_to_date": "this year so far",
    "last_year": "the last full year",
}
MAX_ROLLING_DAYS = 3660
MAX_ROLLING_MONTHS = 120


@dataclass(frozen=True, slots=True)
class Window:
    kind: str = "all_time"
    days: int | None = None
    months: int | None = None
    fiscal_year_start_month: int = 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.days is not None:
            data["days"] = self.days
        if self.months is not None:
            data["months"] = self.months
        if self.fiscal_year_start_month != 1:
            data["fiscal_year_start_month"] = self.fiscal_year_start_month
        return data

    # --- the calendar --------------------------------------------------------
    def _year_start(self, day: datetime.date) -> datetime.date:
        start = day.replace(month=self.fiscal_year_start_month, day=1)
        return start if start <= day else start - relativedelta(years=1)

    def _quarter_start(self, day: datetime.date) -> datetime.date:
        year_start = self._year_start(day)
        months_in = (day.year - year_start.year) * 12 + day.month - year_start.month
        return year_start + relativedelta(months=months_in - months_in % 3)

    def bounds(self, as_of: datetime.date) -> tuple[datetime.date | None, datetime.date]:
        """Inclusive first and last day whose facts count; None means no lower bound."""
        one_day = datetime.timedelta(days=1)
        if self.kind == "all_time":
            return None, as_of
        if self.kind == "rolling_days":
            assert self.days is not None
            return as_of - datetime.timedelta(days=self.days - 1), as_of
        if self.kind == "rolling_months":
            assert self.months is not None
            return as_of - relativedelta(months=self.months) + one_day, as_of
        if self.kind == "quarter_to_date":
            return self._quarter_start(as_of), as_of
        if self.kind == "last_quarter":
            this_quarter = self._quarter_start(as_of)
            return this_quarter - relativedelta(months=3), this_quarter - one_day
        if self.kind == "year_to_date":
            return self._year_start(as_of), as_of
        if self.kind == "last_year":
            this_year = self._year_start(as_of)
            return this_year - relativedelta(years=1), this_year - one_day
        raise ValueError(f"unknown window kind {self.kind!r}")

    def period_end(self, as_of: datetime.date) -> datetime.date | None:
        """The last day of the period being filled (the end of this quarter), if it has one."""
        one_day = datetime.timedelta(days=1)
        if self.kind == "quarter_to_date":
            return self._quarter_start(as_of) + relativedelta(months=3) - one_day
        if self.kind == "year_to_date":
            return self._year_start(as_of) + relativedelta(years=1) - one_day
        return None

    def describe(self) -> str:
        fiscal = " (fiscal)" if self.fiscal_year_start_month != 1 else ""
        if self.kind == "rolling_days":
            return f"in the last {self.days} days"
        if self.kind == "rolling_months":
            return f"in the last {self.months} months"
        if self.kind == "quarter_to_date":
            return f"this quarter{fiscal}"
        if self.kind == "last_quarter":
            return f"last quarter{fiscal}"
        if self.kind == "year_to_date":
            return f"this year{fiscal}"
        if self.kind == "last_year":
            return f"last year{fiscal}"
        return "all time"


def parse_window(data: object, path: str, errors: list[str]) -> Window:
    """Validate a window written as JSON; problems are appended to ``errors``."""
    if data is None:
        return Window()
    if isinstance(data, str):
        data = {"kind": data}
    if not isinstance(data, dict):
        errors.append(f'{path}: a window is an object such as {{"kind": "quarter_to_date"}}.')
        return Window()
    unknown = set(data) - {"kind", "days", "months", "fiscal_year_start_month"}
    if unknown:
        errors.append(f"{path}: unknown window field(s) {', '.join(sorted(unknown))}.")
    kind = data.get("kind")
    if kind not in WINDOW_KINDS:
        errors.append(f"{path}.kind: {kind!r} is not a window; use one of {', '.join(WINDOW_KINDS)}.")
        return Window()
    days = data.get("days")
    months = data.get("months")
    fiscal = data.get("fiscal_year_start_month", 1)
    if kind == "rolling_days":
        if not (isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= MAX_ROLLING_DAYS):
            errors.append(f"{path}.days: a rolling window needs whole days from 1 to {MAX_ROLLING_DAYS}.")
            days = 1
    elif days is not None:
        errors.append(f"{path}.days: only a rolling_days window takes days.")
        days = None
    if kind == "rolling_months":
        if not (
            isinstance(months, int) and not isinstance(months, bool) and 1 <= months <= MAX_ROLLING_MONTHS
        ):
            errors.append(
                f"{path}.months: a rolling window needs whole months from 1 to {MAX_ROLLING_MONTHS}."
            )
            months = 1
    elif months is not None:
        errors.append(f"{path}.months: only a rolling_months window takes months.")
        months = None
    if not _is_int(fiscal) or not 1 <= fiscal <= 12:
        errors.append(f"{path}.fiscal_year_start_month: a month number from 1 to 12.")
        fiscal = 1
    elif fiscal != 1 and kind not in {"quarter_to_date", "last_quarter", "year_to_date", "last_year"}:
        errors.append(f"{path}.fiscal_year_start_month: only quarters and years follow a fiscal year.")
        fiscal = 1
    return Window(kind=kind, days=days, months=months, fiscal_year_start_month=fiscal)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
