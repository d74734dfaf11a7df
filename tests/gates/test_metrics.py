"""Every metric and window on real rows, measured by the engine and by the naive reference."""

import datetime
from decimal import Decimal

import pytest

from deals.models import DealStatus
from gates.metrics import load_references
from gates.models import PartnerTier
from partners.models import LifecycleStatus
from tests.factories import (
    ActivityTypeFactory,
    CertificationFactory,
    CertificationTypeFactory,
    DealFactory,
    EngagementActivityFactory,
    ExchangeRateFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
    ProgramFactory,
    SaleFactory,
    ServiceOfferingFactory,
    ServiceProficiencyFactory,
    TierFactory,
)
from tests.gates.helpers import measure

pytestmark = pytest.mark.django_db
D = datetime.date
END_OF_Q1 = D(2026, 3, 31)


FEBRUARY = D(2026, 2, 1)


def _sale(partner, amount, currency="USD", day=FEBRUARY, **kwargs):
    return SaleFactory(partner=partner, amount=Decimal(amount), currency=currency, closed_on=day, **kwargs)


class TestCertifiedPeople:
    def test_counts_distinct_people_with_a_valid_certification(self):
        partner = PartnerFactory()
        engineer = CertificationTypeFactory(code="sales-engineer", track="presales")
        architect = CertificationTypeFactory(code="architect", track="technical", is_advanced=True)
        alice, bob, carol, dave = (PersonFactory(partner=partner) for _ in range(4))
        CertificationFactory(person=alice, certification_type=engineer, issued_on=D(2025, 1, 1))
        CertificationFactory(
            person=alice, certification_type=architect, issued_on=D(2025, 1, 1)
        )  # same person
        CertificationFactory(
            person=bob, certification_type=engineer, issued_on=D(2025, 1, 1), expires_on=END_OF_Q1
        )
        CertificationFactory(  # expired the day before: does not count
            person=carol, certification_type=engineer, issued_on=D(2024, 1, 1), expires_on=D(2026, 3, 30)
        )
        CertificationFactory(
            person=dave, certification_type=engineer, issued_on=D(2026, 4, 1)
        )  # not yet issued
        criteria = {"metric": "certified_people", "op": ">=", "target": 5}
        assert measure(criteria, partner, END_OF_Q1) == 2  # alice and bob (valid through its expiry day)
        assert measure(criteria, partner, D(2026, 4, 1)) == 2  # bob expired, dave issued
        by_type = {**criteria, "certification_types": ["architect"]}
        assert measure(by_type, partner, END_OF_Q1) == 1
        by_track = {**criteria, "tracks": ["presales"]}
        assert measure(by_track, partner, END_OF_Q1) == 2
        advanced = {**criteria, "advanced_only": True}
        assert measure(advanced, partner, END_OF_Q1) == 1
        recent = {**criteria, "window": {"kind": "year_to_date"}}
        assert measure(recent, partner, D(2026, 4, 2)) == 1  # only dave's was issued this year

    def test_people_who_left_do_not_count(self):
        partner = PartnerFactory()
        person = PersonFactory(partner=partner, is_active=False)
        CertificationFactory(person=person)
        assert measure({"metric": "certified_people", "op": ">=", "target": 1}, partner, D(2026, 11, 1)) == 0

    def test_another_partners_people_do_not_count(self):
        partner, other = PartnerFactory(), PartnerFactory()
        CertificationFactory(person=PersonFactory(partner=other))
        assert measure({"metric": "certified_people", "op": ">=", "target": 1}, partner, D(2026, 11, 1)) == 0


