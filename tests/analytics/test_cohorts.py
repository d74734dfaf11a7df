"""Cohort statistics against a known dataset: hand-computed means, medians and win rates, and
SciPy run here on the same raw numbers for the intervals."""

import datetime
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats

from analytics.cohorts import CohortError, compare, parse_cohort
from analytics.filters import parse_filters
from deals.models import DealStatus
from partners.models import Region
from tests.factories import (
    CertificationFactory,
    CertificationTypeFactory,
    DealFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
    SaleFactory,
)

pytestmark = pytest.mark.django_db

JOINED = datetime.date(2025, 1, 1)
PERIOD = {"start": "2025-01-01", "end": "2025-12-31"}
# Six certified partners and six without, in EMEA (the manager's coverage). One sale each, closed
# 10·(i+1) days (certified) or 30·(i+1) days (not) after joining; Cert0 has a second sale of 4,000.
CERTIFIED_SALES = [5000, 7000, 9000, 6000, 8000, 10000]
UNCERTIFIED_SALES = [1000, 2000, 3000, 4000, 5000, None]


class CohortWorld:
    def __init__(self):
        ProductLineFactory(code="cloud")
        self.certification = CertificationTypeFactory(code="sales-engineer", name="Sales engineer")
        self.certified, self.uncertified = [], []
        for index, amount in enumerate(CERTIFIED_SALES):
            partner = PartnerFactory(name=f"Cert{index}", region=Region.EMEA, joined_on=JOINED)
            CertificationFactory(
                person=PersonFactory(partner=partner),
                certification_type=self.certification,
                issued_on=datetime.date(2025, 1, 1),
            )
            SaleFactory(
                partner=partner,
                amount=Decimal(amount),
                closed_on=JOINED + datetime.timedelta(days=10 * (index + 1)),
            )
            self.certified.append(partner)
        SaleFactory(partner=self.certified[0], amount=Decimal(4000), closed_on=datetime.date(2025, 6, 1))
        for index, amount in enumerate(UNCERTIFIED_SALES):
            partner = PartnerFactory(name=f"Plain{index}", region=Region.EMEA, joined_on=JOINED)
            if amount:
                SaleFactory(
                    partner=partner,
                    amount=Decimal(amount),
                    closed_on=JOINED + datetime.timedelta(days=30 * (index + 1)),
                )
            self.uncertified.append(partner)
        # Registered deals: certified 4 won, 1 lost; the others 1 won, 4 lost (one still open).
        for index, status in enumerate([DealStatus.WON] * 4 + [DealStatus.LOST]):
            DealFactory(partner=self.certified[index], status=status, registered_on=datetime.date(2025, 3, 1))
        for index, status in enumerate([DealStatus.WON] + [DealStatus.LOST] * 4 + [DealStatus.SUBMITTED]):
            DealFactory(
                partner=self.uncertified[index], status=status, registered_on=datetime.date(2025, 3, 1)
            )
        # Out of the manager's coverage: a certified partner with a huge sale, never counted.
        outsider = PartnerFactory(name="Far", region=Region.NORTH_AMERICA, country="US", joined_on=JOINED)
        CertificationFactory(
            person=PersonFactory(partner=outsider),
            certification_type=self.certification,
            issued_on=datetime.date(2025, 1, 1),
        )
        SaleFactory(partner=outsider, amount=Decimal(10**6), closed_on=datetime.date(2025, 2, 1))


@pytest.fixture
def cohort_world(db):
    return CohortWorld()


def _by_measure(comparison):
    return {difference.measure: difference for difference in comparison.differences}


