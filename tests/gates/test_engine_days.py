"""The measurer on past days: facts as known by a day, and several days measured in one query per table."""

import datetime
from decimal import Decimal

import pytest

from gates.engine import Measurer, fetch_days
from gates.metrics import load_references
from gates.validation import parse_criteria
from partners.models import Certification, EngagementActivity, Sale, ServiceProficiency
from tests.factories import (
    ActivityTypeFactory,
    CertificationFactory,
    CertificationTypeFactory,
    EngagementActivityFactory,
    PartnerFactory,
    PersonFactory,
    SaleFactory,
    ServiceOfferingFactory,
    ServiceProficiencyFactory,
)

pytestmark = pytest.mark.django_db

DAYS = [datetime.date(2026, 3, 31), datetime.date(2026, 6, 30), datetime.date(2026, 9, 30)]
TREE = {
    "all": [
        {"metric": "sales_amount", "window": {"kind": "quarter_to_date"}, "op": ">=", "target": "1"},
        {"metric": "sales_amount", "op": ">=", "target": "1"},
        {"metric": "certified_people", "op": ">=", "target": 1},
        {"metric": "certifications", "distinct_types": True, "op": ">=", "target": 1},
        {
            "metric": "engagement_points",
            "window": {"kind": "rolling_days", "days": 90},
            "op": ">=",
            "target": 1,
        },
        {"metric": "service_offerings", "op": ">=", "target": 1},
    ]
}


def _stored(model, pk, day):
    model.objects.filter(pk=pk).update(
        created_at=datetime.datetime.combine(day, datetime.time(9), tzinfo=datetime.UTC)
    )


@pytest.fixture
def facts():
    """One partner's facts, each stored some time after the day it describes."""
    partner = PartnerFactory()
    CertificationTypeFactory(code="sales-engineer")
    ActivityTypeFactory(code="training")
    sale = SaleFactory(partner=partner, closed_on=datetime.date(2026, 3, 20))
    _stored(Sale, sale.pk, datetime.date(2026, 4, 10))  # a late Q1 sale
    sale = SaleFactory(partner=partner, closed_on=datetime.date(2026, 5, 2))
    _stored(Sale, sale.pk, datetime.date(2026, 5, 2))
    person = PersonFactory(partner=partner)
    # Valid from January to the end of July; recorded in February.
    cert = CertificationFactory(
        person=person, issued_on=datetime.date(2026, 1, 5), expires_on=datetime.date(2026, 7, 31)
    )
    _stored(Certification, cert.pk, datetime.date(2026, 2, 1))
    activity = EngagementActivityFactory(partner=partner, occurred_on=datetime.date(2026, 6, 29))
    _stored(EngagementActivity, activity.pk, datetime.date(2026, 7, 3))  # recorded after the Q2 end
    proficiency = ServiceProficiencyFactory(
        partner=partner, offering=ServiceOfferingFactory(), since=datetime.date(2026, 1, 1)
    )
    _stored(ServiceProficiency, proficiency.pk, datetime.date(2026, 6, 1))
    return partner


def _measurers(known: bool) -> list[Measurer]:
    refs = load_references()
    tree = parse_criteria(TREE, default_currency="USD", references=refs)
    return [Measurer([tree], as_of=day, references=refs, known_by=day if known else None) for day in DAYS]


def _values(measurer, partner, sources=None):
    return measurer.measure(partner.pk, partner.pk, sources=sources)[partner.pk]


@pytest.mark.parametrize("known", [True, False])
def test_several_days_in_one_query_per_table_measure_what_each_day_alone_does(
    facts, known, django_assert_max_num_queries
):
    measurers = _measurers(known)
    alone = [_values(measurer, facts) for measurer in measurers]
    with django_assert_max_num_queries(5):  # sales, certifications per person, held, activities, offerings
        shared = fetch_days(measurers, facts.pk, facts.pk)
    together = [_values(m, facts, sources) for m, sources in zip(measurers, shared, strict=True)]
    assert together == alone


def test_facts_as_known_then_and_as_known_now(facts):
    known_then = [_values(m, facts) for m in _measurers(True)]
    known_now = [_values(m, facts) for m in _measurers(False)]
    # Q1 end: the late March sale counts only as known now; the certification counts either way;
    # the proficiency was stored in June.
    assert known_now[0][:2] == [Decimal(1000), Decimal(1000)]
    assert known_then[0][:2] == [Decimal(0), Decimal(0)]
    assert (known_then[0][2], known_then[0][5], known_now[0][5]) == (1, 0, 1)
    # Q2 end: the May sale is in the quarter; the June activity was recorded in July.
    assert known_then[1][:2] == [Decimal(1000), Decimal(2000)]
    assert (known_then[1][4], known_now[1][4]) == (0, 10)
    # Q3 end: the certification expired at the end of July, on either count.
    assert (known_then[2][2], known_now[2][2], known_then[2][3]) == (0, 0, 0)
