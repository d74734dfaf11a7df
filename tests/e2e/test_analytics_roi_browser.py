"""Program ROI and the leaderboards in Chromium: the charts draw their data, the tables beside
them carry the same figures, the CSV downloads."""

import csv
import io
from pathlib import Path

import pytest
from django.db import connection

from tests.analytics.test_leaderboards import BoardWorld
from tests.e2e.conftest import SHOTS, log_in
from tests.e2e.test_analytics_browser import _chart_values

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board_world(channel_manager):
    if connection.vendor != "postgresql":
        pytest.skip("analytics figures need PostgreSQL")
    return BoardWorld()


def _download(page, link: str) -> tuple[str, list[dict]]:
    with page.expect_download() as download_info:
        page.get_by_role("link", name=link).click()
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text)))


def test_the_roi_and_leaderboard_pages_draw_their_charts_and_download_csv(page, board_world):
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, "morgan")
    page.goto("/portal/manager/analytics/funnel/")
    page.get_by_role("link", name="Program ROI").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Program ROI")
    page.goto("/portal/manager/analytics/roi/?program=main&start=2025-01-01&end=2025-04-30")
    chart_id = f"roi-{board_world.main.pk}"
    expect(page.locator(f"canvas[data-chart='{chart_id}']")).to_have_attribute("data-rendered", "true")
    # Sourced, influenced, unregistered revenue; incentives, SPIFs, rewards, MDF; by month.
    # (The leaderboard world adds Bravo's 3,000 GBP on 5 March and Delta's points to the ROI world.)
    assert _chart_values(page, chart_id) == [
        [10000, 0, 0, 0],
        [0, 0, 6000, 0],
        [0, 2500, 3750, 0],
        [1000, 0, 0, 0],
        [0, 0, 500, 0],
        [0, 0, 75, 0],
        [0, 1250, 0, 0],
    ]
    returns = page.locator(f"table[data-chart-table='{chart_id}'] tbody tr td:nth-child(9)")
    expect(returns).to_have_text(["10.00", "2.00", "16.96", "–"])  # 9,750 / 575 in March
    page.screenshot(path=str(SHOTS / "analytics-03-roi.png"), full_page=True)
    filename, rows = _download(page, "Download program ROI as CSV")
    assert filename == "program-roi.csv"
    assert [row["revenue_return"] for row in rows if row["breakdown"] == "period"] == [
        "10.00",
        "2.00",
        "16.96",
        "",
    ]

    page.get_by_role("link", name="Leaderboards").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboards")
    page.goto("/portal/manager/analytics/leaderboards/?start=2025-03-01&end=2025-04-30")
    expect(page.locator("canvas[data-chart='leaderboard-revenue']")).to_have_attribute(
        "data-rendered", "true"
    )
    assert _chart_values(page, "leaderboard-revenue") == [[6000, 3750, 1500], [10000, 2500, 3000]]
    names = page.locator("table[data-chart-table='leaderboard-revenue'] tbody th")
    expect(names).to_have_text(["Alpha", "Bravo", "Delta"])
    page.screenshot(path=str(SHOTS / "analytics-04-leaderboards.png"), full_page=True)
    filename, rows = _download(page, "Download the leaderboards as CSV")
    assert filename == "leaderboards.csv"
    assert [row["name"] for row in rows if row["board"] == "revenue" and row["kind"] == "partner"] == [
        "Alpha",
        "Bravo",
        "Delta",
    ]
    assert errors == []
