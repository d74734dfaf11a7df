from decimal import Decimal

from django import template

from core.money import is_currency
from incentives.engine import round_amount
from incentives.models import POINTS

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """``1234.5|money:"EUR"`` → ``1,234.50 EUR``; points as ``1,200 pts``."""
    if amount is None or amount == "":
        return ""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    if currency == POINTS:
        return f"{round_amount(value, POINTS):,f} pts"
    if not is_currency(currency):
        return f"{value:,f}"
    return f"{round_amount(value, currency):,f} {currency}"


@register.filter
def lookup(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def figure(amount, currency: str) -> str:
    """Like ``money`` without the currency code, for tables that name the currency once per row."""
    text = money(amount, currency)
    return text.rsplit(" ", 1)[0] if " " in text else text
