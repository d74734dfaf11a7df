"""The checks every incentive rule passes, shared by the models, the admin and the API.

Pure Python over plain values, so that the admin form, the admin inlines and
the API serializer refuse the same mistakes with the same sentences: a rate
above 100 %, a negative amount, overlapping volume bands, no currency.
"""

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from core.money import is_currency

HUNDRED = Decimal(100)
ZERO = Decimal(0)


def _number(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def percent_problem(value: Decimal | None, *, label: str = "A rate") -> str | None:
    """A percentage lies between 0 and 100 inclusive."""
    if value is None:
        return f"{label} is required."
    if value < ZERO:
        return f"{label} cannot be negative: {_number(value)} % was given."
    if value > HUNDRED:
        return f"{label} cannot be above 100 %: {_number(value)} % was given."
    return None


def amount_problem(value: Decimal | None, *, label: str, allow_zero: bool = False) -> str | None:
    if value is None:
        return None
    if value < ZERO:
        return f"{label} cannot be negative: {_number(value)} was given."
    if value == ZERO and not allow_zero:
        return f"{label} must be greater than zero."
    return None


def currency_problem(currency: str | None) -> str | None:
    if not currency:
        return "Choose the currency this rule pays in: every amount it produces is in that currency."
    if not is_currency(currency):
        return f"{currency} is not an ISO 4217 currency code."
    return None


@dataclass(frozen=True)
class BandInput:
    lower: Decimal | None
    upper: Decimal | None
    percent: Decimal | None


def _band_text(band: BandInput) -> str:
    lower = _number(band.lower) if band.lower is not None else "?"
    upper = _number(band.upper) if band.upper is not None else "and above"
    return f"{lower}–{upper}" if band.upper is not None else f"{lower} and above"


def band_problems(bands: Iterable[BandInput]) -> list[str]:
    """Volume bands: a lower bound from 0, an upper bound above it, at most one open band, no overlap.

    A band covers ``lower <= volume < upper``; the next band may start exactly
    where the previous one ends. Gaps are allowed (volume in a gap earns
    nothing), overlaps are not: each unit of volume belongs to one band.
    """
    problems: list[str] = []
    complete: list[BandInput] = []
    for band in bands:
        if band.lower is None:
            problems.append("Every band needs a lower bound (0 for the first band).")
            continue
        if band.lower < ZERO:
            problems.append(f"A band cannot start below zero: {_number(band.lower)} was given.")
            continue
        if band.upper is not None and band.upper <= band.lower:
            problems.append(
                f"The band starting at {_number(band.lower)} ends at {_number(band.upper)}: "
                "its upper bound must be above its lower bound."
            )
            continue
        problem = percent_problem(band.percent, label=f"The rate of the band {_band_text(band)}")
        if problem:
            problems.append(problem)
        complete.append(band)
    complete.sort(key=lambda band: (band.lower, band.upper is None, band.upper or ZERO))
    for previous, current in pairwise(complete):
        if previous.upper is None:
            problems.append(
                f"The bands {_band_text(previous)} and {_band_text(current)} overlap: "
                "only the highest band may be open-ended."
            )
        elif current.lower < previous.upper:  # type: ignore[operator]
            problems.append(
                f"The bands {_band_text(previous)} and {_band_text(current)} overlap: "
                "a band must start at or above the upper bound of the band before it."
            )
    return problems


def duplicate_problems(keys: Iterable[Hashable], describe: Callable[[Any], str], *, what: str) -> list[str]:
    seen: set[Hashable] = set()
    problems = []
    for key in keys:
        if key in seen:
            problems.append(f"{describe(key)} has two {what}: keep one.")
        seen.add(key)
    return problems


# The rows each kind of rule is made of; other kinds have none of them.
ROWS_OF_KIND = {"margin": "margin rates", "commission": "commission rates", "rebate": "volume bands"}

LOCKED_MESSAGE = (
    "This rule has started or already earned money: its {what} can no longer change, because the past is "
    "paid under them. Create a new version from a future date instead."
)


def rows_problem(*, rule_kind: str, rule_kind_label: str, rows_kind: str, count: int) -> str | None:
    """A rule of ``rows_kind`` needs its rows; a rule of another kind must have none of them."""
    what = ROWS_OF_KIND[rows_kind]
    if rule_kind != rows_kind:
        return f"A {rule_kind_label.lower()} has no {what}: remove them." if count else None
    if not count:
        return f"Give at least one of the {what} this rule pays."
    return None
