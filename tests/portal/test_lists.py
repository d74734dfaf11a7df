"""The portal's lists: sorted by a column, filtered and searched from the URL, paged, and exported as CSV.

Every list reads through the one door, so filters, search, sorting and the
CSV only ever narrow what the viewer already sees.
"""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deals.models import DealStatus
from gates.models import PartnerTier
from incentives.periods import quarter_of
from partners.models import Region
from tests.deals.helpers import grant_mdf
from tests.factories import (
    CertificationFactory,
    CertificationTypeFactory,
    DealFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
)
from tests.portal.builders import _mdf, tier_program

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def _column(rows: list[list[str]], header: str) -> list[str]:
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


def _text(response) -> str:
    return " ".join(response.content.decode().split())


# --- deal registrations ----------------------------------------------------------------------------


def _deals(partner, count: int) -> None:
    for number in range(count):
        DealFactory(
            partner=partner,
            customer_name=f"Customer {number:03d}",
            expected_value=Decimal(1000 + number),
        )


def test_deals_sort_by_a_column_both_ways(client, partner, partner_admin):
    _deals(partner, 3)
    client.force_login(partner_admin)
    response = client.get(reverse("portal:deals"), {"sort": "expected_value"})
    values = [row.record.expected_value for row in response.context["listing"].table.paginated_rows]
    assert values == sorted(values)
    assert 'aria-sort="ascending"' in response.content.decode()
    response = client.get(reverse("portal:deals"), {"sort": "-expected_value"})
    values = [row.record.expected_value for row in response.context["listing"].table.paginated_rows]
    assert values == sorted(values, reverse=True)
    assert 'aria-sort="descending"' in response.content.decode()


def test_deals_filter_by_status_product_line_and_dates_and_search(client, partner, partner_admin):
    cloud = ProductLineFactory(code="cloud")
    old = DealFactory(partner=partner, customer_name="Old Co", registered_on=datetime.date(2025, 1, 5))
    old.products.add(cloud)
    DealFactory(partner=partner, customer_name="Approved Co", status=DealStatus.APPROVED)
    client.force_login(partner_admin)

    def names(**params):
        response = client.get(reverse("portal:deals"), params)
        assert response.status_code == 200
        return [row.record.customer_name for row in response.context["listing"].table.paginated_rows]

    assert names(status="approved") == ["Approved Co"]
    assert names(product_line=cloud.pk) == ["Old Co"]
    assert names(registered_before="2025-02-01") == ["Old Co"]
    assert names(q="approved") == ["Approved Co"]
    assert names(q=f"DR-{old.pk:05d}") == ["Old Co"]


def test_deals_page_and_keep_the_filters_in_the_links(client, partner, partner_admin):
    _deals(partner, 30)
    client.force_login(partner_admin)
    first = client.get(reverse("portal:deals"), {"q": "customer", "sort": "customer"})
    text = first.content.decode()
    assert "Page 1 of 2" in text and "30 registrations." in _text(first)
    assert "q=customer&amp;sort=customer&amp;page=2" in text
    second = client.get(reverse("portal:deals"), {"q": "customer", "sort": "customer", "page": 2})
    names = [row.record.customer_name for row in second.context["listing"].table.paginated_rows]
    assert names == [f"Customer {number:03d}" for number in range(25, 30)]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"registered_after": "yesterday"},
        {"registered_after": "2026-02-30"},
        {"product_line": "99999999999999999999"},
        {"sort": "nonsense"},
        {"sort": "-"},
        {"page": "abc"},
        {"page": "9999"},
        {"page": "0"},
        {"q": "x" * 500},
        {"export": "xls"},
    ],
)
def test_deals_bad_list_parameters_are_ignored_with_a_message_never_a_500(
    client, partner, partner_admin, params
):
    _deals(partner, 2)
    client.force_login(partner_admin)
    response = client.get(reverse("portal:deals"), params)
    assert response.status_code == 200
    if set(params) & {"status", "registered_after", "product_line", "q"}:
        assert 'class="errorlist"' in response.content.decode()
        # The bad value is left out: the list shows every row.
        assert response.context["listing"].count == 2


