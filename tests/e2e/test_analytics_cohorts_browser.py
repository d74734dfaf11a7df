"""The cohort page in Chromium: picked from the form, each measure's chart draws the two groups
and the difference with its interval, the table beside carries the same figures, the CSV downloads."""

import pytest
from django.db import connection

from tests.analytics.test_cohorts import CohortWorld
from tests.e2e.conftest import SHOTS, log_in
from tests.e2e.test_analytics_browser import _chart_values
from tests.e2e.test_analytics_roi_browser import _download

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cohort_world(channel_manager):
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")
    return CohortWorld()


def test_the_cohort_page_draws_its_charts_and_downloads_csv(page, cohort_world):
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, "morgan")
    page.goto("/portal/manager/analytics/roi/")
    page.get_by_role("link", name="Cohorts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cohorts")
    expect(page.get_by_role("status")).to_contain_text("Choose a cohort to compare.")
    page.get_by_label("From", exact=True).fill("2025-01-01")
    page.get_by_label("To", exact=True).fill("2025-12-31")
    page.get_by_label("Cohort").select_option("certification:sales-engineer")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=2)).to_have_text("Holding Sales engineer against the others")
    assert "cohort=certification%3Asales-engineer" in page.url

    # Average deal size: 7,000 against 3,000, a difference of 4,000 within 1,592.22–6,407.78.
    expect(page.locator("canvas[data-chart='cohort-0']")).to_have_attribute("data-rendered", "true")
    assert _chart_values(page, "cohort-0") == [[7000, 3000, 4000], [None, None, [1592.22, 6407.78]]]
    cells = page.locator("table[data-chart-table='cohort-0'] tbody td")
    expect(cells).to_have_text(
        ["7", "7000.00", "", "", "5", "3000.00", "", "", "", "4000.00", "1592.22", "6407.78"]
    )
    # Win rate: 80 % against 20 %.
    expect(page.locator("canvas[data-chart='cohort-2']")).to_have_attribute("data-rendered", "true")
    assert _chart_values(page, "cohort-2") == [[80, 20, 60], [None, None, [10.4, 109.6]]]
    expect(page.locator("canvas[data-chart]")).to_have_count(5)
    page.screenshot(path=str(SHOTS / "analytics-05-cohorts.png"), full_page=True)

    filename, rows = _download(page, "Download the cohort comparison as CSV")
    assert filename == "cohorts.csv"
    assert [(row["measure"], row["difference"]) for row in rows] == [
        ("Average deal size", "4000.00"),
        ("Median deal size", "4000.00"),
        ("Win rate of registered deals", "60.0"),
        ("Revenue per partner", "5666.67"),
        ("Days to first deal", "-55.0"),
    ]
    assert errors == []
