"""The portal's lists on a phone in a real headless Chromium: a long table scrolls inside its own
labelled region, which the keyboard reaches, and never widens the page; sorting and filtering
go through the URL; axe finds nothing critical or serious.
"""

from decimal import Decimal

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in
from tests.factories import DealFactory, PartnerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def long_lists(partner, distributor, distributor_user):
    for number in range(30):
        DealFactory(
            partner=partner,
            customer_name=f"A customer with a very long registered company name number {number:02d}",
            customer_domain=f"a-very-long-customer-domain-name-{number:02d}.example.com",
            expected_value=Decimal(1_000_000 + number),
        )
        PartnerFactory(name=f"Served partner with a long trading name {number:02d}", distributor=distributor)
    return partner


@pytest.mark.parametrize("path", ["/portal/deals/", "/portal/partners/", "/portal/incentives/"])
def test_a_long_table_scrolls_in_a_focusable_region_and_the_page_fits_a_phone(page, long_lists, path):
    from playwright.sync_api import expect

    log_in(page, "dana")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(path, wait_until="networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    region = page.locator(".table-wrap[role=region]")
    expect(region).to_have_count(1)
    assert "scrolls sideways" in (region.get_attribute("aria-label") or "")
    # The keyboard reaches it: the next stop after the list's CSV link.
    page.get_by_role("link", name="Download CSV").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "region"
    if path == "/portal/deals/":
        # Wider inside than out: the region scrolls, not the page, and arrow keys scroll it.
        assert page.evaluate("(e) => e.scrollWidth > e.clientWidth", region.element_handle())
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        for _ in range(20):  # the page's policy allows no eval, so no wait_for_function: poll
            if page.evaluate("document.activeElement.scrollLeft") > 0:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("document.activeElement.scrollLeft") > 0
    assert serious_violations(page) == []
    slug = path.strip("/").replace("/", "-")
    page.screenshot(path=str(SHOTS / f"lists-{slug}-phone.png"), full_page=True)


def test_sorting_and_filtering_live_in_the_url(page, long_lists):
    from playwright.sync_api import expect

    log_in(page, "dana")
    page.goto("/portal/deals/")
    page.get_by_role("link", name="Expected value").click()
    page.wait_for_url("**sort=expected_value**")
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Expected value ▲")
    page.get_by_label("Search", exact=True).fill("number 07")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**q=number+07**")
    expect(page.get_by_text("1 registration.")).to_be_visible()
    # The sort survives the filter, and the CSV link carries both.
    assert "sort=expected_value" in page.url
    href = page.get_by_role("link", name="Download CSV").get_attribute("href") or ""
    assert "export=csv" in href and "q=number+07" in href and "sort=expected_value" in href