def test_deals_csv_has_the_filtered_rows_of_every_page_with_cells_defused(
    client, partner, partner_admin, other_partner
):
    _deals(partner, 30)
    DealFactory(partner=partner, customer_name='=HYPERLINK("http://x")', expected_value=Decimal("5.00"))
    DealFactory(partner=partner, customer_name="Rejected Co", status=DealStatus.REJECTED)
    DealFactory(partner=other_partner, customer_name="Not yours")
    client.force_login(partner_admin)
    rows = _csv(
        client.get(
            reverse("portal:deals"), {"status": "submitted", "sort": "expected_value", "export": "csv"}
        )
    )
    assert rows[0][:3] == ["Registration", "Customer", "Customer domain"]
    customers = _column(rows, "Customer")
    assert len(customers) == 31  # all pages
    assert customers[0] == '\'=HYPERLINK("http://x")'
    assert "Rejected Co" not in customers and "Not yours" not in customers
    assert _column(rows, "Expected value")[:2] == ["5.00", "1000.00"]


def test_a_distributor_exports_only_its_partners_deals(client, partner, other_partner, distributor_user):
    DealFactory(partner=partner, customer_name="Served")
    DealFactory(partner=other_partner, customer_name="Elsewhere")
    client.force_login(distributor_user)
    rows = _csv(client.get(reverse("portal:deals"), {"export": "csv", "region": Region.NORTH_AMERICA}))
    assert rows[1:] == []
    rows = _csv(client.get(reverse("portal:deals"), {"export": "csv"}))
    assert _column(rows, "Customer") == ["Served"] and _column(rows, "Partner") == ["Acme"]


# --- MDF requests ----------------------------------------------------------------------------------


def test_mdf_sort_filter_search_and_csv(client, partner, partner_admin, channel_manager):
    grant_mdf(partner, "100000.00")
    _mdf(partner, partner_admin, "Spring event", "300.00")
    _mdf(partner, partner_admin, "=cmd|' /C calc'!A0", "100.00")
    _mdf(partner, partner_admin, "Autumn webinar", "200.00")
    client.force_login(channel_manager)
    response = client.get(reverse("portal:mdf"), {"sort": "-amount"})
    amounts = [row.record.amount for row in response.context["listing"].table.paginated_rows]
    assert amounts == [Decimal("300.00"), Decimal("200.00"), Decimal("100.00")]
    response = client.get(reverse("portal:mdf"), {"q": "webinar"})
    assert [row.record.title for row in response.context["listing"].table.paginated_rows] == [
        "Autumn webinar"
    ]
    response = client.get(reverse("portal:mdf"), {"status": "paid"})
    assert response.context["listing"].count == 0
    rows = _csv(client.get(reverse("portal:mdf"), {"export": "csv", "sort": "amount"}))
    assert _column(rows, "Activity") == ["'=cmd|' /C calc'!A0", "Autumn webinar", "Spring event"]
    assert _column(rows, "Requested") == ["100.00", "200.00", "300.00"]
    response = client.get(reverse("portal:mdf"), {"starts_after": "not a day"})
    assert response.status_code == 200 and 'class="errorlist"' in response.content.decode()


# --- partners, for a distributor and a channel manager -----------------------------------------------


