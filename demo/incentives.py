"""Demo incentives: a rule of every kind, won deals that earn under them, closed quarters and a payout.

Called by ``demo.seed.seed_demo`` after the gate evaluation, so that tiers
and their history exist. Everything is keyed on names, customer domains and
payment references, and the calculation writes only differences, so running
the seeding again adds nothing. The tier history starts with the demo's first
evaluation (today): deals closed before it earn commissions, SPIFs and
rebates, and those closed today earn tier margins too.
"""

import datetime
import random
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.exchange import convert
from deals.models import Deal, DealStatus, SalesRole
from incentives import services
from incentives.models import (
    BandMethod,
    BudgetPeriod,
    CommissionRate,
    CustomerActivation,
    IncentiveRule,
    MarginRate,
    Payout,
    RebateBand,
    RebatePeriod,
    Redemption,
    Reward,
    RuleKind,
    SpifTrigger,
)
from incentives.periods import quarter_of
from partners.models import CertificationType, LifecycleStatus, Partner, ProductLine, Sale
from programs.models import Program

SOURCE = "deal"
CUSTOMERS = [
    "Adatum",
    "Alpine Ski House",
    "Bellows College",
    "Coho Winery",
    "Contoso Pharma",
    "Fourth Coffee",
    "Graphic Design Institute",
    "Humongous Insurance",
    "Lamna Healthcare",
    "Lucerne Publishing",
    "Margie's Travel",
    "Northwind Traders",
    "Proseware",
    "Relecloud",
    "Southridge Video",
    "Trey Research",
    "VanArsdel",
    "Wide World Importers",
    "Wingtip Toys",
    "Woodgrove Logistics",
]
# Who ran the sales cycle: mostly the partner alone, sometimes with the vendor.
ROLES = [
    (SalesRole.PARTNER, SalesRole.PARTNER),
    (SalesRole.PARTNER, SalesRole.PARTNER),
    (SalesRole.PARTNER, SalesRole.VENDOR),
    (SalesRole.VENDOR, SalesRole.PARTNER),
    (SalesRole.VENDOR, SalesRole.VENDOR),
]


def _rule(name: str, kind: str, program: Program, *, rows=(), rewards=(), **values) -> IncentiveRule:
    rule, created = IncentiveRule.objects.get_or_create(
        name=name, defaults={"kind": kind, "program": program, "currency": "USD", **values}
    )
    if created:
        for row in rows:
            row.rule = rule
            row.save()
        for reward_name, cost, amount in rewards:
            Reward.objects.create(rule=rule, name=reward_name, points_cost=cost, amount=Decimal(amount))
    return rule