def test_certified_partners_against_the_rest(cohort_world, channel_manager):
    comparison = compare(
        channel_manager, parse_filters(PERIOD, channel_manager), parse_cohort("certification:sales-engineer")
    )
    assert (comparison.with_partners, comparison.without_partners) == (6, 6)
    assert comparison.hidden_reason == ""
    rows = _by_measure(comparison)

    sizes_with = [5000, 7000, 9000, 6000, 8000, 10000, 4000]  # mean 7,000, median 7,000
    sizes_without = [1000, 2000, 3000, 4000, 5000]  # mean 3,000, median 3,000
    average = rows["Average deal size"]
    assert (average.with_n, average.without_n) == (7, 5)
    assert (average.with_value, average.without_value, average.difference) == (
        Decimal("7000.00"),
        Decimal("3000.00"),
        Decimal("4000.00"),
    )
    reference = stats.ttest_ind(sizes_with, sizes_without, equal_var=False).confidence_interval(0.95)
    assert average.low == Decimal(repr(float(reference.low))).quantize(Decimal("0.01"))
    assert average.high == Decimal(repr(float(reference.high))).quantize(Decimal("0.01"))
    # Welch: variances 4,666,666.67/7 and 2,500,000/5, about 10 degrees of freedom: 4,000 ± 2,407.78.
    assert (average.low, average.high) == (Decimal("1592.22"), Decimal("6407.78"))

    median = rows["Median deal size"]
    assert (median.with_value, median.without_value, median.difference) == (
        Decimal("7000.00"),
        Decimal("3000.00"),
        Decimal("4000.00"),
    )
    assert median.low is not None and median.high is not None
    assert median.low <= median.difference <= median.high
    again = compare(
        channel_manager, parse_filters(PERIOD, channel_manager), parse_cohort("certification:sales-engineer")
    )
    assert (_by_measure(again)["Median deal size"].low, _by_measure(again)["Median deal size"].high) == (
        median.low,
        median.high,
    )  # a fixed seed: the same interval each time

    win = rows["Win rate of registered deals"]
    # 4/5 = 80 % against 1/5 = 20 %: 60 points ± 1.96·√(0.8·0.2/5 + 0.2·0.8/5) = ± 49.6.
    assert (win.with_n, win.without_n) == (5, 5)
    assert (win.with_value, win.without_value, win.difference) == (
        Decimal("80.0"),
        Decimal("20.0"),
        Decimal("60.0"),
    )
    assert (win.low, win.high) == (Decimal("10.4"), Decimal("109.6"))

    revenue = rows["Revenue per partner"]
    # 49,000 / 6 = 8,166.67 against 15,000 / 6 = 2,500 (the partner without a sale counts 0).
    assert (revenue.with_n, revenue.without_n) == (6, 6)
    assert (revenue.with_value, revenue.without_value, revenue.difference) == (
        Decimal("8166.67"),
        Decimal("2500.00"),
        Decimal("5666.67"),
    )
    reference = stats.ttest_ind(
        [9000, 7000, 9000, 6000, 8000, 10000], [1000, 2000, 3000, 4000, 5000, 0], equal_var=False
    ).confidence_interval(0.95)
    assert revenue.low == Decimal(repr(float(reference.low))).quantize(Decimal("0.01"))

    first = rows["Days to first deal"]
    # 10, 20 … 60 days (mean 35) against 30 … 150 (mean 90); the partner without a sale has none.
    assert (first.with_n, first.without_n) == (6, 5)
    assert (first.with_value, first.without_value, first.difference) == (
        Decimal("35.0"),
        Decimal("90.0"),
        Decimal("-55.0"),
    )
    reference = stats.ttest_ind(
        np.arange(10, 70, 10), np.arange(30, 180, 30), equal_var=False
    ).confidence_interval(0.95)
    assert first.high == Decimal(repr(float(reference.high))).quantize(Decimal("0.1"))


def test_a_cohort_under_the_minimum_is_not_shown(cohort_world, channel_manager):
    comparison = compare(
        channel_manager,
        parse_filters(PERIOD, channel_manager),
        parse_cohort("certification:sales-engineer"),
        minimum=7,
    )
    assert comparison.differences == []
    assert "6 partners" in comparison.hidden_reason and "at least 7" in comparison.hidden_reason


def test_the_superuser_counts_the_partner_out_of_coverage(cohort_world, superuser):
    comparison = compare(
        superuser, parse_filters(PERIOD, superuser), parse_cohort("certification:sales-engineer")
    )
    assert (comparison.with_partners, comparison.without_partners) == (7, 6)


def test_a_join_quarter_and_a_business_model_split_the_partners(cohort_world, channel_manager):
    filters = parse_filters(PERIOD, channel_manager)
    comparison = compare(channel_manager, filters, parse_cohort("joined:2025-Q1"), minimum=1)
    assert (comparison.with_partners, comparison.without_partners) == (12, 0)
    assert comparison.hidden_reason  # nobody to compare against
    comparison = compare(channel_manager, filters, parse_cohort("mdf"), minimum=1)
    assert (comparison.with_partners, comparison.without_partners) == (0, 12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "certification",
        "certification:nope",
        "joined:2025-Q5",
        "business_model:x",
        "course:\x00",
        "mdf:yes",
        " mdf",
        "joined:0999-Q1",
        "certification:sales engineer",
        "certification:" + "x" * 200,
    ],
)
def test_a_wrong_cohort_is_refused_with_a_reason(cohort_world, text):
    with pytest.raises(CohortError):
        parse_cohort(text)


def test_a_cohort_the_parser_takes_is_one_the_schema_states(cohort_world):
    import re

    from analytics.cohorts import COHORT_PATTERN

    for text in ("mdf", "certification:sales-engineer", "business_model:resell", "joined:9999-Q4"):
        assert re.match(COHORT_PATTERN, text)
        assert parse_cohort(text).parameter == text
    # The last quarter of the calendar ends on its last day, without overflowing into year 10000.
    assert parse_cohort("joined:9999-Q4").params == (datetime.date(9999, 10, 1), datetime.date(9999, 12, 31))


def test_many_values_take_the_maritz_jarrett_interval_close_to_the_bootstrap(monkeypatch):
    """Past ``BOOTSTRAP_MAX_VALUES`` the median's interval comes from standard errors, not
    resampling; at such sizes both agree to a few percent of the interval's width."""
    from analytics import cohorts

    rng = np.random.default_rng(7)
    a = list(rng.lognormal(9.2, 0.8, 1800))
    b = list(rng.lognormal(9.0, 0.8, 600))
    monkeypatch.setattr(cohorts, "BOOTSTRAP_MAX_VALUES", 10**6)
    resampled = cohorts._median("Median deal size", "money", a, b, "USD")
    monkeypatch.setattr(cohorts, "BOOTSTRAP_MAX_VALUES", 2000)
    estimated = cohorts._median("Median deal size", "money", a, b, "USD")
    assert estimated.difference == resampled.difference
    width = resampled.high - resampled.low
    assert abs(estimated.low - resampled.low) < width / 10
    assert abs(estimated.high - resampled.high) < width / 10
    assert estimated.low < estimated.difference < estimated.high
