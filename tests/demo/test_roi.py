"""The demo gives program ROI something to compare: programs whose return differs."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from analytics.filters import parse_filters
from analytics.roi import program_roi
from demo.seed import seed_demo

pytestmark = pytest.mark.django_db


def test_the_demo_programs_return_differently():
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")
    seed_demo(partners=20)
    admin = get_user_model().objects.get(username="admin")
    roi = program_roi(admin, parse_filters({}, admin))
    returns = {report.program.slug: report.total.revenue_return for report in roi.programs}
    costly = [slug for slug, value in returns.items() if value is not None]
    assert {"partner-network", "uk-cloud-accelerator", "mssp-specialisation"} <= set(costly), returns
    # The accelerator's 6 % rebate returns far less per unit of cost than the specialisation's 0.5 %.
    assert returns["uk-cloud-accelerator"] < returns["mssp-specialisation"]
    assert len({returns[slug] for slug in costly}) == len(costly)
