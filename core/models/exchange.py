"""Exchange rates against the reference currency, and the daily table sales are converted with."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import dateformat, timezone

from core.money import CurrencyField
from history.tracking import tracked

# No fact is dated before this (partners' EARLIEST_FACT_DATE): an earlier rate would convert
# nothing, and the daily table holds a row for every day from a currency's first rate on.
EARLIEST_RATE_DAY = datetime.date(2000, 1, 1)
# How far ahead a rate may be entered (next year's budget rate); the daily table runs to it.
RATE_DAYS_AHEAD = 366


# The tables keep the names they had when the models lived in partners.
@tracked(event_table="partners_exchangerateevent")
class ExchangeRate(models.Model):
    """The value of one unit of ``currency`` in the reference currency, from ``valid_from`` on.

    A rate holds until the next rate of the same currency. Gates convert each
    sale at the rate in force on the sale's date.
    """

    currency = CurrencyField()
    valid_from = models.DateField()
    rate = models.DecimalField(
        max_digits=20, decimal_places=10, validators=[MinValueValidator(Decimal("0.0000000001"))]
    )

    class Meta:
        db_table = "partners_exchangerate"
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="rate_unique_day"),
            models.CheckConstraint(name="rate_positive", condition=Q(rate__gt=0)),
        ]

    def __str__(self) -> str:
        day = dateformat.format(self.valid_from, "j F Y")
        return f"1 {self.currency} = {self.rate.normalize():f} {settings.PRM_REFERENCE_CURRENCY} from {day}"

    def clean(self) -> None:
        if self.currency == settings.PRM_REFERENCE_CURRENCY:
            raise ValidationError(
                {"currency": f"{self.currency} is the reference currency: its rate is always 1."}
            )
        # The daily table has a row per day from the first rate to the last: a rate dated in
        # year 1 or 9999 (a typing mistake) would make millions of them.
        if isinstance(self.valid_from, datetime.date):
            latest = timezone.localdate() + datetime.timedelta(days=RATE_DAYS_AHEAD)
            if self.valid_from < EARLIEST_RATE_DAY:
                raise ValidationError(
                    {"valid_from": f"Rates before {EARLIEST_RATE_DAY:%d %B %Y} are not accepted."}
                )
            if self.valid_from > latest:
                raise ValidationError(
                    {"valid_from": f"A rate is entered at most {RATE_DAYS_AHEAD} days ahead."}
                )


# The rate lookups live with the rates, so that a sale can check its own
# currency; ``core.exchange`` builds conversions and the daily table on them.
def rate_on(currency: str, day: datetime.date) -> Decimal | None:
    """Value of one unit of ``currency`` in the reference currency on ``day``; None if unknown."""
    if currency == settings.PRM_REFERENCE_CURRENCY:
        return Decimal(1)
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    return rate


def rate_missing_message(currency: str, day: datetime.date) -> str | None:
    if currency == settings.PRM_REFERENCE_CURRENCY or rate_on(currency, day) is not None:
        return None
    return (
        f"There is no {currency} exchange rate on or before {day:%d %b %Y}; "
        f"add one before recording amounts in {currency}."
    )


class DailyRate(models.Model):
    """One row per currency and day, derived from ``ExchangeRate`` by ``core.exchange``.

    It exists so that the set-based gate evaluation converts millions of sales
    with an equality join instead of a "latest rate before" subquery per row.
    """

    currency = models.CharField(max_length=3)
    day = models.DateField()
    rate = models.DecimalField(max_digits=20, decimal_places=10)

    class Meta:
        db_table = "partners_dailyrate"
        constraints = [
            models.UniqueConstraint(fields=["currency", "day"], name="daily_rate_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.day}: {self.rate}"
