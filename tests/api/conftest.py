"""Fixtures for the API tests: a small world with two organisations, tokens, and a JSON client.

Acme (EMEA, served by the distributor Northwind, covered by the channel
manager) and Globex (North America, nobody's but the superuser's) each have
people, certifications, sales, activities, a proficiency, gate results and
tier history. The main program is open to every partner; the specialisation
program only to Acme's segment.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.models import TokenScope
from api.services import token_issue
from gates.models import (
    Gate,
    GateForecast,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from gates.services import evaluate
from programs.models import BenefitKind
from tests.factories import (
    ActivityTypeFactory,
    BenefitFactory,
    CertificationFactory,
    CertificationTypeFactory,
    EngagementActivityFactory,
    PersonFactory,
    ProductLineFactory,
    ProgramFactory,
    SaleFactory,
    SegmentFactory,
    ServiceOfferingFactory,
    ServiceProficiencyFactory,
    TierFactory,
    grant_program_manager,
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Persona logins are created per test; the production hasher's cost buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for():
    """An API client signed in as a user (session), or anonymous with None."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def token_client():
    """An API client sending ``Authorization: Bearer <token>``."""

    def make(secret: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def issue_token():
    def issue(user, *, scope=TokenScope.READ_WRITE, all_partners=True, partners=(), source="", **kwargs):
        return token_issue(
            actor=user,
            name=kwargs.pop("name", "Test integration"),
            scope=scope,
            all_partners=all_partners,
            partners=partners,
            source=source,
            **kwargs,
        )

    return issue


class World:
    def __init__(self, partner, other_partner):
        self.acme = partner
        self.globex = other_partner
        self.product_line = ProductLineFactory(code="cloud")
        self.cert_type = CertificationTypeFactory(code="sales-engineer")
        self.activity_type = ActivityTypeFactory(code="training", default_points=10)
        self.offering = ServiceOfferingFactory(code="migration")

        self.program = ProgramFactory(name="Main program", slug="main")
        self.silver = TierFactory(program=self.program, name="Silver", rank=1)
        self.gold = TierFactory(program=self.program, name="Gold", rank=2)
        self.discount = BenefitFactory(
            program=self.program, name="Silver discount", kind=BenefitKind.DISCOUNT, percent=Decimal(10)
        )
        self.discount.tiers.set([self.silver])
        self.silver_gate = Gate.objects.create(
            program=self.program,
            name="Silver gate",
            state=GateState.ACTIVE,
            unlocks_tier=self.silver,
            criteria={
                "all": [
                    {
                        "metric": "certified_people",
                        "certification_types": ["sales-engineer"],
                        "op": ">=",
                        "target": 1,
                    },
                    {"metric": "sales_amount", "window": {"kind": "all_time"}, "op": ">=", "target": "500"},
                ]
            },
        )
        self.draft_gate = Gate.objects.create(
            program=self.program,
            name="Gold gate (draft)",
            state=GateState.DRAFT,
            criteria={"metric": "certified_people", "op": ">=", "target": 3},
        )
        self.segment = SegmentFactory(name="Acme's segment")
        self.specialisation = ProgramFactory(
            name="Specialisation", slug="specialisation", segment=self.segment
        )
        self.specialist_tier = TierFactory(program=self.specialisation, name="Specialist", rank=1)
        self.specialist_benefit = BenefitFactory(program=self.specialisation, name="Specialist content")
        self.specialist_gate = Gate.objects.create(
            program=self.specialisation,
            name="Specialist gate",
            state=GateState.ACTIVE,
            criteria={"metric": "engagement_points", "window": {"kind": "all_time"}, "op": ">=", "target": 5},
        )

        self.facts = {}
        organisations = (("acme", partner), ("globex", other_partner))
        for key, organisation in organisations:
            person = PersonFactory(partner=organisation, email=f"se@{key}.example.com")
            self.facts[key] = {
                "person": person,
                "certification": CertificationFactory(
                    person=person, certification_type=self.cert_type, source="lms", external_id=f"{key}-c1"
                ),
                "sale": SaleFactory(
                    partner=organisation,
                    product_line=self.product_line,
                    amount=Decimal("1000.00"),
                    source="crm",
                    external_id=f"{key}-s1",
                ),
                "activity": EngagementActivityFactory(
                    partner=organisation,
                    activity_type=self.activity_type,
                    points=10,
                    source="lms",
                    external_id=f"{key}-a1",
                ),
                "proficiency": ServiceProficiencyFactory(partner=organisation, offering=self.offering),
            }
        evaluate(as_of=datetime.date.today(), notify=False)
        # Acme joins its segment (the evaluation decides it from the criteria; here it is set).
        SegmentMembership.objects.get_or_create(segment=self.segment, partner=partner)
        evaluate(as_of=datetime.date.today(), notify=False)
        for key, organisation in organisations:
            facts = self.facts[key]
            facts["gate_status"] = GateStatus.objects.get(partner=organisation, gate=self.silver_gate)
            facts["gate_change"] = GateStatusChange.objects.get(partner=organisation, gate=self.silver_gate)
            facts["tier_change"] = TierChange.objects.filter(partner=organisation).first()
            facts["partner_tier"] = PartnerTier.objects.get(partner=organisation, program=self.program)
            facts["gate_forecast"] = GateForecast.objects.create(
                partner=organisation,
                gate=self.silver_gate,
                at_risk=True,
                fails_on=datetime.date.today() + datetime.timedelta(days=20),
                criterion="people holding a valid sales-engineer certification >= 1",
                shortfall="1 more person holding a valid sales-engineer certification",
                fix="Add 1 more person holding a valid sales-engineer certification.",
                as_of=datetime.date.today(),
            )
        self.facts["acme"]["specialist_status"] = GateStatus.objects.get(
            partner=partner, gate=self.specialist_gate
        )

    def of(self, key: str, kind: str):
        return self.facts[key][kind]


@pytest.fixture
def world(partner, other_partner, channel_manager):
    world = World(partner, other_partner)
    # The channel manager owns the world's programs: he edits their gates and rules.
    grant_program_manager(channel_manager, world.program, world.specialisation)
    return world
