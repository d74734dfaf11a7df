"""Every portal page makes a bounded number of queries, and the same number as the data grows."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enablement.models import AssetKind, ContentAsset, ContentDownload
from gates.models import (
    Gate,
    GateForecast,
    GateOutcome,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
)
from tests.deals.helpers import approved_deal
from tests.factories import (
    CertificationFactory,
    DealFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
    ProgramFactory,
    TierFactory,
)
from tests.portal.builders import _mdf, tier_program

pytestmark = pytest.mark.django_db

# Every authenticated page starts with session, user and membership (3) and
# ends with the header's unread count (BELL); the comments name what each page adds.
BELL = 1
PAGES = [
    # + tiers, grants, gates, gate statuses, gate changes, tier changes, deal counts,
    #   deal-registration grant, MDF grant, MDF period, at-risk warnings, the ladders' tiers
    #   and their benefits (which the next step reuses), the unread announcements' banner
    ("partner_admin", "portal:dashboard", None, 17),
    # + programs
    ("partner_admin", "portal:programs", None, 4),
    # + program, sub-programs, tiers, tiers' benefits, gate-unlocked benefits, gates, statuses, tier held
    ("partner_admin", "portal:program_detail", "program", 11),
    # + at-risk warnings, count, page of people, their certifications, who must renew,
    #   the certification kinds to filter by, the door's invite rule, the team's logins
    ("partner_admin", "portal:team", None, 11),
    # + count, page of deals, their products, registration rights, product lines to filter by
    ("partner_admin", "portal:deals", None, 8),
    # + deal, products (shown and offered to the won form), the actions the door allows (one query)
    ("partner_admin", "portal:deal_detail", "deal", 6),
    # + registration rights, product lines, customer segments
    ("partner_admin", "portal:deal_register", None, 6),
    # + deal, products, the actions the door allows
    ("partner_admin", "portal:deal_won", "approved", 7),
    # + count, page, MDF grant, MDF period
    ("partner_admin", "portal:mdf", None, 7),
    # + MDF grant, MDF period
    ("partner_admin", "portal:mdf_new", None, 5),
    # + request, its ledger entries
    ("partner_admin", "portal:mdf_detail", "mdf_request", 5),
    # + waiting deals, their products, waiting count, partner count, partner page, tiers held
    ("distributor_user", "portal:dashboard", None, 9),
    # + count, page, tiers held, tiers to filter by
    ("distributor_user", "portal:partners", None, 7),
    # + partner, the partner's standing (7), deal counts, latest deals, their products
    ("distributor_user", "portal:partner_detail", "partner", 14),
    # + count, page, products, product lines to filter by
    ("distributor_user", "portal:deals", None, 7),
    # + deal, products, partner, the actions the door allows
    ("distributor_user", "portal:deal_detail", "deal", 6),
    # + deal, partner, the actions the door allows
    ("distributor_user", "portal:deal_reject", "deal", 6),
    # + regions, main program, tier counts, partner count, gates passed, grace list, waiting deals (2),
    #   waiting MDF (2), permissions (2), page count, page, tiers, gates, statuses, at risk this month;
    #   the charts: gates passed per month, deals by state, MDF periods running, and closest to the
    #   next tier (main program, partners, tiers, gates, statuses)
    ("channel_manager", "portal:manager", None, 31),
    ("channel_manager", "portal:partners", None, 10),
    ("channel_manager", "portal:partner_detail", "partner", 16),
    ("channel_manager", "portal:deals", None, 10),
    ("channel_manager", "portal:deal_detail", "deal", 12),
    ("channel_manager", "portal:mdf", None, 8),
    ("channel_manager", "portal:mdf_detail", "mdf_request", 9),
    # + count, page of assets, their product lines, product lines to filter by
    ("partner_admin", "portal:library", None, 7),
    # + the paths (none here: the funnel's own test grows them), permissions (2), regions,
    #   the programs of the filter
    ("channel_manager", "portal:analytics_enablement", None, 8),
]


@pytest.fixture
def objects(world, partner):
    program = tier_program(partner)
    CertificationFactory(person=PersonFactory(partner=partner))
    return {
        "deal": world.deal,
        "approved": world.approved,
        "mdf_request": world.mdf_request,
        "partner": partner,
        "program": program,
    }


def _grow(partner, distributor, partner_admin, program, size: int) -> None:
    """More of everything the pages list: deals, people, certifications, partners, gates, changes."""
    tier = TierFactory(program=program, rank=10 + size)
    for number in range(size):
        served = PartnerFactory(distributor=distributor)
        DealFactory(partner=served)
        PartnerTier.objects.create(partner=served, program=program, tier=tier)
        DealFactory(partner=partner, customer_domain=f"grow-{size}-{number}.example")
        approved_deal(partner, customer_domain=f"grown-{size}-{number}.example")
        person = PersonFactory(partner=partner)
        CertificationFactory(person=person)
        CertificationFactory(person=person)
        _mdf(partner, partner_admin, f"Grown {size}-{number}", "1.00")
        gate = Gate.objects.create(
            program=program,
            name=f"Grown gate {size}-{number}",
            state=GateState.ACTIVE,
            criteria={"metric": "certified_people", "op": ">=", "target": 9},
        )
        GateStatus.objects.create(partner=partner, gate=gate, status=GateOutcome.FAILED, measures=[1])
        GateForecast.objects.create(
            partner=partner,
            gate=gate,
            at_risk=True,
            fails_on=datetime.date.today(),
            renewals=[{"person": person.pk, "name": "Sam", "certification": "X", "expires_on": "2026-01-01"}],
            as_of=datetime.date.today(),
        )
        GateForecast.objects.create(
            partner=served,
            gate=gate,
            at_risk=True,
            fails_on=datetime.date.today(),
            as_of=datetime.date.today(),
        )
        GateStatusChange.objects.create(
            partner=partner, gate=gate, to_status=GateOutcome.PASSED, measures=[1]
        )
        ProgramFactory(parent=program)
        asset = ContentAsset.objects.create(
            title=f"Grown asset {size}-{number}",
            kind=AssetKind.LINK,
            url="https://cdn.example.com/grown",
            tags="grown, kit",
            needs_content_access=False,
        )
        asset.product_lines.set([ProductLineFactory(code=f"grown-{size}-{number}")])
        ContentDownload.objects.create(asset=asset, partner=partner, user=partner_admin)


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.mark.parametrize(("persona", "name", "target", "most"), PAGES, ids=lambda v: str(v))
def test_page_queries_are_bounded_and_flat(
    client,
    request,
    objects,
    partner,
    distributor,
    partner_admin,
    persona,
    name,
    target,
    most,
    django_assert_max_num_queries,
):
    client.force_login(request.getfixturevalue(persona))
    url = reverse(
        name,
        args=[] if target is None else [objects[target].slug if target == "program" else objects[target].pk],
    )
    small = _count(client, url)
    _grow(partner, distributor, partner_admin, objects["program"], size=3)
    medium = _count(client, url)
    _grow(partner, distributor, partner_admin, objects["program"], size=12)
    with django_assert_max_num_queries(most + BELL):
        response = client.get(url)
    assert response.status_code == 200
    large = _count(client, url)
    assert small == medium == large, (small, medium, large)


@pytest.mark.parametrize("name", ["login", "password_reset"])
def test_public_pages_make_no_queries(client, name, django_assert_num_queries):
    # No session yet, nothing to read.
    with django_assert_num_queries(0):
        assert client.get(reverse(name)).status_code == 200


def test_the_password_change_page_reads_only_the_session_and_user(
    client, partner_admin, django_assert_num_queries
):
    client.force_login(partner_admin)
    # session, user; the header's unread count, which reads the membership for the door
    with django_assert_num_queries(2 + 1 + BELL):
        assert client.get(reverse("password_change")).status_code == 200
