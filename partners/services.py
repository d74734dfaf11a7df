"""Writes to partners and their reference data."""

from django.db import transaction

from partners.audit import audit
from partners.exchange import daily_rates_rebuild
from partners.models import ExchangeRate


def exchange_rate_save(*, actor, rate: ExchangeRate) -> ExchangeRate:
    """Save a rate and rebuild its currency's daily table in the same transaction.

    Sales already recorded in the currency are converted at the new rate from
    the next evaluation on. The gates, which listen for rate changes, queue
    that evaluation after commit; it decides again only the partners whose
    converted amounts moved.
    """
    with transaction.atomic():
        rate.full_clean()
        rate.save()
        daily_rates_rebuild(rate.currency)
        audit(
            actor=actor,
            action="exchange_rate.saved",
            target=rate,
            currency=rate.currency,
            valid_from=rate.valid_from.isoformat(),
            rate=str(rate.rate),
        )
    return rate


def exchange_rate_delete(*, actor, rate: ExchangeRate) -> None:
    with transaction.atomic():
        audit(
            actor=actor,
            action="exchange_rate.deleted",
            target=rate,
            currency=rate.currency,
            valid_from=rate.valid_from.isoformat(),
            rate=str(rate.rate),
        )
        currency = rate.currency
        rate.delete()
        daily_rates_rebuild(currency)
