"""After a failed submit, focus lands on a summary of the errors that links to each field: in the admin too."""

import re

import pytest

from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_form_in_error_focuses_its_summary_whose_links_reach_each_field(page, superuser):
    from playwright.sync_api import expect

    superuser.set_password("password")
    superuser.save()
    log_in(page, "root")
    page.goto("/admin/programs/program/add/")
    page.get_by_role("button", name="Save", exact=True).click()
    note = page.locator(".errornote")
    expect(note).to_be_focused()
    expect(note).to_have_attribute("role", "alert")
    link = note.get_by_role("link", name=re.compile(r"^Name: This field is required"))
    expect(link).to_be_visible()
    page.screenshot(path=str(SHOTS / "admin-error-summary.png"), full_page=True)
    link.click()
    expect(page.locator("#id_name")).to_be_focused()


def test_a_failed_log_in_focuses_its_summary(page, partner_admin):
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("pat")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    # The same words for an unknown user and a wrong password: no account enumeration.
    expect(summary).to_contain_text("Please enter a correct username and password")
