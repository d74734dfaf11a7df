"""Demo partners, their people and facts, and the reference data they name.

Everything is keyed on natural keys (names, codes, external ids with the
source ``demo``) and generated from a fixed random seed, so running the
seeding twice leaves the same data, never a duplicate.
"""

import datetime
import functools
import itertools
import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model

from core.exchange import daily_rates_rebuild
from core.models import ExchangeRate
from partners.models import (
    ActivityType,
    BusinessModel,
    Certification,
    CertificationTrack,
    CertificationType,
    CustomerSegment,
    Distributor,
    EngagementActivity,
    LifecycleStatus,
    Partner,
    PartnerType,
    Person,
    ProductLine,
    ProficiencyLevel,
    Region,
    Sale,
    ServiceOffering,
    ServiceProficiency,
)

DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo password, created only by seed_demo
SOURCE = "demo"

# Value of one unit in US dollars at the start of 2025, drifting a little each month.
RATES = {
    "EUR": "1.08",
    "GBP": "1.27",
    "JPY": "0.0067",
    "AUD": "0.66",
    "CAD": "0.73",
    "BRL": "0.19",
    "INR": "0.012",
}
COUNTRIES = {
    Region.NORTH_AMERICA: [("US", "USD"), ("CA", "CAD")],
    Region.LATIN_AMERICA: [("BR", "BRL"), ("MX", "USD")],
    Region.EMEA: [("GB", "GBP"), ("DE", "EUR"), ("FR", "EUR"), ("NL", "EUR"), ("AE", "USD")],
    Region.APAC: [("AU", "AUD"), ("JP", "JPY"), ("IN", "INR"), ("SG", "USD")],
}
NAME_PARTS = (
    [
        "Acme",
        "Blue",
        "Cobalt",
        "Delta",
        "Ember",
        "Fjord",
        "Granite",
        "Harbor",
        "Iris",
        "Juniper",
        "Kestrel",
        "Lumen",
        "Meridian",
        "Nimbus",
        "Orbit",
        "Pinnacle",
        "Quartz",
        "Redwood",
        "Summit",
        "Tidal",
        "Umbra",
        "Vertex",
        "Willow",
        "Zenith",
    ],
    ["Cloud", "Secure", "Data", "Network", "Digital", "Systems", "Tech", "Logic", "Bridge", "Point"],
    ["Solutions", "Partners", "Group", "Consulting", "Services", "Integrators", "Labs", "Ltd"],
)
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Elif",
    "Femi",
    "Greta",
    "Hiro",
    "Ines",
    "Jon",
    "Kira",
    "Luca",
    "Maya",
    "Nils",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Viktor",
]
LAST_NAMES = [
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Eze",
    "Fischer",
    "García",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Martin",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Weber",
]


JOB_TITLES = ["Sales engineer", "Account executive", "Solutions architect", "Consultant", "Partner manager"]
ACME = "Acme Cloud Solutions"


