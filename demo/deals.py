"""Demo deal registrations and MDF requests for the demo partner, through the real services.

Called by ``demo.seed.seed_demo`` after the gate evaluation (the demo
partner must already hold deal registration and an MDF allowance). Keyed on
customer domains and activity titles, so a second run adds nothing.
"""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from deals import mdf, services
from deals.models import Deal, DealStatus, MdfActivityKind, MdfRequest
from deals.selectors import can_register_deals, mdf_allowance
from partners.models import Partner, ProductLine


def seed_deals(*, acme: Partner) -> None:
    users = get_user_model().objects
    partner_user = users.filter(username="partner").first()
    distributor_user = users.filter(username="distributor").first()
    manager = users.filter(username="manager").first()
    if partner_user is None or manager is None or not can_register_deals(acme):
        return
    today = timezone.localdate()
    lines = {line.code: line for line in ProductLine.objects.all()}
    cloud, security = lines.get("cloud"), lines.get("security")
    if cloud is None or security is None:
        return

    # Another partner's approved claim, so that one of Acme's registrations is flagged.
    rival = Partner.objects.filter(region=acme.region).exclude(pk=acme.pk).order_by("id").first()
    if (
        rival is not None
        and not Deal.objects.filter(partner=rival, customer_domain="woodgrove.example").exists()
    ):
        claim = Deal.objects.create(
            partner=rival,
            customer_name="Woodgrove Bank",
            customer_domain="woodgrove.example",
            country="GB",
            expected_value=Decimal("180000.00"),
            currency="GBP",
            expected_close=today + datetime.timedelta(days=75),
            status=DealStatus.APPROVED,
            decided_by=manager,
            decided_at=timezone.now(),
            protected_until=today + datetime.timedelta(days=60),
        )
        claim.products.set([cloud])

    plans = [
        ("Contoso Retail", "contoso-retail.example", [cloud], "85000.00", 45, None),
        ("Fabrikam Health", "fabrikam.example", [cloud, security], "120000.00", 60, "approve"),
        ("Tailspin Energy", "tailspin-energy.example", [security], "64000.00", 30, "won"),
        ("Litware Insurance", "litware.example", [cloud], "40000.00", 90, "reject"),
        ("Woodgrove Bank", "woodgrove.example", [cloud], "150000.00", 80, None),
    ]
    for name, domain, products, value, days, then in plans:
        if Deal.objects.filter(partner=acme, customer_domain=domain).exists():
            continue
        deal = services.deal_register(
            actor=partner_user,
            partner=acme,
            customer_name=name,
            customer_domain=domain,
            country="GB",
            products=products,
            expected_value=Decimal(value),
            currency="GBP",
            expected_close=today + datetime.timedelta(days=days),
            notify=False,
        )
        approver = distributor_user if distributor_user is not None else manager
        if then in {"approve", "won"}:
            deal = services.deal_approve(actor=approver, deal=deal, notify=False)
        if then == "won":
            services.deal_mark_won(actor=partner_user, deal=deal, amount=Decimal("61500.00"))
        if then == "reject":
            services.deal_reject(
                actor=manager,
                deal=deal,
                reason="The customer buys directly from us under an enterprise agreement.",
                notify=False,
            )

    if mdf_allowance(acme) is None:
        return
    requests = [
        ("Cloud migration webinar series", MdfActivityKind.DIGITAL, "4000.00", "approve"),
        ("Partner summit booth", MdfActivityKind.EVENT, "6000.00", None),
    ]
    for title, kind, amount, then in requests:
        if MdfRequest.objects.filter(partner=acme, title=title).exists():
            continue
        request = mdf.mdf_request_create(
            actor=partner_user,
            partner=acme,
            title=title,
            activity_kind=kind,
            starts_on=today + datetime.timedelta(days=14),
            ends_on=today + datetime.timedelta(days=30),
            amount=Decimal(amount),
            description="Joint campaign with the vendor's field marketing team.",
        )
        if then == "approve":
            mdf.mdf_request_approve(actor=manager, request=request)
