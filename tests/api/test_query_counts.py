"""Query counts of every list endpoint: named, and flat as the data grows.

Every list is read twice, before and after the world grows by several
partners with all their facts and results; the count must not move, and must
not exceed the queries named for it.

A channel manager signed in with a session spends, before any list query:
the session, the user, the user's and the group's permissions (is this
manager allowed to see every partner?) and the manager's regions: 5 queries.
A page-numbered list adds its count and its page; a cursor list only its page.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ExchangeRate
from gates.forecast import forecasts_refresh
from gates.models import Gate, GateState
from gates.services import evaluate
from partners.models import MembershipRole
from programs.models import Segment
from tests.deals.helpers import grant_mdf
from tests.factories import (
    BenefitFactory,
    CertificationFactory,
    DealFactory,
    EngagementActivityFactory,
    ExchangeRateFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    ProgramFactory,
    SaleFactory,
    SegmentFactory,
    ServiceProficiencyFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

SESSION_AND_SCOPE = 5  # session, user, user permissions, group permissions, manager's regions
PAGE = 2  # count, page
CURSOR = 1  # page
REFERENCES = 8  # the codes criteria are written in, once per page (gates.metrics.load_references)

# endpoint -> (queries, what they are)
LISTS = {
    "partners": (SESSION_AND_SCOPE + PAGE, "count, page"),
    "people": (SESSION_AND_SCOPE + PAGE, "count, page"),
    "certifications": (SESSION_AND_SCOPE + CURSOR, "page with person and type joined"),
    "sales": (SESSION_AND_SCOPE + CURSOR, "page with product line joined"),
    "activities": (SESSION_AND_SCOPE + CURSOR, "page with activity type joined"),
    "proficiencies": (SESSION_AND_SCOPE + PAGE, "count, page with offering joined"),
    "programs": (2 + PAGE, "session, user; count, page (staff see every program, no scope)"),
    "tiers": (2 + PAGE, "session, user; count, page"),
    "benefits": (2 + PAGE + 1, "session, user; count, page with product line, the tiers prefetched"),
    "gates": (
        2 + PAGE + 2 + REFERENCES,
        "session, user; count, page, prerequisites and benefits prefetched; the codes the rules are in",
    ),
    "gate-statuses": (
        SESSION_AND_SCOPE + CURSOR,
        "page with gate and program joined; criteria parsed in memory",
    ),
    "gate-status-changes": (SESSION_AND_SCOPE + CURSOR, "page"),
    "tier-changes": (SESSION_AND_SCOPE + CURSOR, "page"),
    "partner-tiers": (SESSION_AND_SCOPE + PAGE, "count, page"),
    "segment-memberships": (SESSION_AND_SCOPE + CURSOR, "page with segment joined"),
    "benefit-grants": (SESSION_AND_SCOPE + CURSOR, "page with benefit joined"),
    "evaluation-runs": (SESSION_AND_SCOPE + PAGE, "count, page"),
    "gate-forecasts": (SESSION_AND_SCOPE + PAGE, "count, page"),
    "deals": (SESSION_AND_SCOPE + PAGE + 1, "count, page, products prefetched"),
    "mdf-requests": (SESSION_AND_SCOPE + 1 + PAGE, "the membership (distributors see no MDF), count, page"),
    "certification-types": (2 + PAGE, "session, user; count, page"),
    "product-lines": (2 + PAGE, "session, user; count, page"),
    "activity-types": (2 + PAGE, "session, user; count, page"),
    "service-offerings": (2 + PAGE, "session, user; count, page"),
    "exchange-rates": (2 + PAGE, "session, user; count, page"),
    "segments": (2 + PAGE, "session, user; count, page (staff see every segment)"),
    "memberships": (SESSION_AND_SCOPE + CURSOR, "page with the login joined"),
    "users": (SESSION_AND_SCOPE + CURSOR, "page with the membership joined"),
}


def grow(world, count: int) -> None:
    """More EMEA partners, each with people, facts, deals, MDF and gate results; more rates."""
    for n in range(count):
        SegmentFactory(name=f"Grown segment {Segment.objects.count()}")
        ExchangeRateFactory(
            currency="EUR",
            valid_from=datetime.date(2020, 1, 1) + datetime.timedelta(days=ExchangeRate.objects.count()),
        )
        partner = PartnerFactory(name=f"Grown {n}")
        for _ in range(3):
            person = PersonFactory(partner=partner)
            CertificationFactory(person=person, certification_type=world.cert_type)
            SaleFactory(partner=partner, product_line=world.product_line)
            EngagementActivityFactory(partner=partner, activity_type=world.activity_type)
        ServiceProficiencyFactory(partner=partner)
        MembershipFactory(partner=partner, role=MembershipRole.SALES)
        deal = DealFactory(partner=partner)
        deal.products.set([world.product_line])
    if not hasattr(world, "mdf_granted"):
        grant_mdf(world.acme)
        world.mdf_granted = True
        from deals import mdf

        soon = datetime.date.today() + datetime.timedelta(days=30)
        admin = world.acme.memberships.first()
        assert admin is not None, "the tests using grow() sign the partner admin in"
        mdf.mdf_request_create(
            actor=admin.user,
            partner=world.acme,
            title="Event",
            activity_kind="event",
            starts_on=soon,
            ends_on=soon,
            amount=Decimal("100.00"),
        )
    evaluate(as_of=datetime.date.today(), notify=False)
    forecasts_refresh(notify=False)


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def test_list_queries_are_named_and_flat(client_for, channel_manager, partner_admin, world):
    client = client_for(channel_manager)
    grow(world, 1)  # at least one of everything, so that no list is empty at first
    before = {name: count_queries(client, f"/api/v1/{name}/") for name in LISTS}

    grow(world, 6)
    after = {name: count_queries(client, f"/api/v1/{name}/") for name in LISTS}

    assert after == before, "query counts moved as the data grew"
    assert after == {name: expected for name, (expected, _) in LISTS.items()}


def test_a_partner_users_lists_cost_the_same_whatever_the_data(client_for, partner_admin, world):
    """A partner user: session, user, its membership; programs and gates add the partner's segments."""
    client = client_for(partner_admin)
    names = ["partners", "sales", "gate-statuses", "programs", "gates", "deals"]
    grow(world, 1)
    before = {name: count_queries(client, f"/api/v1/{name}/") for name in names}

    grow(world, 4)

    assert {name: count_queries(client, f"/api/v1/{name}/") for name in names} == before
    # session, user, membership + count and page (partners); + page (sales, statuses: cursor)
    assert before["partners"] == 3 + PAGE
    assert before["sales"] == 3 + CURSOR
    assert before["gate-statuses"] == 3 + CURSOR


