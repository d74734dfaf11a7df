"""The demo program: its tiers, benefits, segments and the gates that unlock them."""

from decimal import Decimal

from gates.models import Gate, GateState
from partners.models import CustomerSegment
from programs.models import AllowancePeriod, Benefit, BenefitKind, Program, ProgramKind, Segment, Tier


def _program() -> dict:
    main, _ = Program.objects.get_or_create(
        slug="partner-network",
        defaults={
            "name": "Partner Network",
            "kind": ProgramKind.MAIN,
            "base_currency": "USD",
            "description": "The main partner program: Registered, Silver, Gold and Platinum tiers "
            "earned on capability and commitment, not revenue alone.",
        },
    )
    tiers = {}
    for rank, name, grace in [(1, "Registered", 30), (2, "Silver", 90), (3, "Gold", 90), (4, "Platinum", 90)]:
        tiers[name], _ = Tier.objects.get_or_create(
            program=main, rank=rank, defaults={"name": name, "grace_days": grace}
        )

    def benefit(name: str, kind: str, tier_names: list[str], **values) -> Benefit:
        obj, _ = Benefit.objects.get_or_create(program=main, name=name, defaults={"kind": kind, **values})
        obj.tiers.set([tiers[t] for t in tier_names])
        return obj

    benefit("Content library", BenefitKind.CONTENT, ["Registered", "Silver", "Gold", "Platinum"])
    benefit("Registered discount", BenefitKind.DISCOUNT, ["Registered"], percent=Decimal(5))
    benefit("Silver discount", BenefitKind.DISCOUNT, ["Silver"], percent=Decimal(10))
    benefit("Gold discount", BenefitKind.DISCOUNT, ["Gold"], percent=Decimal(15))
    benefit("Platinum discount", BenefitKind.DISCOUNT, ["Platinum"], percent=Decimal(20))
    benefit("Deal registration", BenefitKind.DEAL_REGISTRATION, ["Silver", "Gold", "Platinum"])
    benefit("Gold rebate", BenefitKind.REBATE, ["Gold"], percent=Decimal(2))
    benefit("Platinum rebate", BenefitKind.REBATE, ["Platinum"], percent=Decimal(3))
    benefit(
        "Silver MDF",
        BenefitKind.MDF_ALLOWANCE,
        ["Silver"],
        amount=Decimal(5000),
        currency="USD",
        period=AllowancePeriod.QUARTER,
    )
    benefit(
        "Gold MDF",
        BenefitKind.MDF_ALLOWANCE,
        ["Gold"],
        amount=Decimal(15000),
        currency="USD",
        period=AllowancePeriod.QUARTER,
    )
    benefit(
        "Platinum MDF",
        BenefitKind.MDF_ALLOWANCE,
        ["Platinum"],
        amount=Decimal(40000),
        currency="USD",
        period=AllowancePeriod.QUARTER,
    )
    co_selling = benefit("Co-selling with vendor account teams", BenefitKind.CO_SELLING, ["Platinum"])
    # Unlocked by a gate, not a tier: registering deals on enterprise accounts only.
    enterprise_deals = benefit(
        "Enterprise deal registration",
        BenefitKind.DEAL_REGISTRATION,
        [],
        customer_segment=CustomerSegment.objects.filter(code="enterprise").first(),
    )
    benefit("Partner-sourced commission", BenefitKind.COMMISSION, ["Gold", "Platinum"], percent=Decimal(20))

    uk_cloud, _ = Segment.objects.get_or_create(
        name="UK cloud partners above £1M",
        defaults={
            "currency": "GBP",
            "description": "Revenue above £1M in the UK on cloud products with three certifications.",
            "criteria": {
                # Revenue with UK customers (the sale's country, not the partner's), and
                # three valid certifications, however many people hold them.
                "all": [
                    {
                        "metric": "sales_amount",
                        "product_lines": ["cloud"],
                        "countries": ["GB"],
                        "window": {"kind": "rolling_months", "months": 12},
                        "op": ">=",
                        "target": "1000000",
                        "currency": "GBP",
                    },
                    {"metric": "certifications", "op": ">=", "target": 3},
                ]
            },
        },
    )
    mssp, _ = Segment.objects.get_or_create(
        name="Managed security providers",
        defaults={
            "criteria": {
                "any": [
                    {
                        "metric": "partner_attribute",
                        "attribute": "partner_type",
                        "op": "in",
                        "target": ["mssp", "msp"],
                    },
                    {
                        "metric": "service_offerings",
                        "offerings": ["mdr"],
                        "min_level": 2,
                        "op": ">=",
                        "target": 1,
                    },
                ]
            },
        },
    )
    gold_plus, _ = Segment.objects.get_or_create(
        name="Gold and Platinum partners",
        defaults={
            "criteria": {"metric": "current_tier", "program": "partner-network", "op": ">=", "target": 3}
        },
    )
    subprograms = [
        (
            "deal-registration",
            "Deal Registration",
            ProgramKind.DEAL_REGISTRATION,
            None,
            "Register opportunities for protection and better margins.",
        ),
        (
            "uk-cloud-accelerator",
            "UK Cloud Accelerator",
            ProgramKind.CO_SELLING,
            uk_cloud,
            "Exclusive co-selling and funded proofs of concept for the UK's leading cloud partners.",
        ),
        (
            "mssp-specialisation",
            "MSSP Specialisation",
            ProgramKind.SPECIALISATION,
            mssp,
            "Tooling, NFR licences and a security specialisation for managed security providers.",
        ),
        (
            "marketing-funds",
            "Through-channel Marketing Funds",
            ProgramKind.MDF,
            gold_plus,
            "Market development funds for Gold and Platinum partners.",
        ),
    ]
    programs = {"main": main}
    for slug, name, kind, segment, description in subprograms:
        programs[slug], _ = Program.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "parent": main,
                "segment": segment,
                "description": description,
            },
        )
    return {
        "main": main,
        "tiers": tiers,
        "co_selling": co_selling,
        "enterprise_deals": enterprise_deals,
        "programs": programs,
    }


