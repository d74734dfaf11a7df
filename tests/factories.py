"""factory_boy factories for the domain; tests build exactly the data they need."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from guardian.shortcuts import assign_perm

from core.models import ExchangeRate
from deals.models import Deal
from partners.models import (
    ActivityType,
    BusinessModel,
    Certification,
    CertificationTrack,
    CertificationType,
    Distributor,
    EngagementActivity,
    LifecycleStatus,
    Membership,
    MembershipRole,
    Partner,
    PartnerType,
    Person,
    ProductLine,
    Region,
    Sale,
    ServiceOffering,
    ServiceProficiency,
)
from programs.models import Benefit, BenefitKind, Program, Segment, Tier


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class DistributorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Distributor

    name = factory.Sequence(lambda n: f"Distributor {n}")
    country = "NL"
    region = Region.EMEA


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    partner_type = PartnerType.RESELLER
    business_model = BusinessModel.RESELL
    country = "GB"
    region = Region.EMEA
    status = LifecycleStatus.ACTIVE
    joined_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=400))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = MembershipRole.ADMIN


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    partner = factory.SubFactory(PartnerFactory)
    first_name = "Sam"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.last_name.lower()}@partner.example.com")


class CertificationTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificationType
        django_get_or_create = ["code"]

    code = "sales-engineer"
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())
    track = CertificationTrack.PRESALES


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    person = factory.SubFactory(PersonFactory)
    certification_type = factory.SubFactory(CertificationTypeFactory)
    issued_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=100))
    expires_on = None


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ["code"]

    code = "cloud"
    name = factory.LazyAttribute(lambda o: o.code.title())


class SaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sale

    partner = factory.SubFactory(PartnerFactory)
    amount = Decimal("1000.00")
    currency = "USD"
    product_line = factory.SubFactory(ProductLineFactory)
    region = Region.EMEA
    closed_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=5))


class ActivityTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityType
        django_get_or_create = ["code"]

    code = "training"
    name = factory.LazyAttribute(lambda o: o.code.title())
    default_points = 10


class EngagementActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementActivity

    partner = factory.SubFactory(PartnerFactory)
    activity_type = factory.SubFactory(ActivityTypeFactory)
    points = 10
    occurred_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=3))


class ServiceOfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceOffering
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"offering-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


class ServiceProficiencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceProficiency

    partner = factory.SubFactory(PartnerFactory)
    offering = factory.SubFactory(ServiceOfferingFactory)
    level = 2
    since = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate

    currency = "EUR"
    valid_from = datetime.date(2020, 1, 1)
    rate = Decimal("1.1")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    criteria = factory.LazyFunction(
        lambda: {"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["emea"]}
    )


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    name = factory.Sequence(lambda n: f"Program {n}")
    slug = factory.Sequence(lambda n: f"program-{n}")
    base_currency = "USD"


def grant_program_manager(user, *programs: Program) -> None:
    """Let ``user`` manage ``programs`` (what the admin's "program managers" panel grants)."""
    for program in programs:
        assign_perm("programs.manage_program", user, program)


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    rank = factory.Sequence(lambda n: n + 1)
    grace_days = 90


class BenefitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Benefit

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Benefit {n}")
    kind = BenefitKind.CONTENT


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    partner = factory.SubFactory(PartnerFactory)
    customer_name = "Globex"
    customer_domain = factory.Sequence(lambda n: f"customer{n}.example.com")
    country = "GB"
    expected_value = Decimal("50000.00")
    currency = "USD"
    expected_close = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=60))


def publish_criteria(gate, criteria, currency=None) -> None:
    """Give a gate new criteria as the product does: a draft version, published today."""
    from gates import services

    draft = services.gate_draft_save(actor=None, gate=gate, criteria=criteria, currency=currency)
    services.gate_version_publish(actor=None, draft=draft)
    gate.refresh_from_db()