def test_partners_filter_by_tier_and_region_sort_and_export(
    client, partner, distributor, distributor_user, channel_manager
):
    program = tier_program(partner)  # Acme holds Silver
    gold = program.tiers.get(name="Gold")
    served = PartnerFactory(name="Beta Served", distributor=distributor)
    PartnerTier.objects.create(partner=served, program=program, tier=gold)
    PartnerFactory(name="Zeta Far", region=Region.NORTH_AMERICA, country="US", distributor=distributor)
    PartnerFactory(name="Not served")
    client.force_login(distributor_user)

    def names(**params):
        response = client.get(reverse("portal:partners"), params)
        assert response.status_code == 200
        return [row.record.name for row in response.context["listing"].table.paginated_rows]

    assert names() == ["Acme", "Beta Served", "Zeta Far"]
    assert names(sort="-name") == ["Zeta Far", "Beta Served", "Acme"]
    assert names(tier=gold.pk) == ["Beta Served"]
    assert names(region="na") == ["Zeta Far"]
    assert names(q="served") == ["Beta Served"]
    assert names(tier="abc") == ["Acme", "Beta Served", "Zeta Far"]
    rows = _csv(client.get(reverse("portal:partners"), {"export": "csv", "sort": "-name"}))
    assert _column(rows, "Partner") == ["Zeta Far", "Beta Served", "Acme"]
    assert _column(rows, "Tier") == ["", "Partner Network: Gold", "Partner Network: Silver"]

    client.force_login(channel_manager)  # covers EMEA
    assert names() == ["Acme", "Beta Served", "Not served"]
    assert names(region="na") == []


# --- the team -----------------------------------------------------------------------------------------


def test_team_search_filter_by_certification_and_export(client, partner, partner_admin, partner_sales):
    engineer = CertificationTypeFactory(code="sales-engineer")
    architect = CertificationTypeFactory(code="architect")
    alice = PersonFactory(partner=partner, first_name="Alice", last_name="Adams", email="alice@acme.example")
    bob = PersonFactory(partner=partner, first_name="Bob", last_name="Brown", email="+bob@acme.example")
    CertificationFactory(person=alice, certification_type=engineer)
    CertificationFactory(person=bob, certification_type=architect)
    client.force_login(partner_admin)

    def names(**params):
        response = client.get(reverse("portal:team"), params)
        assert response.status_code == 200
        return [row.record.last_name for row in response.context["listing"].table.paginated_rows]

    assert names(sort="-name") == ["Brown", "Adams"]
    assert names(q="alice") == ["Adams"]
    assert names(certification=architect.pk) == ["Brown"]
    rows = _csv(client.get(reverse("portal:team"), {"export": "csv"}))
    assert _column(rows, "Email") == ["alice@acme.example", "'+bob@acme.example"]
    assert _column(rows, "Certifications")[0].startswith("Sales Engineer")

    # A colleague sees the directory, not others' certifications, in the page and in the CSV.
    client.force_login(partner_sales)
    response = client.get(reverse("portal:team"), {"certification": architect.pk})
    # Not a choice it has: refused by the field, and the list is not narrowed by it.
    assert "Architect" not in response.content.decode().split("People and their certifications")[0]
    assert 'class="errorlist"' in response.content.decode()
    assert response.context["listing"].count == 2
    rows = _csv(client.get(reverse("portal:team"), {"export": "csv"}))
    assert "Email" not in rows[0]
    assert _column(rows, "Certifications") == ["", ""]


# --- the manager's targets ------------------------------------------------------------------------------


def test_targets_sort_filter_and_export(client, partner, channel_manager):
    tier_program(partner)
    PartnerFactory(name="Bravo")
    PartnerFactory(name="Far", region=Region.NORTH_AMERICA, country="US")
    client.force_login(channel_manager)
    response = client.get(reverse("portal:manager"), {"sort": "-name"})
    rows = [row.record for row in response.context["listing"].table.paginated_rows]
    assert [row["name"] for row in rows] == ["Bravo", "Acme"]
    acme = rows[1]
    assert acme["next_gate"] == "Gold: five certified sales engineers" and (acme["met"], acme["total"]) == (
        0,
        1,
    )
    response = client.get(reverse("portal:manager"), {"q": "acm"})
    assert [row.record["name"] for row in response.context["listing"].table.paginated_rows] == ["Acme"]
    response = client.get(reverse("portal:manager"), {"sort": "to_go"})
    assert response.status_code == 200
    rows = _csv(client.get(reverse("portal:manager"), {"export": "csv"}))
    assert _column(rows, "Partner") == ["Acme", "Bravo"]
    assert "Far" not in _column(rows, "Partner")


