"""Where the money fields used to live: the historical migrations name them by this path.

New code imports ``core.money``; these names stay so that the migrations keep loading.
"""

from core.money import AmountField, CurrencyField

__all__ = ["AmountField", "CurrencyField"]
