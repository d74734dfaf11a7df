"""A permission matrix for every portal view: each persona against its own and another organisation's objects.

Hidden objects answer 404, whether they belong to another organisation or
the page is not meant for that kind of user; 403 means "you may see this but
your role may not act". Every action is POST-only and leaves other
organisations' objects untouched.
"""

import pytest
from django.urls import reverse

from deals.models import Deal, DealStatus, MdfRequest, MdfStatus

pytestmark = pytest.mark.django_db

PERSONAS = [
    "anonymous",
    "partner_admin",
    "partner_sales",
    "other_partner_admin",
    "distributor_user",
    "channel_manager",
    "superuser",
]
LOGIN = "login"  # a redirect to the login page


def _login(client, request, persona: str):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))


def _url(world, name: str, target: str | None):
    if target is None:
        return reverse(f"portal:{name}")
    obj = getattr(world, target)
    return reverse(f"portal:{name}", args=[obj.pk])


# (url name, object, expected status per persona in PERSONAS order)
# Objects: deal / approved / mdf_request / mdf_claimed belong to the partner
# (Acme, served by the distributor, covered by the channel manager);
# other_deal / other_approved / other_mdf belong to the other partner.
GET_MATRIX = [
    ("dashboard", None, [LOGIN, 200, 200, 200, 200, 302, 302]),
    ("programs", None, [LOGIN, 200, 200, 200, 200, 200, 200]),
    ("team", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    # Onboarding: a partner's users read the checklist and the company profile; admins act.
    ("onboarding", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("company_profile", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    # A partner's own figures: its users only. Lifetime value: channel managers (their coverage).
    ("my_figures", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("my_figures_csv", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("analytics_lifetime", None, [LOGIN, 404, 404, 404, 404, 200, 200]),
    ("analytics_lifetime_csv", None, [LOGIN, 404, 404, 404, 404, 200, 200]),
    ("partners", None, [LOGIN, 404, 404, 404, 200, 200, 200]),
    ("manager", None, [LOGIN, 404, 404, 404, 404, 200, 200]),
    ("deals", None, [LOGIN, 200, 200, 200, 200, 200, 200]),
    ("deal_register", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("deal_detail", "deal", [LOGIN, 200, 200, 404, 200, 200, 200]),
    ("deal_detail", "other_deal", [LOGIN, 404, 404, 200, 404, 404, 200]),
    ("deal_reject", "deal", [LOGIN, 404, 404, 404, 200, 200, 200]),
    # The claims side by side: the vendor's view alone, of the deals it covers.
    ("deal_conflict", "deal", [LOGIN, 404, 404, 404, 404, 200, 200]),
    ("deal_conflict", "other_deal", [LOGIN, 404, 404, 404, 404, 404, 200]),
    ("deal_reject", "other_deal", [LOGIN, 404, 404, 404, 404, 404, 200]),
    ("deal_won", "approved", [LOGIN, 200, 200, 404, 404, 200, 200]),
    ("deal_won", "other_approved", [LOGIN, 404, 404, 200, 404, 404, 200]),
    ("mdf", None, [LOGIN, 200, 200, 200, 404, 200, 200]),
    ("mdf_new", None, [LOGIN, 200, 403, 200, 404, 404, 404]),
    ("mdf_detail", "mdf_request", [LOGIN, 200, 200, 404, 404, 200, 200]),
    ("mdf_detail", "other_mdf", [LOGIN, 404, 404, 200, 404, 404, 200]),
    ("mdf_proof", "mdf_claimed", [LOGIN, 200, 200, 404, 404, 200, 200]),
    # The content library: partner users, each the assets open to their partner; the file of
    # another's answers 404 as a program out of sight does. Staff manage it in the admin.
    ("library", None, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("library_download", "asset", [LOGIN, 200, 200, 404, 404, 404, 404]),
    ("library_download", "other_asset", [LOGIN, 404, 404, 200, 404, 404, 404]),
    # The enablement funnel: channel managers, over their coverage.
    ("analytics_enablement", None, [LOGIN, 404, 404, 404, 404, 200, 200]),
    ("analytics_enablement_csv", None, [LOGIN, 404, 404, 404, 404, 200, 200]),
    # Every role has an inbox and its preferences.
    ("inbox", None, [LOGIN, 200, 200, 200, 200, 200, 200]),
    ("inbox_preferences", None, [LOGIN, 200, 200, 200, 200, 200, 200]),
]


def _partner_detail_cases():
    return [
        ("partner", [LOGIN, 404, 404, 404, 200, 200, 200]),
        ("other_partner", [LOGIN, 404, 404, 404, 404, 404, 200]),
    ]


@pytest.mark.parametrize(("name", "target", "expected"), GET_MATRIX, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_get_matrix(client, request, world, name, target, expected, index):
    persona = PERSONAS[index]
    _login(client, request, persona)
    response = client.get(_url(world, name, target))
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == want, (persona, name, target, response.status_code)


@pytest.mark.parametrize(("target", "expected"), _partner_detail_cases())
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_partner_detail_matrix(client, request, world, target, expected, index):
    persona = PERSONAS[index]
    _login(client, request, persona)
    response = client.get(reverse("portal:partner_detail", args=[request.getfixturevalue(target).pk]))
    if expected[index] == LOGIN:
        assert response.status_code == 302
    else:
        assert response.status_code == expected[index]


# Each list's CSV (the list's own URL with ``export=csv``, filtered or not) answers as its page
# does, and holds only the viewer's rows: (url name, query, expected status per persona).
EXPORT_MATRIX = [
    ("portal:deals", {"export": "csv"}, [LOGIN, 200, 200, 200, 200, 200, 200]),
    (
        "portal:deals",
        {"export": "csv", "status": "submitted", "q": "example"},
        [LOGIN, 200, 200, 200, 200, 200, 200],
    ),
    ("portal:mdf", {"export": "csv"}, [LOGIN, 200, 200, 200, 404, 200, 200]),
    ("portal:library", {"export": "csv", "q": "deck"}, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("portal:team", {"export": "csv"}, [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("portal:partners", {"export": "csv"}, [LOGIN, 404, 404, 404, 200, 200, 200]),
    ("portal:partners", {"export": "csv", "region": "na"}, [LOGIN, 404, 404, 404, 200, 200, 200]),
    ("portal:manager", {"export": "csv"}, [LOGIN, 404, 404, 404, 404, 200, 200]),
    # A partner's statements index is its own statement: the CSV of that is the statement's.
    ("incentives:index", {"export": "csv"}, [LOGIN, 302, 302, 302, 200, 200, 200]),
]


@pytest.mark.parametrize(("name", "query", "expected"), EXPORT_MATRIX, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_export_matrix(client, request, world, partner, other_partner, name, query, expected, index):
    persona = PERSONAS[index]
    _login(client, request, persona)
    response = client.get(reverse(name), query)
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        return
    assert response.status_code == want, (persona, name, response.status_code)
    if want != 200:
        return
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    if persona == "superuser":
        return
    # Never a row of an organisation the viewer does not see.
    ours = persona != "other_partner_admin"
    hidden_deal, hidden_mdf = (world.other_deal, world.other_mdf) if ours else (world.deal, world.mdf_request)
    assert hidden_deal.reference not in text and hidden_mdf.reference not in text
    if name in ("portal:partners", "portal:manager", "incentives:index"):
        assert other_partner.name not in text
    if name == "portal:library":
        shown, hidden = (world.asset, world.other_asset) if ours else (world.other_asset, world.asset)
        assert shown.title in text and hidden.title not in text


# (url name, object, form data, expected status per persona, status the object reaches when allowed)
POST_MATRIX = [
    ("deal_approve", "deal", {}, [LOGIN, 404, 404, 404, 302, 302, 302], DealStatus.APPROVED),
    ("deal_approve", "other_deal", {}, [LOGIN, 404, 404, 404, 404, 404, 302], DealStatus.APPROVED),
    ("deal_reject", "deal", {"reason": "Direct"}, [LOGIN, 404, 404, 404, 302, 302, 302], DealStatus.REJECTED),
    (
        "deal_reject",
        "other_deal",
        {"reason": "No"},
        [LOGIN, 404, 404, 404, 404, 404, 302],
        DealStatus.REJECTED,
    ),
    ("deal_lost", "approved", {}, [LOGIN, 302, 302, 404, 404, 302, 302], DealStatus.LOST),
    ("deal_lost", "other_approved", {}, [LOGIN, 404, 404, 302, 404, 404, 302], DealStatus.LOST),
    ("mdf_withdraw", "mdf_request", {}, [LOGIN, 302, 403, 404, 404, 404, 404], MdfStatus.CANCELLED),
    ("mdf_withdraw", "other_mdf", {}, [LOGIN, 404, 404, 302, 404, 404, 404], MdfStatus.CANCELLED),
    ("mdf_approve", "mdf_request", {}, [LOGIN, 404, 404, 404, 404, 302, 302], MdfStatus.APPROVED),
    ("mdf_approve", "other_mdf", {}, [LOGIN, 404, 404, 404, 404, 404, 302], MdfStatus.APPROVED),
    (
        "mdf_reject",
        "mdf_request",
        {"reason": "No"},
        [LOGIN, 404, 404, 404, 404, 302, 302],
        MdfStatus.REJECTED,
    ),
    ("mdf_paid", "mdf_claimed", {}, [LOGIN, 404, 404, 404, 404, 302, 302], MdfStatus.PAID),
]


@pytest.mark.parametrize(("name", "target", "data", "expected", "reached"), POST_MATRIX, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_post_matrix(client, request, world, name, target, data, expected, reached, index):
    persona = PERSONAS[index]
    _login(client, request, persona)
    obj = getattr(world, target)
    before = obj.status
    response = client.post(reverse(f"portal:{name}", args=[obj.pk]), data)
    obj.refresh_from_db()
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert obj.status == before
    elif want == 302:
        assert response.status_code == 302, (persona, name, response.status_code)
        assert obj.status == reached
    else:
        assert response.status_code == want, (persona, name, response.status_code)
        assert obj.status == before


def test_the_won_form_acts_only_on_the_users_own_deals(client, world, other_partner_admin, partner_admin):
    client.force_login(other_partner_admin)
    data = {"amount": "100.00", "closed_on": "2026-01-05", "product_line": world.approved.products.first().pk}
    assert client.post(reverse("portal:deal_won", args=[world.approved.pk]), data).status_code == 404
    assert Deal.objects.get(pk=world.approved.pk).status == DealStatus.APPROVED


def test_a_claim_on_another_organisations_request_is_404(client, world, other_partner_admin):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from deals import mdf

    approver = world.mdf_claimed.decided_by
    mdf.mdf_request_approve(actor=approver, request=world.mdf_request)
    client.force_login(other_partner_admin)
    response = client.post(
        reverse("portal:mdf_claim", args=[world.mdf_request.pk]),
        {"amount": "10.00", "proof": SimpleUploadedFile("p.pdf", b"%PDF-1.4")},
    )
    assert response.status_code == 404
    assert MdfRequest.objects.get(pk=world.mdf_request.pk).status == MdfStatus.APPROVED


@pytest.mark.parametrize(
    "name",
    [
        "deal_approve",
        "deal_lost",
        "mdf_withdraw",
        "mdf_approve",
        "mdf_reject",
        "mdf_paid",
        "mdf_claim",
        "mdf_allow_early_claim",
        "inbox_read",
    ],
)
def test_actions_refuse_get(client, world, superuser, name):
    client.force_login(superuser)
    assert client.get(reverse(f"portal:{name}", args=[world.deal.pk])).status_code == 405


@pytest.mark.parametrize(
    ("persona", "url", "data"),
    [
        ("partner_admin", "portal:deal_register", {"customer_name": "X"}),
        ("distributor_user", "portal:deal_approve", {}),
        ("channel_manager", "portal:mdf_approve", {}),
    ],
)
def test_every_form_needs_the_csrf_token(request, world, persona, url, data):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(request.getfixturevalue(persona))
    args = [] if url == "portal:deal_register" else [world.deal.pk if "deal" in url else world.mdf_request.pk]
    response = client.post(reverse(url, args=args), data)
    assert response.status_code == 403
    world.deal.refresh_from_db()
    world.mdf_request.refresh_from_db()
    assert world.deal.status == DealStatus.SUBMITTED and world.mdf_request.status == MdfStatus.REQUESTED


@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_only_its_owner_marks_an_item_read(client, request, world, partner, partner_admin, index):
    from inbox.models import InboxItem, InboxKind

    item = InboxItem.objects.create(
        user=partner_admin, partner=partner, kind=InboxKind.TIER_CHANGE, title="Gold", dedupe_key="gold"
    )
    persona = PERSONAS[index]
    _login(client, request, persona)
    response = client.post(reverse("portal:inbox_read", args=[item.pk]))
    item.refresh_from_db()
    if persona == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    elif persona == "partner_admin":
        assert response.status_code == 302 and item.read_at is not None
        return
    else:
        assert response.status_code == 404, persona
    assert item.read_at is None
    # Marking all read touches only one's own items.
    client.post(reverse("portal:inbox_read_all"))
    item.refresh_from_db()
    assert item.read_at is None