# --- incentive statements ----------------------------------------------------------------------------------


def test_statements_search_sort_page_and_export(client, partner, distributor, distributor_user):
    for number in range(27):
        PartnerFactory(name=f"Served {number:02d}", distributor=distributor)
    PartnerFactory(name="=Not served")
    client.force_login(distributor_user)
    period = quarter_of(datetime.date.today()).code
    url = reverse("incentives:index")
    response = client.get(url, {"period": period})
    assert "Page 1 of 2" in response.content.decode()
    assert f"period={period}&amp;page=2" in response.content.decode()
    response = client.get(url, {"period": period, "q": "served 1", "sort": "-name"})
    names = [row.record.name for row in response.context["listing"].table.paginated_rows]
    # Every word matches: "served" and "1".
    assert names == [f"Served {number:02d}" for number in range(26, -1, -1) if "1" in f"{number:02d}"]
    rows = _csv(client.get(url, {"period": period, "export": "csv"}))
    assert len(rows) == 1 + 28 and "=Not served" not in _column(rows, "Partner")
    assert "Statement" not in rows[0]


# --- query counts stay flat as rows grow ------------------------------------------------------------------


LISTS = [
    ("partner_admin", "portal:deals", {"sort": "-expected_value", "status": "submitted"}),
    ("partner_admin", "portal:deals", {"export": "csv"}),
    ("partner_admin", "portal:mdf", {"sort": "amount", "q": "grown"}),
    ("partner_admin", "portal:mdf", {"export": "csv"}),
    ("partner_admin", "portal:team", {"sort": "-name", "q": "sam"}),
    ("partner_admin", "portal:team", {"export": "csv"}),
    ("distributor_user", "portal:partners", {"sort": "-passed", "region": "emea"}),
    ("distributor_user", "portal:partners", {"export": "csv"}),
    ("distributor_user", "portal:deals", {"export": "csv", "q": "example"}),
    ("distributor_user", "incentives:index", {"sort": "-name"}),
    ("distributor_user", "incentives:index", {"export": "csv"}),
    ("channel_manager", "portal:manager", {"sort": "to_go"}),
    ("channel_manager", "portal:manager", {"export": "csv"}),
    ("channel_manager", "portal:partners", {"export": "csv", "sort": "name"}),
]


def _grow(partner, partner_admin, distributor, program, size: int, start: int) -> None:
    silver = program.tiers.get(name="Silver")
    for number in range(start, start + size):
        DealFactory(partner=partner, customer_domain=f"list-{number}.example")
        _mdf(partner, partner_admin, f"Grown {number}", "1.00")
        person = PersonFactory(partner=partner, first_name="Sam")
        CertificationFactory(person=person)
        served = PartnerFactory(distributor=distributor)
        PartnerTier.objects.create(partner=served, program=program, tier=silver)
        DealFactory(partner=served, customer_domain=f"served-{number}.example")


def _count(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(("persona", "name", "params"), LISTS, ids=lambda v: str(v))
def test_list_queries_stay_flat_from_5_to_50_rows(
    client, request, partner, partner_admin, distributor, persona, name, params, django_assert_num_queries
):
    grant_mdf(partner, "100000.00")
    program = tier_program(partner)
    client.force_login(request.getfixturevalue(persona))
    url = reverse(name)
    _grow(partner, partner_admin, distributor, program, 5, 0)
    small = _count(client, url, params)
    _grow(partner, partner_admin, distributor, program, 45, 5)
    with django_assert_num_queries(small):
        response = client.get(url, params)
    assert response.status_code == 200
