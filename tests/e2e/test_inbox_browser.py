"""The inbox in a real browser: the demo partner sees the bell's count, opens the inbox, marks one
item read and sees the count drop."""

import re

import pytest

from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _bell(page) -> int:
    return int(page.get_by_test_id("bell-count").inner_text())


def test_a_partner_reads_an_item_and_the_bell_counts_one_less(page, demo):
    log_in(page, "partner", "demo")
    before = _bell(page)
    assert before >= 2  # the demo's inbox is not empty

    page.get_by_role("link", name=re.compile(r"Inbox")).click()
    page.wait_for_url("**/portal/inbox/")
    assert page.get_by_role("heading", name="Inbox", level=1).is_visible()
    items = page.locator("li.inbox-item.unread")
    assert items.count() == min(before, 25)
    title = items.first.locator("h2").inner_text()

    items.first.get_by_role("button", name=re.compile(r"^Mark read")).click()
    page.wait_for_url("**/portal/inbox/")

    assert _bell(page) == before - 1
    read = page.locator("li.inbox-item", has_text=title).first
    assert "unread" not in (read.get_attribute("class") or "")
    page.screenshot(path=str(SHOTS / "inbox-after-mark-read.png"), full_page=True)

    page.get_by_role("button", name="Mark all read").click()
    page.wait_for_url("**/portal/inbox/")
    assert _bell(page) == 0