def _gates(program: dict) -> None:
    main, tiers = program["main"], program["tiers"]
    twelve_months = {"kind": "rolling_months", "months": 12}
    definitions = [
        (
            "Registered partner",
            tiers["Registered"],
            None,
            {
                "metric": "partner_attribute",
                "attribute": "status",
                "op": "in",
                "target": ["onboarding", "active"],
            },
        ),
        (
            "Silver: certified and selling",
            tiers["Silver"],
            None,
            {
                "all": [
                    {"metric": "partner_attribute", "attribute": "status", "op": "==", "target": "active"},
                    {"metric": "certified_people", "op": ">=", "target": 2},
                    {"metric": "sales_amount", "window": twelve_months, "op": ">=", "target": "100000"},
                ]
            },
        ),
        (
            "Gold: five certified sales engineers",
            tiers["Gold"],
            None,
            {
                "all": [
                    {"metric": "partner_attribute", "attribute": "status", "op": "==", "target": "active"},
                    {
                        "metric": "certified_people",
                        "certification_types": ["sales-engineer"],
                        "op": ">=",
                        "target": 5,
                    },
                    {"metric": "sales_amount", "window": twelve_months, "op": ">=", "target": "500000"},
                    {
                        "metric": "engagement_points",
                        "window": {"kind": "year_to_date"},
                        "op": ">=",
                        "target": 200,
                    },
                ]
            },
        ),
        (
            "Platinum: proficiency in three service offerings",
            tiers["Platinum"],
            None,
            {
                "all": [
                    {"metric": "partner_attribute", "attribute": "status", "op": "==", "target": "active"},
                    {
                        "metric": "certified_people",
                        "certification_types": ["sales-engineer"],
                        "op": ">=",
                        "target": 8,
                    },
                    {"metric": "service_offerings", "min_level": 2, "op": ">=", "target": 3},
                    {"metric": "sales_amount", "window": twelve_months, "op": ">=", "target": "1500000"},
                    {"metric": "won_deals", "window": twelve_months, "op": ">=", "target": 10},
                ]
            },
        ),
        (
            "$500,000 quarterly sales: marketing funds",
            None,
            None,
            {
                "metric": "sales_amount",
                "window": {"kind": "quarter_to_date"},
                "op": ">=",
                "target": "500000",
            },
        ),
        (
            "Advanced certification: enterprise deal registration",
            None,
            None,
            {
                "metric": "certified_people",
                "advanced_only": True,
                "op": ">=",
                "target": 1,
            },
        ),
    ]
    for name, tier, _benefit, criteria in definitions:
        gate, created = Gate.objects.get_or_create(
            program=main,
            name=name,
            defaults={"criteria": criteria, "unlocks_tier": tier, "state": GateState.ACTIVE},
        )
        if created and name.startswith("Platinum"):
            gate.unlocks_specialisation = ""
        if name.startswith("Advanced certification"):
            gate.unlocks_benefits.add(program["enterprise_deals"])
    co_selling_gate, _ = Gate.objects.get_or_create(
        program=main,
        name="Co-selling: certify five sales engineers",
        defaults={
            "state": GateState.ACTIVE,
            "unlocks_specialisation": "Co-selling partner",
            "criteria": {
                "metric": "certified_people",
                "certification_types": ["sales-engineer"],
                "op": ">=",
                "target": 5,
            },
        },
    )
    co_selling_gate.unlocks_benefits.add(program["co_selling"])
