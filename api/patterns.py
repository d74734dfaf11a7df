"""The patterns of the values the API parses, as the OpenAPI document states them."""

from decimal import Decimal

from rest_framework import serializers

from core.serializers import PositiveDecimalField


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The decimals the field parses: at least one digit, a sign only where negatives are allowed,
    and no zero where the value must be above it.

    drf-spectacular's own pattern makes every digit optional, so it admits "" and "-",
    which the field refuses.
    """
    whole, places = field.max_whole_digits or 0, field.decimal_places or 0
    if isinstance(field, PositiveDecimalField):
        # A digit from 1 to 9 somewhere: in the whole part, or after k zeros in the fraction.
        above_one = rf"0*[1-9]\d{{0,{max(whole - 1, 0)}}}(?:\.\d{{0,{places}}})?" if whole else None
        fractions = [rf"0{{{k}}}[1-9]\d{{0,{places - k - 1}}}" for k in range(places)]
        below_one = rf"0*\.(?:{'|'.join(fractions)})" if places else None
        return "^(?:" + "|".join(part for part in (above_one, below_one) if part) + ")$"
    sign = "" if field.min_value is not None and Decimal(field.min_value) >= 0 else "-?"
    # A bound that is a power of ten (a percentage's 100): fewer whole digits, or the bound itself.
    ceiling = _power_of_ten(field.max_value)
    bound = ""
    if ceiling is not None and ceiling < whole:
        whole = ceiling
        bound = "1" + "0" * ceiling + (rf"(?:\.0{{0,{places}}})?" if places else "") + "|"
    whole_part = "0" if whole == 0 else rf"\d{{1,{whole}}}"
    if not places:
        return rf"^{sign}(?:{bound}{whole_part})$" if bound else rf"^{sign}{whole_part}$"
    return rf"^{sign}(?:{bound}{whole_part}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"


def _power_of_ten(value) -> int | None:
    """n where ``value`` is 10**n (n ≥ 1), else None."""
    if value is None:
        return None
    number = Decimal(value)
    digits = len(str(int(number))) - 1
    return digits if digits >= 1 and number == 10**digits else None
