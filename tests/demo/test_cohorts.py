"""The demo gives the cohort page something to show: certified partners who close larger deals."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from analytics.cohorts import MIN_COHORT_SIZE, compare, parse_cohort
from analytics.filters import parse_filters
from demo.cohorts import CERTIFICATION
from demo.seed import seed_demo
from partners.models import Sale

pytestmark = pytest.mark.django_db


def test_the_demo_certified_cohort_closes_larger_deals():
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")
    # The demo's own size: what its channel manager (EMEA) sees on the cohort page. Seeding twice
    # adds nothing (tests/demo/test_partners.py counts the sales of two runs).
    seed_demo()
    assert Sale.objects.filter(external_id__startswith="cohort-sale-").exists()
    for username in ("admin", "manager"):
        user = get_user_model().objects.get(username=username)
        comparison = compare(user, parse_filters({}, user), parse_cohort(f"certification:{CERTIFICATION}"))
        assert comparison.hidden_reason == "", (username, comparison.hidden_reason)
        assert comparison.with_partners >= MIN_COHORT_SIZE and comparison.without_partners >= MIN_COHORT_SIZE
        average = next(row for row in comparison.differences if row.measure == "Average deal size")
        assert average.with_value > average.without_value, username
        # Not a fluke of a few deals: the whole 95 % interval of the difference is above zero.
        assert average.low is not None and average.low > 0, (username, average)
