"""Certifications counted, and sales and deals by the customer's country and segment.

Measured by the engine and by the naive reference (``measure`` asserts they
agree), against values computed by hand; described in plain language by the
leaf's ``describe``, which the portal and the API show.
"""

import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache

from core.exchange import daily_rates_extend
from deals.models import DealStatus
from gates.engine import Measurer
from gates.metrics import METRICS, load_references
from gates.selectors import leaf_progress
from gates.subjects import _GENERATION_KEY, cached_subjects
from gates.validation import criteria_errors, parse_criteria
from partners.models import CustomerSegment
from tests.factories import (
    CertificationFactory,
    CertificationTypeFactory,
    DealFactory,
    ExchangeRateFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
    SaleFactory,
)
from tests.gates.helpers import measure

pytestmark = pytest.mark.django_db
D = datetime.date
AS_OF = D(2026, 3, 31)


def segment(code: str) -> CustomerSegment:
    # Seeded by a migration; a browser test's flush of the tables before this one empties them.
    return CustomerSegment.objects.get_or_create(
        code=code, defaults={"name": code.replace("-", " ").title()}
    )[0]


def describe(tree: dict) -> str:
    leaf = parse_criteria(tree, default_currency="GBP").leaves[0]
    spec = METRICS[leaf.metric].spec
    assert spec.describe is not None
    return spec.describe(leaf)


@pytest.fixture
def certified():
    """Alice holds two engineer certifications and an architect one; Bob an engineer one; Carol's
    expired; Dave left; Erin's is issued after the day."""
    partner = PartnerFactory()
    engineer = CertificationTypeFactory(code="sales-engineer", track="presales")
    architect = CertificationTypeFactory(code="architect", track="technical", is_advanced=True)
    alice, bob, carol, erin = (PersonFactory(partner=partner) for _ in range(4))
    dave = PersonFactory(partner=partner, is_active=False)
    CertificationFactory(person=alice, certification_type=engineer, issued_on=D(2024, 6, 1))
    CertificationFactory(person=alice, certification_type=engineer, issued_on=D(2026, 1, 10))
    CertificationFactory(person=alice, certification_type=architect, issued_on=D(2025, 2, 1))
    CertificationFactory(person=bob, certification_type=engineer, issued_on=D(2026, 2, 1), expires_on=AS_OF)
    CertificationFactory(
        person=carol, certification_type=architect, issued_on=D(2024, 1, 1), expires_on=D(2026, 3, 30)
    )
    CertificationFactory(person=dave, certification_type=architect, issued_on=D(2025, 1, 1))
    CertificationFactory(person=erin, certification_type=engineer, issued_on=D(2026, 4, 1))
    PersonFactory(partner=PartnerFactory())  # another partner's people never count
    return partner


class TestCertifications:
    LEAF = {"metric": "certifications", "op": ">=", "target": 3}

    def test_counts_valid_certifications_of_active_people(self, certified):
        # alice 3 + bob 1; carol's expired the day before, dave left, erin's is not issued yet.
        assert measure(self.LEAF, certified, AS_OF) == 4
        # The next day bob's has expired and erin's is issued.
        assert measure(self.LEAF, certified, D(2026, 4, 1)) == 4

    def test_distinct_types_counts_each_type_once(self, certified):
        assert measure({**self.LEAF, "distinct_types": True}, certified, AS_OF) == 2
        assert measure({**self.LEAF, "distinct_types": True, "tracks": ["presales"]}, certified, AS_OF) == 1

    def test_filters_by_type_track_level_and_window(self, certified):
        assert measure({**self.LEAF, "certification_types": ["sales-engineer"]}, certified, AS_OF) == 3
        assert measure({**self.LEAF, "tracks": ["technical"]}, certified, AS_OF) == 1
        assert measure({**self.LEAF, "advanced_only": True}, certified, AS_OF) == 1
        this_year = {**self.LEAF, "window": {"kind": "year_to_date"}}
        assert measure(this_year, certified, AS_OF) == 2  # alice's second and bob's

    def test_three_certifications_is_said_in_plain_language(self, certified):
        assert describe(self.LEAF) == "valid certifications"
        assert describe({**self.LEAF, "distinct_types": True, "tracks": ["presales"]}) == (
            "types of valid presales certification held"
        )
        assert describe({**self.LEAF, "window": {"kind": "year_to_date"}}) == "valid certifications this year"

    def test_progress_reads_the_measured_value_against_the_target(self, certified):
        leaf = parse_criteria(self.LEAF, default_currency="USD").leaves[0]
        progress = leaf_progress(leaf, 2, load_references(), AS_OF)
        assert (progress.description, progress.value_display, progress.target_display) == (
            "valid certifications",
            "2",
            "3",
        )
        assert not progress.passed


