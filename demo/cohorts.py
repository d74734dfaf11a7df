"""Enablement that pays, for the cohort page (``analytics.cohorts``): partners holding the Cloud
Architect Professional certification win a few larger cloud deals in the last year, so that the
certified cohort's deal size really is higher than the others', as practitioners report
(AvePoint's cohorts of certified partners close larger deals)."""

import datetime
import random
from decimal import Decimal

from demo.partners import RATES, SOURCE, _by_turns
from partners.models import Certification, Partner, Sale

CERTIFICATION = "cloud-architect"
# Each certified partner's extra deals, in USD, and the days back they closed within the last year.
DEALS_PER_PARTNER = 3
LARGEST_USD, SMALLEST_USD = 260_000, 160_000


def seed_certified_cohort(refs: dict, today: datetime.date) -> int:
    """Larger won sales for the partners holding a valid certification of ``CERTIFICATION`` today.

    Keyed on external ids (``cohort-sale-<partner>-<n>``) and drawn from a generator seeded with
    the partner's name, so running it again adds nothing. Returns the sales created."""
    holders = (
        Partner.objects.filter(
            pk__in=Certification.objects.filter(
                certification_type__code=CERTIFICATION, issued_on__lte=today, expires_on__gte=today
            ).values("person__partner_id")
        )
        .order_by("pk")
        .only("pk", "name", "region", "country")
    )
    currencies = dict(
        Sale.objects.filter(partner__in=holders, source=SOURCE)
        .exclude(external_id__startswith="cohort-sale-")
        .values_list("partner_id", "currency")
    )
    sales = []
    for partner in holders:
        rng = random.Random(f"cohort-{partner.name}")
        currency = currencies.get(partner.pk, "USD")
        rate = Decimal(RATES.get(currency, "1"))
        for number in range(DEALS_PER_PARTNER):
            amount = (Decimal(rng.randint(SMALLEST_USD, LARGEST_USD)) / rate).quantize(
                Decimal(1) if currency == "JPY" else Decimal("0.01")
            )
            sales.append(
                Sale(
                    partner=partner,
                    amount=amount,
                    currency=currency,
                    product_line=refs["lines"]["cloud"],
                    region=partner.region,
                    country=partner.country,
                    closed_on=today - datetime.timedelta(days=rng.randint(5, 330)),
                    customer_name=f"Architected cloud estate {number + 1}",
                    customer_segment=_by_turns(refs["customer_segments"], number),
                    source=SOURCE,
                    external_id=f"cohort-sale-{partner.pk}-{number}",
                )
            )
    return len(Sale.objects.bulk_create(sales, ignore_conflicts=True))
