"""Exchange rates: the rate in force on a day, conversions, and the daily rate table.

``ExchangeRate`` holds the rates a channel manager or an integration enters:
the value of one unit of a currency in the reference currency from a date on.
``DailyRate`` spells that out as one row per currency and day, from the
currency's first rate to a few days ahead, so that the set-based evaluation
can join sales to rates on equality. It is rebuilt for a currency whenever
one of its rates changes and extended before every evaluation.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.models import DailyRate, ExchangeRate, rate_missing_message, rate_on

# How far past today the daily table reaches, so that facts dated today or
# tomorrow (time zones) always find their rate.
HORIZON_DAYS = 7
ONE = Decimal(1)

__all__ = ["convert", "daily_rates_extend", "daily_rates_rebuild", "rate_missing_message", "rate_on"]


def reference_currency() -> str:
    return settings.PRM_REFERENCE_CURRENCY


def convert(amount: Decimal, from_currency: str, to_currency: str, day: datetime.date) -> Decimal:
    """Convert at the rates in force on ``day``, at full precision (round later, once)."""
    if from_currency == to_currency:
        return amount
    from_rate = rate_on(from_currency, day)
    to_rate = rate_on(to_currency, day)
    if from_rate is None or to_rate is None:
        missing = from_currency if from_rate is None else to_currency
        raise LookupError(f"no {missing} exchange rate on or before {day}")
    return amount * from_rate / to_rate


def _horizon() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=HORIZON_DAYS)


_EXTENDED_KEY = "exchange:daily-rates-extended-until"


def daily_rates_rebuild(currency: str) -> int:
    """Rewrite the daily table of one currency from its rates. Returns the rows written."""
    cache.delete(_EXTENDED_KEY)
    rates = list(
        ExchangeRate.objects.filter(currency=currency)
        .order_by("valid_from")
        .values_list("valid_from", "rate")
    )
    rows: list[DailyRate] = []
    if rates:
        end = max(_horizon(), rates[-1][0])
        for index, (start, rate) in enumerate(rates):
            stop = rates[index + 1][0] if index + 1 < len(rates) else end + datetime.timedelta(days=1)
            day = start
            while day < stop:
                rows.append(DailyRate(currency=currency, day=day, rate=rate))
                day += datetime.timedelta(days=1)
    with transaction.atomic():
        DailyRate.objects.filter(currency=currency).delete()
        DailyRate.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def daily_rates_extend(until: datetime.date | None = None) -> int:
    """Carry every currency's last rate forward to ``until`` (default: a week ahead).

    Two queries when nothing is missing, which is the usual case: it runs
    before every evaluation.
    """
    until = until or _horizon()
    if cache.get(_EXTENDED_KEY, datetime.date.min) >= until:
        return 0
    currencies = set(ExchangeRate.objects.order_by().values_list("currency", flat=True).distinct())
    last_days = dict(
        DailyRate.objects.order_by()
        .values("currency")
        .annotate(last=Max("day"))
        .values_list("currency", "last")
    )
    written = 0
    for currency in sorted(currencies):
        last_day = last_days.get(currency)
        if last_day is None:
            written += daily_rates_rebuild(currency)
            continue
        if last_day >= until:
            continue
        rate = DailyRate.objects.get(currency=currency, day=last_day).rate
        rows = []
        day = last_day + datetime.timedelta(days=1)
        while day <= until:
            rows.append(DailyRate(currency=currency, day=day, rate=rate))
            day += datetime.timedelta(days=1)
        DailyRate.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        written += len(rows)
    # Remember for a while that the table reaches ``until``; a rebuild forgets it.
    transaction.on_commit(lambda: cache.set(_EXTENDED_KEY, until, timeout=3600))
    return written
