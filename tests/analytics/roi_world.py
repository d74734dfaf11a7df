"""A small world whose program ROI is worked out by hand in ``tests/analytics/test_roi.py``."""

import datetime
from decimal import Decimal

from django.utils import timezone

from deals.models import (
    DealStatus,
    MdfActivityKind,
    MdfBucket,
    MdfLedgerEntry,
    MdfPeriod,
    MdfRequest,
    SalesRole,
)
from gates.models import TierChange, TierChangeReason
from incentives.models import IncentiveRule, LedgerEntry
from incentives.models.ledger import POINTS, Component, EntryType, SourceType
from incentives.models.rules import RuleKind
from partners.models import PartnerType, Region
from partners.models.facts import Sale
from tests.factories import (
    DealFactory,
    ExchangeRateFactory,
    PartnerFactory,
    ProductLineFactory,
    ProgramFactory,
    TierFactory,
)

D = datetime.date


class RoiWorld:
    """Two programs, Main (USD: Silver < Gold) and Cloud (EUR: Member), from 1 January 2025.

    Rates (USD is the reference): EUR 1.10 from 2020, 1.20 from 1 March 2025; GBP 1.25. No JPY.
    Tiers: Alpha (reseller, EMEA) Main Silver from 1 Jan, Gold from 1 Mar; Cloud Member from 1 Jan.
           Bravo (MSP, EMEA) Main Silver from 1 Jan.  Delta (EMEA) no tier.
           Foxtrot (AMER, out of the manager's coverage) Main Gold from 1 Jan.
    Sales:  Alpha 10,000 USD 15 Jan, deal sourced by the partner
            Alpha  5,000 EUR 10 Mar, deal sourced by the vendor
            Alpha 100,000 JPY 2 Apr (no rate)
            Bravo  2,000 GBP  5 Feb, no deal
            Delta  3,000 USD  1 Feb (no tier: no program's)   Foxtrot 99,999 USD 15 Jan
    Ledger (each entry under the tier it was earned at; a reversal records none, and counts
    under that of the entry it reverses):
            Main margin: Alpha 1,000 USD 15 Jan; Bravo 300 USD 5 Feb, reversed the same day
            Main SPIF: Alpha 500 USD 10 Mar
            Main points: Alpha +200 PTS 20 Jan; redeems 150 PTS for a 75 USD reward 15 Mar
            Cloud margin: Alpha 400 EUR 10 Mar     Foxtrot Main margin 5,000 USD 15 Jan
    MDF:    Bravo paid 1,000 GBP on 20 Feb
    """

    def __init__(self):
        ExchangeRateFactory(currency="EUR", valid_from=D(2020, 1, 1), rate=Decimal("1.10"))
        ExchangeRateFactory(currency="EUR", valid_from=D(2025, 3, 1), rate=Decimal("1.20"))
        ExchangeRateFactory(currency="GBP", valid_from=D(2020, 1, 1), rate=Decimal("1.25"))
        self.line = ProductLineFactory(code="cloud")
        self.main = ProgramFactory(name="Main", slug="main", base_currency="USD")
        self.cloud = ProgramFactory(name="Cloud", slug="cloud", base_currency="EUR")
        self.silver = TierFactory(program=self.main, name="Silver", rank=1)
        self.gold = TierFactory(program=self.main, name="Gold", rank=2)
        self.member = TierFactory(program=self.cloud, name="Member", rank=1)
        emea = {"region": Region.EMEA, "country": "GB"}
        self.alpha = PartnerFactory(name="Alpha", partner_type=PartnerType.RESELLER, **emea)
        self.bravo = PartnerFactory(name="Bravo", partner_type=PartnerType.MSP, **emea)
        self.delta = PartnerFactory(name="Delta", partner_type=PartnerType.MSP, **emea)
        self.foxtrot = PartnerFactory(
            name="Foxtrot", partner_type=PartnerType.RESELLER, region=Region.NORTH_AMERICA, country="US"
        )
        self.tier(self.alpha, self.silver, D(2025, 1, 1))
        self.tier(self.alpha, self.gold, D(2025, 3, 1))
        self.tier(self.alpha, self.member, D(2025, 1, 1))
        self.tier(self.bravo, self.silver, D(2025, 1, 1))
        self.tier(self.foxtrot, self.gold, D(2025, 1, 1))

        self.sale(self.alpha, "10000", "USD", D(2025, 1, 15), sourced_by=SalesRole.PARTNER)
        self.sale(self.alpha, "5000", "EUR", D(2025, 3, 10), sourced_by=SalesRole.VENDOR)
        self.sale(self.alpha, "100000", "JPY", D(2025, 4, 2))
        self.sale(self.bravo, "2000", "GBP", D(2025, 2, 5))
        self.sale(self.delta, "3000", "USD", D(2025, 2, 1))
        self.sale(self.foxtrot, "99999", "USD", D(2025, 1, 15), sourced_by=SalesRole.PARTNER)

        margin = self.rule(RuleKind.MARGIN, self.main, "USD")
        spif = self.rule(RuleKind.SPIF, self.main, "USD")
        points = self.rule(RuleKind.POINTS, self.main, "USD")
        cloud_margin = self.rule(RuleKind.MARGIN, self.cloud, "EUR")
        redeemed = SourceType.REDEMPTION
        silver, gold = self.silver, self.gold
        self.entry(self.alpha, margin, "1000", "USD", D(2025, 1, 15), tier=silver)
        earning = self.entry(self.bravo, margin, "300", "USD", D(2025, 2, 5), tier=silver)
        self.entry(
            self.bravo,
            margin,
            "-300",
            "USD",
            D(2025, 2, 5),
            source=earning.source_id,
            entry_type=EntryType.REVERSAL,
            reverses=earning,
        )
        self.entry(self.alpha, spif, "500", "USD", D(2025, 3, 10), tier=gold)
        self.entry(
            self.alpha,
            points,
            "200",
            POINTS,
            D(2025, 1, 20),
            component=Component.POINTS,
            kind=SourceType.ACTIVITY,
            tier=silver,
        )
        self.entry(
            self.alpha,
            points,
            "-150",
            POINTS,
            D(2025, 3, 15),
            component=Component.POINTS,
            source="r1",
            kind=redeemed,
            tier=gold,
        )
        self.entry(
            self.alpha,
            points,
            "75",
            "USD",
            D(2025, 3, 15),
            component=Component.REWARD,
            source="r1",
            kind=redeemed,
            tier=gold,
        )
        self.entry(self.alpha, cloud_margin, "400", "EUR", D(2025, 3, 10), tier=self.member)
        self.entry(self.foxtrot, margin, "5000", "USD", D(2025, 1, 15), tier=gold)
        self.mdf_paid(self.bravo, "1000", "GBP", D(2025, 2, 20))

    def tier(self, partner, tier, day):
        TierChange.objects.create(
            partner=partner,
            program=tier.program,
            to_tier=tier,
            reason=TierChangeReason.PROMOTED,
            effective_on=day,
        )

    def sale(self, partner, amount, currency, day, *, sourced_by=None):
        deal = None
        if sourced_by is not None:
            deal = DealFactory(
                partner=partner,
                expected_value=Decimal(amount),
                currency=currency,
                status=DealStatus.WON,
                sourced_by=sourced_by,
                closed_on=day,
            )
        return Sale.objects.create(
            partner=partner,
            amount=Decimal(amount),
            currency=currency,
            product_line=self.line,
            region=partner.region,
            closed_on=day,
            deal=deal,
        )

    def rule(self, kind, program, currency):
        return IncentiveRule.objects.create(
            kind=kind,
            program=program,
            name=f"{program.name} {kind}",
            currency=currency,
            effective_from=D(2024, 1, 1),
        )

    _sources = iter(range(1, 1_000_000))

    def entry(
        self,
        partner,
        rule,
        amount,
        currency,
        day,
        *,
        component=Component.EARNING,
        source=None,
        kind=None,
        **more,
    ):
        return LedgerEntry.objects.create(
            partner=partner,
            rule=rule,
            source_type=kind or SourceType.DEAL,
            source_id=source or str(next(self._sources)),
            component=component,
            revision=1 if more.get("entry_type") == EntryType.REVERSAL else 0,
            amount=Decimal(amount),
            currency=currency,
            event_on=day,
            period=f"{day.year}-Q{(day.month - 1) // 3 + 1}",
            **more,
        )

    def mdf_paid(self, partner, amount, currency, day):
        period = MdfPeriod.objects.create(
            partner=partner,
            starts_on=D(day.year, 1, 1),
            ends_on=D(day.year, 12, 31),
            currency=currency,
            allowance=Decimal(amount),
        )
        request = MdfRequest.objects.create(
            partner=partner,
            period=period,
            title="Event",
            activity_kind=MdfActivityKind.EVENT,
            starts_on=day,
            ends_on=day,
            amount=Decimal(amount),
            currency=currency,
            approved_amount=Decimal(amount),
            claimed_amount=Decimal(amount),
        )
        paid_at = timezone.make_aware(datetime.datetime(day.year, day.month, day.day, 12))
        MdfLedgerEntry.objects.create(
            period=period,
            request=request,
            from_bucket=MdfBucket.CLAIMED,
            to_bucket=MdfBucket.PAID,
            amount=Decimal(amount),
            currency=currency,
            at=paid_at,
        )
