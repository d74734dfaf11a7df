"""The customer's country and segment on sales and deals, and benefits limited to a segment, through the API."""

import pytest

from deals import services as deal_services
from deals.models import Deal
from partners.models import CustomerSegment, Sale
from tests.api.test_ingestion import SALES, post, sale
from tests.deals.helpers import grant_deal_registration
from tests.factories import BenefitFactory, DealFactory, ProductLineFactory, SaleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cloud(db):
    return ProductLineFactory(code="cloud")


@pytest.fixture
def manager_client(client_for, channel_manager):
    return client_for(channel_manager)


def enterprise() -> CustomerSegment:
    return CustomerSegment.objects.get(code="enterprise")


class TestSalesIngestion:
    def test_country_and_segment_are_stored_and_compared(self, manager_client, partner, cloud):
        records = [
            sale("uk", partner, country="GB", customer_segment="enterprise"),
            sale("lower-case", partner, country="ie"),
            sale("none", partner),
        ]
        response = post(manager_client, SALES, records)
        assert response.status_code == 200 and response.json()["created"] == 3, response.content
        stored = {s.external_id: s for s in Sale.objects.filter(source="crm")}
        assert (stored["uk"].country.code, stored["uk"].customer_segment) == ("GB", enterprise())
        assert stored["lower-case"].country.code == "IE"
        assert (stored["none"].country, stored["none"].customer_segment) == (None, None)

        again = post(manager_client, SALES, records).json()
        assert again["unchanged"] == 3
        moved = post(
            manager_client, SALES, [sale("uk", partner, country="FR", customer_segment="mid-market")]
        )
        assert moved.json()["updated"] == 1
        stored_uk = Sale.objects.get(source="crm", external_id="uk")
        assert (stored_uk.country.code, stored_uk.customer_segment.code) == ("FR", "mid-market")

    def test_bad_values_are_refused_per_field(self, manager_client, partner, cloud):
        records = [
            sale("uk-not-iso", partner, country="UK"),
            sale("too-long", partner, country="GBR"),
            sale("not-text", partner, country=44, customer_segment=["enterprise"]),
            sale("unknown-segment", partner, customer_segment="giant"),
            sale("good", partner, country="GB"),
        ]
        report = post(manager_client, SALES, records).json()
        errors = {row["external_id"]: row.get("errors") for row in report["results"]}
        assert report["created"] == 1 and errors["good"] is None
        assert errors["uk-not-iso"] == {"country": ["'UK' is not an ISO 3166 country code, e.g. GB."]}
        assert errors["too-long"] == {"country": ["At most 2 characters."]}
        assert errors["not-text"] == {
            "country": ["Expected a string."],
            "customer_segment": ["Expected a string."],
        }
        assert errors["unknown-segment"] == {
            "customer_segment": ["No customer segment has the code 'giant'."]
        }

    def test_the_record_schema_documents_the_fields(self, client):
        record = client.get("/api/schema/?format=json").json()["components"]["schemas"]["SaleRecordRequest"]
        assert {"country", "customer_segment"} <= set(record["properties"])
        assert "country" not in record.get("required", [])


class TestReads:
    def test_sales_show_the_customers_country_and_segment(
        self, manager_client, partner, cloud, django_assert_max_num_queries
    ):
        for _ in range(5):
            SaleFactory(partner=partner, product_line=cloud, country="GB", customer_segment=enterprise())
        SaleFactory(partner=partner, product_line=cloud)
        # session, user's coverage and memberships, the count and the page (product lines and
        # segments joined): the same for 6 sales as for 1.
        with django_assert_max_num_queries(8):
            response = manager_client.get("/api/v1/sales/", {"partner": partner.pk})
        assert response.status_code == 200
        rows = response.json()["results"]
        shown = [(row["country"], row["customer_segment"]) for row in rows]
        assert shown.count(("GB", "enterprise")) == 5 and shown.count((None, None)) == 1

    def test_deals_and_benefits_show_the_segment(self, manager_client, partner, world):
        DealFactory(partner=partner, customer_segment=enterprise())
        BenefitFactory(program=world.program, name="Enterprise deals", customer_segment=enterprise())
        deals = manager_client.get("/api/v1/deals/").json()["results"]
        assert [deal["customer_segment"] for deal in deals] == ["enterprise"]
        benefits = manager_client.get("/api/v1/benefits/", {"program": world.program.pk}).json()["results"]
        by_name = {benefit["name"]: benefit["customer_segment"] for benefit in benefits}
        assert by_name["Enterprise deals"] == "enterprise" and by_name[world.discount.name] is None


def registration(**overrides) -> dict:
    body = {
        "customer_name": "Globex",
        "customer_domain": "globex.example",
        "country": "GB",
        "products": ["cloud"],
        "expected_value": "250000.00",
        "currency": "GBP",
        "expected_close": "2099-01-31",
    }
    body.update(overrides)
    return body


class TestDealRegistrationLimitedToASegment:
    @pytest.fixture
    def admin_client(self, client_for, partner_admin):
        return client_for(partner_admin)

    def test_an_unlimited_right_registers_any_customer(self, admin_client, partner, cloud):
        grant_deal_registration(partner)
        response = admin_client.post(
            "/api/v1/deals/", registration(customer_segment="mid-market"), format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["customer_segment"] == "mid-market"
        assert Deal.objects.get().customer_segment.code == "mid-market"

    def test_a_right_limited_to_enterprise_registers_enterprise_deals_only(
        self, admin_client, partner, cloud
    ):
        grant_deal_registration(partner, customer_segment=enterprise())
        refused = admin_client.post(
            "/api/v1/deals/", registration(customer_segment="mid-market"), format="json"
        )
        assert refused.status_code == 400
        assert refused.json()["errors"] == {
            "customer_segment": ["Your deal registration covers Enterprise accounts only."]
        }
        unstated = admin_client.post("/api/v1/deals/", registration(), format="json")
        assert unstated.status_code == 400 and "customer_segment" in unstated.json()["errors"]
        accepted = admin_client.post(
            "/api/v1/deals/", registration(customer_segment="enterprise"), format="json"
        )
        assert accepted.status_code == 201, accepted.content
        assert Deal.objects.count() == 1

    def test_an_unknown_segment_is_refused_by_field(self, admin_client, partner, cloud):
        grant_deal_registration(partner)
        response = admin_client.post("/api/v1/deals/", registration(customer_segment="giant"), format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["customer_segment"]

    def test_a_won_deal_records_its_customer_on_the_sale(self, partner, cloud, partner_admin):
        deal = DealFactory(partner=partner, country="IE", customer_segment=enterprise(), status="approved")
        deal.products.set([cloud])
        deal_services.deal_mark_won(actor=partner_admin, deal=deal)
        sale_row = Sale.objects.get(deal=deal)
        assert (sale_row.country.code, sale_row.customer_segment.code) == ("IE", "enterprise")