def test_a_token_call_costs_one_query_before_the_list(token_client, issue_token, channel_manager, world):
    """The token and its issuer in one query (its last use written at most once a minute)."""
    _, secret = issue_token(channel_manager)
    client = token_client(secret)
    client.get("/api/v1/me/")  # records the first use

    # token with issuer, user and group permissions, regions; page
    assert count_queries(client, "/api/v1/sales/") == 1 + 3 + CURSOR


def test_a_gates_versions_and_diff_cost_the_same_however_many_versions(
    client_for, superuser, partner_admin, world
):
    """Versions: session, user, the gate, its versions, the codes; the diff measures in bulk."""
    from gates import services as gate_services

    client = client_for(superuser)
    gate = world.silver_gate
    url = f"/api/v1/gates/{gate.pk}/"

    def next_draft(target: int) -> None:
        criteria = {"metric": "certified_people", "op": ">=", "target": target}
        draft = gate_services.gate_draft_save(actor=superuser, gate=gate, criteria=criteria)
        gate_services.gate_version_publish(actor=superuser, draft=draft)

    next_draft(2)
    gate_services.gate_draft_save(
        actor=superuser, gate=gate, criteria={"metric": "certified_people", "op": ">=", "target": 9}
    )
    before = {page: count_queries(client, f"{url}{page}/") for page in ("versions", "diff")}
    for target in (3, 4, 5, 6):
        next_draft(target)
    gate_services.gate_draft_save(
        actor=superuser, gate=gate, criteria={"metric": "certified_people", "op": ">=", "target": 9}
    )
    grow(world, 3)
    after = {page: count_queries(client, f"{url}{page}/") for page in ("versions", "diff")}
    assert after == before


# The partner; the programs open to it; its tiers, grants, gates in effect and their statuses; the
# at-risk forecasts (gates.standing.partner_standing, partner_warnings).
STANDING = 1 + 1 + 4 + 1


def test_a_partners_standing_costs_the_same_however_many_programs_gates_and_grants(
    client_for, channel_manager, partner_admin, world
):
    url = f"/api/v1/partners/{world.acme.pk}/standing/"
    manager, admin = client_for(channel_manager), client_for(partner_admin)
    grow(world, 1)
    before = {"manager": count_queries(manager, url), "admin": count_queries(admin, url)}

    for n in range(3):
        program = ProgramFactory(name=f"Extra {n}")
        tier = TierFactory(program=program, name=f"Extra tier {n}", rank=1)
        BenefitFactory(program=program).tiers.set([tier])
        Gate.objects.create(
            program=program,
            name=f"Extra gate {n}",
            state=GateState.ACTIVE,
            unlocks_tier=tier,
            criteria={"metric": "engagement_points", "window": {"kind": "all_time"}, "op": ">=", "target": 1},
        )
    grow(world, 3)
    after = {"manager": count_queries(manager, url), "admin": count_queries(admin, url)}

    body = manager.get(url).json()
    extra = [row for row in body["programs"] if row["program"]["name"].startswith("Extra")]
    assert len(extra) == 3
    assert all(row["tier"] and row["benefits"] and row["gates"] for row in extra)
    assert after == before
    # session, user, permissions (user's, group's) and regions; a partner user: session, user, membership
    assert after == {"manager": SESSION_AND_SCOPE + STANDING, "admin": 3 + STANDING}
