"""Won sales, keyed on (source, external_id), with amounts in a currency that has a rate."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Min
from django_countries import countries

from core.models import ExchangeRate
from core.money import is_currency, minor_unit_exponent
from partners.ingestion.parsing import _REGIONS, _amount, _date, _id, _text
from partners.ingestion.pipeline import _Ingestion
from partners.models import CustomerSegment, ProductLine, Region, Sale


class SalesIngestion(_Ingestion):
    kind = "sales"
    model = Sale
    fields = frozenset(
        {
            "external_id",
            "partner",
            "amount",
            "currency",
            "product_line",
            "region",
            "closed_on",
            "customer_name",
            "country",
            "customer_segment",
        }
    )
    compared = (
        "partner_id",
        "amount",
        "currency",
        "product_line_id",
        "region",
        "closed_on",
        "customer_name",
        "country",
        "customer_segment_id",
    )

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        return {
            "partner": lambda r: _id(r, "partner"),
            "amount": lambda r: _amount(r, "amount"),
            "currency": lambda r: _text(r, "currency", max_length=3, required=True).upper(),
            "product_line": lambda r: _text(r, "product_line", max_length=50, required=True),
            "region": lambda r: _text(r, "region", max_length=8),
            "closed_on": lambda r: _date(r, "closed_on", latest=self.latest),
            "customer_name": lambda r: _text(r, "customer_name", max_length=200),
            "country": lambda r: _text(r, "country", max_length=2).upper(),
            "customer_segment": lambda r: _text(r, "customer_segment", max_length=50),
        }

    def load_references(self, rows, partner_regions) -> None:
        codes = {row.clean["product_line"] for row in rows}
        self.product_lines = dict(ProductLine.objects.filter(code__in=codes).values_list("code", "id"))
        segments = {row.clean["customer_segment"] for row in rows} - {""}
        self.customer_segments = dict(
            CustomerSegment.objects.filter(code__in=segments).values_list("code", "id")
        )
        currencies = {row.clean["currency"] for row in rows} - {settings.PRM_REFERENCE_CURRENCY}
        self.first_rates = dict(
            ExchangeRate.objects.filter(currency__in=currencies)
            .values("currency")
            .annotate(first=Min("valid_from"))
            .values_list("currency", "first")
        )

    def resolve(self, row, partner_regions) -> None:
        clean = row.clean
        currency = clean["currency"]
        if not is_currency(currency):
            row.reject("currency", f"{currency} is not an ISO 4217 currency code.")
        else:
            quantum = minor_unit_exponent(currency)
            if clean["amount"] != clean["amount"].quantize(quantum):
                places = -int(quantum.as_tuple().exponent)
                row.reject("amount", f"{currency} amounts have at most {places} decimal places.")
            if currency != settings.PRM_REFERENCE_CURRENCY:
                first = self.first_rates.get(currency)
                if first is None or first > clean["closed_on"]:
                    row.reject(
                        "currency",
                        f"There is no {currency} exchange rate on or before {clean['closed_on']:%d %b %Y}; "
                        f"add one before recording amounts in {currency}.",
                    )
        product_line_id = self.product_lines.get(clean["product_line"])
        if product_line_id is None:
            row.reject("product_line", f"No product line has the code {clean['product_line']!r}.")
        region = clean["region"] or partner_regions[clean["partner"]]
        if region not in _REGIONS:
            row.reject("region", f"{region!r} is not one of {', '.join(Region.values)}.")
        country = clean["country"] or None
        if country is not None and country not in countries:
            row.reject("country", f"{country!r} is not an ISO 3166 country code, e.g. GB.")
        segment = clean["customer_segment"]
        segment_id = self.customer_segments.get(segment) if segment else None
        if segment and segment_id is None:
            row.reject("customer_segment", f"No customer segment has the code {segment!r}.")
        if row.errors:
            return
        row.values = {
            "partner_id": clean["partner"],
            "amount": clean["amount"],
            "currency": currency,
            "product_line_id": product_line_id,
            "region": region,
            "closed_on": clean["closed_on"],
            "customer_name": clean["customer_name"],
            "country": country,
            "customer_segment_id": segment_id,
        }


# --- engagement activities -------------------------------------------------------------------------
