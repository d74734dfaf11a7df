"""The permission matrix: every endpoint and method, for each persona, on its own and another
organisation's objects, with the status expected.

Acme is "own" for its users, its distributor, the channel manager (EMEA) and his
tokens; Globex is "other" for all of them. The superuser sees both; a token the
superuser limited to Globex sees only Globex. A hidden object answers 404; a
method the persona may never use answers 403; an unauthenticated call 401.

Programs have their managers (django-guardian): the channel manager owns both
programs, a second EMEA manager owns the specialisation only, and a third owns
none. A manager who does not own a program reads its gates and gets 403 when he
changes them.

Each persona is one test that runs every case; writes run in a savepoint rolled
back afterwards, so that every case starts from the same world.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from api.models import TokenScope
from api.services import token_issue
from deals import mdf as mdf_services
from gates.models import BenefitGrant, SegmentMembership
from partners.models import ManagerProfile, Membership, Region
from partners.roles import ensure_channel_manager_group
from tests.api.permission_cases import PERSONAS, cases_for
from tests.deals.helpers import grant_deal_registration, grant_mdf
from tests.factories import (
    DealFactory,
    ExchangeRateFactory,
    ProductLineFactory,
    ProgramFactory,
    SegmentFactory,
    ServiceOfferingFactory,
    UserFactory,
    grant_program_manager,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def matrix_world(world, partner_admin, other_partner_admin, channel_manager, superuser):
    soon = timezone.localdate() + datetime.timedelta(days=40)
    extra: dict = {"deals": {}, "mdf": {}}
    # A program nothing refers to, which its managers may delete.
    extra["empty_program"] = ProgramFactory(name="Empty", slug="empty", is_active=False)
    extra["rate"] = ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2020, 1, 1))
    extra["unused_line"] = ProductLineFactory(code="unused")
    extra["bulk_offering"] = ServiceOfferingFactory(code="assessment")
    extra["unused_segment"] = SegmentFactory(name="Unused segment")
    extra["tokens"] = {
        "acme": token_issue(actor=channel_manager, name="Manager's sync", all_partners=True)[0],
        "globex": token_issue(
            actor=superuser, name="Root's sync", all_partners=False, partners=[world.globex]
        )[0],
    }
    grant_program_manager(channel_manager, extra["empty_program"])
    for org, partner, admin in (
        ("acme", world.acme, partner_admin),
        ("globex", world.globex, other_partner_admin),
    ):
        grant_deal_registration(partner)
        grant_mdf(partner, amount="50000.00")
        extra["deals"][org] = DealFactory(partner=partner, customer_domain=f"{org}-customer.example")
        extra["deals"][org].products.set([world.product_line])
        extra["mdf"][org] = mdf_services.mdf_request_create(
            actor=admin,
            partner=partner,
            title="Summit",
            activity_kind="event",
            starts_on=soon,
            ends_on=soon,
            amount=Decimal("1000.00"),
        )
    extra["segment_membership"] = {
        "acme": SegmentMembership.objects.get(partner=world.acme, segment=world.segment),
        # A segment that opens no program: Globex's programs stay as they are.
        "globex": SegmentMembership.objects.create(
            partner=world.globex, segment=SegmentFactory(name="Globex's segment")
        ),
    }
    extra["membership"] = {
        "acme": Membership.objects.get(user=partner_admin),
        "globex": Membership.objects.get(user=other_partner_admin),
    }
    extra["benefit_grant"] = {
        org: BenefitGrant.objects.get(partner=partner, benefit=world.discount, revoked_at__isnull=True)
        for org, partner in (("acme", world.acme), ("globex", world.globex))
    }
    extra["registration"] = {
        "customer_name": "Matrix Bank",
        "customer_domain": "matrix-bank.example",
        "country": "GB",
        "products": ["cloud"],
        "expected_value": "1000.00",
        "currency": "USD",
        "expected_close": soon.isoformat(),
    }
    extra["mdf_body"] = {
        "title": "Webinar",
        "activity_kind": "digital",
        "starts_on": soon.isoformat(),
        "ends_on": soon.isoformat(),
        "amount": "500.00",
    }
    return world, extra


@pytest.fixture
def persona_client(request, client_for, token_client, issue_token, channel_manager, superuser, world):
    def make(name: str):
        if name == "anonymous":
            return client_for()
        if name in ("specialisation_manager", "manager_of_no_program"):
            manager = UserFactory(username=name, is_staff=True)
            manager.groups.add(ensure_channel_manager_group())
            ManagerProfile.objects.create(user=manager, regions=[Region.EMEA])
            if name == "specialisation_manager":
                grant_program_manager(manager, world.specialisation)
            return client_for(manager)
        if name == "read_token":
            return token_client(issue_token(channel_manager, scope=TokenScope.READ)[1])
        if name == "write_token":
            return token_client(issue_token(channel_manager)[1])
        if name == "scoped_token":
            return token_client(issue_token(superuser, all_partners=False, partners=[world.globex])[1])
        return client_for(request.getfixturevalue(name))

    return make


@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_permission_matrix(persona_name, persona_client, matrix_world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "user": "100000/min", "anon": "100000/min"},
    }
    world, extra = matrix_world
    persona = PERSONAS[persona_name]
    client = persona_client(persona_name)
    cases = cases_for(persona, world, extra)
    mismatches = []
    for case in cases:
        with transaction.atomic():
            response = getattr(client, case.method.lower())(case.url, case.body, format=case.format)
            transaction.set_rollback(True)
        if response.status_code != case.expected:
            mismatches.append(
                f"{case.label}: expected {case.expected}, got {response.status_code} {response.content[:200]!r}"
            )
            continue
        if response.status_code >= 400 and response.status_code != 405:
            body = response.json()
            assert body["status"] == response.status_code and body["code"] and body["detail"], case.label
        if case.row_stored is not None:
            row = response.json()["results"][0]
            if (row["result"] == "created") != case.row_stored:
                mismatches.append(f"{case.label}: the record for {case.body} came back {row}")
        if case.list_ids:
            listed = {row["id"] for row in response.json()["results"]}
            wrong = {pk: seen for pk, seen in case.list_ids.items() if (pk in listed) != seen}
            if wrong:
                mismatches.append(f"{case.label}: list visibility wrong for {wrong}")
    assert len(cases) > 100
    assert not mismatches, "\n".join(mismatches)