class TestSalesByCustomer:
    @pytest.fixture
    def gbp_rates(self):
        # Sold and measured in pounds: the amounts come back as they were (1.25 / 1.25).
        ExchangeRateFactory(currency="GBP", valid_from=D(2026, 1, 1), rate=Decimal("1.25"))

    @pytest.fixture
    def sold(self):
        partner = PartnerFactory(country="GB")
        cloud = ProductLineFactory(code="cloud")
        enterprise, mid = segment("enterprise"), segment("mid-market")
        day = D(2026, 2, 15)
        for amount, country, customer_segment in [
            ("600000.00", "GB", enterprise),
            ("450000.00", "GB", mid),
            ("300000.00", "IE", enterprise),
            ("125000.00", None, None),
        ]:
            SaleFactory(
                partner=partner,
                amount=Decimal(amount),
                currency="GBP",
                product_line=cloud,
                closed_on=day,
                country=country,
                customer_segment=customer_segment,
            )
        return partner

    def test_won_sales_in_a_country(self, sold, gbp_rates):
        leaf = {
            "metric": "sales_amount",
            "countries": ["GB"],
            "op": ">=",
            "target": "1000000",
            "currency": "GBP",
        }
        assert measure(leaf, sold, AS_OF) == Decimal("1050000.00")
        assert measure({**leaf, "countries": ["GB", "IE"]}, sold, AS_OF) == Decimal("1350000.00")
        assert measure({**leaf, "countries": ["FR"]}, sold, AS_OF) == Decimal("0.00")
        assert measure({**leaf, "countries": []}, sold, AS_OF) == Decimal("1475000.00")

    def test_won_sales_and_deals_by_customer_segment(self, sold, gbp_rates):
        leaf = {"metric": "sales_amount", "customer_segments": ["enterprise"], "op": ">=", "target": "1"}
        assert measure({**leaf, "currency": "GBP"}, sold, AS_OF) == Decimal("900000.00")
        both = {**leaf, "currency": "GBP", "countries": ["GB"]}
        assert measure(both, sold, AS_OF) == Decimal("600000.00")
        deals = {
            "metric": "won_deals",
            "customer_segments": ["enterprise", "mid-market"],
            "op": ">=",
            "target": 3,
        }
        assert measure(deals, sold, AS_OF) == 3

    def test_described_with_the_country_and_segment(self):
        ProductLineFactory(code="cloud")
        assert (
            describe(
                {
                    "metric": "sales_amount",
                    "product_lines": ["cloud"],
                    "countries": ["GB"],
                    "customer_segments": ["enterprise"],
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "1000000",
                }
            )
            == "won sales on cloud with customers in GB on enterprise accounts in the last 12 months"
        )

    def test_unknown_codes_are_refused_by_place(self):
        errors = criteria_errors(
            {
                "all": [
                    {
                        "metric": "won_deals",
                        "customer_segments": ["giant"],
                        "countries": ["UK"],
                        "op": ">=",
                        "target": 1,
                    }
                ]
            },
            default_currency="USD",
        )
        assert errors == ["criteria.all[0].countries: unknown value(s) 'UK'."]
        errors = criteria_errors(
            {"metric": "won_deals", "customer_segments": ["giant"], "op": ">=", "target": 1},
            default_currency="USD",
        )
        assert errors == ["criteria.customer_segments: no customer segment has the code 'giant'."]


class TestRegisteredDealsByCustomer:
    def test_counts_deals_of_a_country_and_segment(self):
        partner = PartnerFactory()
        enterprise = segment("enterprise")
        DealFactory(partner=partner, country="GB", customer_segment=enterprise, status=DealStatus.APPROVED)
        DealFactory(partner=partner, country="GB", customer_segment=None, status=DealStatus.APPROVED)
        DealFactory(partner=partner, country="DE", customer_segment=enterprise, status=DealStatus.WON)
        DealFactory(partner=partner, country="GB", customer_segment=enterprise, status=DealStatus.REJECTED)
        leaf = {"metric": "registered_deals", "op": ">=", "target": 1}
        assert measure(leaf, partner, D(2099, 1, 1)) == 3
        assert measure({**leaf, "countries": ["GB"]}, partner, D(2099, 1, 1)) == 2
        assert measure({**leaf, "customer_segments": ["enterprise"]}, partner, D(2099, 1, 1)) == 2
        both = {**leaf, "countries": ["GB"], "customer_segments": ["enterprise"]}
        assert measure(both, partner, D(2099, 1, 1)) == 1
        assert describe(both) == (
            "registered deals (approved, won) with customers in GB on enterprise accounts all time"
        )


def test_the_new_leaves_measure_every_partner_in_one_query_per_source(django_assert_num_queries):
    """However many partners: one query for the certifications held and one for the sales."""
    cloud = ProductLineFactory(code="cloud")
    engineer = CertificationTypeFactory(code="sales-engineer")
    tree = parse_criteria(
        {
            "all": [
                {"metric": "certifications", "op": ">=", "target": 3},
                {"metric": "certifications", "distinct_types": True, "op": ">=", "target": 2},
                {
                    "metric": "sales_amount",
                    "countries": ["GB"],
                    "customer_segments": ["enterprise"],
                    "op": ">=",
                    "target": "1",
                },
                {"metric": "won_deals", "countries": ["GB"], "op": ">=", "target": 1},
            ]
        },
        default_currency="USD",
    )
    daily_rates_extend(AS_OF)
    refs = load_references()

    def add_partners(count: int) -> None:
        for _ in range(count):
            partner = PartnerFactory()
            CertificationFactory(
                person=PersonFactory(partner=partner), certification_type=engineer, issued_on=D(2025, 1, 1)
            )
            SaleFactory(partner=partner, product_line=cloud, closed_on=D(2026, 1, 5), country="GB")

    add_partners(2)
    with django_assert_num_queries(2):
        few = Measurer([tree], as_of=AS_OF, references=refs).fetch_sources()
    add_partners(10)
    with django_assert_num_queries(2):
        many = Measurer([tree], as_of=AS_OF, references=refs).fetch_sources()
    assert len(few["sales"]) == 2 and len(many["sales"]) == 12
    assert len(many["certifications_held"]) == 12


def test_a_customer_segment_edit_reloads_the_definitions(django_capture_on_commit_callbacks):
    """A segment's code is what criteria name: changing it changes what they measure."""
    cached_subjects(as_of=AS_OF)
    generation = cache.get(_GENERATION_KEY)
    with (
        mock.patch("gates.tasks.evaluate_all_gates.apply_async"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        renamed = segment("enterprise")
        renamed.code = "large-enterprise"
        renamed.save()
    assert cache.get(_GENERATION_KEY) != generation
    assert "large-enterprise" in load_references().customer_segments
