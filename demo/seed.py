"""Demo data: a realistic partner program built from the seed examples.

Everything is keyed on natural keys (names, codes, external ids with the
source ``demo``) and generated from a fixed random seed, so running the
seeding twice leaves the same data, never a duplicate.
"""

import datetime

from django.db import transaction
from django.utils import timezone

from demo.cohorts import seed_certified_cohort
from demo.deals import seed_deals
from demo.inbox import seed_inbox
from demo.incentives import seed_incentives
from demo.learning import seed_learning
from demo.library import seed_library
from demo.partners import DEMO_PASSWORD, DemoResult, _acme_showcase, _partners, _reference_data, _user
from demo.programs import _gates, _program
from demo.roi import seed_program_roi
from gates.models import EvaluationRun
from gates.services import evaluate
from partners.models import (
    Certification,
    Distributor,
    EngagementActivity,
    ManagerProfile,
    Membership,
    MembershipRole,
    Partner,
    Person,
    Region,
    Sale,
)
from partners.roles import ensure_channel_manager_group
from programs.models import Program
from programs.services import program_manager_grant

__all__ = ["DEMO_PASSWORD", "seed_demo"]


@transaction.atomic
def seed_demo(*, partners: int = 60) -> DemoResult:
    today = timezone.localdate()
    admin = _user("admin", email="admin@example.com", first="Ada", last="Admin", staff=True, superuser=True)
    manager = _user("manager", email="manager@example.com", first="Morgan", last="Manager", staff=True)
    manager.groups.add(ensure_channel_manager_group())
    ManagerProfile.objects.get_or_create(user=manager, defaults={"regions": [Region.EMEA]})

    refs = _reference_data(today)
    program = _program()
    _gates(program)
    seed_program_roi(today)
    all_partners = _partners(max(partners, 1), refs, today, manager)
    acme = all_partners[0]
    _acme_showcase(acme, refs, today)
    seed_certified_cohort(refs, today)

    partner_user = _user("partner", email="partner@acme.example.com", first="Pat", last="Partner")
    Membership.objects.get_or_create(
        user=partner_user, defaults={"partner": acme, "role": MembershipRole.ADMIN}
    )
    Person.objects.filter(partner=acme, email="partner@acme.example.com").exists() or Person.objects.create(
        partner=acme,
        first_name="Pat",
        last_name="Partner",
        email="partner@acme.example.com",
        job_title="Partner admin",
        user=partner_user,
    )
    distributor_user = _user(
        "distributor", email="dana@northwind.example.com", first="Dana", last="Distributor"
    )
    Membership.objects.get_or_create(
        user=distributor_user,
        defaults={
            "distributor": Distributor.objects.get(name="Northwind Distribution"),
            "role": MembershipRole.DISTRIBUTOR,
        },
    )
    # Results for the demo at once, without mailing every partner about them.
    # A fresh demo is evaluated as of past quarters first, so that the tier
    # history (what incentives pay deals on) reaches back like a real one.
    if not EvaluationRun.objects.exists():
        for days_back in (360, 270, 180, 90):
            evaluate(as_of=today - datetime.timedelta(days=days_back), notify=False)
    evaluate(notify=False)
    seed_deals(acme=acme)
    seed_incentives(acme=acme)
    seed_learning(acme=acme)
    seed_library()
    # Deals won and facts added by the deal and incentive demos count too.
    evaluate(notify=False)
    # The demo's channel manager owns every demo program: he edits their definitions.
    for demo_program in Program.objects.order_by("pk"):
        program_manager_grant(actor=admin, program=demo_program, user=manager)
    # Every role's inbox holds what the seeded events and the calendar call for.
    seed_inbox()
    return DemoResult(
        partners=Partner.objects.count(),
        people=Person.objects.count(),
        certifications=Certification.objects.count(),
        sales=Sale.objects.count(),
        activities=EngagementActivity.objects.count(),
    )