@functools.cache
def _name_combinations(parts: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Every name the parts make, in a fixed shuffled order, without the showcase partner's."""
    names = [" ".join(words) for words in itertools.product(*parts)]
    random.Random(42).shuffle(names)
    return tuple(name for name in names if name != ACME)


def partner_name(index: int) -> str:
    """The demo partner name of this index: the showcase partner's for 0, unique for any other.

    The parts make 1,919 other names; past them, the names come round again
    with a number ("Cobalt Data Labs 2"), so any number of partners gets
    distinct names at once, with no search for an unused one.
    """
    if index == 0:
        return ACME
    names = _name_combinations(tuple(tuple(words) for words in NAME_PARTS))
    lap, position = divmod(index - 1, len(names))
    return names[position] if lap == 0 else f"{names[position]} {lap + 1}"


def email_local_part(*names: str) -> str:
    """Names as the local part of an address: accents folded to ASCII ("Chloé García" gives
    chloe.garcia), which every mail system and Django's EmailValidator accept."""
    folded = (
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower() for name in names
    )
    return ".".join("".join(char for char in name if char.isalnum()) for name in folded)


@dataclass
class DemoResult:
    partners: int
    people: int
    certifications: int
    sales: int
    activities: int


def _user(username: str, *, email: str, first: str, last: str, staff: bool = False, superuser: bool = False):
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username,
        defaults={
            "email": email,
            "first_name": first,
            "last_name": last,
            "is_staff": staff,
            "is_superuser": superuser,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def _reference_data(today: datetime.date) -> dict:
    lines = {
        code: ProductLine.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in [
            ("cloud", "Cloud platform"),
            ("security", "Security"),
            ("networking", "Networking"),
            ("analytics", "Data & analytics"),
            ("services", "Professional services"),
        ]
    }
    cert_types = {
        code: CertificationType.objects.get_or_create(
            code=code,
            defaults={"name": name, "track": track, "is_advanced": advanced, "validity_months": months},
        )[0]
        for code, name, track, advanced, months in [
            ("sales-fundamentals", "Sales Fundamentals", CertificationTrack.SALES, False, 24),
            ("sales-engineer", "Certified Sales Engineer", CertificationTrack.PRESALES, False, 24),
            ("cloud-architect", "Cloud Architect Professional", CertificationTrack.TECHNICAL, True, 36),
            ("security-specialist", "Security Specialist", CertificationTrack.SECURITY, True, 24),
            ("delivery-consultant", "Delivery Consultant", CertificationTrack.SERVICES, False, 24),
        ]
    }
    activity_types = {
        code: ActivityType.objects.get_or_create(
            code=code, defaults={"name": name, "default_points": points}
        )[0]
        for code, name, points in [
            ("training", "Training completed", 20),
            ("webinar", "Webinar hosted", 10),
            ("co-marketing", "Co-marketing campaign", 50),
            ("business-plan", "Joint business plan", 40),
            ("event", "Event sponsorship", 30),
        ]
    }
    offerings = {
        code: ServiceOffering.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in [
            ("cloud-migration", "Cloud migration"),
            ("mdr", "Managed detection and response"),
            ("network-assessment", "Network assessment"),
            ("data-platform", "Data platform implementation"),
            ("security-audit", "Security audit"),
        ]
    }
    start = today.replace(day=1) - relativedelta(months=24)
    touched = set()
    rng = random.Random(7)
    for currency, base in RATES.items():
        month = start
        rate = Decimal(base)
        while month <= today:
            _, created = ExchangeRate.objects.get_or_create(
                currency=currency, valid_from=month, defaults={"rate": rate}
            )
            if created:
                touched.add(currency)
            rate = (rate * Decimal(1 + rng.uniform(-0.02, 0.02))).quantize(Decimal("0.0000001"))
            month += relativedelta(months=1)
    for currency in RATES:
        daily_rates_rebuild(currency)
    return {
        "lines": lines,
        "cert_types": cert_types,
        "activity_types": activity_types,
        "offerings": offerings,
        # Seeded by a migration; the demo's sales name them by turns.
        "customer_segments": list(CustomerSegment.objects.order_by("code")),
    }


def _by_turns(choices: list, number: int):
    return choices[number % len(choices)] if choices else None


def _partners(count: int, refs: dict, today: datetime.date, manager) -> list[Partner]:
    rng = random.Random(42)
    distributors = {
        Region.EMEA: Distributor.objects.get_or_create(
            name="Northwind Distribution", defaults={"country": "NL", "region": Region.EMEA}
        )[0],
        Region.APAC: Distributor.objects.get_or_create(
            name="Pacific Channel Supply", defaults={"country": "SG", "region": Region.APAC}
        )[0],
    }
    partners = []
    types = list(PartnerType.values)
    models = list(BusinessModel.values)
    regions = list(COUNTRIES)
    for index in range(count):
        name = partner_name(index)
        if index == 0:
            country, currency, region = "GB", "GBP", Region.EMEA
            partner_type, model, status, size = (
                str(PartnerType.VAR),
                str(BusinessModel.RESELL),
                str(LifecycleStatus.ACTIVE),
                1.0,
            )
        else:
            region = rng.choice(regions)
            country, currency = rng.choice(COUNTRIES[region])
            partner_type, model = str(rng.choice(types)), str(rng.choice(models))
            status = str(rng.choices(list(LifecycleStatus.values), weights=[1, 2, 12, 1, 1])[0])
            size = rng.lognormvariate(0, 0.9)
        distributor = distributors.get(region) if index % 3 == 0 or index == 0 else None
        partner, _ = Partner.objects.get_or_create(
            name=name,
            defaults={
                "partner_type": partner_type,
                "business_model": model,
                "country": country,
                "region": region,
                "status": status,
                "distributor": distributor,
                "channel_manager": manager if region == Region.EMEA or index % 4 == 0 else None,
                "joined_on": today - datetime.timedelta(days=rng.randint(60, 2000)),
            },
        )
        partners.append(partner)
        _facts(partner, index, size, currency, refs, today, rng)
    return partners


def _facts(partner: Partner, index: int, size: float, currency: str, refs: dict, today, rng) -> None:
    people_count = max(2, min(14, int(3 + size * 4)))
    candidates = []
    for number in range(people_count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        candidates.append(
            Person(
                partner=partner,
                email=f"{email_local_part(first, last)}.{number}@partner{index}.example.com",
                first_name=first,
                last_name=last,
                job_title=rng.choice(JOB_TITLES),
            )
        )
    # One insert for the partner's people; those a previous run created stay as they are.
    Person.objects.bulk_create(candidates, ignore_conflicts=True)
    stored = {
        person.email: person
        for person in Person.objects.filter(
            partner=partner, email__in=[person.email for person in candidates]
        )
    }
    people = [stored[person.email] for person in candidates]
    cert_types = list(refs["cert_types"].values())
    certifications = []
    for number, person in enumerate(people):
        for cert_number in range(rng.choice([0, 1, 1, 2])):
            cert_type = (
                refs["cert_types"]["sales-engineer"]
                if (number + cert_number) % 2 == 0
                else rng.choice(cert_types)
            )
            issued = today - datetime.timedelta(days=rng.randint(30, 900))
            months = cert_type.validity_months or 24
            certifications.append(
                Certification(
                    person=person,
                    certification_type=cert_type,
                    issued_on=issued,
                    expires_on=issued + relativedelta(months=months),
                    source=SOURCE,
                    external_id=f"cert-{partner.pk}-{number}-{cert_number}",
                )
            )
    Certification.objects.bulk_create(certifications, ignore_conflicts=True)

    lines = list(refs["lines"].values())
    rate = Decimal(RATES.get(currency, "1"))
    sales = []
    for number in range(int(6 + size * 14)):
        amount_usd = Decimal(rng.randint(5_000, 120_000)) * Decimal(str(round(size, 2)) or "1")
        amount = (amount_usd / rate).quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))
        sales.append(
            Sale(
                partner=partner,
                amount=max(amount, Decimal(100)),
                currency=currency,
                product_line=rng.choice(lines),
                region=partner.region,
                closed_on=today - datetime.timedelta(days=rng.randint(0, 540)),
                customer_name=f"{rng.choice(NAME_PARTS[0])} {rng.choice(['Bank', 'Retail', 'Health', 'Energy', 'Logistics'])}",
                # Customers in the partner's own country, of each segment by turns (no draw
                # from the generator, so the rest of the data stays as it was).
                country=partner.country,
                customer_segment=_by_turns(refs["customer_segments"], number),
                source=SOURCE,
                external_id=f"sale-{partner.pk}-{number}",
            )
        )
    Sale.objects.bulk_create(sales, ignore_conflicts=True)

    activity_types = list(refs["activity_types"].values())
    activities = []
    for number in range(int(3 + size * 6)):
        kind = rng.choice(activity_types)
        activities.append(
            EngagementActivity(
                partner=partner,
                activity_type=kind,
                points=kind.default_points,
                occurred_on=today - datetime.timedelta(days=rng.randint(0, 400)),
                source=SOURCE,
                external_id=f"activity-{partner.pk}-{number}",
            )
        )
    EngagementActivity.objects.bulk_create(activities, ignore_conflicts=True)

    offerings = list(refs["offerings"].values())
    ServiceProficiency.objects.bulk_create(
        [
            ServiceProficiency(
                partner=partner,
                offering=offering,
                level=rng.choice(list(ProficiencyLevel.values)),
                since=today - datetime.timedelta(days=rng.randint(10, 700)),
            )
            for offering in rng.sample(offerings, k=min(len(offerings), int(size * 2)))
        ],
        ignore_conflicts=True,
    )


def _acme_showcase(acme: Partner, refs: dict, today: datetime.date) -> None:
    """Make the demo partner a believable Gold partner close to Platinum."""
    se = refs["cert_types"]["sales-engineer"]
    people = list(acme.people.order_by("id"))
    for number, person in enumerate(people[:6]):
        Certification.objects.get_or_create(
            source=SOURCE,
            external_id=f"acme-se-{number}",
            defaults={
                "person": person,
                "certification_type": se,
                "issued_on": today - datetime.timedelta(days=200),
                "expires_on": today + datetime.timedelta(days=500),
            },
        )
    # One that lapsed: it no longer counts.
    if people:
        Certification.objects.get_or_create(
            source=SOURCE,
            external_id="acme-expired",
            defaults={
                "person": people[-1],
                "certification_type": refs["cert_types"]["cloud-architect"],
                "issued_on": today - datetime.timedelta(days=1200),
                "expires_on": today - datetime.timedelta(days=30),
            },
        )
    for number in range(8):
        Sale.objects.get_or_create(
            source=SOURCE,
            external_id=f"acme-sale-{number}",
            defaults={
                "partner": acme,
                "amount": Decimal(70_000 + number * 5_000),
                "currency": "GBP",
                "product_line": refs["lines"]["cloud"],
                "region": Region.EMEA,
                "closed_on": today - datetime.timedelta(days=10 + number * 20),
                "customer_name": f"Customer {number + 1} plc",
                "country": "GB",
                "customer_segment": _by_turns(refs["customer_segments"], number),
            },
        )
    for number, code in enumerate(["training", "co-marketing", "business-plan", "co-marketing", "event"]):
        kind = refs["activity_types"][code]
        EngagementActivity.objects.get_or_create(
            source=SOURCE,
            external_id=f"acme-activity-{number}",
            defaults={
                "partner": acme,
                "activity_type": kind,
                "points": kind.default_points,
                "occurred_on": max(
                    today.replace(month=1, day=1), today - datetime.timedelta(days=number * 15)
                ),
            },
        )
    for code in ["cloud-migration", "data-platform"]:
        ServiceProficiency.objects.get_or_create(
            partner=acme,
            offering=refs["offerings"][code],
            defaults={"level": ProficiencyLevel.PROFICIENT, "since": today - datetime.timedelta(days=300)},
        )
