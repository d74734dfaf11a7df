"""The manager's analytics pages in Chromium: the charts draw their data, the tables beside them
carry the same figures, the CSV downloads, and a phone's width still reads."""

import csv
import io
from pathlib import Path

import pytest
from django.db import connection

from tests.analytics.conftest import FunnelWorld, tier_history
from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def analytics_world(channel_manager):
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")
    world = FunnelWorld()
    tier_history(world)
    return world


def _chart_values(page, chart_id: str) -> list[list[int]]:
    """What Chart.js drew: the data of each dataset of the chart on the canvas."""
    return page.evaluate(
        "(id) => Chart.getChart(document.querySelector(`canvas[data-chart='${id}']`))"
        ".data.datasets.map((dataset) => dataset.data)",
        chart_id,
    )


def test_the_funnel_and_tier_pages_draw_their_charts_and_download_csv(page, analytics_world):
    from playwright.sync_api import expect

    log_in(page, "morgan")
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gate funnel")
    chart_id = f"funnel-{analytics_world.gate.pk}"
    canvas = page.locator(f"canvas[data-chart='{chart_id}']")
    expect(canvas).to_have_attribute("data-rendered", "true")
    assert _chart_values(page, chart_id) == [[0, 2, 1, 1]]
    table = page.locator(f"table[data-chart-table='{chart_id}'] tbody td")
    expect(table).to_have_text(["0", "2", "1", "1"])
    expect(page.get_by_role("link", name="Charlie")).to_be_visible()
    page.screenshot(path=str(SHOTS / "analytics-01-funnel.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the funnel as CSV").click()
    download = download_info.value
    assert download.suggested_filename == "gate-funnel.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [row[3] for row in rows if row[1] == "criteria met"] == ["0", "2", "1", "1"]

    page.goto("/portal/manager/analytics/tiers/?program=main&start=2025-01-01&end=2025-04-30")
    expect(page.locator("canvas[data-chart='tier-distribution']")).to_have_attribute("data-rendered", "true")
    assert _chart_values(page, "tier-distribution") == [[2, 3, 1, 2], [0, 0, 2, 1]]
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download tier movement as CSV").click()
    assert download_info.value.suggested_filename == "tier-movement.csv"

    # At a phone's width the chart and its table stack, and nothing is wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("canvas[data-chart='tier-distribution']")).to_have_attribute("data-rendered", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "analytics-02-tiers-phone.png"), full_page=True)
