"""The content library in a real headless Chromium against the demo: the partner opens the library,
sees only what its tier and region allow, searches by tag and product line, and downloads the
overview deck, which is counted for its organisation. Screenshots go to test-results/e2e/library-*.png.
"""

import re

import pytest

from enablement.models import ContentDownload
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_partner_searches_the_library_and_downloads_a_deck(page, demo, settings, tmp_path):
    from playwright.sync_api import expect

    log_in(page, "partner", "demo")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Content library")
    table = page.get_by_role("table", name="Content library")
    expect(table.get_by_role("row", name=re.compile("Platform overview deck"))).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("Co-branded webinar kit"))).to_be_visible()
    # Acme is Gold in EMEA: the APAC kit and the Platinum playbook are not for it.
    expect(table.get_by_text("APAC launch kit")).to_have_count(0)
    expect(table.get_by_text("Platinum partners: co-selling playbook")).to_have_count(0)
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "library-01-list.png"), full_page=True)

    page.get_by_label("Tag").fill("competitor")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("1 asset.")).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("Battle card"))).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Product line").select_option(label="Security")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("2 assets.")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("link", name="Clear").click()

    with page.expect_download() as caught:
        page.get_by_role("link", name="Download Platform overview deck").click()
    download = caught.value
    assert download.suggested_filename == "platform-overview.pdf"
    saved = tmp_path / "deck.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
    assert (
        ContentDownload.objects.filter(
            asset__title="Platform overview deck", partner__name__startswith="Acme"
        ).count()
        == 1
    )
    page.reload()
    row = table.get_by_role("row", name=re.compile("Platform overview deck"))
    expect(row.get_by_role("cell").nth(4)).to_have_text("1")
    page.screenshot(path=str(SHOTS / "library-02-downloaded.png"), full_page=True)
