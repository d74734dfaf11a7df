"""Partner lifetime value and a partner's own figures in Chromium: the charts draw their data,
the tables beside them carry the same figures, the CSV downloads."""

import pytest
from django.db import connection

from tests.analytics.test_lifetime import LifetimeWorld
from tests.analytics.test_partner_figures import PeerWorld
from tests.e2e.conftest import SHOTS, log_in
from tests.e2e.test_analytics_browser import _chart_values
from tests.e2e.test_analytics_roi_browser import _download
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")


def test_the_lifetime_page_draws_the_cohort_curves_and_downloads_csv(page, postgresql, channel_manager):
    from playwright.sync_api import expect

    LifetimeWorld()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, "morgan")
    page.goto("/portal/manager/analytics/lifetime/?start=2024-10-01&end=2025-04-30")
    expect(page.get_by_role("heading", level=1)).to_have_text("Partner lifetime value")
    expect(page.locator("canvas[data-chart='lifetime-curves']")).to_have_attribute("data-rendered", "true")
    # One line per join quarter; a month none of the cohort's partners has reached draws no point.
    assert _chart_values(page, "lifetime-curves") == [
        [0, 0, 1250, 1250, 1250],
        [6000, 6000, 8472.5, 13945, None],
    ]
    q1 = page.locator("table[data-chart-table='lifetime-curves'] tbody tr td:nth-child(3)")
    expect(q1).to_have_text(["6000.00", "6000.00", "8472.50", "13945.00", "–"])
    expect(page.locator("table[data-board='top'] tbody th")).to_have_text(["Alpha", "Delta", "Bravo"])
    page.screenshot(path=str(SHOTS / "analytics-05-lifetime.png"), full_page=True)
    filename, rows = _download(page, "Download lifetime value as CSV")
    assert filename == "lifetime.csv"
    assert [row["partner"] for row in rows if row["figure"] == "bottom"] == ["Bravo", "Delta", "Alpha"]
    assert errors == []


def test_a_partner_sees_its_own_figures_against_its_peers(page, postgresql):
    from playwright.sync_api import expect

    world = PeerWorld()
    MembershipFactory(user=UserFactory(username="mia"), partner=world.me)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, "mia")
    page.get_by_role("link", name="Our figures").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Our figures: Me")
    page.goto("/portal/figures/?start=2025-01-01&end=2025-03-31")
    expect(page.locator("canvas[data-chart='my-revenue']")).to_have_attribute("data-rendered", "true")
    expect(page.locator("canvas[data-chart='my-activity']")).to_have_attribute("data-rendered", "true")
    assert _chart_values(page, "my-revenue") == [[1000, 550, 0]]
    revenue = page.locator("table[data-chart-table='my-revenue'] tbody tr td:nth-child(2)")
    expect(revenue).to_have_text(["1000.00", "550.00", "0.00"])
    expect(page.locator("table[data-peers='Gold'] caption")).to_have_text("You against the median of 5 peers")
    page.screenshot(path=str(SHOTS / "analytics-06-partner-figures.png"), full_page=True)
    filename, rows = _download(page, "Download our figures as CSV")
    assert filename == "my-figures.csv"
    assert [row["revenue"] for row in rows] == ["1000.00", "550.00", "0.00", "1550.00", "300.00"]
    assert errors == []