def _rules(program: Program, today: datetime.date) -> dict[str, IncentiveRule]:
    tiers = {tier.name: tier for tier in program.tiers.all()}
    lines = {line.code: line for line in ProductLine.objects.all()}
    start = quarter_of(today - relativedelta(months=15)).start
    this_year = datetime.date(today.year, 1, 1)
    quarter = quarter_of(today)
    rules: dict[str, IncentiveRule] = {}
    rules["margin"] = _rule(
        "Tier margin on won deals",
        RuleKind.MARGIN,
        program,
        effective_from=start,
        budget=Decimal(500_000),
        budget_period=BudgetPeriod.YEAR,
        description="The discount partners keep on a won deal, by the tier they held on its close date.",
        rows=[
            MarginRate(tier=tiers[name], percent=Decimal(percent))
            for name, percent in (("Registered", 5), ("Silver", 10), ("Gold", 15), ("Platinum", 20))
            if name in tiers
        ]
        + (
            [MarginRate(tier=tiers["Gold"], product_line=lines["security"], percent=Decimal(18))]
            if "security" in lines and "Gold" in tiers
            else []
        ),
    )

    def commission_rates(partner_alone: int) -> list[CommissionRate]:
        return [
            CommissionRate(sourced_by=SalesRole.VENDOR, closed_by=SalesRole.VENDOR, percent=Decimal(3)),
            CommissionRate(sourced_by=SalesRole.VENDOR, closed_by=SalesRole.PARTNER, percent=Decimal(8)),
            CommissionRate(sourced_by=SalesRole.PARTNER, closed_by=SalesRole.VENDOR, percent=Decimal(10)),
            CommissionRate(
                sourced_by=SalesRole.PARTNER, closed_by=SalesRole.PARTNER, percent=Decimal(partner_alone)
            ),
        ]

    split = {"paid_on_signing_percent": Decimal(50), "activation_days": 90}
    earlier = _rule(
        f"Self-sufficiency commission {today.year - 1}",
        RuleKind.COMMISSION,
        program,
        effective_from=start,
        effective_to=this_year - datetime.timedelta(days=1),
        description="3 % when we carried the deal, up to 18 % when the partner ran it end to end. Half on "
        "signing, half when the customer activates within 90 days.",
        rows=commission_rates(18),
        **split,
    )
    rules["commission"] = _rule(
        "Self-sufficiency commission",
        RuleKind.COMMISSION,
        program,
        effective_from=this_year,
        supersedes=earlier,
        budget=Decimal(150_000),
        budget_period=BudgetPeriod.QUARTER,
        description="From this year the partner who runs the whole cycle earns 20 %. Half on signing, half "
        "when the customer activates within 90 days.",
        rows=commission_rates(20),
        **split,
    )
    rules["rebate"] = _rule(
        "Quarterly volume rebate",
        RuleKind.REBATE,
        program,
        effective_from=start,
        rebate_period=RebatePeriod.QUARTER,
        band_method=BandMethod.MARGINAL,
        budget=Decimal(600_000),
        budget_period=BudgetPeriod.YEAR,
        description="1 % of a quarter's sales above 500,000 USD, 1.5 % above 2,000,000 USD.",
        rows=[
            RebateBand(lower_bound=Decimal(0), upper_bound=Decimal(500_000), percent=Decimal(0)),
            RebateBand(lower_bound=Decimal(500_000), upper_bound=Decimal(2_000_000), percent=Decimal(1)),
            RebateBand(lower_bound=Decimal(2_000_000), upper_bound=None, percent=Decimal("1.5")),
        ],
    )
    rules["annual_rebate"] = _rule(
        "Annual cloud rebate",
        RuleKind.REBATE,
        program,
        effective_from=start,
        rebate_period=RebatePeriod.YEAR,
        band_method=BandMethod.WHOLE,
        product_line=lines.get("cloud"),
        description="1 % of a year's cloud sales once they pass 250,000 USD, 1.5 % past 1,000,000 USD.",
        rows=[
            RebateBand(lower_bound=Decimal(250_000), upper_bound=Decimal(1_000_000), percent=Decimal(1)),
            RebateBand(lower_bound=Decimal(1_000_000), upper_bound=None, percent=Decimal("1.5")),
        ],
    )
    rules["spif_security"] = _rule(
        "Security push SPIF",
        RuleKind.SPIF,
        program,
        effective_from=quarter.previous().start,
        effective_to=quarter.end,
        spif_trigger=SpifTrigger.DEAL,
        spif_amount=Decimal(1_000),
        product_line=lines.get("security"),
        budget=Decimal(12_000),
        description="1,000 USD for each security deal won over two quarters, until 12,000 USD is spent.",
    )
    rules["spif_new_line"] = _rule(
        "First deal in a new product line",
        RuleKind.SPIF,
        program,
        effective_from=start,
        effective_to=quarter.end,
        spif_trigger=SpifTrigger.FIRST_DEAL_IN_LINE,
        spif_amount=Decimal(750),
        budget=Decimal(7_500),
        description="750 USD for a partner's first won deal in a product line it had never sold.",
    )
    rules["spif_certification"] = _rule(
        "Security Specialist certification bonus",
        RuleKind.SPIF,
        program,
        effective_from=start,
        effective_to=quarter.end,
        spif_trigger=SpifTrigger.CERTIFICATION,
        spif_amount=Decimal(300),
        certification_type=CertificationType.objects.filter(code="security-specialist").first(),
        budget=Decimal(9_000),
        description="300 USD for every Security Specialist a partner certifies.",
    )
    rules["points"] = _rule(
        "Engagement points",
        RuleKind.POINTS,
        program,
        effective_from=start,
        points_multiplier=Decimal(1),
        description="Every engagement activity's points, redeemable for rewards.",
        rewards=[
            ("Training voucher", 60, "250.00"),
            ("Demo kit", 150, "750.00"),
            ("Partner summit pass", 300, "1600.00"),
        ],
    )
    return rules


def _currency_of(partner: Partner) -> str:
    return Sale.objects.filter(partner=partner).values_list("currency", flat=True).first() or "USD"


def _won_deal(
    partner: Partner, *, customer: str, domain: str, amount: Decimal, currency: str, line, closed_on, roles
):
    deal, _ = Deal.objects.get_or_create(
        partner=partner,
        customer_domain=domain,
        defaults={
            "customer_name": customer,
            "country": partner.country,
            "expected_value": amount,
            "currency": currency,
            "expected_close": closed_on,
            "registered_on": closed_on - datetime.timedelta(days=45),
            "status": DealStatus.WON,
            "closed_on": closed_on,
            "sourced_by": roles[0],
            "closed_by": roles[1],
        },
    )
    deal.products.add(line)
    Sale.objects.get_or_create(
        source=SOURCE,
        external_id=f"deal-{deal.pk}",
        defaults={
            "partner": partner,
            "amount": amount,
            "currency": currency,
            "product_line": line,
            "region": partner.region,
            "closed_on": closed_on,
            "deal": deal,
            "customer_name": customer,
        },
    )
    return deal


