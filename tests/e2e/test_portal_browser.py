"""The portal in a real headless Chromium against a live server.

A partner logs in, sees its progress, cannot reach a program outside its
segment, registers a deal (after a mistake the form points out); its
distributor approves the deal from its queue; the partner sees it approved.
Screenshots of each step go to test-results/e2e/.
"""

import datetime
import re

import pytest
from django.utils import timezone

from gates.models import SegmentMembership
from tests.deals.helpers import grant_deal_registration
from tests.e2e.conftest import SHOTS, log_in
from tests.factories import PartnerFactory, ProductLineFactory, ProgramFactory, SegmentFactory
from tests.portal.builders import tier_program

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portal(partner, partner_admin, distributor_user, other_partner):
    """Acme with a tier, progress and deal registration; a program only another partner's segment sees."""
    tier_program(partner)
    grant_deal_registration(partner)
    ProductLineFactory(code="cloud", name="Cloud platform")
    segment = SegmentFactory(name="Managed security providers")
    SegmentMembership.objects.create(segment=segment, partner=other_partner)
    ProgramFactory(name="Zephyr MSSP Specialisation", slug="zephyr-mssp", segment=segment)
    PartnerFactory(name="Unrelated partner")
    return partner


def _logout(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


def test_partner_registers_a_deal_and_its_distributor_approves_it(page, portal):
    from playwright.sync_api import expect

    # The partner logs in and sees how far it is from the next gate.
    log_in(page, "pat")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme")
    expect(page.get_by_text("Silver in Partner Network, since 4 March 2025")).to_be_visible()
    expect(page.get_by_text("3 of 5 people holding a valid certification")).to_be_visible()
    page.screenshot(path=str(SHOTS / "01-partner-dashboard.png"), full_page=True)

    # The programs it may see, and nothing of the others: not in the list, not in a search, 404 by URL.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Programs").click()
    expect(page.get_by_text(re.compile(r"^\d+ programs? open to you\.$"))).to_be_visible()
    expect(page.get_by_role("link", name="Partner Network")).to_be_visible()
    assert "Zephyr" not in page.content()
    page.get_by_label("Search programs").fill("Zephyr")
    expect(page.get_by_text("0 programs match “Zephyr”.")).to_be_visible()  # live results, through htmx
    page.screenshot(path=str(SHOTS / "02-program-search.png"), full_page=True)
    response = page.goto("/portal/programs/zephyr-mssp/")
    assert response.status == 404
    assert "MSSP" not in page.content()
    page.screenshot(path=str(SHOTS / "03-hidden-program-404.png"))

    # Registering a deal: a mistake is pointed out next to its field, and what was typed is kept.
    page.goto("/portal/deals/new/")
    page.get_by_label("Customer name").fill("Woodgrove Bank")
    page.get_by_label("Customer web domain").fill("not a domain")
    page.get_by_label("Customer country").select_option("GB")
    page.get_by_label("Cloud platform").check()
    page.get_by_label("Expected value").fill("125000")
    page.get_by_label("Currency").select_option("GBP")
    page.get_by_label("Expected close date").fill(
        (timezone.localdate() + datetime.timedelta(days=60)).isoformat()
    )
    page.get_by_role("button", name="Register the deal").click()
    expect(page.locator("#id_customer_domain_errors")).to_contain_text("Give the customer's web domain")
    expect(page.get_by_label("Customer name")).to_have_value("Woodgrove Bank")
    expect(page.get_by_label("Customer web domain")).to_have_attribute("aria-invalid", "true")
    # Focus moves to the error summary, whose link moves it on to the field in error.
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile(r"^Customer web domain: Give the customer")).click()
    expect(page.get_by_label("Customer web domain")).to_be_focused()
    page.screenshot(path=str(SHOTS / "04-registration-error.png"), full_page=True)
    page.get_by_label("Customer web domain").fill("https://www.woodgrove.example/")
    page.get_by_role("button", name="Register the deal").click()
    expect(page.get_by_text(re.compile(r"DR-\d+ is registered and awaits approval\."))).to_be_visible()
    expect(page.get_by_text("woodgrove.example")).to_be_visible()
    page.screenshot(path=str(SHOTS / "05-deal-registered.png"), full_page=True)
    _logout(page)

    # The distributor approves it from its queue, without leaving the page.
    log_in(page, "dana")
    row = page.locator("tr", has_text="Woodgrove Bank")
    expect(row).to_contain_text("Acme")
    assert "Unrelated partner" not in page.content() and "Globex" not in page.content()
    page.screenshot(path=str(SHOTS / "06-distributor-queue.png"), full_page=True)
    expect(page.locator("#waiting-count")).to_have_text("1")
    partner_row = page.get_by_role("region", name="Partners you serve").locator("tr", has_text="Acme")
    expect(partner_row.locator("td").last).to_have_text("1")
    row.get_by_role("button", name=re.compile("Approve")).click()
    expect(page.locator("tr", has_text="approved: protected until")).to_be_visible()
    # The counts follow the decision without a reload.
    expect(page.locator("#waiting-count")).to_have_text("0")
    expect(partner_row.locator("td").last).to_have_text("0")
    page.screenshot(path=str(SHOTS / "07-distributor-approved.png"), full_page=True)
    _logout(page)

    # The partner sees its registration approved and protected.
    log_in(page, "pat")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    expect(page.locator("tr", has_text="Woodgrove Bank")).to_contain_text("Approved")
    page.screenshot(path=str(SHOTS / "08-partner-sees-approval.png"), full_page=True)


def test_the_portal_fits_a_phone_and_works_from_the_keyboard(page, portal):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, "pat")
    for path in ("/portal/", "/portal/deals/new/", "/portal/programs/", "/portal/team/"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    page.goto("/portal/")
    page.screenshot(path=str(SHOTS / "09-phone-dashboard.png"), full_page=True)
    # The first Tab reaches the skip link, which moves focus to the main content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
