"""Two sub-programs with tiers of their own and rebates of very different generosity, so that
program ROI (``analytics.roi``) has programs to compare: the UK Cloud Accelerator pays its
members 6 % of their quarter's sales, the MSSP Specialisation 0.5 %. Their gates are evaluated
with the main program's, so the tier history reaches back as far."""

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from gates.models import Gate, GateState
from incentives.models import IncentiveRule
from incentives.models.rules import BandMethod, BudgetPeriod, RebateBand, RebatePeriod, RuleKind
from incentives.periods import quarter_of
from programs.models import Program, Tier

# slug, the tier, the gate's certified people, the rebate's percent.
PROGRAMS = [
    ("uk-cloud-accelerator", "Accelerator member", 2, Decimal(6)),
    ("mssp-specialisation", "MSSP specialist", 1, Decimal("0.5")),
]


def seed_program_roi(today: datetime.date) -> None:
    start = quarter_of(today - relativedelta(months=15)).start
    for slug, tier_name, people, percent in PROGRAMS:
        program = Program.objects.filter(slug=slug).first()
        if program is None:
            continue
        tier, _ = Tier.objects.get_or_create(program=program, rank=1, defaults={"name": tier_name})
        Gate.objects.get_or_create(
            program=program,
            name=f"{tier_name}: {people} certified",
            defaults={
                "criteria": {"metric": "certified_people", "op": ">=", "target": people},
                "unlocks_tier": tier,
                "state": GateState.ACTIVE,
            },
        )
        rule, created = IncentiveRule.objects.get_or_create(
            name=f"{program.name} rebate",
            defaults={
                "kind": RuleKind.REBATE,
                "program": program,
                "currency": "USD",
                "effective_from": start,
                "min_tier": tier,
                "rebate_period": RebatePeriod.QUARTER,
                "band_method": BandMethod.WHOLE,
                "budget": Decimal(2_000_000),
                "budget_period": BudgetPeriod.YEAR,
                "description": f"{percent} % of a member's quarter's sales.",
            },
        )
        if created:
            RebateBand.objects.create(rule=rule, lower_bound=Decimal(0), upper_bound=None, percent=percent)