def _deals(acme: Partner, today: datetime.date) -> list[Deal]:
    """Won deals over the last fifteen months for the demo partner and fourteen others, a few today."""
    rng = random.Random(11)
    lines = list(ProductLine.objects.order_by("code"))
    if not lines:
        return []
    others = Partner.objects.exclude(pk=acme.pk).filter(status=LifecycleStatus.ACTIVE).order_by("id")[:14]
    partners = [acme, *others]
    deals = []
    for index, partner in enumerate(partners):
        currency = _currency_of(partner)
        scale = Decimal("0.8") if currency in ("JPY", "INR") else Decimal(1)
        for number in range(8 if partner == acme else rng.randint(3, 6)):
            closed_on = today if number == 0 else today - datetime.timedelta(days=rng.randint(3, 450))
            customer = CUSTOMERS[(index * 7 + number) % len(CUSTOMERS)]
            usd = Decimal(rng.randint(15, 140) * 1000) * scale
            deals.append(
                _won_deal(
                    partner,
                    customer=customer,
                    domain=f"{customer.lower().replace(' ', '-').replace(chr(39), '')}-{partner.pk}-{number}.example",
                    amount=_in_currency(usd, currency, closed_on),
                    currency=currency,
                    line=rng.choice(lines),
                    closed_on=closed_on,
                    roles=rng.choice(ROLES),
                )
            )
    return deals


def _in_currency(usd: Decimal, currency: str, day: datetime.date) -> Decimal:
    try:
        amount = convert(usd, "USD", currency, day)
    except LookupError:
        return usd
    return amount.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


def _activations(deals: list[Deal], today: datetime.date) -> None:
    """Most customers activate within the 90 days; some late (their held half is forfeited)."""
    rng = random.Random(13)
    for deal in deals:
        if deal.closed_on is None or (today - deal.closed_on).days < 20:
            continue
        roll = rng.random()
        if roll < 0.6:
            day = deal.closed_on + datetime.timedelta(days=rng.randint(10, 90))
        elif roll < 0.75:
            day = deal.closed_on + datetime.timedelta(days=rng.randint(91, 150))
        else:
            continue
        if day <= today:
            CustomerActivation.objects.get_or_create(
                deal=deal, defaults={"activated_on": day, "metric": f"{rng.randint(20, 400)} active seats"}
            )


def seed_incentives(*, acme: Partner, today: datetime.date | None = None) -> None:
    """Rules of every kind, deals that earn under them, closed quarters, a reward and a payout."""
    today = today or timezone.localdate()
    program = Program.objects.filter(slug="partner-network").first()
    if program is None:
        return
    with transaction.atomic():
        _rules(program, today)
        deals = _deals(acme, today)
        _activations(deals, today)
        # One deal won and later cancelled: its earnings are reversed, never edited.
        cancelled = deals[1] if len(deals) > 1 else None
        services.calculate(as_of=today)
        if (
            cancelled is not None
            and cancelled.status == DealStatus.WON
            and not cancelled.customer_name.endswith("(cancelled)")
        ):
            Deal.objects.filter(pk=cancelled.pk).update(
                status=DealStatus.LOST, customer_name=f"{cancelled.customer_name} (cancelled)"
            )
    due = services.periods_due(today)
    for period in due[:-1]:
        services.period_close(period=period, as_of=today)
    manager = get_user_model().objects.filter(username="manager").first()
    reference = f"DEMO-PAYOUT-{acme.pk}"
    if manager is not None and not Payout.objects.filter(reference=reference).exists():
        problems = services.payout_problems(partner=acme, currency="USD", reference=reference)
        if not problems:
            services.payout_record(
                actor=manager, partner=acme, currency="USD", reference=reference, paid_on=today
            )
    for period in due[-1:]:
        services.period_close(period=period, as_of=today)
    services.calculate(as_of=today)
    partner_user = get_user_model().objects.filter(username="partner").first()
    voucher = Reward.objects.filter(rule__name="Engagement points", name="Training voucher").first()
    if (
        partner_user is not None
        and voucher is not None
        and not Redemption.objects.filter(partner=acme).exists()
        and services.points_balance(acme.pk) >= voucher.points_cost
    ):
        services.reward_redeem(actor=partner_user, partner=acme, reward=voucher, today=today)