class TestSalesAmount:
    def test_quarter_to_date_includes_the_last_day_and_excludes_the_next_quarter(self):
        partner = PartnerFactory()
        _sale(partner, "100.00", day=D(2026, 1, 1))
        _sale(partner, "200.00", day=END_OF_Q1)
        _sale(partner, "400.00", day=D(2026, 4, 1))
        _sale(partner, "800.00", day=D(2025, 12, 31))
        criteria = {
            "metric": "sales_amount",
            "window": {"kind": "quarter_to_date"},
            "op": ">=",
            "target": "1",
        }
        assert measure(criteria, partner, END_OF_Q1) == Decimal("300.00")
        assert measure(criteria, partner, D(2026, 4, 1)) == Decimal("400.00")
        last_quarter = {**criteria, "window": {"kind": "last_quarter"}}
        assert measure(last_quarter, partner, D(2026, 4, 1)) == Decimal("300.00")

    def test_each_sale_is_converted_at_the_rate_of_its_own_day(self):
        partner = PartnerFactory()
        ExchangeRateFactory(currency="EUR", valid_from=D(2026, 1, 1), rate=Decimal("1.10"))
        ExchangeRateFactory(currency="EUR", valid_from=D(2026, 2, 1), rate=Decimal("1.20"))
        ExchangeRateFactory(currency="GBP", valid_from=D(2026, 1, 1), rate=Decimal("1.25"))
        _sale(partner, "1000.00", "EUR", D(2026, 1, 31))  # 1100 USD, the last day of the first rate
        _sale(partner, "1000.00", "EUR", D(2026, 2, 1))  # 1200 USD, the first day of the second
        _sale(partner, "500.00", "USD", D(2026, 2, 15))
        criteria = {"metric": "sales_amount", "op": ">=", "target": "1"}
        assert measure(criteria, partner, END_OF_Q1) == Decimal("2800.00")
        # In pounds: each amount through USD at its day's rates, rounded once at the end.
        in_gbp = {**criteria, "currency": "GBP"}
        expected = (Decimal(1100) + Decimal(1200) + Decimal(500)) / Decimal("1.25")
        assert measure(in_gbp, partner, END_OF_Q1, currency="GBP") == expected.quantize(Decimal("0.01"))

    def test_filters_by_product_line_and_region(self):
        partner = PartnerFactory()
        cloud, security = ProductLineFactory(code="cloud"), ProductLineFactory(code="security")
        _sale(partner, "10.00", product_line=cloud, region="emea")
        _sale(partner, "20.00", product_line=security, region="emea")
        _sale(partner, "40.00", product_line=cloud, region="apac")
        criteria = {"metric": "sales_amount", "op": ">=", "target": "1", "product_lines": ["cloud"]}
        assert measure(criteria, partner, END_OF_Q1) == Decimal("50.00")
        assert measure({**criteria, "regions": ["emea"]}, partner, END_OF_Q1) == Decimal("10.00")

    def test_rolling_window_and_counting_won_deals(self):
        partner = PartnerFactory()
        for day in (D(2026, 1, 1), D(2026, 1, 2), D(2026, 3, 31)):
            _sale(partner, "5.00", day=day)
        rolling = {
            "metric": "won_deals",
            "window": {"kind": "rolling_days", "days": 90},
            "op": ">=",
            "target": 1,
        }
        assert measure(rolling, partner, END_OF_Q1) == 3  # 1 January is day 90
        assert measure(rolling, partner, D(2026, 4, 1)) == 2


def test_engagement_points_by_type_and_window():
    partner = PartnerFactory()
    training, webinar = ActivityTypeFactory(code="training"), ActivityTypeFactory(code="webinar")
    EngagementActivityFactory(partner=partner, activity_type=training, points=20, occurred_on=D(2026, 1, 5))
    EngagementActivityFactory(partner=partner, activity_type=webinar, points=5, occurred_on=D(2026, 2, 5))
    EngagementActivityFactory(partner=partner, activity_type=training, points=50, occurred_on=D(2025, 12, 31))
    criteria = {"metric": "engagement_points", "window": {"kind": "year_to_date"}, "op": ">=", "target": 1}
    assert measure(criteria, partner, END_OF_Q1) == 25
    assert measure({**criteria, "activity_types": ["training"]}, partner, END_OF_Q1) == 20
    assert measure({**criteria, "window": {"kind": "all_time"}}, partner, END_OF_Q1) == 75


def test_service_offerings_at_or_above_a_level():
    partner = PartnerFactory()
    for level, since in ((1, D(2025, 1, 1)), (2, D(2025, 1, 1)), (3, D(2025, 1, 1)), (3, D(2026, 6, 1))):
        ServiceProficiencyFactory(
            partner=partner, offering=ServiceOfferingFactory(), level=level, since=since
        )
    criteria = {"metric": "service_offerings", "min_level": 2, "op": ">=", "target": 3}
    assert measure(criteria, partner, END_OF_Q1) == 2  # the fourth is not held yet
    assert measure({**criteria, "min_level": 1}, partner, D(2026, 6, 1)) == 4


def test_registered_deals_by_status():
    partner = PartnerFactory()
    DealFactory(partner=partner, status=DealStatus.APPROVED, registered_on=D(2026, 2, 1))
    DealFactory(partner=partner, status=DealStatus.WON, registered_on=D(2026, 1, 1))
    DealFactory(partner=partner, status=DealStatus.REJECTED, registered_on=D(2026, 1, 1))
    criteria = {"metric": "registered_deals", "op": ">=", "target": 1}
    assert measure(criteria, partner, END_OF_Q1) == 2
    assert measure({**criteria, "statuses": ["rejected"]}, partner, END_OF_Q1) == 1


