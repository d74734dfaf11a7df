"""A small world of two organisations for the portal's permission and query-count tests."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from deals import mdf
from deals.models import Deal, DealStatus, MdfRequest
from enablement.models import AssetKind, ContentAsset
from gates.models import Gate, GateOutcome, GateState, GateStatus, GateStatusChange, PartnerTier, TierChange
from tests.deals.helpers import approved_deal, grant_deal_registration, grant_mdf
from tests.factories import (
    CertificationFactory,
    DealFactory,
    PersonFactory,
    ProgramFactory,
    TierFactory,
    UserFactory,
)

PDF = b"%PDF-1.4\n% proof\n"


@dataclass
class World:
    deal: Deal  # the partner's submitted registration
    approved: Deal  # the partner's approved registration
    other_deal: Deal
    other_approved: Deal
    mdf_request: MdfRequest  # requested
    mdf_claimed: MdfRequest  # claimed, with a proof
    other_mdf: MdfRequest
    asset: ContentAsset  # a file of the library open to the partner's region only
    other_asset: ContentAsset  # open to the other partner's region only


def _asset(title: str, region: str) -> ContentAsset:
    upload = SimpleUploadedFile("deck.pdf", PDF)
    return ContentAsset.objects.create(
        title=title,
        kind=AssetKind.FILE,
        file=upload,
        file_name="deck.pdf",
        file_content_type="application/pdf",
        file_size=len(PDF),
        regions=[region],
        needs_content_access=False,
    )


def _claimed(partner, admin, approver) -> MdfRequest:
    # Funds are claimed once the activity is over.
    request = _mdf(partner, admin, "Claimed campaign", "500.00", days_ago=7)
    mdf.mdf_request_approve(actor=approver, request=request)
    return mdf.mdf_claim(
        actor=admin, request=request, amount=Decimal("400.00"), proof=SimpleUploadedFile("invoice.pdf", PDF)
    )


def _mdf(partner, admin, title: str, amount: str, *, days_ago: int = 0) -> MdfRequest:
    starts_on = timezone.localdate() - datetime.timedelta(days=days_ago)
    return mdf.mdf_request_create(
        actor=admin,
        partner=partner,
        title=title,
        activity_kind="event",
        starts_on=starts_on,
        ends_on=starts_on + datetime.timedelta(days=3),
        amount=Decimal(amount),
    )


def build_world(*, partner, other_partner, partner_admin, other_partner_admin) -> World:
    for organisation in (partner, other_partner):
        grant_deal_registration(organisation)
        grant_mdf(organisation, "10000.00")
    approver = UserFactory(username="world-approver", is_staff=True, is_superuser=True)
    return World(
        deal=DealFactory(partner=partner, customer_name="Contoso", customer_domain="contoso.example"),
        approved=approved_deal(partner, customer_name="Fabrikam", customer_domain="fabrikam.example"),
        other_deal=DealFactory(
            partner=other_partner, customer_name="Initech", customer_domain="initech.example"
        ),
        other_approved=approved_deal(
            other_partner, customer_name="Umbrella", customer_domain="umbrella.example"
        ),
        mdf_request=_mdf(partner, partner_admin, "Webinar", "1000.00"),
        mdf_claimed=_claimed(partner, partner_admin, approver),
        other_mdf=_mdf(other_partner, other_partner_admin, "Roadshow", "700.00"),
        asset=_asset("EMEA deck", partner.region),
        other_asset=_asset("Americas deck", other_partner.region),
    )


def tier_program(partner, *, grace_until=None):
    """A tiered program with two tier gates and the partner's standing in it."""
    program = ProgramFactory(name="Partner Network", slug="partner-network")
    silver = TierFactory(program=program, name="Silver", rank=2)
    gold = TierFactory(program=program, name="Gold", rank=3)
    silver_gate = Gate.objects.create(
        program=program,
        name="Silver gate",
        state=GateState.ACTIVE,
        unlocks_tier=silver,
        criteria={"metric": "certified_people", "op": ">=", "target": 2},
    )
    gold_gate = Gate.objects.create(
        program=program,
        name="Gold: five certified sales engineers",
        state=GateState.ACTIVE,
        unlocks_tier=gold,
        criteria={"metric": "certified_people", "op": ">=", "target": 5},
    )
    GateStatus.objects.create(partner=partner, gate=silver_gate, status=GateOutcome.PASSED, measures=[3])
    GateStatus.objects.create(partner=partner, gate=gold_gate, status=GateOutcome.FAILED, measures=[3])
    GateStatusChange.objects.create(
        partner=partner, gate=silver_gate, to_status=GateOutcome.PASSED, measures=[3]
    )
    PartnerTier.objects.create(
        partner=partner,
        program=program,
        tier=silver,
        earned_tier=silver,
        since=datetime.date(2025, 3, 4),
        grace_until=grace_until,
    )
    TierChange.objects.create(
        partner=partner,
        program=program,
        to_tier=silver,
        reason="promoted",
        effective_on=datetime.date(2025, 3, 4),
    )
    return program


def grow(partner, other_partners, *, size: int) -> None:
    """Add ``size`` of everything a page lists, to show its query count does not follow the data."""
    for number in range(size):
        DealFactory(partner=partner, customer_domain=f"grow{number}-{partner.pk}.example")
        person = PersonFactory(partner=partner)
        CertificationFactory(person=person)
        CertificationFactory(person=person, expires_on=timezone.localdate() + datetime.timedelta(days=10))
        DealFactory(partner=other_partners[number % len(other_partners)], status=DealStatus.SUBMITTED)
