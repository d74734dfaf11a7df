"""Money: an amount is a ``Decimal`` with an ISO 4217 currency, never a float.

Rounding happens once, to the currency's minor unit (two places for EUR,
none for JPY, three for BHD), with ROUND_HALF_UP, at the step that produces a
payable or displayed figure. Intermediate conversions keep full precision.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_territory_currencies
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from moneyed import CURRENCIES

# Codes that are not money a partner can be paid in.
_NOT_MONEY = {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XSU", "XUA"}

CURRENCY_CODES: frozenset[str] = frozenset(
    code for code in CURRENCIES if len(code) == 3 and code.isalpha() and code not in _NOT_MONEY
)
CURRENCY_CHOICES = sorted((code, f"{code} – {CURRENCIES[code].name}") for code in CURRENCY_CODES)
# The currencies an exchange rate is entered for: all but the reference one, whose rate is 1.
RATED_CURRENCY_CHOICES = [
    choice for choice in CURRENCY_CHOICES if choice[0] != settings.PRM_REFERENCE_CURRENCY
]

AMOUNT_MAX_DIGITS = 16
AMOUNT_DECIMAL_PLACES = 4


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in CURRENCY_CODES


def currency_of_country(country_code: str, default: str = "USD") -> str:
    """The legal tender of a country today, from the CLDR (GB → GBP, DE → EUR), else ``default``."""
    try:
        tenders = get_territory_currencies(str(country_code).upper(), tender=True)
    except (ValueError, KeyError):
        return default
    return next((code for code in tenders if code in CURRENCY_CODES), default)


def validate_currency(code: str) -> None:
    if not is_currency(code):
        raise ValidationError(
            "%(code)s is not an ISO 4217 currency code.", code="unknown_currency", params={"code": code}
        )


def minor_unit_exponent(currency: str) -> Decimal:
    """The quantum of a currency: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    sub_unit = CURRENCIES[currency].sub_unit or 1
    places = len(str(sub_unit)) - 1
    return Decimal(1).scaleb(-places)


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit_exponent(currency), rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """Turn a database aggregate (Decimal, int, or SQLite's float) into a Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # SQLite returns REAL for sums of decimals: go through repr to keep the
        # shortest exact decimal form instead of the binary expansion.
        return Decimal(repr(value))
    try:
        return Decimal(value)  # type: ignore[arg-type]
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        validate_currency(self.currency)

    def rounded(self) -> "Money":
        return Money(round_money(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return f"{round_money(self.amount, self.currency):,} {self.currency}"


@lru_cache(maxsize=16)
def _options_html(choices: tuple[tuple[str, str], ...]) -> SafeString:
    return format_html_join("", '<option value="{}">{}</option>', choices)


def _attributes(attrs: dict) -> SafeString:
    """Attributes in their given order, as ``django/forms/widgets/attrs.html`` writes them."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", key) if value is True else format_html(' {}="{}"', key, value),)
            for key, value in attrs.items()
            if value is not False and value is not None
        ),
    )


class CurrencySelect(forms.Select):
    """The currency list as an ordinary select, its options rendered once per process.

    Django renders a select option by option through templates; with some 300
    currencies a page of money rows (a program's benefits in the admin) spent
    seconds there. The markup is the same as ``forms.Select``'s.
    """

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, attrs)
        options = _options_html(tuple((str(code), str(label)) for code, label in self.choices))
        plain = format_html('<option value="{}">', "" if value is None else value)
        options = mark_safe(options.replace(plain, plain[:-1] + " selected>", 1))  # noqa: S308 (escaped above)
        return format_html('<select name="{}"{}>{}</select>', name, _attributes(final_attrs), options)


class CurrencyChoiceField(forms.TypedChoiceField):
    """A choice of currency whose copies share the (never changed) list of currencies.

    A form copies its fields for every instance, and ``ChoiceField`` deep-copies its
    choices: some 300 tuples per currency field per form, most of a page's time on
    a formset of money rows.
    """

    def __deepcopy__(self, memo):
        result = forms.Field.__deepcopy__(self, memo)
        result._choices = self._choices  # type: ignore[attr-defined]
        return result


class CurrencyField(models.CharField):
    """An ISO 4217 code, checked against the list of real currencies."""

    def formfield(self, **kwargs):
        kwargs.setdefault("widget", CurrencySelect)
        kwargs.setdefault("choices_form_class", CurrencyChoiceField)
        return super().formfield(**kwargs)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("choices", CURRENCY_CHOICES)
        super().__init__(*args, **kwargs)

    def validate(self, value, model_instance):
        # Report an unknown code in the field's own words rather than Django's
        # generic "not a valid choice".
        if value not in self.empty_values and not is_currency(value):
            validate_currency(value)
        super().validate(value, model_instance)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        # The list of currencies is data, not schema: keep it out of migrations.
        kwargs.pop("choices", None)
        if kwargs.get("max_length") == 3:
            kwargs.pop("max_length")
        return name, path, args, kwargs


class AmountField(models.DecimalField):
    """A money amount: the currency lives in a sibling ``CurrencyField``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", AMOUNT_MAX_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)