def test_partner_attributes_and_months_since_joining():
    partner = PartnerFactory(
        country="GB", region="emea", status=LifecycleStatus.ACTIVE, joined_on=D(2025, 3, 31)
    )
    attribute = {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB", "IE"]}
    assert measure(attribute, partner, END_OF_Q1) == "GB"
    months = {"metric": "months_since_joining", "op": ">=", "target": 12}
    assert measure(months, partner, D(2026, 3, 30)) == 11
    assert measure(months, partner, END_OF_Q1) == 12


def test_current_tier_reads_the_held_tier():
    partner = PartnerFactory()
    program = ProgramFactory(slug="main")
    silver = TierFactory(program=program, name="Silver", rank=2)
    TierFactory(program=program, name="Gold", rank=3)
    criteria = {"metric": "current_tier", "program": "main", "op": ">=", "target": 3}
    assert measure(criteria, partner, END_OF_Q1) == 0
    PartnerTier.objects.create(partner=partner, program=program, tier=silver, earned_tier=silver)
    assert measure(criteria, partner, END_OF_Q1) == 2


def test_a_partner_without_facts_measures_zero():
    partner = PartnerFactory()
    assert measure(
        {
            "all": [
                {"metric": "sales_amount", "op": ">=", "target": "1"},
                {"metric": "won_deals", "op": ">=", "target": 1},
                {"metric": "certified_people", "op": ">=", "target": 1},
                {"metric": "engagement_points", "op": ">=", "target": 1},
                {"metric": "service_offerings", "op": ">=", "target": 1},
            ]
        },
        partner,
        END_OF_Q1,
    ) == [Decimal(0), 0, 0, 0, 0]


def test_a_sale_before_any_rate_of_its_currency_is_not_counted():
    partner = PartnerFactory()
    ExchangeRateFactory(currency="EUR", valid_from=D(2026, 2, 1), rate=Decimal("1.2"))
    _sale(partner, "100.00", "EUR", D(2026, 2, 1))
    # Recorded before validation existed, or through a rate deleted since: it cannot be converted.
    from partners.models import Sale

    Sale.objects.bulk_create(
        [
            Sale(
                partner=partner,
                amount=Decimal(50),
                currency="EUR",
                closed_on=D(2026, 1, 15),
                product_line=ProductLineFactory(),
                region="emea",
            )
        ]
    )
    assert measure({"metric": "sales_amount", "op": ">=", "target": "1"}, partner, END_OF_Q1) == Decimal(
        "120.00"
    )


def test_a_money_leaf_without_a_currency_is_measured_in_the_reference_currency(settings):
    """The fallback follows PRM_REFERENCE_CURRENCY: yen have no minor unit, dollars two."""
    from core.exchange import daily_rates_extend
    from criteria.tree import Criteria, Leaf
    from gates.engine import Measurer
    from gates.metrics import load_references
    from gates.reference import measure_leaf

    settings.PRM_REFERENCE_CURRENCY = "JPY"
    partner = PartnerFactory()
    _sale(partner, "1234.60", "JPY")
    leaf = Leaf(0, "criteria", "sales_amount", ">=", Decimal(1), {}, currency=None)
    daily_rates_extend(END_OF_Q1)
    refs = load_references()
    measurer = Measurer([Criteria(leaf, (leaf,))], as_of=END_OF_Q1, references=refs)
    [engine] = measurer.measure(partner.pk, partner.pk)[partner.pk]
    assert engine == Decimal("1235")
    assert measure_leaf(leaf, partner, END_OF_Q1, refs) == Decimal("1235")


def test_the_source_queries_name_tables_and_columns_from_the_models(monkeypatch):
    """A renamed table or column (db_table, db_column) is followed by every source query."""
    from django.db import connection

    from core.exchange import daily_rates_extend
    from deals.models import Deal
    from gates.engine import Measurer
    from gates.validation import parse_criteria
    from partners.models import Sale

    partner = PartnerFactory()
    ExchangeRateFactory(currency="EUR", valid_from=D(2026, 1, 1), rate=Decimal("1.5"))
    _sale(partner, "100.00", "EUR")
    DealFactory(partner=partner, status=DealStatus.APPROVED, registered_on=FEBRUARY)
    criteria = {
        "all": [
            {"metric": "sales_amount", "window": {"kind": "quarter_to_date"}, "op": ">=", "target": "1"},
            {"metric": "won_deals", "op": ">=", "target": 1},
            {"metric": "registered_deals", "op": ">=", "target": 1},
        ]
    }
    assert measure(criteria, partner, END_OF_Q1) == [Decimal("150.00"), 1, 1]

    closed_on = Sale._meta.get_field("closed_on")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Sale._meta.db_table} RENAME TO renamed_sales")
        cursor.execute("ALTER TABLE renamed_sales RENAME COLUMN closed_on TO closed_day")
        cursor.execute(f"ALTER TABLE {Deal._meta.db_table} RENAME TO renamed_deals")
    monkeypatch.setattr(Sale._meta, "db_table", "renamed_sales")
    monkeypatch.setattr(closed_on, "column", "closed_day")
    monkeypatch.setattr(Deal._meta, "db_table", "renamed_deals")

    daily_rates_extend(END_OF_Q1)
    refs = load_references()
    tree = parse_criteria(criteria, default_currency="USD", references=refs)
    measurer = Measurer([tree], as_of=END_OF_Q1, references=refs)
    values = measurer.measure(partner.pk, partner.pk)[partner.pk]
    assert [values[key] for key in measurer.keys_for(tree)] == [Decimal("150.00"), 1, 1]
